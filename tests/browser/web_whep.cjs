// Steps of the live journey (web_live.cjs) for WebRTC playback on the live page: the learner
// switches a live channel to "low latency (WebRTC)" (WHEP), frames arrive over WebRTC and
// hls.js is gone; the mode survives the language switch; the learner switches back to HLS
// (the WHEP session ended). Once the channel is no longer live, asking for low latency is
// refused by the server in its own words and the page falls back to HLS, saying why. The pure
// rules of whep.js (reading Link headers and WHEP error bodies) are checked in the page.
'use strict';

const { checkPage } = require('./web_support.cjs');

/** The exported rules of whep.js on fixed inputs. */
async function whepRules(page) {
  return page.evaluate(async () => {
    const m = await import('/assets/whep.js');
    const links = '<turn:turn.example.org:3478?transport=tcp>; rel="ice-server"; username="1700000000:yanxiu"; '
      + 'credential="c2VjcmV0"; credential-type="password", <https://example.org/x>; rel="help", '
      + '<stun:stun.example.org:3478>; rel="ice-server"';
    const err = m.errorOf(503, JSON.stringify({ error: { code: 'whep.channel_full', message: '频道观看人数已满' } }));
    const bad = m.errorOf(502, '<html>bad gateway</html>');
    return {
      links: m.iceServersFromLinks(links),
      none: m.iceServersFromLinks(null),
      error: { status: err.status, code: err.code, message: err.message },
      notJson: { status: bad.status, code: bad.code, message: bad.message },
      supported: m.supported(),
    };
  });
}

/** The WebRTC state of the page. */
function state(page) {
  return page.evaluate(async () => {
    const root = document.getElementById('live');
    const stats = window.yanxiuWhep ? await window.yanxiuWhep.stats() : null;
    return { mode: root.dataset.mode, state: root.dataset.state, stats,
      hls: !!(window.yanxiuPlayer && window.yanxiuPlayer.hls), whep: !!window.yanxiuWhep };
  });
}

/** Waits until WebRTC playback shows frames (more than `frames` decoded). */
async function playingOverWebrtc(page, frames) {
  await page.waitForSelector('#live[data-mode="webrtc"][data-state="playing"]', { timeout: 30000 });
  const deadline = Date.now() + 30000;
  for (;;) {
    const s = await page.evaluate(() => window.yanxiuWhep && window.yanxiuWhep.stats());
    if (s && s.framesDecoded > frames) return;
    if (Date.now() > deadline) throw new Error(`WebRTC frames stopped at ${s ? s.framesDecoded : 'none'}`);
    await new Promise((resolve) => { setTimeout(resolve, 250); });
  }
}

/** The learner, on the live page of a live channel, watches it over WHEP and back over HLS. */
async function watchOverWhep(ctx, page) {
  const out = { rules: await whepRules(page) };
  await page.waitForSelector('#live-modes:not([hidden])', { timeout: 30000 });
  const started = Date.now();
  await page.check('#live-mode-webrtc');
  await playingOverWebrtc(page, 0);
  out.firstFrameMs = Date.now() - started;
  await playingOverWebrtc(page, 30);
  out.webrtc = await state(page);
  await checkPage(ctx, page, 'live-webrtc', { english: true });
  await playingOverWebrtc(page, 10);
  out.afterLanguages = await state(page);
  await page.check('#live-mode-hls');
  await page.waitForSelector('#live[data-mode="hls"][data-state="playing"]', { timeout: 60000 });
  await page.waitForFunction(() => document.getElementById('video').currentTime > 1, null, { timeout: 60000 });
  out.backToHls = await state(page);
  return out;
}

/** Once the channel is not live: asks for low latency and reads the fallback. */
async function whepRefused(page) {
  await page.check('#live-mode-webrtc');
  await page.waitForFunction(() => {
    const note = document.getElementById('live-mode-note');
    return note.dataset.code && note.textContent && document.getElementById('live').dataset.mode === 'hls';
  }, null, { timeout: 30000 });
  return page.evaluate(() => {
    const note = document.getElementById('live-mode-note');
    return { code: note.dataset.code, text: note.textContent, mode: document.getElementById('live').dataset.mode,
      hlsChecked: document.getElementById('live-mode-hls').checked };
  });
}

module.exports = { watchOverWhep, whepRefused };
