// The system administrator's runtime settings (/admin/settings): one form per section of
// GET /api/v1/settings (password rules, lockout, sessions, retention, uploads) with the values
// in force, the config file's value beside each field, who changed the section and when; save
// a section (PUT, the API's bounds errors shown in the section) or put it back to the file's
// values (DELETE). Every change is audited by the server; the API decides.
import { api } from '../api.js';
import { t, dateTime } from '../i18n.js';
import { h, field, check, heading, messageBox, notice, select, bytes } from '../ui.js';

/** The sections in the order shown, and the fields the page knows how to edit. */
const SECTIONS = ['password', 'lockout', 'sessions', 'retention', 'uploads'];

/** The fields of each section in the order shown (any other field the API adds comes after). */
const ORDER = {
  password: ['min_length', 'min_classes', 'max_age_days', 'history'],
  lockout: ['max_failures', 'lock_minutes'],
  sessions: ['idle_minutes', 'absolute_minutes', 'max_concurrent', 'over_limit'],
  retention: ['enabled', 'months', 'warn_days', 'run_every_hours'],
  uploads: ['max_size_bytes'],
};

/** The field names of `section` in `value`, in the order shown. */
function ordered(section, value) {
  const known = (ORDER[section] || []).filter((k) => k in value);
  return known.concat(Object.keys(value).filter((k) => !known.includes(k)));
}

/** Fields whose value is one of a few words: their choices. */
const CHOICES = { 'sessions.over_limit': ['evict_oldest', 'refuse'] };

/** Fields that may be empty (no value: the platform's own limit). */
const OPTIONAL = ['uploads.max_size_bytes'];

/** The text of a value as the config file has it. */
function shown(key, v) {
  if (v === null || v === undefined) return t('settings.none');
  if (typeof v === 'boolean') return t(v ? 'common.yes' : 'common.no');
  if (CHOICES[key]) return t(`settings.choice.${v}`);
  if (key === 'uploads.max_size_bytes') return `${v} (${bytes(v)})`;
  return String(v);
}

/** The view of /admin/settings. */
export async function render() {
  const view = await api('GET', '/api/v1/settings');
  const sections = h('div', { id: 'settings' });
  const draw = (v) => sections.replaceChildren(...SECTIONS.filter((s) => v.effective[s]).map((s) => section(s, v, draw)));
  draw(view);
  return [heading(t('settings.title')), h('p', {}, t('settings.intro')), sections];
}

function control(key, value) {
  if (CHOICES[key]) return select(CHOICES[key].map((c) => [c, t(`settings.choice.${c}`)]), value, { name: key });
  if (typeof value === 'boolean') return h('input', { type: 'checkbox', name: key, checked: value });
  return h('input', { type: 'number', name: key, min: '0', step: '1', inputmode: 'numeric',
    value: value === null || value === undefined ? '' : String(value) });
}

function read(key, input, original) {
  if (input.type === 'checkbox') return input.checked;
  if (CHOICES[key] || typeof original === 'string') return input.value;
  const text = input.value.trim();
  if (text === '' && OPTIONAL.includes(key)) return null;
  return text === '' ? NaN : Number(text);
}

function section(name, view, draw) {
  const effective = view.effective[name];
  const defaults = view.defaults[name] || {};
  const changed = view.changed.find((c) => c.section === name);
  const msg = messageBox();
  const inputs = {};
  const fields = ordered(name, effective).map((k) => {
    const key = `${name}.${k}`;
    const input = control(key, effective[k]);
    inputs[k] = input;
    const hint = t('settings.default_value', { value: shown(key, defaults[k]) });
    if (input.type === 'checkbox') {
      return h('div', {}, check(t(`settings.${key}`), input), h('span', { class: 'hint' }, hint));
    }
    const extra = OPTIONAL.includes(key) ? ` ${t(`settings.${key}_empty`)}` : '';
    return field(t(`settings.${key}`), input, hint + extra);
  });
  const state = changed
    ? h('p', { class: 'changed', dataset: { changed: 'true' } }, badge(true), ' ',
      t('settings.changed_by', { name: changed.updated_by, when: dateTime(changed.updated_at) }))
    : h('p', { class: 'muted', dataset: { changed: 'false' } }, badge(false), ' ', t('settings.file_value'));
  const reset = h('button', { type: 'button', class: 'secondary', disabled: !changed, dataset: { action: 'reset' } },
    t('settings.reset'), h('span', { class: 'sr-only' }, ` ${t(`settings.section.${name}`)}`));
  const form = h('form', { class: 'stack card', id: `settings-${name}`, 'aria-labelledby': `settings-${name}-h`,
    dataset: { changed: String(!!changed) } },
  h('h2', { id: `settings-${name}-h` }, t(`settings.section.${name}`)), h('p', { class: 'muted' }, t(`settings.about.${name}`)),
  state, h('div', { class: 'grid2' }, fields), msg.el,
  h('div', { class: 'row' }, h('button', { type: 'submit' }, t('common.save'), h('span', { class: 'sr-only' }, ` ${t(`settings.section.${name}`)}`)), reset));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.clear();
    const body = {};
    for (const [k, input] of Object.entries(inputs)) {
      const v = read(`${name}.${k}`, input, effective[k]);
      if (Number.isNaN(v)) { msg.show(t('settings.number_needed', { field: t(`settings.${name}.${k}`) })); input.focus(); return; }
      body[k] = v;
    }
    try {
      const next = await api('PUT', `/api/v1/settings/${name}`, body);
      notice(t('settings.saved', { section: t(`settings.section.${name}`) }));
      draw(next);
      focusSection(name);
    } catch (e) { msg.show(e); }
  });
  reset.addEventListener('click', async () => {
    msg.clear();
    try {
      const next = await api('DELETE', `/api/v1/settings/${name}`);
      notice(t('settings.was_reset', { section: t(`settings.section.${name}`) }));
      draw(next);
      focusSection(name);
    } catch (e) { msg.show(e); }
  });
  return form;
}

function badge(changed) {
  return h('span', { class: changed ? 'badge ok' : 'badge' }, t(changed ? 'settings.changed' : 'settings.from_file'));
}

function focusSection(name) {
  const heading2 = document.getElementById(`settings-${name}-h`);
  if (heading2) { heading2.setAttribute('tabindex', '-1'); heading2.focus(); }
}
