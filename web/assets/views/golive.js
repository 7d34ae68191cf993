// "Go live from this page", the panel of a channel's page: choose the camera or a shared
// screen, the microphone and the picture size, see a local preview, start and stop a WHIP
// publish to the channel (../whip.js), with its state (connecting, live, reconnecting,
// stopped), what is being sent, and failures in the API's words.
//
// What the organiser chose, the stream key and the running publish are kept per channel in
// this module for the life of the tab, so the panel survives a language switch or a visit to
// another page; a reload forgets them (the key was shown once: it can be pasted back).
import { t } from '../i18n.js';
import { h, field, select, errorText } from '../ui.js';
import { WhipPublisher, keyFrom } from '../whip.js';

/** Picture heights offered, and the 16:9 width of each. */
const SIZES = [[1080, 1920], [720, 1280], [480, 854], [360, 640]];
const STATE_TEXT = {
  stopped: 'golive.state_stopped', connecting: 'golive.state_connecting',
  live: 'golive.state_live', reconnecting: 'golive.state_reconnecting',
};
/** getUserMedia failures by DOMException name. */
const MEDIA_ERRORS = {
  NotAllowedError: 'golive.denied', SecurityError: 'golive.denied', NotFoundError: 'golive.not_found',
  OverconstrainedError: 'golive.not_found', NotReadableError: 'golive.busy', AbortError: 'golive.busy',
};

/** Per channel id: {key, withKey, source, mic, size, stream, chosen, screen, publisher, error,
 * starting, view}. */
const desks = new Map();
window.yanxiuGoLive = desks; // read by the browser tests, as window.yanxiuPlayer is

function desk(id) {
  if (!desks.has(id)) {
    desks.set(id, { key: '', withKey: null, source: '', mic: '', size: 720, stream: null, chosen: '', screen: false, publisher: null, error: null, starting: false, view: null });
  }
  return desks.get(id);
}

function release(d) {
  if (d.stream) for (const track of d.stream.getTracks()) track.stop();
  d.stream = null;
  d.chosen = '';
}

const publishing = (d) => !!d.publisher && d.publisher.state !== 'stopped';

// Closing the tab ends the publish at once (instead of after the server's idle timeout);
// the browser asks first while a publish runs. Signing out stops everything and forgets keys.
window.addEventListener('pagehide', () => { for (const d of desks.values()) if (d.publisher) d.publisher.abandon(); });
window.addEventListener('beforeunload', (ev) => {
  if ([...desks.values()].some(publishing)) { ev.preventDefault(); ev.returnValue = ''; }
});
window.addEventListener('yanxiu:sign-out', () => {
  for (const d of desks.values()) { if (d.publisher) d.publisher.stop(); release(d); }
  desks.clear();
});

/** Keeps a channel's key as creation or rotation returned it (the channel with `stream_key`,
 * `obs_server`, `obs_stream_key`), for the key panel and for publishing. */
export function rememberKey(id, withKey) {
  const d = desk(id);
  d.withKey = withKey;
  d.key = withKey.stream_key;
  if (d.publisher) d.publisher.key = d.key;
}

/** The key panel's data of a channel, while this tab holds it. */
export function keptKey(id) {
  return desks.has(id) ? desks.get(id).withKey : null;
}

/** The path of the channel's WHIP URL: this server serves /whip/ whatever public base address
 * it was configured with, and the page may only connect to its own origin. */
function whipPath(url) {
  const u = new URL(url, window.location.origin);
  return u.pathname + u.search;
}

/** The failure text: the API's message, or the page's own words for its own codes. */
function failureText(e) {
  if (!e) return '';
  if (!e.message && typeof e.code === 'string' && e.code.startsWith('golive.')) return t(e.code);
  return errorText(e);
}

/** The panel for `channel` (as the API returns it). */
export function goLivePanel(channel) {
  const d = desk(channel.id);
  const panel = h('section', { class: 'panel', id: 'golive', 'aria-labelledby': 'golive-h', dataset: { state: 'stopped' } },
    h('h2', { id: 'golive-h' }, t('golive.title')));
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia || !window.RTCPeerConnection) {
    panel.append(h('p', { class: 'error', id: 'golive-unsupported' }, t('golive.insecure')));
    return panel;
  }
  const key = h('input', { type: 'password', id: 'golive-key', autocomplete: 'off', spellcheck: 'false', value: d.key });
  const source = h('select', { id: 'golive-source' });
  const mic = h('select', { id: 'golive-mic' });
  const size = select(SIZES.map(([ht]) => [String(ht), `${ht}p`]), String(d.size), { id: 'golive-size' });
  const preview = h('video', { id: 'golive-preview', autoplay: true, playsinline: true, 'aria-label': t('golive.preview_label') });
  preview.muted = true;
  const previewBtn = h('button', { type: 'button', class: 'secondary', id: 'golive-preview-button' }, t('golive.preview'));
  const start = h('button', { type: 'button', id: 'golive-start' }, t('golive.start'));
  const stop = h('button', { type: 'button', class: 'danger', id: 'golive-stop' }, t('golive.stop'));
  const status = h('p', { id: 'golive-status', role: 'status', 'aria-live': 'polite' });
  const error = h('p', { id: 'golive-error', role: 'alert', class: 'error' });
  const sending = h('dl', { class: 'kv', id: 'golive-sending' });

  const remember = () => { d.source = source.value; d.mic = mic.value; d.size = Number(size.value); };
  for (const s of [source, mic, size]) s.addEventListener('change', remember);
  key.addEventListener('input', () => { d.key = keyFrom(key.value); });

  async function fillDevices() {
    let devices = [];
    try { devices = await md.enumerateDevices(); } catch (e) { devices = []; }
    const cams = devices.filter((x) => x.kind === 'videoinput');
    const mics = devices.filter((x) => x.kind === 'audioinput');
    const option = (value, text) => h('option', { value }, text);
    source.replaceChildren(...cams.map((c, i) => option(`camera:${c.deviceId}`, c.label ? t('golive.camera', { name: c.label }) : t('golive.camera_n', { n: i + 1 }))),
      md.getDisplayMedia ? option('screen', t('golive.screen')) : '');
    mic.replaceChildren(...mics.map((m, i) => option(`mic:${m.deviceId}`, m.label || t('golive.mic_n', { n: i + 1 }))), option('none', t('golive.no_mic')));
    if ([...source.options].some((o) => o.value === d.source)) source.value = d.source;
    if ([...mic.options].some((o) => o.value === d.mic)) mic.value = d.mic;
    remember();
  }

  /** The stream for the current choices (captured again when they changed). */
  async function capture() {
    if (d.stream && d.chosen === `${source.value}|${mic.value}|${size.value}` && d.stream.getVideoTracks().some((tr) => tr.readyState === 'live')) return d.stream;
    release(d);
    const height = Number(size.value);
    const width = SIZES.find(([ht]) => ht === height)[1];
    const micId = mic.value.startsWith('mic:') ? mic.value.slice(4) : null;
    const audio = micId === null ? false : { deviceId: micId ? { exact: micId } : undefined, echoCancellation: true, noiseSuppression: true };
    let stream;
    if (source.value === 'screen') {
      stream = await md.getDisplayMedia({ video: { height: { max: height }, frameRate: { max: 30 } }, audio: false });
      if (audio) {
        try {
          for (const tr of (await md.getUserMedia({ audio })).getAudioTracks()) stream.addTrack(tr);
        } catch (e) { for (const tr of stream.getTracks()) tr.stop(); throw e; }
      }
    } else {
      const camId = source.value.startsWith('camera:') ? source.value.slice(7) : '';
      stream = await md.getUserMedia({
        video: { deviceId: camId ? { exact: camId } : undefined, width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 30, max: 30 } },
        audio,
      });
    }
    // The browser's own "stop sharing" button, or an unplugged camera, ends the publish.
    stream.getVideoTracks()[0].addEventListener('ended', () => { if (d.stream === stream) stopAll(new Error(t('golive.source_ended'))); });
    d.stream = stream;
    d.screen = source.value === 'screen';
    await fillDevices(); // the names (and ids) are readable once access was granted
    d.chosen = `${source.value}|${mic.value}|${size.value}`;
    return stream;
  }

  async function captureOrSay() {
    d.error = null;
    try {
      return await capture();
    } catch (e) {
      d.error = new Error(t(MEDIA_ERRORS[e.name] || 'golive.capture_failed'));
      return null;
    } finally { update(); }
  }

  async function goLive() {
    const k = keyFrom(key.value);
    if (!k) { d.error = new Error(t('golive.need_key')); update(); key.focus(); return; }
    if (d.starting) return;
    d.starting = true; // one publish per press, however quick the clicks
    try {
      d.key = k;
      const stream = await captureOrSay();
      if (!stream) return;
      const p = new WhipPublisher({ url: whipPath(channel.whip_url), key: k, stream, screen: d.screen, height: Number(size.value) });
      d.publisher = p;
      p.addEventListener('change', () => { if (d.view) d.view(); });
      await p.start();
    } finally {
      d.starting = false;
      update();
    }
  }

  async function stopAll(why) {
    const p = d.publisher;
    if (p) await p.stop();
    release(d);
    d.error = why || null;
    update();
  }

  function update() {
    const p = d.publisher;
    const state = p ? p.state : 'stopped';
    panel.dataset.state = state;
    if (p && p.deleteStatus !== null) panel.dataset.deleteStatus = String(p.deleteStatus);
    else delete panel.dataset.deleteStatus;
    const busy = state !== 'stopped' || d.starting;
    for (const c of [key, source, mic, size, previewBtn]) c.disabled = busy;
    start.disabled = busy;
    stop.disabled = !busy && !d.stream;
    status.replaceChildren(h('span', { class: state === 'live' ? 'badge ok' : 'badge' }, t(STATE_TEXT[state])),
      p && p.reconnects ? ` ${t('golive.reconnects', { n: p.reconnects })}` : '');
    error.textContent = failureText((p && p.error) || d.error);
    if (preview.srcObject !== d.stream) preview.srcObject = d.stream;
    if (state !== 'live') sending.replaceChildren();
  }

  let first = true; // the first call runs before the panel is in the document
  async function showSending() {
    if (!first && !panel.isConnected) return;
    first = false;
    const p = d.publisher;
    const s = p ? await p.stats() : null;
    if (s) {
      sending.dataset.codec = s.codec || '';
      sending.replaceChildren(
        h('dt', {}, t('golive.codec')), h('dd', { id: 'golive-codec' }, s.codec || '—'),
        h('dt', {}, t('golive.picture')), h('dd', {}, s.width ? `${s.width}×${s.height}` : '—', s.fps ? ` · ${Math.round(s.fps)} fps` : ''),
        h('dt', {}, t('golive.bitrate')), h('dd', { id: 'golive-bitrate' }, s.kbps !== null ? `${s.kbps} kbps` : '—'));
    }
    setTimeout(showSending, 1000);
  }

  previewBtn.addEventListener('click', captureOrSay);
  start.addEventListener('click', goLive);
  stop.addEventListener('click', () => stopAll(null));
  d.view = update;
  fillDevices().then(update);
  update();
  showSending();

  panel.append(h('p', {}, t('golive.intro')),
    h('div', { class: 'grid2' },
      h('div', { class: 'stack' },
        field(t('golive.key'), key, t('golive.key_hint')),
        field(t('golive.source'), source), field(t('golive.mic'), mic), field(t('golive.size'), size)),
      h('div', { class: 'stack' }, preview, status, error, sending)),
    h('div', { class: 'row' }, previewBtn, start, stop));
  return panel;
}
