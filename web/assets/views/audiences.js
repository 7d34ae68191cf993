// An audience's members (#/audience/ID): who is in it, add and remove people. The API names
// members by account id and lists accounts only to those who manage them: a department
// admin (the accounts of their department) finds people here by name or account name; an
// event organiser, who may manage the audience but not look accounts up, adds a person by
// the account id that person reads on their own account page.
import { api, all } from '../api.js';
import { session } from '../app.js';
import { t } from '../i18n.js';
import { h, field, heading, messageBox, notice } from '../ui.js';

/** How many search results are listed. */
const SHOWN = 10;

/** The view of /audience/:id. */
export async function render(ctx) {
  const id = ctx.params.id;
  const audience = (await all('/api/v1/audiences')).find((a) => a.id === id);
  if (!audience) return [heading(t('audience.not_found')), h('p', {}, h('a', { href: '#/channels' }, t('audience.back')))];
  let users = null; // null: this account may not list accounts
  try { users = await all('/api/v1/users'); } catch (e) { users = null; }
  const msg = messageBox();
  const members = h('div', { class: 'table-wrap', id: 'members' });
  let ids = [];
  const userOf = (uid) => (users ? users.find((u) => u.id === uid) : null);
  /** A person's name when this account may look it up, "you", or null. */
  const nameOf = (uid) => {
    const u = userOf(uid);
    if (u) return u.display_name || u.username;
    return uid === session.me.id ? t('audience.you') : null;
  };
  const accountOf = (uid) => (userOf(uid) || {}).username || uid;

  const set = async (uid, member) => {
    msg.clear();
    try {
      if (member) await api('POST', `/api/v1/audiences/${encodeURIComponent(id)}/members`, { user_id: uid });
      else await api('DELETE', `/api/v1/audiences/${encodeURIComponent(id)}/members/${encodeURIComponent(uid)}`);
      notice(t(member ? 'audience.added' : 'audience.removed', { name: nameOf(uid) || accountOf(uid) }));
      await load();
      return true;
    } catch (e) { msg.show(e); return false; }
  };

  const search = h('input', { type: 'search', id: 'member-search', autocomplete: 'off' });
  const results = h('ul', { id: 'member-results', class: 'plain', 'aria-live': 'polite' });
  const showResults = () => {
    if (!users) return;
    const q = search.value.trim().toLowerCase();
    if (!q) { results.replaceChildren(); return; }
    const found = users.filter((u) => !ids.includes(u.id) && !u.disabled
      && (u.username.toLowerCase().includes(q) || (u.display_name || '').toLowerCase().includes(q)));
    results.replaceChildren(...(found.length ? found.slice(0, SHOWN).map((u) => h('li', { class: 'row' },
      h('span', {}, u.display_name && u.display_name !== u.username ? `${u.display_name}（${u.username}）` : u.username),
      h('button', { type: 'button', class: 'secondary', dataset: { user: u.username }, onclick: () => set(u.id, true) },
        t('audience.add'), h('span', { class: 'sr-only' }, ` ${u.username}`))))
      : [h('li', { class: 'muted' }, t('audience.no_match'))]));
  };
  search.addEventListener('input', showResults);

  async function load() {
    try {
      ids = (await api('GET', `/api/v1/audiences/${encodeURIComponent(id)}/members`)).user_ids || [];
      members.replaceChildren(ids.length ? h('table', { id: 'member-list' },
        h('thead', {}, h('tr', {}, ...['audience.member_name', 'audience.member_account', 'common.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, ids.map((uid) => {
          const u = userOf(uid);
          return h('tr', { dataset: { user: accountOf(uid) } }, h('td', {}, nameOf(uid) || '—'),
            h('td', {}, u ? u.username : h('code', {}, uid)),
            h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: () => set(uid, false) },
              t('audience.remove'), h('span', { class: 'sr-only' }, ` ${nameOf(uid) || accountOf(uid)}`))));
        })))
        : h('p', { class: 'muted', id: 'no-members' }, t('audience.no_members')));
      showResults();
    } catch (e) { msg.show(e); }
  }

  let adder;
  if (users) {
    adder = h('section', { 'aria-labelledby': 'add-h' }, h('h2', { id: 'add-h' }, t('audience.add_title')),
      h('div', { class: 'stack' }, field(t('audience.search'), search, t('audience.search_hint')), results));
  } else {
    const uid = h('input', { type: 'text', id: 'member-id', required: true, autocomplete: 'off', spellcheck: 'false' });
    const form = h('form', { class: 'stack', id: 'member-form' }, field(t('audience.account_id'), uid, t('audience.account_id_hint')),
      h('div', {}, h('button', { type: 'submit' }, t('audience.add'))));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (await set(uid.value.trim(), true)) uid.value = '';
    });
    adder = h('section', { 'aria-labelledby': 'add-h' }, h('h2', { id: 'add-h' }, t('audience.add_title')),
      h('p', { class: 'muted', id: 'member-lookup-note' }, t('audience.lookup_not_allowed')), form);
  }
  await load();
  return [heading(t('audience.title', { name: audience.name })), h('p', {}, h('a', { href: '#/channels' }, t('audience.back'))),
    msg.el, h('section', { 'aria-labelledby': 'members-h' }, h('h2', { id: 'members-h' }, t('audience.members')), members), adder];
}
