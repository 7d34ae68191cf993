// The producer's upload page: drag and drop or choose a file, sent with tus-js-client
// (resumable: progress, speed, time left, pause/resume; after a reload or a dropped network
// choosing the same file again continues where it stopped, the upload URL being kept in
// localStorage by tus-js-client). The finished upload is a draft resource: the page then
// opens it for the metadata form and the processing status.
import { authHeaders, api } from '../api.js';
import { go } from '../app.js';
import { t, dateTime } from '../i18n.js';
import { h, field, heading, messageBox, bytes, clock, loadScript } from '../ui.js';

const TUS = '/assets/vendor/tus-js-client-4.3.1.min.js';
/** Bytes per PATCH: 8 MiB, or `localStorage['yanxiu.upload.chunk_bytes']` (tuning, tests). */
function chunkSize() {
  const n = Number(localStorage.getItem('yanxiu.upload.chunk_bytes'));
  return Number.isFinite(n) && n > 0 ? n : 8 * 1024 * 1024;
}

let active = null; // the running upload survives navigation inside the app

/** Whether `file` is a sound file: a lecture without picture, uploaded as an audio resource. */
function isSound(file) {
  return (file.type || '').startsWith('audio/') || /\.(mp3|flac|wav|ogg|oga|opus|m4a|aac)$/i.test(file.name);
}

/** The view of /upload. */
export async function render() {
  await loadScript(TUS);
  const msg = messageBox();
  const title = h('input', { type: 'text', name: 'title', id: 'upload-title' });
  const input = h('input', { type: 'file', id: 'upload-file', accept: 'video/*,audio/*,.mp4,.mov,.mkv,.ts,.flv,.m4a,.mp3,.flac,.wav,.ogg,.opus,.aac' });
  const drop = h('div', { class: 'drop', id: 'drop-zone' },
    h('p', {}, t('upload.drop_here')), field(t('upload.choose'), input));
  const bar = h('progress', { id: 'upload-progress', max: '100', value: '0', 'aria-labelledby': 'upload-progress-label' });
  const barLabel = h('span', { id: 'upload-progress-label' }, t('upload.progress'));
  const stats = h('p', { id: 'upload-stats', 'aria-live': 'polite' });
  const pause = h('button', { type: 'button', id: 'upload-pause', class: 'secondary', disabled: true }, t('upload.pause'));
  const resume = h('button', { type: 'button', id: 'upload-resume', disabled: true }, t('upload.resume'));
  const status = h('section', { class: 'panel', 'aria-labelledby': 'upload-progress-label' },
    barLabel, bar, stats, h('div', { class: 'row' }, pause, resume));
  const pending = h('section', { 'aria-labelledby': 'pending-h' });

  const start = (file) => {
    msg.clear();
    if (active && !active.done) active.upload.abort();
    const state = { file, done: false, started: performance.now(), base: 0, resourceId: null };
    const upload = new window.tus.Upload(file, {
      endpoint: '/api/v1/uploads',
      chunkSize: chunkSize(),
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      removeFingerprintOnSuccess: true,
      metadata: { filename: file.name, title: title.value.trim() || file.name.replace(/\.[^.]+$/, ''), resource_type: isSound(file) ? 'audio' : 'video' },
      onBeforeRequest(req) {
        const hd = authHeaders();
        if (hd.Authorization) req.setHeader('Authorization', hd.Authorization);
        req.setHeader('Accept-Language', hd['Accept-Language']);
      },
      onAfterResponse(req, res) {
        const id = res.getHeader('Yanxiu-Resource-Id');
        if (id) state.resourceId = id;
      },
      onProgress(sent, total) {
        const pct = total ? (sent / total) * 100 : 0;
        bar.value = pct;
        const secs = (performance.now() - state.started) / 1000;
        const speed = secs > 0 ? (sent - state.base) / secs : 0;
        const left = speed > 0 ? (total - sent) / speed : NaN;
        stats.textContent = t('upload.stats', { pct: pct.toFixed(0), sent: bytes(sent), total: bytes(total), speed: bytes(speed) + '/s', eta: clock(left) });
        bar.dataset.percent = pct.toFixed(1);
      },
      onError(e) {
        const status = e && e.originalResponse ? e.originalResponse.getStatus() : 0;
        let body = null;
        try { body = JSON.parse(e.originalResponse.getBody()); } catch (x) { body = null; }
        msg.show((body && body.error && body.error.message) || (status ? t('upload.failed_status', { status }) : t('upload.failed_network')));
        pause.disabled = true; resume.disabled = false;
      },
      async onSuccess() {
        state.done = true;
        pause.disabled = true; resume.disabled = true;
        bar.value = 100;
        stats.textContent = t('upload.done');
        let id = state.resourceId;
        if (!id) {
          const mine = await api('GET', '/api/v1/resources?per_page=200');
          const newest = mine.items.sort((a, b) => b.created_at - a.created_at)[0];
          id = newest && newest.id;
        }
        if (id) go(`/resource/${id}`);
      },
    });
    state.upload = upload;
    active = state;
    pause.disabled = false; resume.disabled = true;
    upload.findPreviousUploads().then((previous) => {
      if (previous.length) {
        const p = previous.sort((a, b) => (b.creationTime > a.creationTime ? 1 : -1))[0];
        upload.resumeFromPreviousUpload(p);
        stats.textContent = t('upload.resuming');
        status.dataset.resumed = 'true';
      }
      upload.start();
    });
  };
  pause.addEventListener('click', () => {
    if (!active) return;
    active.upload.abort();
    pause.disabled = true; resume.disabled = false; resume.focus();
    stats.textContent = t('upload.paused', { pct: Number(bar.value).toFixed(0) });
  });
  resume.addEventListener('click', () => {
    if (!active) return;
    active.started = performance.now();
    active.base = Math.round((bar.value / 100) * active.file.size);
    active.upload.start();
    resume.disabled = true; pause.disabled = false; pause.focus();
  });
  input.addEventListener('change', () => { if (input.files[0]) start(input.files[0]); });
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    if (ev.dataTransfer.files[0]) start(ev.dataTransfer.files[0]);
  });

  const unfinished = await window.tus.defaultOptions.urlStorage.findAllUploads().catch(() => []);
  if (unfinished.length) {
    pending.append(h('h2', { id: 'pending-h' }, t('upload.unfinished')), h('p', {}, t('upload.unfinished_hint')),
      h('ul', { id: 'unfinished' }, unfinished.map((u) => h('li', {},
        `${(u.metadata && u.metadata.filename) || '—'} · ${bytes(u.size)} · ${dateTime(Date.parse(u.creationTime))}`))));
  }
  return [heading(t('upload.title')), h('p', {}, t('upload.intro')),
    h('div', { class: 'stack' }, field(t('upload.title_field'), title, t('upload.title_hint')), drop, msg.el),
    status, pending];
}
