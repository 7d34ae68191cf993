// The live page of a channel: hls.js on the channel's playlist (LL-HLS when the channel is
// low-latency), with a playback token when the viewer is signed in (restricted channels), its
// playback reported for the viewing figures; while the channel is not live it says so and
// tries again every few seconds. Once the channel plays, a switch offers "low latency
// (WebRTC)": the channel's source over WHEP (../whep.js), sub-second; a refusal (the channel
// full, a codec this browser cannot take, the network) falls back to HLS and says why in the
// API's words. The mode chosen is kept for the channel while the page is open.
import { api } from '../api.js';
import { onLeave } from '../app.js';
import { t, has } from '../i18n.js';
import { h, heading, errorText } from '../ui.js';
import { mountPlayer, reportPlayback, sameOrigin } from './player.js';
import { WhepPlayer, supported } from '../whep.js';

/** The mode last chosen per channel: 'hls' or 'webrtc'. */
const chosen = new Map();

/** The view of /live/:id. */
export async function render(ctx) {
  const id = ctx.params.id;
  let url = `/live/${encodeURIComponent(id)}/master.m3u8`;
  let grant = null;
  try { grant = await api('POST', '/api/v1/playback-tokens', { channel_id: id }); url = sameOrigin(grant.playback_url || url); } catch (e) { /* public */ }
  const report = grant && { target: { channel_id: id }, token: grant.events_token };
  const whepUrl = `/whep/${encodeURIComponent(id)}`;

  const root = h('div', { id: 'live', dataset: { mode: 'hls', state: 'waiting' } });
  const waiting = h('p', { id: 'live-waiting', 'aria-live': 'polite' });
  const note = h('p', { id: 'live-mode-note', role: 'status' });
  const slot = h('div', { id: 'live-slot' });
  let whep = null;
  let current = null;

  const radio = (mode, text) => h('label', { class: 'check' },
    h('input', { type: 'radio', name: 'live-mode', value: mode, id: `live-mode-${mode}`, checked: mode === 'hls',
      onchange: () => { note.textContent = ''; show(mode); } }), text);
  const switcher = h('fieldset', { id: 'live-modes', class: 'modes', hidden: true },
    h('legend', {}, t('live.mode')),
    h('div', { class: 'row' }, radio('hls', t('live.mode_hls')), radio('webrtc', t('live.mode_webrtc'))),
    h('p', { class: 'muted' }, t('live.mode_hint')));
  const offer = () => { if (supported()) switcher.hidden = false; };
  const check = (mode) => { const r = switcher.querySelector(`#live-mode-${mode}`); if (r) r.checked = true; };

  const stopWhep = () => { if (whep) { whep.abandon(); whep = null; window.yanxiuWhep = null; } };
  const stopHls = () => { if (window.yanxiuPlayer && window.yanxiuPlayer.hls) { window.yanxiuPlayer.hls.destroy(); window.yanxiuPlayer.hls = null; } };
  onLeave(() => { stopWhep(); stopHls(); });

  async function hls() {
    const box = await mountPlayer(url, { id: `live-${id}`, remember: false, live: true, report, onFatal: (player) => {
      waiting.textContent = t('live.waiting');
      root.dataset.state = 'waiting';
      setTimeout(() => { if (waiting.isConnected && window.yanxiuPlayer && window.yanxiuPlayer.hls === player) player.loadSource(url); }, 3000);
    }, onPlaying: () => { waiting.textContent = ''; root.dataset.state = 'playing'; offer(); } });
    slot.replaceChildren(box);
  }

  async function webrtc() {
    const video = h('video', { controls: true, playsinline: true, autoplay: true, id: 'live-video-webrtc', 'aria-label': t('live.webrtc_video') });
    slot.replaceChildren(h('div', { class: 'player' }, video));
    if (report && report.token) reportPlayback(video, report.target, report.token, window.yanxiuHeartbeatMs);
    whep = window.yanxiuWhep = new WhepPlayer({ url: whepUrl, token: grant && grant.token, video });
    const mine = whep;
    mine.addEventListener('change', () => {
      if (whep !== mine) return;
      root.dataset.state = mine.state;
      if (mine.state === 'playing') waiting.textContent = '';
      if (mine.state === 'failed') {
        // Refused or lost: back to HLS, saying why (the API's words when it refused).
        const err = mine.error || {};
        const why = err.message || (err.code && has(err.code) ? t(err.code) : t('live.webrtc_failed'));
        note.textContent = t('live.webrtc_fallback', { reason: why });
        note.dataset.code = err.code || '';
        chosen.set(id, 'hls');
        check('hls');
        show('hls');
      }
    });
    waiting.textContent = t('live.webrtc_connecting');
    await mine.start();
  }

  async function show(mode) {
    if (current === mode) return;
    current = mode;
    chosen.set(id, mode);
    root.dataset.mode = mode;
    root.dataset.state = mode === 'hls' ? 'waiting' : 'connecting';
    stopWhep();
    stopHls();
    try {
      if (mode === 'webrtc') await webrtc(); else await hls();
    } catch (e) {
      note.textContent = errorText(e);
    }
  }

  root.append(switcher, waiting, note, slot);
  if (chosen.get(id) === 'webrtc' && supported()) {
    offer();
    check('webrtc');
    await show('webrtc');
  } else {
    await show('hls');
  }
  return [heading(t('live.title')), root];
}
