// The caller's own account: who they are, change password, API tokens for automation.
import { api } from '../api.js';
import { session } from '../app.js';
import { t, dateTime } from '../i18n.js';
import { h, field, heading, messageBox, label, copyButton } from '../ui.js';

/** The view of /account. */
export async function render() {
  const me = session.me;
  const info = h('dl', { class: 'kv' },
    h('dt', {}, t('auth.username')), h('dd', {}, me.username),
    h('dt', {}, t('account.roles')), h('dd', {}, me.roles.map((r) => label('role', r)).join('、') || '—'),
    h('dt', {}, t('account.id')), h('dd', {}, h('code', { id: 'account-id' }, me.id), ' ', copyButton(me.id, t('account.id')),
      h('p', { class: 'muted' }, t('account.id_hint'))));
  return [heading(t('account.title')), info, passwordForm(), await tokens()];
}

function passwordForm() {
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
    } catch (e) { msg.show(e); }
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
