// Loopback figures of the web app, one way of measuring for both the journey of
// tests/web_app.rs (printed by the test) and bench/web.sh (quoted in docs/web.md, through the
// command-line wrapper bench/web_measure.cjs): for the catalogue and the player page, each
// loaded in a fresh context with the cache disabled, per load
//   - bytes: every response as transferred (encoded, i.e. compressed when it was), except the
//     video (/play/, /live/), until the page is ready and its requests have settled;
//   - readyMs: navigation start → the view is interactive, rendered with its content (the
//     catalogue lists its entries; the player's quality menu lists the ladder), taken by a
//     MutationObserver in the page, not by polling;
//   - on the player, from the click on play (pointerdown) to the first frame on screen
//     (requestVideoFrameCallback), to the video's `playing` event, and to hls.js's first
//     FRAG_BUFFERED after the click (or whether one came before it: hls.js loads as soon as
//     the ladder is parsed; then the time from ready to the first FRAG_BUFFERED).
'use strict';

/** The median; with an even count, the mean of the two middle values. */
function median(xs) {
  const s = [...xs].filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (!s.length) return null;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Records, in the page, when the view of `kind` is first ready (ms since navigation). */
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

/** Clicks play and measures the way to the first frame. */
async function playOnce(page) {
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
  return {
    firstFrameMs: frame,
    playingMs: marks.playing ?? null,
    fragBufferedMs: marks.frag ?? null,
    fragBufferedBeforeClick: marks.fragBefore,
    firstFragAfterReadyMs: marks.firstFragAfterReady,
  };
}

/** One load of `url` (a view of `kind`: `catalogue` or `player`) served from `base`. */
async function loadOnce(browser, base, kind, url) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  try {
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
    if (kind === 'player') Object.assign(sample, await playOnce(page));
    return sample;
  } finally {
    await context.close();
  }
}

/** Every sample of `runs` loads (after one warm-up load) of the catalogue and the player. */
async function samples(browser, base, resourceId, runs) {
  const out = {};
  const pages = { catalogue: `${base}/#/catalogue`, player: `${base}/#/watch/${resourceId}` };
  for (const [kind, url] of Object.entries(pages)) {
    await loadOnce(browser, base, kind, url); // warm-up (server caches, Chromium's start), not counted
    const list = [];
    for (let i = 0; i < runs; i += 1) list.push(await loadOnce(browser, base, kind, url));
    out[kind] = { samples: list };
  }
  return out;
}

/** The journey's figures: medians, with every sample (`ctx` of tests/browser/web_journey.cjs). */
async function measure(ctx, resourceId, runs = 10) {
  const all = await samples(ctx.browser, ctx.base, resourceId, runs);
  const round = (x) => (x === null || x === undefined ? undefined : Math.round(x));
  const out = {};
  for (const [kind, { samples: list }] of Object.entries(all)) {
    out[kind] = {
      runs,
      bytes: round(median(list.map((s) => s.bytes))),
      readyMs: round(median(list.map((s) => s.readyMs))),
      firstFrameMs: kind === 'player' ? round(median(list.map((s) => s.firstFrameMs))) : undefined,
      samples: list.map((s) => ({ bytes: s.bytes, readyMs: round(s.readyMs), firstFrameMs: round(s.firstFrameMs) })),
    };
  }
  return out;
}

module.exports = { measure, median, samples };
