// The live driver of tests/web_app.rs: an organiser creates a channel through the page and
// hands its OBS stream key to the test (which starts an RTMP publisher with it), watches the
// dashboard report the input, a learner plays the channel's live page, and once the
// publisher has stopped the recording's draft appears in the channel's events. Every page
// is checked (axe-core, both languages, screenshot). Prints one JSON line:
//   {pages, input, livePlayed, recording, errors, failure}
//
// Usage: node web_live.cjs <node_modules> <base URL> <accounts.json> <shots dir> <key file>
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { launchChromium } = require('./harness.cjs');
const { checkPage, signIn, newPage } = require('./web_support.cjs');

const [modules, base, accountsFile, shots, keyFile] = process.argv.slice(2);
const accounts = JSON.parse(fs.readFileSync(accountsFile, 'utf8'));

async function main() {
  const report = { pages: {}, errors: [], input: null, livePlayed: false, recording: false, failure: null };
  const browser = await launchChromium(modules);
  const ctx = { browser, base, shots, report, pages: [], axeSource: fs.readFileSync(path.join(modules, 'axe-core', 'axe.min.js'), 'utf8') };
  let step = 'organiser signs in';
  try {
    const org = await newPage(ctx);
    await signIn(org, base, accounts.event_organiser);
    await org.waitForSelector('#channel-form');
    step = 'creating the channel';
    await org.fill('#channel-name', '全市教研直播');
    await org.selectOption('#channel-latency', 'low_latency');
    await org.click('#channel-form button[type="submit"]');
    await org.waitForSelector('#key-panel');
    const channelId = org.url().split('#/channel/')[1];
    fs.writeFileSync(keyFile, await org.locator('#obs-key').innerText());
    step = 'waiting for the dashboard to report the input';
    await org.waitForSelector('#dashboard[data-live="true"]', { timeout: 90000 });
    await org.waitForFunction(() => !/^—/.test(document.getElementById('dash-input').textContent), null, { timeout: 30000 });
    report.input = await org.locator('#dash-input').innerText();
    await checkPage(ctx, org, 'channel-live');

    step = 'a learner opens the live page';
    const learner = await newPage(ctx);
    await signIn(learner, base, accounts.learner);
    await learner.goto(`${base}/#/live/${channelId}`);
    await learner.waitForSelector('#video');
    step = 'the learner plays it live';
    await learner.waitForFunction(() => document.getElementById('video').currentTime > 2, null, { timeout: 60000 });
    report.livePlayed = true;
    await checkPage(ctx, learner, 'live');

    step = 'waiting for the recording after the publisher stops';
    await org.waitForSelector('#events a[href^="#/resource/"]', { timeout: 120000 });
    await org.click('#events a[href^="#/resource/"]');
    await org.waitForSelector('#processing');
    report.recording = true;
    step = 'done';
  } catch (e) {
    report.failure = `${step}: ${e.message.split('\n')[0]}`;
    const last = ctx.pages[ctx.pages.length - 1];
    if (last) report.debug = await last.evaluate(() => document.getElementById('main').innerText.slice(0, 1200)).catch(String);
  }
  await browser.close();
  console.log(JSON.stringify(report));
}

main().catch((e) => { console.error(e); process.exit(1); });
