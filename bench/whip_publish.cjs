// The WHIP publisher of bench/whip.sh, driven by bench/whip_latency.py over
// stdin/stdout: serves whip_publish.html on 127.0.0.1 (port 0), opens it in
// Debian's headless Chromium (playwright-core, tests/browser/harness.cjs)
// with a fake camera and microphone read from files, prepares the offer and
// prints {"event":"ready"}; on the line `go` it POSTs the offer to the WHIP
// URL; then every second prints {"event":"samples"} (the capture times of
// the stamped frame counter and the sender's figures); on `stop` (or after
// <max seconds>) it DELETEs the session, closes the browser and prints
// {"event":"stopped"}.
//
// Usage: node whip_publish.cjs <node_modules dir> <WHIP URL> <stream key> <codec: vp8|vp9|h264|any>
//          <video.y4m> <audio.wav> <max bitrate bps> <counter bits> <counter band height> <max seconds>
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const readline = require('node:readline');
const { launchChromium } = require('../tests/browser/harness.cjs');

const [modules, url, key, codec, y4m, wav, maxBitrate, bits, band, maxSeconds] = process.argv.slice(2);
if (!maxSeconds) {
  console.error('usage: node whip_publish.cjs <modules> <WHIP URL> <key> <codec> <y4m> <wav> '
    + '<max bitrate> <bits> <band height> <max seconds>');
  process.exit(2);
}
const emit = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

function servePage() {
  const page = path.join(__dirname, 'whip_publish.html');
  const server = http.createServer((req, res) => {
    if (new URL(req.url, 'http://localhost').pathname !== '/whip_publish.html') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    fs.createReadStream(page).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main() {
  const server = await servePage();
  const browser = await launchChromium(modules, ['--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection',
    `--use-file-for-fake-video-capture=${y4m}`, `--use-file-for-fake-audio-capture=${wav}`,
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows']);
  const page = await browser.newPage();
  page.on('console', (m) => console.error(`page console ${m.type()}: ${m.text()}`));
  let stopping = false;
  const finish = async () => {
    if (stopping) return;
    stopping = true;
    let deleteStatus = null;
    try {
      emit({ event: 'samples', ...(await page.evaluate(() => window.drain())) });
      deleteStatus = await page.evaluate(() => window.unpublish());
    } catch (e) {
      console.error(`stopping: ${e.message}`);
    }
    emit({ event: 'stopped', deleteStatus, at: Date.now() });
    await browser.close().catch(() => {});
    server.close();
    process.exit(0);
  };
  setTimeout(finish, Number(maxSeconds) * 1000);
  const { port } = server.address();
  await page.goto(`http://127.0.0.1:${port}/whip_publish.html`);
  const capture = await page.evaluate((args) => window.prepare(args), {
    codec, maxBitrate: Number(maxBitrate), bits: Number(bits), blockHeight: Number(band) });
  emit({ event: 'ready', capture, pid: browser.process ? browser.process().pid : null });

  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === 'go') {
      const result = await page.evaluate((args) => window.go(args), { url, key });
      emit({ event: 'posted', ...result });
      if (result.status !== 201) await finish();
      const tick = async () => {
        if (stopping) return;
        try {
          emit({ event: 'samples', ...(await page.evaluate(() => window.drain())) });
        } catch (e) {
          console.error(`drain: ${e.message}`);
        }
        setTimeout(tick, 1000);
      };
      setTimeout(tick, 1000);
    } else if (line.trim() === 'stop') {
      await finish();
    }
  }
  await finish();
}

main().catch((e) => {
  emit({ event: 'failed', failure: e.message });
  process.exit(1);
});
