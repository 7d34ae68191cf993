// The driver of tests/captions_playback.rs: opens index.html (hls.js plays ?src= in
// Debian's headless Chromium), waits for the master's subtitle tracks, turns on the one of
// <language>, lets the video play while it records the caption shown at each moment, and
// prints one JSON line:
//   {subtitleTracks: [{lang, name}], cues: [{start, end, text}],
//    shown: [{time, text}], currentTime, errors, failure}
// `cues` are the cues of the text track hls.js filled for that language; `shown` samples
// the track's active cues every 100 ms while playing. `failure` is null when every step
// finished in time; the Rust test asserts on the rest.
//
// Usage: node captions.cjs <node_modules dir> <master playlist URL> <language>
'use strict';

const [modules, master, language] = process.argv.slice(2);
if (!modules || !master || !language) {
  console.error('usage: node captions.cjs <node_modules dir> <master playlist URL> <language>');
  process.exit(2);
}
const { serveStatic, launchChromium, finish, run, readPlayback, playerPage, playerUrl, fatalInPage } = require('./harness.cjs');

async function main() {
  const report = { subtitleTracks: [], cues: [], shown: [], currentTime: 0, errors: [], failure: null };
  const server = await serveStatic(modules);
  const browser = await launchChromium(modules);
  const page = await playerPage(browser, report);
  const fatal = fatalInPage;
  let step = 'opening the page';
  try {
    await page.goto(playerUrl(server, master));

    step = 'waiting for the subtitle tracks';
    await page.waitForFunction(`(${fatal})() || (window.hls && window.hls.subtitleTracks.length > 0)`,
      null, { timeout: 60000 });
    report.subtitleTracks = await page.evaluate(
      () => window.hls.subtitleTracks.map((t) => ({ lang: t.lang, name: t.name })));

    step = `turning on the ${language} captions`;
    const index = report.subtitleTracks.findIndex((t) => t.lang === language);
    if (index < 0) throw new Error(`no subtitle track of ${language}`);
    await page.evaluate((i) => { window.hls.subtitleDisplay = true; window.hls.subtitleTrack = i; }, index);

    step = 'sampling the captions shown while the video plays';
    report.shown = await page.evaluate((lang) => new Promise((resolve) => {
      const video = document.getElementById('video');
      const shown = [];
      const sample = () => {
        const track = [...video.textTracks].find((t) => t.language === lang && t.mode === 'showing');
        const active = track && track.activeCues ? [...track.activeCues].map((c) => c.text).join('\n') : '';
        shown.push({ time: video.currentTime, text: active });
        if (window.playback.ended || window.playback.errors.some((e) => e.fatal) || shown.length > 400) resolve(shown);
        else setTimeout(sample, 100);
      };
      sample();
    }), language);

    step = 'reading the cues';
    report.cues = await page.evaluate((lang) => {
      const track = [...document.getElementById('video').textTracks]
        .find((t) => t.language === lang && t.cues && t.cues.length);
      return track ? [...track.cues].map((c) => ({ start: c.startTime, end: c.endTime, text: c.text })) : [];
    }, language);
    step = 'done';
  } catch (e) {
    report.failure = `${step}: ${e.message.split('\n')[0]}`;
  }
  await readPlayback(page, report);
  await finish(browser, server, report);
}

run('captions.cjs', main, 150);
