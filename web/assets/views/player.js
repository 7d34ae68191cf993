// The player: hls.js (vendored, loaded on first use) on a <video> with the browser's own
// controls (play, seek, volume, full screen), a quality menu ("auto" and every rung), a
// speed menu, and resume where the viewer left off (kept per resource in localStorage).
// Browsers that play HLS natively (Safari) get the playlist directly.
import { api, token } from '../api.js';
import { t } from '../i18n.js';
import { h, field, heading, messageBox, select, clock, loadScript } from '../ui.js';

const HLS = '/assets/vendor/hls-1.5.20.min.js';
const SPEEDS = [0.75, 1, 1.25, 1.5, 2];

/** The path and query of a playback URL: this server serves the playlists the API names,
 * whatever public base address it was configured with. */
export function sameOrigin(url) {
  const u = new URL(url, location.origin);
  return u.pathname + u.search;
}

/** A player for `url` in a new element; `opts.id` keys the resume position. */
export async function mountPlayer(url, opts) {
  await loadScript(HLS);
  if (window.yanxiuPlayer && window.yanxiuPlayer.hls) window.yanxiuPlayer.hls.destroy();
  const video = h('video', { controls: true, playsinline: true, preload: 'metadata', id: 'video', 'aria-label': t('player.video') });
  if (opts.poster) video.poster = opts.poster;
  const quality = select([['-1', t('player.auto')]], '-1', { id: 'quality' });
  const speed = select(SPEEDS.map((s) => [String(s), `${s}×`]), '1', { id: 'speed' });
  const resumeNote = h('p', { class: 'muted', id: 'resume-note', 'aria-live': 'polite' });
  const msg = messageBox();
  const box = h('div', { class: 'player' }, video,
    h('div', { class: 'controls' }, field(t('player.quality'), quality), field(t('player.speed'), speed)), resumeNote, msg.el);
  const state = window.yanxiuPlayer = { levels: [], switched: [], ended: false, errors: [], hls: null };
  const key = `yanxiu.pos.${opts.id}`;
  const remember = opts.remember !== false;

  speed.addEventListener('change', () => { video.playbackRate = Number(speed.value); });
  video.addEventListener('ended', () => { state.ended = true; if (remember) localStorage.removeItem(key); });
  let lastSave = 0;
  video.addEventListener('timeupdate', () => {
    if (remember && Math.abs(video.currentTime - lastSave) >= 5) {
      lastSave = video.currentTime;
      localStorage.setItem(key, String(video.currentTime));
    }
  });
  video.addEventListener('pause', () => { if (remember && !state.ended) localStorage.setItem(key, String(video.currentTime)); });
  video.addEventListener('loadedmetadata', () => {
    const saved = remember ? Number(localStorage.getItem(key)) : 0;
    if (saved >= 3 && Number.isFinite(video.duration) && saved < video.duration - 2) {
      video.currentTime = saved;
      const again = h('button', { type: 'button', class: 'link', id: 'start-over' }, t('player.start_over'));
      again.addEventListener('click', () => { video.currentTime = 0; resumeNote.textContent = ''; video.focus(); });
      resumeNote.replaceChildren(t('player.resumed', { at: clock(saved) }), ' ', again);
    }
  }, { once: true });

  const Hls = window.Hls;
  if (Hls && Hls.isSupported()) {
    const hls = new Hls({ enableWorker: true, lowLatencyMode: !!opts.live, xhrSetup: null });
    state.hls = hls;
    hls.on(Hls.Events.MANIFEST_PARSED, (ev, data) => {
      state.levels = data.levels.map((l) => l.height);
      quality.replaceChildren(h('option', { value: '-1' }, t('player.auto')),
        ...data.levels.map((l, i) => h('option', { value: String(i) }, `${l.height}p`)).reverse());
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (ev, data) => state.switched.push(data.level));
    hls.on(Hls.Events.ERROR, (ev, data) => {
      state.errors.push({ fatal: data.fatal, type: data.type, details: data.details });
      if (!data.fatal) return;
      if (opts.onFatal && data.type === Hls.ErrorTypes.NETWORK_ERROR) opts.onFatal(hls);
      else msg.show(t('player.error'));
    });
    if (opts.onPlaying) video.addEventListener('playing', opts.onPlaying);
    quality.addEventListener('change', () => { hls.currentLevel = Number(quality.value); });
    hls.loadSource(url);
    hls.attachMedia(video);
    if (opts.live) hls.on(Hls.Events.MANIFEST_PARSED, () => { video.play().catch(() => {}); });
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
    quality.disabled = true;
  } else {
    msg.show(t('player.unsupported'));
  }
  return box;
}

/** The catalogue entry of `id` (the catalogue is the learner's view of published resources). */
async function entry(id) {
  const data = await api('GET', '/api/v1/catalogue?per_page=200');
  return data.items.find((x) => x.resource_id === id) || null;
}

/** The view of /watch/:id. */
export async function render(ctx) {
  const id = ctx.params.id;
  const e = await entry(id);
  if (!e) return [heading(t('player.not_found')), h('p', {}, h('a', { href: '#/catalogue' }, t('nav.catalogue')))];
  let url = `/play/${encodeURIComponent(id)}/master.m3u8`;
  if (token()) {
    try { url = sameOrigin((await api('POST', '/api/v1/playback-tokens', { resource_id: id })).playback_url || url); } catch (err) { /* public */ }
  }
  const player = await mountPlayer(url, { id, poster: `/play/${encodeURIComponent(id)}/poster.jpg` });
  const facts = h('dl', { class: 'kv' },
    h('dt', {}, t('meta.lecturer_name')), h('dd', {}, e.lecturer_name),
    h('dt', {}, t('meta.lecturer_unit')), h('dd', {}, e.lecturer_unit),
    e.lecturer_title ? [h('dt', {}, t('meta.lecturer_title')), h('dd', {}, e.lecturer_title)] : null,
    h('dt', {}, t('meta.credit_hours')), h('dd', {}, String(e.credit_hours)),
    e.category1 ? [h('dt', {}, t('catalogue.category')), h('dd', {}, [e.category1, e.category2].filter(Boolean).join(' / '))] : null);
  return [heading(e.name), player, facts, e.summary ? h('p', {}, e.summary) : null,
    h('p', {}, h('a', { href: '#/catalogue' }, t('player.back')))];
}
