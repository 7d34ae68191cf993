// Small DOM helpers shared by the views: element building, labelled fields, messages,
// formatting, and loading a vendored library on demand.
import { t, has } from './i18n.js';
import { all } from './api.js';

/** Builds an element: h('button', {class: 'x', onclick: f}, 'text', child, …). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let uid = 0;
/** A labelled control: label text, the control, an optional hint tied by aria-describedby. */
export function field(label, control, hint) {
  uid += 1;
  const id = control.id || `f${uid}`;
  control.id = id;
  const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('label', { class: 'field', for: id }, label, control, hintEl);
}

/** A checkbox with its label and an optional hint tied by aria-describedby. */
export function check(label, input, hint) {
  if (!hint) return h('label', { class: 'check' }, input, label);
  uid += 1;
  const hintEl = h('span', { class: 'hint', id: `${input.id || `c${uid}`}-hint` }, hint);
  input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'check-field' }, h('label', { class: 'check' }, input, label), hintEl);
}

/** The text of a failure for people: the API's message, or a generic one. */
export function errorText(e) {
  if (e && e.message) return e.message;
  if (e && e.code === 'network') return t('error.network');
  return t('error.generic');
}

/** A message region (role=alert) that shows failures; returns {el, show, clear}. */
export function messageBox() {
  const el = h('p', { role: 'alert', class: 'error' });
  return {
    el,
    show(e) { el.className = 'error'; el.textContent = typeof e === 'string' ? e : errorText(e); },
    ok(text) { el.className = 'ok'; el.textContent = text; },
    clear() { el.textContent = ''; },
  };
}

/** Shows a short notice under the header (read out by screen readers). */
export function notice(text) {
  document.getElementById('notice').textContent = text || '';
}

/** The page heading, focused after navigation so keyboard and screen-reader users land on it. */
export function heading(text) {
  return h('h1', { tabindex: '-1', id: 'page-title' }, text);
}

/** A translated enum value (`prefix.value`), or the value itself when not catalogued. */
export function label(prefix, value) {
  if (value === null || value === undefined || value === '') return '—';
  return has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value);
}

/** A badge for a state: ok / bad colouring by value. */
export function badge(prefix, value) {
  const good = ['published', 'ready', 'approve', 'live', 'technically_approved', 'department_approved', 'success'];
  const bad = ['rejected', 'failed', 'reject', 'withdrawn', 'failure', 'denied'];
  const cls = good.includes(value) ? 'badge ok' : bad.includes(value) ? 'badge bad' : 'badge';
  return h('span', { class: cls }, label(prefix, value));
}

/** 1.5 MB style sizes. */
export function bytes(n) {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** m:ss or h:mm:ss. */
export function clock(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.floor(seconds % 60).toString().padStart(2, '0');
  const m = Math.floor((seconds / 60) % 60);
  const hr = Math.floor(seconds / 3600);
  return hr ? `${hr}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

const loaded = {};
/** Loads a vendored script once (hls.js, tus-js-client); resolves when it has run. */
export function loadScript(src) {
  if (!loaded[src]) {
    loaded[src] = new Promise((resolve, reject) => {
      const s = h('script', { src });
      s.onload = resolve;
      s.onerror = () => reject(new Error(src));
      document.head.append(s);
    });
  }
  return loaded[src];
}

/** A button that copies `text` to the clipboard and says so. */
export function copyButton(text, what) {
  const b = h('button', { type: 'button', class: 'secondary' }, t('common.copy_what', { what }));
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      notice(t('common.copied', { what }));
    } catch (e) {
      notice(t('common.copy_failed'));
    }
  });
  return b;
}

/** Builds a select from [value, text] pairs. */
export function select(options, value, attrs) {
  const s = h('select', attrs || {});
  for (const [v, text] of options) s.append(h('option', { value: v, selected: v === value }, text));
  return s;
}

/** A choice of audience (GET /api/v1/audiences), or a text field for its id when none can be
 * listed. Both have `.value`. */
export async function audienceSelect(current, attrs) {
  let list = [];
  try { list = await all('/api/v1/audiences'); } catch (e) { list = []; }
  if (!list.length) return h('input', { type: 'text', value: current || '', ...attrs });
  return select([['', t('audience.none')], ...list.map((a) => [a.id, a.name])], current || '', attrs);
}
