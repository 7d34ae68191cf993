// Loopback figures of the web app, measured inside the journey of tests/web_app.rs (printed
// by the test, quoted in docs/web.md): for the catalogue and the player page, each loaded
// `runs` times in a fresh context (empty cache), the bytes transferred before the video
// (every response except /play/ and /live/, as encoded on the wire) and the time from
// navigation until the view is ready; and on the player, the time from play() to the first
// video frame (requestVideoFrameCallback). Medians.
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
    firstFrameMs = await page.evaluate(() => new Promise((resolve) => {
      const v = document.getElementById('video');
      const t0 = performance.now();
      v.requestVideoFrameCallback(() => resolve(performance.now() - t0));
      v.play();
    }));
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
    };
  }
  return out;
}

module.exports = { measure };
