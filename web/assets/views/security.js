// The security administrator's sessions and lockouts: every live sign-in of every account
// (who, from which address and browser, since when, last seen, until when) with a button to
// end it, and the accounts locked after repeated wrong passwords with a button to unlock
// them early (/api/v1/security/…). Both steps are audited by the server; the API decides.
import { api, all } from '../api.js';
import { t, dateTime } from '../i18n.js';
import { h, heading, messageBox, notice } from '../ui.js';

/** A short name for a browser from its user agent ("Chrome 120 · Linux"), or the text itself. */
export function browserName(ua) {
  if (!ua) return '—';
  const engines = [['Edg/', 'Edge'], ['OPR/', 'Opera'], ['Firefox/', 'Firefox'], ['Chromium/', 'Chromium'], ['Chrome/', 'Chrome'], ['Safari/', 'Safari']];
  const systems = [['Android', 'Android'], ['iPhone', 'iOS'], ['iPad', 'iOS'], ['Windows', 'Windows'], ['Mac OS X', 'macOS'], ['Linux', 'Linux']];
  const found = engines.find(([mark]) => ua.includes(mark));
  const system = systems.find(([mark]) => ua.includes(mark));
  if (!found) return ua.length > 60 ? `${ua.slice(0, 57)}…` : ua;
  const version = (ua.split(found[0])[1] || '').split(/[.\s]/)[0];
  const browser = found[1] === 'Safari' ? 'Safari' : `${found[1]}${version ? ` ${version}` : ''}`;
  return system ? `${browser} · ${system[1]}` : browser;
}

async function sessions(msg) {
  const box = h('div', { class: 'table-wrap', id: 'session-list' });
  const load = async () => {
    let items = [];
    try { items = await all('/api/v1/security/sessions'); } catch (e) { msg.show(e); return; }
    box.replaceChildren(h('p', {}, t('security.sessions_count', { n: items.length })), h('table', {},
      h('caption', { class: 'sr-only' }, t('security.sessions')),
      h('thead', {}, h('tr', {}, ...['security.user', 'security.address', 'security.browser', 'security.signed_in', 'security.last_seen', 'security.expires', 'common.actions']
        .map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, items.map((s) => h('tr', { dataset: { id: s.id, user: s.username } },
        h('td', {}, `${s.display_name} (${s.username})`),
        h('td', {}, s.source_addr || '—'),
        h('td', { title: s.user_agent || '' }, browserName(s.user_agent)),
        h('td', {}, dateTime(s.created_at)), h('td', {}, dateTime(s.last_seen_at)), h('td', {}, dateTime(s.expires_at)),
        h('td', {}, s.current ? h('span', { class: 'muted' }, t('security.this_session'))
          : h('button', { type: 'button', class: 'danger', onclick: async () => {
            if (!window.confirm(t('security.revoke_confirm', { name: s.username }))) return;
            try {
              await api('DELETE', `/api/v1/security/sessions/${encodeURIComponent(s.id)}`);
              notice(t('security.revoked', { name: s.username }));
              await load();
            } catch (e) { msg.show(e); }
          } }, t('security.revoke'), h('span', { class: 'sr-only' }, ` ${s.username}`))))))));
  };
  await load();
  return box;
}

async function lockouts(msg) {
  const box = h('div', { class: 'table-wrap', id: 'lockout-list' });
  const load = async () => {
    let items = [];
    try { items = (await api('GET', '/api/v1/security/lockouts')).items; } catch (e) { msg.show(e); return; }
    if (!items.length) { box.replaceChildren(h('p', { class: 'muted empty' }, t('security.no_lockouts'))); return; }
    box.replaceChildren(h('table', {},
      h('caption', { class: 'sr-only' }, t('security.lockouts')),
      h('thead', {}, h('tr', {}, ...['security.user', 'security.locked_until', 'common.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, items.map((l) => h('tr', { dataset: { user: l.username } },
        h('td', {}, `${l.display_name} (${l.username})`), h('td', {}, dateTime(l.locked_until)),
        h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: async () => {
          try {
            await api('POST', `/api/v1/security/lockouts/${encodeURIComponent(l.user_id)}/unlock`, {});
            notice(t('security.unlocked', { name: l.username }));
            await load();
          } catch (e) { msg.show(e); }
        } }, t('security.unlock'), h('span', { class: 'sr-only' }, ` ${l.username}`))))))));
  };
  await load();
  return box;
}

/** The view of /admin/security. */
export async function render() {
  const msg = messageBox();
  return [heading(t('security.title')), h('p', {}, t('security.intro')), msg.el,
    h('section', { 'aria-labelledby': 'lockouts-h' }, h('h2', { id: 'lockouts-h' }, t('security.lockouts')), await lockouts(msg)),
    h('section', { 'aria-labelledby': 'sessions-h' }, h('h2', { id: 'sessions-h' }, t('security.sessions')), await sessions(msg))];
}
