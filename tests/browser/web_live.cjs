// The live driver of tests/web_app.rs: an organiser creates a channel through the page (the
// OBS fields are shown with the key) and goes live from the page over WHIP with Chromium's
// fake camera and microphone: first with a wrong key (the API's refusal, in zh-CN and then in
// English), then with the OBS stream key pasted into the key field. The dashboard reports the
// input; the server ends the WHIP session under the page's feet and the page posts again into
// the same live session; a learner plays the channel's live page; the organiser stops from
// the page (WHIP DELETE, camera released) and the recording's draft appears in the channel's
// events. The learner also watches over WebRTC (WHEP, "low latency") and back over HLS, and is
// refused low latency in the server's words once the channel is no longer live. The pure
// rules of whip.js and whep.js are checked in the page. Every page is checked (axe-core, both
// languages, screenshot). Prints one JSON line:
//   {pages, rules, obs, keyInMemory, wrongKey, sent, input, reconnect, livePlayed, stopped,
//    recording, whep, whepRefused, errors, failure}
//
// Usage: node web_live.cjs <node_modules> <base URL> <accounts.json> <shots dir>
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { launchChromium } = require('./harness.cjs');
const { checkPage, signIn, newPage, settle, switchLang } = require('./web_support.cjs');
const { watchOverWhep, whepRefused } = require('./web_whep.cjs');

const [modules, base, accountsFile, shots] = process.argv.slice(2);
const accounts = JSON.parse(fs.readFileSync(accountsFile, 'utf8'));

/** The exported rules of whip.js on fixed inputs, and the order of this browser's codecs. */
async function whipRules(page) {
  return page.evaluate(async () => {
    const m = await import('/assets/whip.js');
    const fmtp = (mode) => `level-asymmetry-allowed=1;packetization-mode=${mode};profile-level-id=42e01f`;
    const caps = [{ mimeType: 'video/VP9' }, { mimeType: 'video/H264', sdpFmtpLine: fmtp(0) }, { mimeType: 'video/rtx' },
      { mimeType: 'video/AV1' }, { mimeType: 'video/VP8' }, { mimeType: 'video/H264', sdpFmtpLine: fmtp(1) }];
    const name = (c) => c.mimeType + (c.sdpFmtpLine ? ` ${/packetization-mode=(\d)/.exec(c.sdpFmtpLine)[1]}` : '');
    return {
      order: m.codecOrder(caps).map(name),
      browserFirst: m.codecOrder(RTCRtpSender.getCapabilities('video').codecs)[0].mimeType,
      delays: [0, 1, 2, 3, 4, 9].map((a) => m.reconnectDelay(a, 1000)),
      afterWindow: m.reconnectDelay(1, m.RECONNECT_FOR_MS),
      keys: [m.keyFrom(' abc '), m.keyFrom('ch-x?key=s3cr%2Bt'), m.keyFrom('rtmp://h/live/ch-x?key=k1&x=1')],
      retry: [0, 503, 429, 403, 404, 406].map((status) => m.retryable({ status })),
      bitrate: [m.maxBitrate(360, false), m.maxBitrate(720, false), m.maxBitrate(1080, true)],
    };
  });
}

/** The publisher of channel `id` as the page holds it. */
function publisher(page, id) {
  return page.evaluate((cid) => {
    const d = window.yanxiuGoLive.get(cid);
    const p = d && d.publisher;
    return { state: p ? p.state : null, reconnects: p ? p.reconnects : 0, deleteStatus: p ? p.deleteStatus : null,
      stream: !!(d && d.stream), preview: !!document.getElementById('golive-preview').srcObject };
  }, id);
}

/** Presses "Go live" and waits for the refusal in the error line; its text. */
async function refusedText(page, before) {
  await page.click('#golive-start');
  await page.waitForFunction((b) => {
    const e = document.getElementById('golive-error');
    return document.getElementById('golive').dataset.state === 'stopped' && e.textContent && e.textContent !== b;
  }, before, { timeout: 30000 });
  return page.locator('#golive-error').innerText();
}

async function main() {
  const report = { pages: {}, errors: [], rules: null, obs: {}, wrongKey: {}, reconnect: {}, stopped: {}, input: null, livePlayed: false, recording: null, failure: null };
  const browser = await launchChromium(modules, ['--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection']);
  const ctx = { browser, base, shots, report, pages: [], axeSource: fs.readFileSync(path.join(modules, 'axe-core', 'axe.min.js'), 'utf8') };
  let step = 'organiser signs in';
  try {
    const org = await newPage(ctx);
    await signIn(org, base, accounts.event_organiser);
    await org.waitForSelector('#channel-form');
    report.rules = await whipRules(org);

    step = 'creating the channel';
    await org.fill('#channel-name', '全市教研直播');
    await org.selectOption('#channel-latency', 'low_latency');
    await org.click('#channel-form button[type="submit"]');
    await org.waitForSelector('#key-panel');
    const channelId = org.url().split('#/channel/')[1];
    report.obs = { server: await org.locator('#obs-server').innerText(), key: await org.locator('#obs-key').innerText(),
      whipUrl: await org.locator('#whip-url').innerText() };

    step = 'going live with a wrong key';
    await org.waitForFunction(() => document.querySelectorAll('#golive-source option').length > 0);
    report.keyInMemory = (await org.inputValue('#golive-key')).length > 0;
    await org.selectOption('#golive-size', '360');
    await org.fill('#golive-key', 'not-the-key');
    report.wrongKey.zh = await refusedText(org, '');
    await switchLang(org, 'en');
    report.wrongKey.en = await refusedText(org, report.wrongKey.zh);
    await switchLang(org, 'zh-CN');

    step = 'going live from the page with the OBS stream key pasted';
    await org.fill('#golive-key', report.obs.key);
    await org.click('#golive-start');
    await org.waitForSelector('#golive[data-state="live"]', { timeout: 30000 });
    await org.waitForSelector('#golive-codec', { timeout: 15000 });
    report.sent = await org.locator('#golive-codec').innerText();
    await org.waitForFunction(() => /kbps/.test(document.getElementById('golive-bitrate').textContent), null, { timeout: 15000 });

    step = 'waiting for the dashboard to report the input';
    await org.waitForSelector('#dashboard[data-live="true"]', { timeout: 90000 });
    await org.waitForFunction(() => !/^—/.test(document.getElementById('dash-input').textContent), null, { timeout: 30000 });
    report.input = await org.locator('#dash-input').innerText();
    await checkPage(ctx, org, 'channel-golive', { scrollTo: '#golive', english: true });
    report.stillLiveAfterLanguages = (await publisher(org, channelId)).state === 'live';

    step = 'the server ends the WHIP session; the page reconnects';
    const started = Date.now();
    report.reconnect.deleteStatus = await org.evaluate((cid) => fetch(window.yanxiuGoLive.get(cid).publisher.location, { method: 'DELETE' })
      .then((r) => r.status), channelId);
    await org.waitForFunction((cid) => {
      const p = window.yanxiuGoLive.get(cid).publisher;
      return p.reconnects >= 1 && p.state === 'live';
    }, channelId, { timeout: 60000, polling: 100 });
    report.reconnect.seconds = (Date.now() - started) / 1000;
    report.reconnect.reconnects = (await publisher(org, channelId)).reconnects;
    await org.waitForFunction(() => Number(document.getElementById('dash-reconnects').textContent) >= 1, null, { timeout: 30000 });
    report.reconnect.dashboard = Number(await org.locator('#dash-reconnects').innerText());

    step = 'a learner opens the live page';
    const learner = await newPage(ctx);
    await signIn(learner, base, accounts.learner);
    await learner.goto(`${base}/#/live/${channelId}`);
    await learner.waitForSelector('#video');
    step = 'the learner plays it live';
    await learner.waitForFunction(() => document.getElementById('video').currentTime > 2, null, { timeout: 60000 });
    report.livePlayed = true;
    await checkPage(ctx, learner, 'live');
    step = 'the learner switches to low latency (WebRTC over WHEP) and back to HLS';
    report.whep = await watchOverWhep(ctx, learner);

    step = 'the organiser stops from the page';
    await org.bringToFront();
    await org.click('#golive-stop');
    await org.waitForSelector('#golive[data-state="stopped"][data-delete-status]');
    report.stopped = await publisher(org, channelId);
    report.stopped.liveTracks = await org.evaluate(() => {
      const v = document.getElementById('golive-preview');
      return v.srcObject ? v.srcObject.getTracks().filter((tr) => tr.readyState === 'live').length : 0;
    });

    step = 'waiting for the recording after the stop';
    await org.waitForSelector('#events a[href^="#/resource/"]', { timeout: 120000 });
    report.events = await org.locator('#events li').allInnerTexts();
    step = 'the learner asks for low latency once the channel is no longer live';
    report.whepRefused = await whepRefused(learner);
    await org.click('#events a[href^="#/resource/"]');
    await org.waitForSelector('#processing');
    await settle(org);
    const resourceId = org.url().split('#/resource/')[1];
    report.recording = await org.evaluate(async (rid) => {
      const r = await fetch(`/api/v1/resources/${rid}`, { headers: { Authorization: `Bearer ${sessionStorage.getItem('yanxiu.token')}` } });
      const body = await r.json();
      return { status: r.status, state: body.latest && body.latest.state };
    }, resourceId);
    step = 'done';
  } catch (e) {
    report.failure = `${step}: ${e.message.split('\n')[0]}`;
    report.debug = await Promise.all(ctx.pages.map((p) => p.evaluate(() => ({ url: location.href,
      text: document.getElementById('main').innerText.slice(0, 1500) })).catch(String)));
  }
  await browser.close();
  console.log(JSON.stringify(report));
}

main().catch((e) => { console.error(e); process.exit(1); });
