// What the browser drivers (play.cjs, live.cjs, captions.cjs) share: a tiny
// static server for index.html and hls.js on 127.0.0.1 (port 0), so the
// master playlist is fetched cross-origin (CORS), Debian's headless Chromium
// launched through playwright-core (never a downloaded browser), and the
// driver's ending (its one JSON line, its deadline).
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

/**
 * The page and hls.js from `modules`, plus `extra` pages of this folder
 * (names), served on a free loopback port (a secure context for media).
 */
function serveStatic(modules, extra = []) {
  const files = {
    '/index.html': [path.join(__dirname, 'index.html'), 'text/html; charset=utf-8'],
    '/hls.min.js': [path.join(modules, 'hls.js', 'dist', 'hls.min.js'), 'text/javascript'],
  };
  for (const name of extra) {
    files[`/${name}`] = [path.join(__dirname, name), 'text/html; charset=utf-8'];
  }
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url, 'http://localhost').pathname];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file[1] });
    fs.createReadStream(file[0]).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/**
 * Headless Chromium (`YANXIU_TEST_CHROMIUM` or /usr/bin/chromium) that may
 * autoplay, with `extraArgs` (e.g. a fake camera).
 */
function launchChromium(modules, extraArgs = []) {
  const { chromium } = require(path.join(modules, 'playwright-core'));
  return chromium.launch({
    executablePath: process.env.YANXIU_TEST_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required', ...extraArgs],
  });
}

/** Closes the browser and the static server, then prints `report` as the driver's JSON line. */
async function finish(browser, server, report) {
  await browser.close();
  server.closeAllConnections();
  server.close();
  console.log(JSON.stringify(report));
}

/**
 * Runs a driver's `main`: the process fails when it throws or gives no
 * result within `seconds`.
 */
function run(name, main, seconds) {
  setTimeout(() => {
    console.error(`${name}: no result after ${seconds} s`);
    process.exit(3);
  }, seconds * 1000).unref();
  main().catch((e) => {
    console.error(`${name}: ${e.stack || e}`);
    process.exit(1);
  });
}

/** Adds the player page's last state to `report`: the video's clock and the errors the page
 * recorded (`window.playback.errors` of index.html); a page that cannot be read is a failure. */
async function readPlayback(page, report) {
  try {
    const s = await page.evaluate(() => ({
      currentTime: document.getElementById('video').currentTime,
      errors: window.playback.errors,
    }));
    report.currentTime = s.currentTime;
    report.errors = report.errors.concat(s.errors);
  } catch (e) {
    report.failure = report.failure || `reading the page state: ${e.message}`;
  }
}

/** A new page for the player: its console goes to stderr and its uncaught errors into
 * `report.errors` as fatal. `options` are playwright's `newPage` options. */
async function playerPage(browser, report, options = {}) {
  const page = await browser.newPage(options);
  page.on('console', (m) => console.error(`page console ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => report.errors.push({ fatal: true, type: 'pageerror', details: String(e) }));
  return page;
}

/** The URL of index.html (served by `server`) playing `master` with hls.js. */
function playerUrl(server, master) {
  return `http://127.0.0.1:${server.address().port}/index.html?src=${encodeURIComponent(master)}`;
}

/** Evaluated in the player page: whether hls.js reported a fatal error. */
const fatalInPage = () => window.playback.errors.some((e) => e.fatal);

module.exports = { serveStatic, launchChromium, finish, run, readPlayback, playerPage, playerUrl, fatalInPage };
