// The driver of tests/live_browser.rs: serves index.html and hls.js on
// 127.0.0.1 (port 0), opens the page in Debian's headless Chromium through
// playwright-core (never a downloaded browser), lets hls.js play a LIVE
// master playlist for a while, and prints one JSON line:
//   {startTime, currentTime, watchedSeconds, latency, liveSyncLatency,
//    targetLatency, lowLatencyMode, levels, levelHeights, levelCodecs,
//    currentCodec, hevcSupported, fragsPlayed, errors, failure}
// `latency` is hls.latency (seconds behind the live edge) sampled at the
// end; `liveSyncLatency` is liveSyncPosition - currentTime. `levelCodecs` are
// the video codecs of the levels hls.js kept (it drops those the browser's
// MediaSource cannot play), `currentCodec` the one playing at the end, and
// `hevcSupported` whether this Chromium's MediaSource takes HEVC at all. `failure` is
// null when every step finished in time; the Rust test asserts on the rest.
//
// Usage: node live.cjs <node_modules dir> <master playlist URL> <seconds to watch>
'use strict';


const [modules, master, watchArg] = process.argv.slice(2);
if (!modules || !master || !watchArg) {
  console.error('usage: node live.cjs <node_modules dir> <master playlist URL> <seconds to watch>');
  process.exit(2);
}
const watchSeconds = Number(watchArg);
const { serveStatic, launchChromium, finish, run, playerPage, playerUrl, fatalInPage } = require('./harness.cjs');

async function main() {
  const report = {
    startTime: null, currentTime: 0, watchedSeconds: 0, latency: null, liveSyncLatency: null,
    targetLatency: null, lowLatencyMode: null, levels: 0, levelHeights: [], levelCodecs: [],
    currentCodec: null, hevcSupported: false, fragsPlayed: 0, errors: [], failure: null,
  };
  const server = await serveStatic(modules);
  const browser = await launchChromium(modules);
  // Test certificates (HTTPS playback in tests/tls.rs) are made by the test's own CA.
  const page = await playerPage(browser, report, { ignoreHTTPSErrors: true });
  const state = () => page.evaluate(() => {
    const video = document.getElementById('video');
    const hls = window.hls;
    const sync = hls ? hls.liveSyncPosition : null;
    return {
      currentTime: video.currentTime,
      latency: hls && Number.isFinite(hls.latency) ? hls.latency : null,
      liveSyncLatency: Number.isFinite(sync) ? sync - video.currentTime : null,
      targetLatency: hls && Number.isFinite(hls.targetLatency) ? hls.targetLatency : null,
      lowLatencyMode: hls ? hls.lowLatencyMode : null,
      levels: hls ? hls.levels.length : 0,
      levelHeights: hls ? hls.levels.map((l) => l.height) : [],
      levelCodecs: hls ? hls.levels.map((l) => l.videoCodec || null) : [],
      currentCodec: hls && hls.levels[hls.currentLevel] ? hls.levels[hls.currentLevel].videoCodec || null : null,
      hevcSupported: MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L93.B0"'),
      fragsPlayed: window.playback.fragsPlaying.length,
      errors: window.playback.errors,
    };
  });
  const fatal = fatalInPage;
  let step = 'opening the page';
  const started = Date.now();
  try {
    await page.goto(playerUrl(server, master));

    step = 'waiting for live playback to start (video.currentTime > 0.5)';
    await page.waitForFunction(
      `(${fatal})() || document.getElementById('video').currentTime > 0.5`, null, { timeout: 30000 });
    if (await page.evaluate(fatal)) throw new Error('the page reported a fatal error');
    report.startTime = (await state()).currentTime;

    step = `watching for ${watchSeconds} s`;
    const watchStart = Date.now();
    while (Date.now() - watchStart < watchSeconds * 1000) {
      await page.waitForTimeout(500);
      if (await page.evaluate(fatal)) throw new Error('the page reported a fatal error');
    }
    report.watchedSeconds = (Date.now() - watchStart) / 1000;
    step = 'done';
  } catch (e) {
    report.failure = `${step}: ${e.message.split('\n')[0]}`;
  }
  try {
    const s = await state();
    const pageErrors = report.errors;
    Object.assign(report, s);
    report.errors = pageErrors.concat(s.errors);
  } catch (e) {
    report.failure = report.failure || `reading the page state: ${e.message}`;
  }
  console.error(`live.cjs: ${((Date.now() - started) / 1000).toFixed(1)} s in the browser`);
  await finish(browser, server, report);
}

run('live.cjs', main, 120);
