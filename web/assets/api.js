// The API client: every call goes to the existing /api/v1 with the session's bearer token
// (kept in sessionStorage: it survives a reload, not the closing of the tab) and the
// current language, and fails with ApiError carrying the API's own code and message. A 401
// signs the page out; a 403 for a restricted session sends the user to the page lifting it.
import { lang } from './i18n.js';

const KEY = 'yanxiu.token';
/** The codes of a 403 for a restricted session: the app takes the user where it is lifted. */
const RESTRICTIONS = ['second_factor_required', 'password_expired'];

/** A refused or failed call: HTTP status, the API's error code and its message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The bearer token of this tab, if signed in. */
export function token() { return sessionStorage.getItem(KEY); }
/** Keeps the token. */
export function setToken(t) { if (t) sessionStorage.setItem(KEY, t); else sessionStorage.removeItem(KEY); }

/** Headers of an authenticated call. */
export function authHeaders() {
  const h = { 'Accept-Language': lang() === 'en' ? 'en' : 'zh-CN' };
  if (token()) h.Authorization = `Bearer ${token()}`;
  return h;
}

/** One JSON call; throws ApiError. A 401 on a signed-in call ends the local session. */
export async function api(method, path, body) {
  const headers = authHeaders();
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return send(path, init);
}

/** A call whose body is a file, sent as it is (caption files); the JSON answer; throws ApiError. */
export async function sendFile(method, path, file) {
  const headers = authHeaders();
  headers['Content-Type'] = file.type || 'application/octet-stream';
  return send(path, { method, headers, body: file });
}

async function send(path, init) {
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', '');
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!r.ok) {
    const err = (data && data.error) || {};
    if (r.status === 401 && token() && path !== '/api/v1/sessions') {
      setToken(null);
      window.dispatchEvent(new CustomEvent('yanxiu:signed-out', { detail: err.message || '' }));
    }
    if (r.status === 403 && RESTRICTIONS.includes(err.code)) {
      window.dispatchEvent(new CustomEvent('yanxiu:restricted', { detail: err.message || '' }));
    }
    throw new ApiError(r.status, err.code || 'http_' + r.status, err.message || '');
  }
  return data;
}

/** A raw authenticated GET (CSV exports): the Blob. */
export async function download(path) {
  const r = await fetch(path, { headers: authHeaders() });
  if (!r.ok) throw new ApiError(r.status, 'http_' + r.status, '');
  return r.blob();
}

/** Every item of a list, paginated or not (at most `max`). */
export async function all(path, max = 1000) {
  const items = [];
  for (let page = 1; items.length < max; page += 1) {
    const sep = path.includes('?') ? '&' : '?';
    const data = await api('GET', `${path}${sep}page=${page}&per_page=200`);
    if (Array.isArray(data)) return data; // some lists are not paginated
    items.push(...data.items);
    if (data.items.length < 200 || items.length >= data.total) break;
  }
  return items;
}
