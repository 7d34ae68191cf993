// The security administrator's sessions and lockouts: every live sign-in of every account
// (who, from which address and browser, since when, last seen, until when) with a button to
// end it, and the accounts locked after repeated wrong passwords with a button to unlock
// them early (/api/v1/security/…), and for any account its sign-in history and a reset of its
// second factor (a lost phone). Every step is audited by the server; the API decides.
import { api, all } from '../api.js';
import { t, dateTime } from '../i18n.js';
import { h, field, heading, messageBox, notice, select } from '../ui.js';

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

/** One account chosen: its sign-in history and the reset of its second factor. */
async function account(msg) {
  let users = [];
  try { users = await all('/api/v1/users'); } catch (e) { msg.show(e); }
  const chooser = select([['', t('security.choose_account')], ...users.map((u) => [u.id, `${u.display_name} (${u.username})`])], '',
    { id: 'account-choice' });
  const detail = h('div', { id: 'account-detail', 'aria-live': 'polite' });
  const show = async () => {
    const user = users.find((u) => u.id === chooser.value);
    if (!user) { detail.replaceChildren(); return; }
    const { signInTable } = await import('./mfa.js');
    const reset = h('button', { type: 'button', class: 'danger', id: 'mfa-reset' }, t('security.mfa_reset'),
      h('span', { class: 'sr-only' }, ` ${user.username}`));
    reset.addEventListener('click', async () => {
      if (!window.confirm(t('security.mfa_reset_confirm', { name: user.username }))) return;
      try {
        await api('POST', `/api/v1/security/users/${encodeURIComponent(user.id)}/mfa/reset`, {});
        notice(t('security.mfa_reset_done', { name: user.username }));
        await show();
      } catch (e) { msg.show(e); }
    });
    detail.replaceChildren(h('div', { dataset: { user: user.username } },
      h('h3', {}, t('security.history_of', { name: user.username })),
      await signInTable(`/api/v1/security/users/${encodeURIComponent(user.id)}/sign-ins`, 'account-sign-ins'),
      h('p', {}, t('security.mfa_reset_intro')), h('div', {}, reset)));
  };
  chooser.addEventListener('change', show);
  return h('div', { class: 'stack' }, field(t('security.account'), chooser), detail);
}

/** The view of /admin/security. */
export async function render() {
  const msg = messageBox();
  return [heading(t('security.title')), h('p', {}, t('security.intro')), msg.el,
    h('section', { 'aria-labelledby': 'lockouts-h' }, h('h2', { id: 'lockouts-h' }, t('security.lockouts')), await lockouts(msg)),
    h('section', { 'aria-labelledby': 'sessions-h' }, h('h2', { id: 'sessions-h' }, t('security.sessions')), await sessions(msg)),
    h('section', { 'aria-labelledby': 'account-h' }, h('h2', { id: 'account-h' }, t('security.account_title')), await account(msg))];
}
