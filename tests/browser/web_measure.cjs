// Loopback figures of the web app, measured inside the journey of tests/web_app.rs (printed
// by the test) and by bench/web.sh (quoted in docs/web.md): for the catalogue and the player
// page, each loaded `runs` times in a fresh context (empty cache), the bytes transferred
// before the video (every response except /play/ and /live/, as encoded on the wire, i.e.
// compressed) and the time from navigation until the view is interactive (rendered with its
// content: the catalogue lists its entries, the player has parsed the ladder); and on the
// player, the time from a click on the video to its first frame on screen
// (requestVideoFrameCallback). Medians, with every sample.
'use strict';

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : null;
}

async function loadOnce(ctx, url, ready) {
  const context = await ctx.browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const urls = new Map();
  let bytes = 0;
  cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
  cdp.on('Network.loadingFinished', (e) => {
    const u = urls.get(e.requestId) || '';
    if (!/\/(play|live)\//.test(new URL(u, ctx.base).pathname)) bytes += e.encodedDataLength;
  });
  await page.goto(url);
  await page.waitForFunction(ready, null, { timeout: 30000 });
  const readyMs = await page.evaluate(() => performance.now());
  let firstFrameMs = null;
  if (url.includes('#/watch/')) {
    // The clock starts when the click reaches the page, and stops at the first frame shown.
    await page.evaluate(() => {
      const v = document.getElementById('video');
      window.yanxiuFirstFrame = new Promise((resolve) => {
        v.addEventListener('pointerdown', () => {
          const t0 = performance.now();
          v.requestVideoFrameCallback(() => resolve(performance.now() - t0));
        }, { once: true, capture: true });
      });
    });
    await page.click('#video');
    firstFrameMs = await page.evaluate(() => Promise.race([window.yanxiuFirstFrame,
      new Promise((resolve) => { setTimeout(() => resolve(null), 10000); })]));
    if (firstFrameMs === null) throw new Error('no frame within 10 s of the click on play');
  }
  await context.close();
  return { bytes, readyMs, firstFrameMs };
}

/** The medians for the catalogue and the player of `resourceId` (public). */
async function measure(ctx, resourceId, runs = 10) {
  const out = {};
  const pages = {
    catalogue: [`${ctx.base}/#/catalogue`, () => document.querySelectorAll('#catalogue-list li').length > 0],
    player: [`${ctx.base}/#/watch/${resourceId}`, () => window.yanxiuPlayer && window.yanxiuPlayer.levels.length > 0],
  };
  for (const [name, [url, ready]] of Object.entries(pages)) {
    const samples = [];
    for (let i = 0; i < runs; i += 1) samples.push(await loadOnce(ctx, url, ready));
    out[name] = {
      runs,
      bytes: median(samples.map((s) => s.bytes)),
      readyMs: Math.round(median(samples.map((s) => s.readyMs))),
      firstFrameMs: name === 'player' ? Math.round(median(samples.map((s) => s.firstFrameMs))) : undefined,
      samples: samples.map((s) => ({ bytes: s.bytes, readyMs: Math.round(s.readyMs),
        firstFrameMs: s.firstFrameMs === null ? undefined : Math.round(s.firstFrameMs) })),
    };
  }
  return out;
}

module.exports = { measure, median };
