// The driver of tests/whep_browser.rs and bench/whip.sh: serves whep.html
// on 127.0.0.1 (port 0), opens it in Debian's headless Chromium through
// playwright-core, optionally publishes the page's clock canvas over WHIP,
// plays the channel over WHEP for a while, ends with DELETE and prints one
// JSON line:
//   {publishStatus, publishBody, status, body, location, contentType,
//    connectionState, videoCodec, framesDecoded, framesShown, audioPackets,
//    width, height, clockSamples, unreadable, medianLatencyMs, latenciesMs (sorted),
//    links (the Link header of the WHEP answer), candidateType (of the nominated pair),
//    deleteStatus, failure}
//
// Usage: node whep.cjs <node_modules dir> <WHEP URL> <seconds to play>
//                      [<WHIP URL> <stream key> <codec: vp8|h264>] [--token T] [--relay]
// --relay: both peer connections relay only, through the ICE servers of
// GET /api/v1/live/ice-servers (a client whose network blocks UDP).
'use strict';

const args = process.argv.slice(2);
const tokenAt = args.indexOf('--token');
const token = tokenAt >= 0 ? args[tokenAt + 1] : null;
if (tokenAt >= 0) args.splice(tokenAt, 2);
const relayAt = args.indexOf('--relay');
const relay = relayAt >= 0;
if (relay) args.splice(relayAt, 1);
const [modules, whepUrl, secondsArg, whipUrl, key, codec] = args;
if (!modules || !whepUrl || !secondsArg) {
  console.error('usage: node whep.cjs <modules> <WHEP URL> <seconds> [<WHIP URL> <key> <codec>] [--token T]');
  process.exit(2);
}
const { serveStatic, launchChromium } = require('./harness.cjs');

async function main() {
  const report = { publishStatus: null, publishBody: null, status: null, body: null,
    location: null, contentType: null, deleteStatus: null, failure: null };
  const server = await serveStatic(modules, ['whep.html']);
  const browser = await launchChromium(modules, ['--allow-loopback-in-peer-connection']);
  const page = await browser.newPage();
  page.on('console', (m) => console.error(`page console ${m.type()}: ${m.text()}`));
  let step = 'opening the page';
  try {
    const { port } = server.address();
    await page.goto(`http://127.0.0.1:${port}/whep.html`);
    const clock = Boolean(whipUrl);
    if (clock) {
      step = 'publishing the clock over WHIP';
      const published = await page.evaluate((a) => window.publishClock(a),
        { url: whipUrl, key, codec, relay });
      report.publishStatus = published.status;
      report.publishBody = published.body || null;
      if (published.status !== 201) throw new Error(`WHIP answered ${published.status}`);
    }
    step = 'asking for playback (WHEP POST)';
    // The channel goes live a moment after the publisher connects.
    const deadline = Date.now() + 30000;
    for (;;) {
      Object.assign(report, await page.evaluate((a) => window.play(a),
        { url: whepUrl, token, clock, relay }));
      if (report.status === 201 || report.status !== 404 || Date.now() > deadline) break;
      await page.waitForTimeout(500);
    }
    if (report.status === 201) {
      step = 'waiting for the connection';
      await page.waitForFunction(
        async () => (await window.playerState()).connectionState === 'connected', null,
        { timeout: 15000, polling: 200 });
      step = 'playing';
      await page.waitForTimeout(Number(secondsArg) * 1000);
      Object.assign(report, await page.evaluate(() => window.playerState()));
      step = 'ending with DELETE';
      report.deleteStatus = await page.evaluate(() => window.stopPlaying());
    }
  } catch (e) {
    report.failure = `${step}: ${e.message}`;
    try {
      Object.assign(report, await page.evaluate(() => window.playerState()));
    } catch (_) { /* the page is gone */ }
  }
  console.log(JSON.stringify(report));
  await browser.close();
  server.close();
}

main().catch((e) => {
  console.log(JSON.stringify({ failure: `driver: ${e.message}` }));
  process.exit(1);
});
