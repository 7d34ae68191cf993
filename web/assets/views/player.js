// The player: hls.js (vendored, loaded on first use) on a <video> with the browser's own
// controls (play, seek, volume, full screen), a quality menu ("auto" and every rung), a
// speed menu, a captions menu when the master has subtitle tracks (the chosen language
// remembered), and resume where the viewer left off (kept per resource in localStorage).
// Browsers that play HLS natively (Safari) get the playlist directly.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, field, heading, messageBox, select, clock, loadScript } from '../ui.js';
import { feedbackSection } from './feedback.js';

const HLS = '/assets/vendor/hls-1.5.20.min.js';
const SPEEDS = [0.75, 1, 1.25, 1.5, 2];

/** The path and query of a playback URL: this server serves the playlists the API names,
 * whatever public base address it was configured with. */
export function sameOrigin(url) {
  const u = new URL(url, location.origin);
  return u.pathname + u.search;
}

/** Parses a storyboard WebVTT: [{start, end, src, x, y, w, h}], sheet URLs resolved against
 * `base` and carrying `query` (the playback token, when there is one). */
export function parseStoryboard(text, base, query) {
  const secs = (t) => t.split(':').reduce((acc, p) => acc * 60 + Number(p), 0);
  const cues = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const m = lines[i].match(/^([\d:.]+)\s+-->\s+([\d:.]+)/);
    if (!m || !lines[i + 1]) continue;
    const [file, frag] = lines[i + 1].trim().split('#xywh=');
    if (!frag) continue;
    const [x, y, w, hgt] = frag.split(',').map(Number);
    const u = new URL(file, new URL(base, location.origin));
    if (query) u.search = query;
    cues.push({ start: secs(m[1]), end: secs(m[2]), src: u.pathname + u.search, x, y, w, h: hgt });
  }
  return cues;
}

/** A seek slider that shows the storyboard thumbnail of the point being scrubbed to. */
async function scrubber(video, vttUrl) {
  let cues = [];
  try {
    const r = await fetch(vttUrl);
    if (r.ok) cues = parseStoryboard(await r.text(), vttUrl, new URL(vttUrl, location.origin).search);
  } catch (e) { cues = []; }
  if (!cues.length) return null;
  const thumb = h('div', { class: 'thumb', id: 'scrub-thumb', hidden: true, 'aria-hidden': 'true' });
  const at = h('span', { class: 'muted', id: 'scrub-time' });
  const range = h('input', { type: 'range', id: 'scrub', min: '0', max: '0', step: '1', value: '0' });
  const setMax = () => { if (Number.isFinite(video.duration)) range.max = String(Math.floor(video.duration)); };
  setMax(); // the metadata may have arrived while the storyboard was fetched
  video.addEventListener('durationchange', setMax);
  video.addEventListener('timeupdate', () => { if (!range.matches(':active')) range.value = String(Math.floor(video.currentTime)); });
  const show = () => {
    const tsec = Number(range.value);
    const cue = cues.find((c) => tsec >= c.start && tsec < c.end) || cues[cues.length - 1];
    thumb.hidden = false;
    Object.assign(thumb.style, { width: `${cue.w}px`, height: `${cue.h}px`,
      backgroundImage: `url("${cue.src}")`, backgroundPosition: `-${cue.x}px -${cue.y}px` });
    thumb.dataset.src = cue.src;
    at.textContent = clock(tsec);
  };
  range.addEventListener('input', show);
  let hide = 0;
  range.addEventListener('change', () => {
    video.currentTime = Number(range.value);
    clearTimeout(hide); // keyboard steps fire input and change together: keep the picture a moment
    hide = setTimeout(() => { thumb.hidden = true; at.textContent = ''; }, 1500);
  });
  range.addEventListener('blur', () => { thumb.hidden = true; });
  return h('div', { class: 'scrub' }, field(t('player.scrub'), range), thumb, at);
}

/** Reports a playback to the API (POST /api/v1/playback/events) so that watch time and credit
 * hours (学时) count: start/play, pause, seek (with where it came from), a heartbeat every
 * `everyMs` (12 s) while playing, and the end, also when the page or the view is left (fetch
 * keepalive, which outlives the page). Events go out at most once a second, up to 50 at a
 * time; a failed send is dropped (the server counts from the next one). `target` is
 * {resource_id} or {channel_id}; `eventsToken` the grant's events_token. */
export function reportPlayback(video, target, eventsToken, everyMs = 12000) {
  const id = (crypto.randomUUID && crypto.randomUUID()) || `pb-${Date.now()}-${Math.random().toString(36).slice(2, 12)}`;
  const t0 = performance.now();
  const state = window.yanxiuPlayback = { id, sent: 0, failed: 0, last: null };
  let seq = 0; let queue = []; let last = 0; let started = false; let done = false; let lastSend = 0; let timer = 0;
  const pos = (x) => Math.max(0, Number.isFinite(x) ? x : 0);
  const send = (keepalive) => {
    clearTimeout(timer); timer = 0;
    if (!queue.length) return;
    const events = queue.splice(0, 50);
    lastSend = performance.now();
    fetch('/api/v1/playback/events', { method: 'POST', keepalive, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: eventsToken, ...target, playback_id: id, events }) })
      .then(async (r) => { state.sent += events.length; state.last = await r.json().catch(() => null); if (!r.ok) state.failed += events.length; })
      .catch(() => { state.failed += events.length; });
    if (queue.length) timer = setTimeout(() => send(false), 1000);
  };
  const push = (kind, extra) => {
    if (done) return;
    queue.push({ seq: ++seq, kind, position: pos(video.currentTime), elapsed_ms: Math.round(performance.now() - t0), ...extra });
    const wait = 1000 - (performance.now() - lastSend);
    if (wait <= 0 || kind === 'end') send(kind === 'end');
    else if (!timer) timer = setTimeout(() => send(false), wait);
  };
  video.addEventListener('playing', () => { push(started ? 'play' : 'start'); started = true; });
  video.addEventListener('pause', () => { if (started && !video.ended) push('pause'); });
  video.addEventListener('timeupdate', () => { if (!video.seeking) last = video.currentTime; });
  video.addEventListener('seeking', () => { push('seek', { from: pos(last) }); last = video.currentTime; });
  video.addEventListener('ended', () => { push('end'); done = true; });
  const beat = setInterval(() => {
    if (!video.isConnected) { finish(); return; }
    if (started && !video.paused && !video.ended) push('heartbeat');
  }, everyMs);
  function finish() {
    clearInterval(beat);
    if (started && !done) push('end');
    done = true;
    window.removeEventListener('pagehide', finish);
    window.removeEventListener('hashchange', finish);
  }
  window.addEventListener('pagehide', finish);
  window.addEventListener('hashchange', finish);
  return state;
}

/** Where the chosen caption language is remembered. */
const CAPTIONS_KEY = 'yanxiu.captions';

/** A player for `url` in a new element; `opts.id` keys the resume position; with
 * `opts.report` ({target, token}) the playback is reported (see reportPlayback). */
export async function mountPlayer(url, opts) {
  await loadScript(HLS);
  if (window.yanxiuPlayer && window.yanxiuPlayer.hls) window.yanxiuPlayer.hls.destroy();
  const video = h('video', { controls: true, playsinline: true, preload: 'metadata', id: 'video', 'aria-label': t('player.video') });
  if (opts.poster) video.poster = opts.poster;
  const quality = select([['-1', t('player.auto')]], '-1', { id: 'quality' });
  const speed = select(SPEEDS.map((s) => [String(s), `${s}×`]), '1', { id: 'speed' });
  const captions = select([['-1', t('player.captions_off')]], '-1', { id: 'captions-select' });
  const captionsField = field(t('player.captions'), captions);
  captionsField.hidden = true;
  const resumeNote = h('p', { class: 'muted', id: 'resume-note', 'aria-live': 'polite' });
  const msg = messageBox();
  const box = h('div', { class: 'player' }, video,
    h('div', { class: 'controls' }, field(t('player.quality'), quality), field(t('player.speed'), speed), captionsField), resumeNote, msg.el);
  if (opts.storyboard) {
    scrubber(video, opts.storyboard).then((bar) => { if (bar) video.after(bar); });
  }
  const state = window.yanxiuPlayer = { levels: [], switched: [], ended: false, errors: [], hls: null };
  if (opts.report && opts.report.token) reportPlayback(video, opts.report.target, opts.report.token, window.yanxiuHeartbeatMs);
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
      // A lecture without picture: the poster stays up, there is no quality to choose.
      state.audioOnly = data.levels.every((l) => !l.height);
      box.classList.toggle('audio-only', state.audioOnly);
      quality.closest('label').hidden = state.audioOnly;
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
    // Caption tracks (the master's subtitles group): off until chosen; the chosen language
    // is remembered for the next video.
    hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, (ev, data) => {
      const tracks = data.subtitleTracks || [];
      captionsField.hidden = tracks.length === 0;
      captions.replaceChildren(h('option', { value: '-1' }, t('player.captions_off')),
        ...tracks.map((x, i) => h('option', { value: String(i) }, x.name || x.lang)));
      const chosen = tracks.findIndex((x) => x.lang && x.lang === localStorage.getItem(CAPTIONS_KEY));
      if (chosen >= 0) { captions.value = String(chosen); hls.subtitleDisplay = true; hls.subtitleTrack = chosen; }
    });
    captions.addEventListener('change', () => {
      const i = Number(captions.value);
      hls.subtitleDisplay = i >= 0;
      hls.subtitleTrack = i;
      const track = hls.subtitleTracks[i];
      if (track && track.lang) localStorage.setItem(CAPTIONS_KEY, track.lang);
      else localStorage.removeItem(CAPTIONS_KEY);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    if (opts.live) hls.on(Hls.Events.MANIFEST_PARSED, () => { video.play().catch(() => {}); });
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
    quality.disabled = true;
    captionsField.hidden = true; // Safari lists the captions in its own controls
  } else {
    msg.show(t('player.unsupported'));
  }
  return box;
}

/** The storyboard WebVTT of resource `id`, with the playback token of `playlist`, if any. */
export function storyboardOf(id, playlist) {
  return `/play/${encodeURIComponent(id)}/storyboard/storyboard.vtt${new URL(playlist, location.origin).search}`;
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
  let grant = null;
  try { grant = await api('POST', '/api/v1/playback-tokens', { resource_id: id }); url = sameOrigin(grant.playback_url || url); } catch (err) { /* public */ }
  const report = grant && { target: { resource_id: id }, token: grant.events_token };
  const player = await mountPlayer(url, { id, poster: `/play/${encodeURIComponent(id)}/poster.jpg`, storyboard: storyboardOf(id, url), report });
  const facts = h('dl', { class: 'kv' },
    h('dt', {}, t('meta.lecturer_name')), h('dd', {}, e.lecturer_name),
    h('dt', {}, t('meta.lecturer_unit')), h('dd', {}, e.lecturer_unit),
    e.lecturer_title ? [h('dt', {}, t('meta.lecturer_title')), h('dd', {}, e.lecturer_title)] : null,
    h('dt', {}, t('meta.credit_hours')), h('dd', {}, String(e.credit_hours)),
    e.category1 ? [h('dt', {}, t('catalogue.category')), h('dd', {}, [e.category1, e.category2].filter(Boolean).join(' / '))] : null);
  return [heading(e.name), player, facts, e.summary ? h('p', {}, e.summary) : null,
    feedbackSection(id), h('p', {}, h('a', { href: '#/catalogue' }, t('player.back')))];
}
