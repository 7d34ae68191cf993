// The web-app driver of tests/audio_only.rs: a producer signs in through the page, opens a
// resource whose sound file was refused (its type has since been corrected), presses
// 重新处理 / Process again and waits until the page shows it ready and sound only; then opens
// the player page of a published audio-only lecture and plays it: the poster stays up, there
// is no quality menu. Prints one JSON line:
//   {reprocessed, audioOnlyShown, qualityHidden, poster, playerAudioOnly, videoWidth,
//    currentTime, errors, failure}
//
// Usage: node web_audio.cjs <node_modules> <base URL> <username> <password> <refused id>
//        <published id>
'use strict';

const { launchChromium, run } = require('./harness.cjs');
const { newPage, signIn, settle } = require('./web_support.cjs');

const [modules, base, username, password, refused, published] = process.argv.slice(2);

async function main() {
  const report = {
    reprocessed: false, audioOnlyShown: false, qualityHidden: null, poster: null,
    playerAudioOnly: null, videoWidth: null, currentTime: 0, errors: [], failure: null,
  };
  const browser = await launchChromium(modules);
  const ctx = { browser, report };
  let step = 'signing in';
  try {
    const page = await newPage(ctx);
    await signIn(page, base, { username, password });

    step = 'pressing Process again on the refused file';
    await page.goto(`${base}/#/resource/${refused}`);
    await page.waitForSelector('#reprocess');
    await page.click('#reprocess');
    step = 'waiting for the file to be ready';
    await page.waitForSelector('#processing[data-status="ready"]', { timeout: 120000 });
    report.reprocessed = true;
    await page.waitForSelector('#audio-only');
    report.audioOnlyShown = true;

    step = 'playing the published lecture';
    await page.goto(`${base}/#/watch/${published}`);
    await page.waitForSelector('#video');
    await page.waitForFunction(() => window.yanxiuPlayer && window.yanxiuPlayer.audioOnly !== undefined);
    await settle(page);
    await page.evaluate(() => { const v = document.getElementById('video'); v.muted = true; return v.play(); });
    await page.waitForFunction(() => document.getElementById('video').currentTime > 2, null, { timeout: 60000 });
    Object.assign(report, await page.evaluate(() => {
      const video = document.getElementById('video');
      return {
        qualityHidden: document.getElementById('quality').closest('label').hidden,
        poster: video.poster,
        playerAudioOnly: window.yanxiuPlayer.audioOnly,
        videoWidth: video.videoWidth,
        currentTime: video.currentTime,
      };
    }));
    step = 'done';
  } catch (e) {
    report.failure = `${step}: ${e.message.split('\n')[0]}`;
  }
  await browser.close();
  console.log(JSON.stringify(report));
}

run('web_audio.cjs', main, 300);
