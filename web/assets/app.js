// The app shell: language, session, the navigation each role sees, and the router
// (the URL fragment, #/…; /setup is the first-run page). Views live in ./views/ and
// are loaded when first visited. The API decides; the menu only hides what it would refuse.
// A session the API restricts (a second factor to enrol, an expired password to change) is
// kept on the one page that lifts the restriction.
import { api, setToken, token } from './api.js';
import { setLang, savedLang, t, lang } from './i18n.js';
import { h, heading, notice } from './ui.js';

/** Routes: pattern, view module, the roles that may open it (none: everyone). */
const ROUTES = [
  ['/', 'home', null],
  ['/login', 'auth', null],
  ['/setup', 'auth', null],
  ['/account', 'account', 'signed-in'],
  ['/account/security', 'mfa', 'signed-in'],
  ['/catalogue', 'catalogue', null],
  ['/watch/:id', 'player', null],
  ['/live/:id', 'live', null],
  ['/upload', 'upload', ['producer', 'event_organiser']],
  ['/mine', 'resources', ['producer', 'event_organiser']],
  ['/resource/:id', 'resource', 'signed-in'],
  ['/review/department', 'review', ['department_reviewer']],
  ['/review/centre', 'review', ['centre_reviewer']],
  ['/review/complaints', 'moderation', ['centre_reviewer']],
  ['/review/feedback', 'moderation', ['centre_reviewer', 'department_admin']],
  ['/learning', 'learning', 'signed-in'],
  ['/channels', 'channels', ['event_organiser', 'department_admin']],
  ['/channel/:id', 'channels', ['event_organiser', 'department_admin']],
  ['/audience/:id', 'audiences', ['event_organiser', 'department_admin']],
  ['/admin/users', 'admin', ['system_admin', 'department_admin']],
  ['/admin/org', 'admin', ['system_admin', 'department_admin']],
  ['/admin/roles', 'admin', ['security_admin', 'department_admin']],
  ['/admin/audit', 'admin', ['audit_admin']],
  ['/admin/security', 'security', ['security_admin']],
  ['/admin/settings', 'settings', ['system_admin']],
];

/** The page that lifts each restriction of a session, and its menu entry. */
const RESTRICTED = {
  mfa_enrolment: ['/account/security', 'nav.account_security', 'mfa.enrol_needed'],
  password_change: ['/account', 'nav.account', 'account.expired_notice'],
};

/** The roles that watch and so have a transcript (the platform administrators do not). */
const WATCHERS = ['learner', 'producer', 'event_organiser', 'department_reviewer', 'centre_reviewer', 'department_admin'];

/** The menu: route, label key, roles that see it (none: everyone; 'signed-in'). */
const MENU = [
  ['/catalogue', 'nav.catalogue', null],
  ['/learning', 'nav.learning', WATCHERS],
  ['/upload', 'nav.upload', ['producer', 'event_organiser']],
  ['/mine', 'nav.mine', ['producer', 'event_organiser']],
  ['/review/department', 'nav.review_department', ['department_reviewer']],
  ['/review/centre', 'nav.review_centre', ['centre_reviewer']],
  ['/review/complaints', 'nav.complaints', ['centre_reviewer']],
  ['/review/feedback', 'nav.moderation', ['centre_reviewer', 'department_admin']],
  ['/channels', 'nav.channels', ['event_organiser', 'department_admin']],
  ['/admin/users', 'nav.users', ['system_admin', 'department_admin']],
  ['/admin/org', 'nav.org', ['system_admin', 'department_admin']],
  ['/admin/roles', 'nav.roles', ['security_admin', 'department_admin']],
  ['/admin/security', 'nav.security', ['security_admin']],
  ['/admin/audit', 'nav.audit', ['audit_admin']],
  ['/admin/settings', 'nav.settings', ['system_admin']],
  ['/account', 'nav.account', 'signed-in'],
];

/** What every view gets: the signed-in user (or null), route params and query. */
export const session = { me: null };

/** Whether the signed-in user may see something meant for `roles`. */
export function allowed(roles) {
  if (!roles) return true;
  if (!session.me) return false;
  if (roles === 'signed-in') return true;
  return session.me.roles.some((r) => roles.includes(r));
}

/** Whether the user holds `role`. */
export function hasRole(role) { return !!session.me && session.me.roles.includes(role); }

function match(path) {
  for (const [pattern, view, roles] of ROUTES) {
    const names = [];
    const re = new RegExp('^' + pattern.replace(/:(\w+)/g, (m, n) => { names.push(n); return '([^/]+)'; }) + '$');
    const m = path.match(re);
    if (m) return { view, roles, pattern, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])])) };
  }
  return null;
}

/** The current route: the fragment's path and query (/setup is a real path). */
function current() {
  if (location.pathname === '/setup') return { path: '/setup', query: new URLSearchParams(location.search) };
  const frag = location.hash.replace(/^#/, '') || '/';
  const [path, q] = frag.split('?');
  return { path: path || '/', query: new URLSearchParams(q || '') };
}

/** Goes to `path` (a fragment route such as /resource/1). */
export function go(path) {
  if (location.pathname !== '/') history.replaceState(null, '', '/' + location.hash);
  if (location.hash === '#' + path) render();
  else location.hash = path;
}

function renderNav() {
  const nav = document.getElementById('nav');
  const { path } = current();
  const lifting = restricted();
  const menu = lifting ? [[lifting[0], lifting[1]]] : MENU.filter(([, , roles]) => allowed(roles));
  nav.replaceChildren(...menu.map(([to, key]) =>
    h('a', { href: '#' + to, 'aria-current': path === to || path.startsWith(to + '/') ? 'page' : null }, t(key))));
  const who = document.getElementById('who');
  if (session.me) {
    who.replaceChildren(
      h('span', {}, t('nav.signed_in_as', { name: session.me.display_name || session.me.username })), ' ',
      h('button', { type: 'button', class: 'link', id: 'sign-out', onclick: signOut }, t('nav.sign_out')));
  } else {
    who.replaceChildren(h('a', { href: '#/login', id: 'sign-in-link' }, t('nav.sign_in')));
  }
}

async function signOut() {
  window.dispatchEvent(new CustomEvent('yanxiu:sign-out')); // a running publish stops, kept keys go
  try { await api('DELETE', '/api/v1/sessions/current'); } catch (e) { /* already gone */ }
  setToken(null);
  session.me = null;
  notice(t('auth.signed_out'));
  go('/login');
}

/** Called by the sign-in and setup views once a token is held. */
export async function signedIn(tok) {
  setToken(tok);
  await refreshMe();
}

/** Reads the signed-in account again (its roles and restriction). */
export async function refreshMe() {
  session.me = await api('GET', '/api/v1/me');
}

/** The page, menu entry and notice of the session's restriction, if it has one. */
function restricted() {
  return session.me && session.me.restriction ? RESTRICTED[session.me.restriction] || null : null;
}

/** What a restricted session is told on signing in (null for a session with no restriction). */
export function restrictionNotice() {
  const lifting = restricted();
  return lifting ? t(lifting[2]) : null;
}

/** Where a freshly signed-in user goes: the page lifting a restriction, else `next` or the
 * landing page. */
export function startPage(next) {
  const lifting = restricted();
  return lifting ? lifting[0] : next || landing();
}

const views = {};
async function view(name) {
  if (!views[name]) views[name] = import(`./views/${name}.js`);
  return views[name];
}

const leaving = [];
/** Runs `fn` when the current view is left (another route, or the same one rendered again). */
export function onLeave(fn) { leaving.push(fn); }

let rendering = 0;
/** Renders the current route into <main>. */
export async function render() {
  const ticket = ++rendering;
  if (window.yanxiuPlayer && window.yanxiuPlayer.hls) { window.yanxiuPlayer.hls.destroy(); window.yanxiuPlayer.hls = null; }
  for (const fn of leaving.splice(0)) { try { fn(); } catch (e) { console.error(e); } }
  const { path, query } = current();
  const main = document.getElementById('main');
  const m = match(path);
  renderNav();
  let content;
  if (!m) {
    content = [heading(t('page.not_found')), h('p', {}, h('a', { href: '#/' }, t('page.go_home')))];
  } else if (m.roles && !session.me) {
    content = [heading(t('page.sign_in_needed')), h('p', {}, h('a', { href: '#/login?next=' + encodeURIComponent(path) }, t('nav.sign_in')))];
  } else if (!allowed(m.roles)) {
    content = [heading(t('page.forbidden')), h('p', { id: 'forbidden' }, t('page.forbidden_text'))];
  } else if (restricted() && path !== restricted()[0] && path !== '/login') {
    notice(t(restricted()[2]));
    go(restricted()[0]);
    return;
  } else if (m.view === 'home') {
    go(landing());
    return;
  } else {
    try {
      const mod = await view(m.view);
      content = await mod.render({ params: m.params, query, path, pattern: m.pattern });
    } catch (e) {
      console.error(e);
      content = [heading(t('page.error')), h('p', { role: 'alert', class: 'error' }, e.message || t('error.generic'))];
    }
  }
  if (ticket !== rendering) return;
  main.replaceChildren(...[content].flat().filter((c) => c !== null && c !== undefined && c !== false));
  main.dataset.route = path;
  main.dataset.rendered = String(ticket);
  const title = main.querySelector('h1');
  document.title = title ? `${title.textContent} · ${t('app.title')}` : t('app.title');
  if (title) title.focus({ preventScroll: false });
}

/** Where a user starts: their main task. */
export function landing() {
  const first = [
    ['producer', '/mine'], ['event_organiser', '/channels'], ['department_reviewer', '/review/department'],
    ['centre_reviewer', '/review/centre'], ['system_admin', '/admin/users'], ['department_admin', '/admin/users'],
    ['security_admin', '/admin/roles'], ['audit_admin', '/admin/audit'],
  ].find(([role]) => hasRole(role));
  return first ? first[1] : '/catalogue';
}

async function boot() {
  await setLang(savedLang());
  const select = document.getElementById('lang-select');
  select.value = lang();
  select.addEventListener('change', async () => { await setLang(select.value); render(); });
  if (token()) {
    try { session.me = await api('GET', '/api/v1/me'); } catch (e) { session.me = null; }
  }
  window.addEventListener('hashchange', () => render());
  window.addEventListener('yanxiu:restricted', async (ev) => {
    // The API refused a call because the session is restricted (a role granted meanwhile
    // needs a second factor; the password expired): read the account again and go to the
    // page that lifts the restriction, with the API's words.
    try { await refreshMe(); } catch (e) { return; }
    if (!restricted()) return;
    notice(ev.detail || t(restricted()[2]));
    go(restricted()[0]);
  });
  window.addEventListener('yanxiu:signed-out', (ev) => {
    // The server ended the session (idle timeout, a sign-in elsewhere, a password change):
    // say so in the API's words and offer to sign in again, back to the same page.
    session.me = null;
    notice(ev.detail || t('auth.session_ended'));
    const { path } = current();
    if (path !== '/login') go(`/login?next=${encodeURIComponent(path)}`);
  });
  await render();
  document.body.dataset.ready = 'true';
}

boot();
