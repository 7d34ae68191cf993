// The driver of tests/browser_playback.rs: serves index.html and hls.js on
// 127.0.0.1 (port 0), opens the page in Debian's headless Chromium through
// playwright-core (never a downloaded browser), lets hls.js play the master
// playlist, forces the lowest then the highest level while playback goes on,
// and prints one JSON line:
//   {currentTime, duration, levels, levelHeights, switchedLevels, playedLevels,
//    forced: [{level, from, to}], ended, errors, failure}
// `failure` is null when every step finished in time; the Rust test asserts on the rest.
//
// Usage: node play.cjs <node_modules dir> <master playlist URL>
'use strict';


const [modules, master] = process.argv.slice(2);
if (!modules || !master) {
  console.error('usage: node play.cjs <node_modules dir> <master playlist URL>');
  process.exit(2);
}
const { serveStatic, launchChromium, finish, run, playerPage, playerUrl, fatalInPage } = require('./harness.cjs');

async function main() {
  const report = {
    currentTime: 0, duration: null, levels: 0, levelHeights: [], switchedLevels: [],
    playedLevels: [], forced: [], ended: false, errors: [], failure: null,
  };
  const server = await serveStatic(modules);
  const browser = await launchChromium(modules);
  const page = await playerPage(browser, report);
  const state = () => page.evaluate(() => ({
    currentTime: document.getElementById('video').currentTime,
    duration: document.getElementById('video').duration,
    levels: window.hls ? window.hls.levels.length : 0,
    levelHeights: window.hls ? window.hls.levels.map((l) => l.height) : [],
    ...window.playback,
  }));
  const fatal = fatalInPage;
  const noFatal = async () => {
    if (await page.evaluate(fatal)) throw new Error('the page reported a fatal error');
  };
  let step = 'opening the page';
  try {
    await page.goto(playerUrl(server, master));

    step = 'waiting for video.currentTime > 3';
    await page.waitForFunction(
      `(${fatal})() || document.getElementById('video').currentTime > 3`, null, { timeout: 60000 });
    await noFatal();

    // Force the lowest, then the highest level: a fragment of that level must
    // start playing and the clock must keep running for a second after it.
    const levels = (await state()).levels;
    for (const level of levels >= 2 ? [0, levels - 1] : []) {
      step = `forcing level ${level}`;
      const before = await state();
      await page.evaluate((l) => { window.hls.currentLevel = l; }, level);
      step = `waiting for a fragment of level ${level} to play and the clock to advance`;
      await page.waitForFunction(([l, seen]) => {
        const p = window.playback;
        const played = p.fragsPlaying.slice(seen).findIndex((f) => f.level === l);
        if (played >= 0 && p.playingSince === undefined) {
          p.playingSince = document.getElementById('video').currentTime;
        }
        return p.errors.some((e) => e.fatal)
          || (p.playingSince !== undefined && document.getElementById('video').currentTime > p.playingSince + 1);
      }, [level, before.fragsPlaying.length], { timeout: 20000, polling: 50 });
      await noFatal();
      const after = await state();
      report.forced.push({ level, from: before.currentTime, to: after.currentTime });
      await page.evaluate(() => { delete window.playback.playingSince; });
    }

    step = 'playing to the end';
    await page.waitForFunction(`(${fatal})() || window.playback.ended`, null, { timeout: 30000 });
    await noFatal();
    step = 'done';
  } catch (e) {
    report.failure = `${step}: ${e.message.split('\n')[0]}`;
  }
  try {
    const s = await state();
    Object.assign(report, {
      currentTime: s.currentTime,
      duration: Number.isFinite(s.duration) ? s.duration : null,
      levels: s.levels,
      levelHeights: s.levelHeights,
      switchedLevels: s.levelSwitched,
      playedLevels: s.fragsPlaying.map((f) => f.level),
      ended: s.ended,
      errors: report.errors.concat(s.errors),
    });
  } catch (e) {
    report.failure = report.failure || `reading the page state: ${e.message}`;
  }
  await finish(browser, server, report);
}

run('play.cjs', main, 150);
