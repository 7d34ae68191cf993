// The caller's own account: who they are, their two-factor sign-in (link to
// /account/security), change password, API tokens for automation. A session whose password
// expired sees only the password form, and goes on once it is changed.
import { api } from '../api.js';
import { session, go, refreshMe, startPage } from '../app.js';
import { t, dateTime } from '../i18n.js';
import { h, field, heading, messageBox, label, badge, notice, copyButton } from '../ui.js';

/** The view of /account. */
export async function render() {
  const me = session.me;
  if (me.restriction === 'password_change') {
    return [heading(t('account.expired_title')),
      h('p', { class: 'panel', id: 'password-expired' }, t('account.expired_intro')), passwordForm(true)];
  }
  const info = h('dl', { class: 'kv' },
    h('dt', {}, t('auth.username')), h('dd', {}, me.username),
    h('dt', {}, t('account.roles')), h('dd', {}, me.roles.map((r) => label('role', r)).join('、') || '—'),
    h('dt', {}, t('account.id')), h('dd', {}, h('code', { id: 'account-id' }, me.id), ' ', copyButton(me.id, t('account.id')),
      h('p', { class: 'muted' }, t('account.id_hint'))));
  return [heading(t('account.title')), info, await secondFactor(), passwordForm(false), await tokens()];
}

/** Whether two-factor sign-in is on, with the link to its page. */
async function secondFactor() {
  let status = null;
  try { status = await api('GET', '/api/v1/me/mfa'); } catch (e) { status = null; }
  const state = status ? badge('mfa_state', status.enabled ? 'on' : 'off') : '—';
  return h('section', { 'aria-labelledby': 'mfa-h', id: 'account-mfa', dataset: { enabled: String(!!(status && status.enabled)) } },
    h('h2', { id: 'mfa-h' }, t('mfa.title')),
    h('p', {}, t('mfa.state'), ': ', state, status && status.required ? ` ${t('mfa.required_by_role')}` : ''),
    h('p', {}, h('a', { href: '#/account/security', id: 'account-security-link' }, t('account.security_link'))));
}

function passwordForm(expired) {
  const cur = h('input', { type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { type: 'password', autocomplete: 'new-password', required: true });
  const msg = messageBox();
  const form = h('form', { class: 'stack', id: 'password-form' }, h('h2', {}, t('account.change_password')),
    field(t('account.current_password'), cur), field(t('account.new_password'), next, t('setup.password_hint')), msg.el,
    h('div', {}, h('button', { type: 'submit' }, t('account.change_password'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('PUT', '/api/v1/me/password', { current_password: cur.value, new_password: next.value });
      cur.value = ''; next.value = '';
      msg.ok(t('account.password_changed'));
      if (expired) {
        // The restriction is lifted: on to the next one (a second factor), or the landing page.
        await refreshMe();
        notice(t('account.password_changed'));
        go(startPage());
      }
    } catch (e) {
      msg.show(e);
      if (e.code === 'password_reused') next.select();
      else if (e.code === 'invalid_credentials') cur.select();
    }
  });
  return form;
}

async function tokens() {
  const box = h('section', { 'aria-labelledby': 'tokens-h' }, h('h2', { id: 'tokens-h' }, t('account.api_tokens')));
  const msg = messageBox();
  const name = h('input', { type: 'text', required: true });
  const days = h('input', { type: 'number', min: '1', max: '365', value: '90' });
  const created = h('div', { 'aria-live': 'polite' });
  const list = h('div', { class: 'table-wrap' });
  const load = async () => {
    try {
      const data = await api('GET', '/api/v1/api-tokens');
      const items = data.items || data;
      list.replaceChildren(h('table', {}, h('caption', { class: 'sr-only' }, t('account.api_tokens')),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('account.token_name')), h('th', { scope: 'col' }, t('account.token_expires')), h('th', { scope: 'col' }, t('common.actions')))),
        h('tbody', {}, items.map((tk) => h('tr', {}, h('td', {}, tk.name || tk.id), h('td', {}, dateTime(tk.expires_at)),
          h('td', {}, tk.revoked_at ? t('account.revoked') : h('button', { type: 'button', class: 'secondary', onclick: async () => {
            try { await api('DELETE', `/api/v1/api-tokens/${tk.id}`); load(); } catch (e) { msg.show(e); }
          } }, t('account.revoke'))))))));
    } catch (e) { msg.show(e); }
  };
  const form = h('form', { class: 'stack' }, field(t('account.token_name'), name), field(t('account.token_days'), days),
    h('div', {}, h('button', { type: 'submit' }, t('account.create_token'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const g = await api('POST', '/api/v1/api-tokens', { name: name.value.trim(), days: Number(days.value) });
      created.replaceChildren(h('p', {}, t('account.token_once')), h('p', { class: 'secret' }, g.token));
      load();
    } catch (e) { msg.show(e); }
  });
  box.append(form, msg.el, created, list);
  await load();
  return box;
}
