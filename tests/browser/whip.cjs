// The driver of tests/whip_browser.rs: serves whip.html on 127.0.0.1
// (port 0), opens it in Debian's headless Chromium (fake camera and
// microphone) through playwright-core, publishes to a WHIP URL, keeps
// publishing, then ends the publish and prints one JSON line:
//   {status, body, location, contentType, connectionState, codec,
//    framesSent, deleteStatus, failure}
// `end` is `delete` (WHIP DELETE), or `drop`: the browser disappears
// without a word, as when a laptop loses its network.
//
// Usage: node whip.cjs <node_modules dir> <WHIP URL> <stream key> <codec: vp8|vp9|h264|any>
//                      <seconds to publish> <end: delete|drop>
'use strict';

const [modules, url, key, codec, secondsArg, end] = process.argv.slice(2);
if (!modules || !url || !key || !codec || !secondsArg || !end) {
  console.error('usage: node whip.cjs <modules> <WHIP URL> <key> <codec> <seconds> <delete|drop>');
  process.exit(2);
}
const { serveStatic, launchChromium } = require('./harness.cjs');

async function main() {
  const report = { status: null, body: null, location: null, contentType: null,
    connectionState: null, codec: null, framesSent: 0, deleteStatus: null, failure: null };
  const server = await serveStatic(modules, ['whip.html']);
  const browser = await launchChromium(modules, ['--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection']);
  const page = await browser.newPage();
  page.on('console', (m) => console.error(`page console ${m.type()}: ${m.text()}`));
  let step = 'opening the page';
  try {
    const { port } = server.address();
    await page.goto(`http://127.0.0.1:${port}/whip.html`);
    step = 'publishing (getUserMedia, offer, POST)';
    Object.assign(report, await page.evaluate((args) => window.publish(args), { url, key, codec }));
    if (report.status === 201) {
      step = 'waiting for the connection';
      await page.waitForFunction(
        async () => (await window.whipState()).connectionState === 'connected', null,
        { timeout: 15000, polling: 200 });
      step = 'publishing';
      await page.waitForTimeout(Number(secondsArg) * 1000);
      Object.assign(report, await page.evaluate(() => window.whipState()));
      if (end === 'delete') {
        step = 'ending with DELETE';
        report.deleteStatus = await page.evaluate(() => window.unpublish());
      }
    }
  } catch (e) {
    report.failure = `${step}: ${e.message}`;
    try {
      Object.assign(report, await page.evaluate(() => window.whipState()));
    } catch (_) { /* the page is gone */ }
  }
  console.log(JSON.stringify(report));
  if (end === 'drop' && report.failure === null) {
    // No DELETE and no goodbye: the browser process is killed.
    const pid = browser.process && browser.process() ? browser.process().pid : null;
    if (pid) process.kill(pid, 'SIGKILL');
    process.exit(0);
  }
  await browser.close();
  server.close();
}

main().catch((e) => {
  console.log(JSON.stringify({ failure: `driver: ${e.message}` }));
  process.exit(1);
});
