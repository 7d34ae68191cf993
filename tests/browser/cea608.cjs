// The driver of tests/transcode_cea608.rs's browser check: opens index.html (hls.js plays
// ?src= in Debian's headless Chromium), lets the video play to its end while hls.js parses
// the CEA-608 captions in the video (its default), turns the captions track on, and prints
// one JSON line:
//   {tracks: [{kind, label, language}], cues: [{start, end, text}], currentTime, errors, failure}
// `tracks` are the media element's text tracks; `cues` those of the first captions track
// that has any. `failure` is null when every step finished in time; the Rust test asserts
// on the rest.
//
// Usage: node cea608.cjs <node_modules dir> <master playlist URL>
'use strict';

const [modules, master] = process.argv.slice(2);
if (!modules || !master) {
  console.error('usage: node cea608.cjs <node_modules dir> <master playlist URL>');
  process.exit(2);
}
const { serveStatic, launchChromium, finish, run, readPlayback, playerPage, playerUrl, fatalInPage } = require('./harness.cjs');

async function main() {
  const report = { tracks: [], cues: [], currentTime: 0, errors: [], failure: null };
  const server = await serveStatic(modules);
  const browser = await launchChromium(modules);
  const page = await playerPage(browser, report);
  const fatal = fatalInPage;
  let step = 'opening the page';
  try {
    await page.goto(playerUrl(server, master));

    step = 'playing to the end';
    await page.waitForFunction(`(${fatal})() || window.playback.ended`, null, { timeout: 90000 });

    step = 'reading the captions track';
    const state = await page.evaluate(() => {
      const tracks = [...document.getElementById('video').textTracks];
      tracks.forEach((t) => { if (t.kind === 'captions' && t.mode === 'disabled') t.mode = 'hidden'; });
      const withCues = tracks.find((t) => t.kind === 'captions' && t.cues && t.cues.length);
      return {
        tracks: tracks.map((t) => ({ kind: t.kind, label: t.label, language: t.language })),
        cues: withCues ? [...withCues.cues].map((c) => ({ start: c.startTime, end: c.endTime, text: c.text })) : [],
      };
    });
    report.tracks = state.tracks;
    report.cues = state.cues;
    step = 'done';
  } catch (e) {
    report.failure = `${step}: ${e.message.split('\n')[0]}`;
  }
  await readPlayback(page, report);
  await finish(browser, server, report);
}

run('cea608.cjs', main, 150);
