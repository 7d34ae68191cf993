// The driver of tests/learning_browser.rs: learners watch a published resource in the web app
// (its own player: hls.js and the playback reporting of views/player.js) in Debian's headless
// Chromium through playwright-core, and the driver records what the server answered to the
// player's events (window.yanxiuPlayback.last). Prints one JSON line:
//   {skipper, full, again, leaver, errors, failure}
// `failure` is null when every step finished; the Rust test asserts on the rest and on the API.
//
// Usage: node learning_watch.cjs <node_modules> <base URL> <resource id> <accounts.json>
'use strict';

const fs = require('node:fs');
const { launchChromium } = require('./harness.cjs');
const { signIn, newPage } = require('./web_support.cjs');

const [modules, base, resourceId, accountsFile] = process.argv.slice(2);
if (!accountsFile) {
  console.error('usage: node learning_watch.cjs <node_modules> <base> <resource id> <accounts.json>');
  process.exit(2);
}
const accounts = JSON.parse(fs.readFileSync(accountsFile, 'utf8'));

/** Signs `account` in with the player's heartbeat every `heartbeatMs`, opens the resource. */
async function openPlayer(ctx, account, heartbeatMs) {
  const page = await newPage(ctx);
  await page.addInitScript((ms) => { window.yanxiuHeartbeatMs = ms; }, heartbeatMs);
  await signIn(page, base, account);
  await page.goto(`${base}/#/watch/${resourceId}`);
  await page.waitForSelector('#video');
  await page.waitForFunction(() => window.yanxiuPlayer && window.yanxiuPlayer.levels.length > 0);
  await page.evaluate(() => document.getElementById('video').play());
  return page;
}

/** Waits until the server has answered every event the player queued so far. */
async function settled(page) {
  await page.waitForTimeout(1500); // events leave at most once a second
  await page.waitForFunction(() => {
    const p = window.yanxiuPlayback;
    return p && p.last && p.last.learning && p.last.accepted !== undefined;
  });
  return page.evaluate(() => ({ last: window.yanxiuPlayback.last, sent: window.yanxiuPlayback.sent,
    failed: window.yanxiuPlayback.failed, currentTime: document.getElementById('video').currentTime }));
}

async function main() {
  const report = { errors: [], failure: null };
  const browser = await launchChromium(modules);
  const ctx = { browser, report };
  let step = 'start';
  try {
    // About 60 %: watches to 5 s, skips from there to 9 s, watches to the end (10 s).
    step = 'skipper';
    const skipper = await openPlayer(ctx, accounts.learner1, 2000);
    await skipper.waitForFunction(() => document.getElementById('video').currentTime >= 5, null, { timeout: 60000 });
    report.skipFrom = await skipper.evaluate(() => {
      const v = document.getElementById('video');
      const from = v.currentTime;
      v.currentTime = 9;
      return from;
    });
    await skipper.waitForFunction(() => document.getElementById('video').ended, null, { timeout: 60000 });
    report.skipper = await settled(skipper);
    await skipper.context().close();

    // The whole resource, then all of it again.
    step = 'full';
    const full = await openPlayer(ctx, accounts.learner2, 2000);
    await full.waitForFunction(() => document.getElementById('video').ended, null, { timeout: 60000 });
    report.full = await settled(full);
    step = 'again';
    await full.goto(`${base}/#/catalogue`);
    await full.waitForSelector('#catalogue-list');
    await full.evaluate(() => { window.yanxiuPlayer = null; window.yanxiuPlayback = null; });
    await full.goto(`${base}/#/watch/${resourceId}`);
    await full.waitForFunction(() => window.yanxiuPlayer && window.yanxiuPlayer.levels.length > 0
      && window.yanxiuPlayback && document.getElementById('video'));
    await full.evaluate(() => { const v = document.getElementById('video'); v.currentTime = 0; return v.play(); });
    await full.waitForFunction(() => document.getElementById('video').ended, null, { timeout: 60000 });
    report.again = await settled(full);
    await full.context().close();

    // Leaves the page after 3.5 s with no heartbeat in between: only the end sent on
    // pagehide (fetch keepalive) can tell the server how far they got.
    step = 'leaver';
    const leaver = await openPlayer(ctx, accounts.learner3, 600000);
    await leaver.waitForFunction(() => document.getElementById('video').currentTime >= 3.5, null, { timeout: 60000 });
    report.leftAt = await leaver.evaluate(() => document.getElementById('video').currentTime);
    await leaver.goto('about:blank');
    await leaver.waitForTimeout(1500);
    await leaver.context().close();
  } catch (e) {
    report.failure = `${step}: ${e && e.stack ? e.stack : e}`;
  }
  await browser.close();
  console.log(JSON.stringify(report));
}

main();
