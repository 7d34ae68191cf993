// The administrators' pages, each for its own duty: the system admin manages accounts,
// departments and projects (and cannot grant roles); the security admin grants and revokes
// roles; the audit admin searches, exports and verifies the audit log. A department admin
// sees their department's part. The API's policy decides; refusals show its message.
import { api, all, download } from '../api.js';
import { hasRole } from '../app.js';
import { t, dateTime } from '../i18n.js';
import { h, field, check, heading, messageBox, label, badge, select, notice } from '../ui.js';

const ROLES = ['learner', 'producer', 'event_organiser', 'department_reviewer', 'centre_reviewer',
  'department_admin', 'system_admin', 'security_admin', 'audit_admin'];

/** The view of /admin/users, /admin/org, /admin/roles, /admin/audit. */
export async function render(ctx) {
  switch (ctx.path) {
    case '/admin/users': return users();
    case '/admin/org': return org();
    case '/admin/roles': return roles();
    default: return audit();
  }
}

async function departments() {
  try { return await all('/api/v1/departments'); } catch (e) { return []; }
}

async function users() {
  const msg = messageBox();
  const depts = await departments();
  const deptName = (id) => (depts.find((d) => d.id === id) || {}).name || '—';
  const list = h('div', { class: 'table-wrap' });
  const load = async () => {
    try {
      const items = await all('/api/v1/users');
      list.replaceChildren(h('table', { id: 'user-list' }, h('thead', {}, h('tr', {},
        ...['auth.username', 'admin.display_name', 'admin.department', 'account.roles', 'admin.status', 'common.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, items.map((u) => h('tr', {}, h('td', {}, u.username), h('td', {}, u.display_name), h('td', {}, deptName(u.department_id)),
        h('td', {}, u.roles.map((r) => label('role', r)).join('、') || '—'),
        h('td', {}, badge('user_status', u.disabled ? 'disabled' : 'active')),
        h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: async () => {
          try { await api('POST', `/api/v1/users/${u.id}/${u.disabled ? 'enable' : 'disable'}`, {}); load(); } catch (e) { msg.show(e); }
        } }, t(u.disabled ? 'admin.enable' : 'admin.disable'), h('span', { class: 'sr-only' }, ` ${u.username}`))))))));
    } catch (e) { msg.show(e); }
  };
  const name = h('input', { type: 'text', required: true, autocomplete: 'off', id: 'new-username' });
  const display = h('input', { type: 'text', id: 'new-display-name' });
  const pass = h('input', { type: 'password', required: true, autocomplete: 'new-password', id: 'new-password' });
  const dept = select([['', t('admin.no_department')], ...depts.map((d) => [d.id, d.name])], '', { id: 'new-department' });
  const form = h('form', { class: 'stack', id: 'user-form' }, h('h2', {}, t('admin.create_user')),
    field(t('auth.username'), name), field(t('admin.display_name'), display), field(t('auth.password'), pass, t('setup.password_hint')),
    field(t('admin.department'), dept), h('p', { class: 'muted' }, t('admin.roles_by_security')),
    h('div', {}, h('button', { type: 'submit' }, t('admin.create_user'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', '/api/v1/users', { username: name.value.trim(), display_name: display.value.trim() || null, password: pass.value, department_id: dept.value || null });
      notice(t('admin.user_created', { name: name.value.trim() }));
      name.value = ''; display.value = ''; pass.value = '';
      load();
    } catch (e) { msg.show(e); }
  });
  await load();
  return [heading(t('admin.users_title')), msg.el, list, form];
}

async function org() {
  const msg = messageBox();
  const depts = await departments();
  const deptList = h('ul', { id: 'department-list' }, depts.map((d) => h('li', {}, d.name)));
  const deptName = h('input', { type: 'text', required: true, id: 'new-department-name' });
  const deptForm = h('form', { class: 'stack', id: 'department-form' }, field(t('admin.department_name'), deptName),
    h('div', {}, h('button', { type: 'submit' }, t('admin.create_department'))));
  deptForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const d = await api('POST', '/api/v1/departments', { name: deptName.value.trim() });
      deptList.append(h('li', {}, d.name));
      deptName.value = '';
      notice(t('common.saved'));
    } catch (e) { msg.show(e); }
  });
  let projects = [];
  try { projects = await all('/api/v1/projects'); } catch (e) { projects = []; }
  const projList = h('ul', { id: 'project-list' }, projects.map((p) => h('li', {}, p.name)));
  const projName = h('input', { type: 'text', required: true, id: 'new-project-name' });
  const projDept = select(depts.map((d) => [d.id, d.name]), depts[0] && depts[0].id, { id: 'new-project-department' });
  const projForm = h('form', { class: 'stack', id: 'project-form' }, field(t('admin.project_name'), projName), field(t('admin.department'), projDept),
    h('div', {}, h('button', { type: 'submit' }, t('admin.create_project'))));
  projForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const p = await api('POST', '/api/v1/projects', { name: projName.value.trim(), department_id: projDept.value });
      projList.append(h('li', {}, p.name));
      projName.value = '';
      notice(t('common.saved'));
    } catch (e) { msg.show(e); }
  });
  return [heading(t('admin.org_title')), msg.el,
    h('section', { 'aria-labelledby': 'dept-h' }, h('h2', { id: 'dept-h' }, t('admin.departments')), deptList, hasRole('system_admin') ? deptForm : null),
    h('section', { 'aria-labelledby': 'proj-h' }, h('h2', { id: 'proj-h' }, t('admin.projects')), projList, projForm)];
}

async function roles() {
  const msg = messageBox();
  const list = h('div', { id: 'role-editor' });
  const load = async () => {
    try {
      const items = await all('/api/v1/users');
      list.replaceChildren(...items.map((u) => {
        const boxes = ROLES.map((r) => h('input', { type: 'checkbox', value: r, checked: u.roles.includes(r) }));
        const save = h('button', { type: 'button', class: 'secondary' }, t('admin.save_roles'), h('span', { class: 'sr-only' }, ` ${u.username}`));
        save.addEventListener('click', async () => {
          try {
            await api('PUT', `/api/v1/users/${u.id}/roles`, { roles: boxes.filter((b) => b.checked).map((b) => b.value) });
            notice(t('admin.roles_saved', { name: u.username }));
          } catch (e) { msg.show(e); }
        });
        return h('fieldset', { class: 'card', dataset: { user: u.username } }, h('legend', {}, `${u.display_name} (${u.username})`),
          h('div', { class: 'row' }, boxes.map((b, i) => check(label('role', ROLES[i]), b))), save);
      }));
    } catch (e) { msg.show(e); }
  };
  await load();
  return [heading(t('admin.roles_title')), h('p', {}, t('admin.roles_intro')), msg.el, list];
}

async function audit() {
  const msg = messageBox();
  const f = {
    actor: h('input', { type: 'text', id: 'audit-actor' }), action: h('input', { type: 'text', id: 'audit-action' }),
    target: h('input', { type: 'text', id: 'audit-target' }),
    from: h('input', { type: 'datetime-local', id: 'audit-from' }), to: h('input', { type: 'datetime-local', id: 'audit-to' }),
  };
  const query = () => {
    const q = new URLSearchParams();
    for (const k of ['actor', 'action', 'target']) if (f[k].value.trim()) q.set(k, f[k].value.trim());
    for (const k of ['from', 'to']) if (f[k].value) q.set(k, String(new Date(f[k].value).getTime()));
    return q;
  };
  const results = h('div', { class: 'table-wrap', id: 'audit-results', 'aria-live': 'polite' });
  const search = async () => {
    try {
      const q = query(); q.set('per_page', '100');
      const page = await api('GET', `/api/v1/audit?${q}`);
      results.replaceChildren(h('p', {}, t('audit.count', { n: page.total })), h('table', {},
        h('thead', {}, h('tr', {}, ...['audit.at', 'audit.actor', 'audit.action', 'audit.target', 'audit.result', 'audit.source'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, page.items.map((r) => h('tr', {}, h('td', {}, dateTime(r.at)), h('td', {}, `${r.actor_name} (${r.actor_role})`),
          h('td', {}, r.action), h('td', {}, r.target), h('td', {}, badge('result', r.result)), h('td', {}, r.source_addr))))));
    } catch (e) { msg.show(e); }
  };
  const form = h('form', { class: 'stack', id: 'audit-form' }, h('div', { class: 'grid2' },
    field(t('audit.actor'), f.actor), field(t('audit.action'), f.action, t('audit.action_hint')), field(t('audit.target'), f.target),
    field(t('audit.from'), f.from), field(t('audit.to'), f.to)),
  h('div', { class: 'row' }, h('button', { type: 'submit' }, t('audit.search'))));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); search(); });
  const exportBtn = h('button', { type: 'button', class: 'secondary', id: 'audit-export' }, t('audit.export'));
  exportBtn.addEventListener('click', async () => {
    try {
      const blob = await download(`/api/v1/audit/export?${query()}`);
      const a = h('a', { href: URL.createObjectURL(blob), download: 'audit.csv' });
      document.body.append(a); a.click(); a.remove();
    } catch (e) { msg.show(e); }
  });
  const verifyOut = h('p', { id: 'audit-verify-result', 'aria-live': 'polite' });
  const verify = h('button', { type: 'button', class: 'secondary', id: 'audit-verify' }, t('audit.verify'));
  verify.addEventListener('click', async () => {
    try {
      const v = await api('GET', '/api/v1/audit/verify');
      verifyOut.className = v.findings.length ? 'error' : 'ok';
      verifyOut.textContent = v.findings.length ? t('audit.verify_bad', { n: v.findings.length, records: v.records }) : t('audit.verify_ok', { records: v.records });
    } catch (e) { msg.show(e); }
  });
  await search();
  return [heading(t('audit.title')), msg.el, form, h('div', { class: 'row' }, exportBtn, verify), verifyOut, results];
}
