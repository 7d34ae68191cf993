// The string catalogues: one JSON file per language (assets/i18n/zh-CN.json, en.json),
// zh-CN by default, the choice kept in localStorage. t(key, vars) looks a key up and
// fills {name} placeholders; a missing key shows as ⟦key⟧ and is recorded in
// window.yanxiuMissingKeys, which the browser tests read.
const LANGS = ['zh-CN', 'en'];
let current = 'zh-CN';
let strings = {};
window.yanxiuMissingKeys = [];

/** The current language tag. */
export function lang() { return current; }

/** The languages offered. */
export function languages() { return LANGS; }

/** Loads the catalogue of `tag` (falls back to zh-CN) and marks the document. */
export async function setLang(tag) {
  current = LANGS.includes(tag) ? tag : 'zh-CN';
  const r = await fetch(`/assets/i18n/${current}.json`);
  strings = await r.json();
  localStorage.setItem('yanxiu.lang', current);
  document.documentElement.lang = current;
  document.title = t('app.title');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
}

/** The saved language, or zh-CN. */
export function savedLang() { return localStorage.getItem('yanxiu.lang') || 'zh-CN'; }

/** The string of `key` with `{name}` placeholders filled from `vars`. */
export function t(key, vars) {
  let s = strings[key];
  if (typeof s !== 'string') {
    if (!window.yanxiuMissingKeys.includes(key)) window.yanxiuMissingKeys.push(key);
    return `⟦${key}⟧`;
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

/** Whether the catalogue has `key` (for optional labels such as API enum values). */
export function has(key) { return typeof strings[key] === 'string'; }

/** A date-time in the current language (ms since the epoch). */
export function dateTime(ms) {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toLocaleString(current, { hour12: false });
}
