// The browser side of bench/web.sh: Debian's headless Chromium (playwright-core) loads the
// web app's catalogue and player pages from a `yanxiu serve` on loopback, RUNS times each, in
// a fresh context with the cache disabled, and measures per load:
//   - bytes: every response as transferred (encoded, i.e. compressed when it was), except
//     the video (/play/, /live/), until the page is ready (the player: before play is clicked);
//   - readyMs: navigation start → the view is interactive: rendered with its content (the
//     catalogue lists its entries; the player's quality menu lists the ladder), taken by a
//     MutationObserver in the page, not by polling;
//   - on the player, from the click on play (pointerdown) to hls.js's first FRAG_BUFFERED
//     after it (or "before the click" when hls.js had buffered already: it loads as soon as
//     the ladder is parsed; then the time from ready to the first FRAG_BUFFERED), to the
//     video's `playing` event, and to the first frame on screen (requestVideoFrameCallback).
// Prints one JSON line: {catalogue: {samples}, player: {samples}}.
//
// Usage: node bench/web_measure.cjs <node_modules> <base URL> <resource id> [RUNS]
'use strict';

const path = require('node:path');

const [modules, base, resourceId, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 10);

/** Records, in the page, when `ready` first holds (ms since navigation start). */
function readyProbe(kind) {
  const test = kind === 'player'
    ? () => !!document.querySelector('#quality option[value="0"]') && !!(window.yanxiuPlayer && window.yanxiuPlayer.hls)
    : () => !!document.querySelector('#catalogue-list li');
  const check = () => {
    if (window.benchReadyMs !== undefined || !test()) return;
    window.benchReadyMs = performance.now();
    // The ladder was just parsed (the quality menu is filled in MANIFEST_PARSED, before any
    // fragment is asked for): every FRAG_BUFFERED from now on is seen.
    window.benchFrags = [];
    if (kind === 'player') {
      window.yanxiuPlayer.hls.on(window.Hls.Events.FRAG_BUFFERED, () => window.benchFrags.push(performance.now()));
    }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, attributes: true });
}

async function loadOnce(browser, kind, url) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const urls = new Map();
  let bytes = 0;
  let counting = true;
  cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
  cdp.on('Network.loadingFinished', (e) => {
    const u = urls.get(e.requestId) || '';
    if (counting && !/^\/(play|live)\//.test(new URL(u, base).pathname)) bytes += e.encodedDataLength;
  });
  await page.addInitScript(readyProbe, kind);
  await page.goto(url);
  await page.waitForFunction(() => window.benchReadyMs !== undefined, null, { timeout: 30000, polling: 50 });
  // Let requests started by the render (strings, the storyboard) finish before counting stops.
  await page.waitForLoadState('networkidle', { timeout: 5000 }).catch(() => {});
  counting = false;
  const sample = { bytes, readyMs: await page.evaluate(() => window.benchReadyMs) };
  if (kind === 'player') {
    await page.evaluate(() => {
      const v = document.getElementById('video');
      const hls = window.yanxiuPlayer.hls;
      const marks = window.benchMarks = {};
      hls.on(window.Hls.Events.FRAG_BUFFERED, () => {
        if (marks.click !== undefined && marks.frag === undefined) marks.frag = performance.now() - marks.click;
      });
      v.addEventListener('pointerdown', () => { marks.click = performance.now(); }, { once: true, capture: true });
      v.addEventListener('playing', () => { if (marks.playing === undefined) marks.playing = performance.now() - marks.click; }, { once: true });
      window.benchFirstFrame = new Promise((resolve) => {
        v.addEventListener('pointerdown', () => {
          v.requestVideoFrameCallback(() => resolve(performance.now() - marks.click));
        }, { once: true, capture: true });
      });
    });
    await page.click('#video');
    const frame = await page.evaluate(() => Promise.race([window.benchFirstFrame,
      new Promise((resolve) => { setTimeout(() => resolve(null), 10000); })]));
    if (frame === null) throw new Error('no frame within 10 s of the click on play');
    const marks = await page.evaluate(() => ({ ...window.benchMarks,
      fragBefore: window.benchFrags.some((t) => t < window.benchMarks.click),
      firstFragAfterReady: window.benchFrags.length ? window.benchFrags[0] - window.benchReadyMs : null }));
    Object.assign(sample, { firstFrameMs: frame, playingMs: marks.playing ?? null,
      fragBufferedMs: marks.frag ?? null, fragBufferedBeforeClick: marks.fragBefore,
      firstFragAfterReadyMs: marks.firstFragAfterReady });
  }
  await context.close();
  return sample;
}

async function main() {
  const { chromium } = require(path.join(modules, 'playwright-core'));
  const browser = await chromium.launch({
    executablePath: process.env.YANXIU_BENCH_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
  const out = {};
  try {
    const pages = { catalogue: `${base}/#/catalogue`, player: `${base}/#/watch/${resourceId}` };
    for (const [kind, url] of Object.entries(pages)) {
      await loadOnce(browser, kind, url); // warm-up (server caches, Chromium's own start-up), not counted
      const samples = [];
      for (let i = 0; i < runs; i += 1) samples.push(await loadOnce(browser, kind, url));
      out[kind] = { samples };
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });
