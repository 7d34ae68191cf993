// "My learning": what the signed-in learner watched, how far (the time really watched, a union
// over every playback, against the share of the duration that earns the credit hours), the
// credit hours (学时) earned and in total (GET /api/v1/me/learning); and the complaints they
// filed with their outcomes (GET /api/v1/me/complaints).
import { api } from '../api.js';
import { t, lang, dateTime } from '../i18n.js';
import { h, heading, messageBox, label, badge, clock } from '../ui.js';

/** Hours with at most two decimals, as the catalogue writes them. */
export function hours(n) {
  return String(Math.round((Number(n) || 0) * 100) / 100);
}

/** Percent (0–100) of `part` over `whole`, or null when the whole is unknown. */
export function percent(part, whole) {
  if (!Number.isFinite(whole) || whole <= 0) return null;
  return Math.min(100, Math.round((100 * part) / whole));
}

function transcriptTable(data) {
  if (!data.items.length) return h('p', { class: 'muted empty', id: 'learning-empty' }, t('learning.none'));
  return h('div', { class: 'table-wrap' }, h('table', { id: 'learning-list' },
    h('caption', { class: 'sr-only' }, t('learning.watched')),
    h('thead', {}, h('tr', {}, ...['learning.resource', 'learning.progress', 'learning.credit', 'learning.last']
      .map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', {}, data.items.map((i) => {
      const p = percent(i.watched_seconds, i.duration_seconds);
      const of = Number.isFinite(i.duration_seconds) ? clock(i.duration_seconds) : '—';
      return h('tr', { dataset: { id: i.resource_id, earned: String(i.earned) } },
        h('td', {}, h('a', { href: `#/watch/${i.resource_id}` }, i.name || i.resource_id)),
        h('td', {}, p === null ? null : h('progress', { max: '100', value: String(p), 'aria-label': t('learning.progress_of', { name: i.name || i.resource_id }) }),
          h('span', { class: 'progress-text' }, t('learning.watched_of', { watched: clock(i.watched_seconds), total: of, percent: p === null ? '—' : p }))),
        h('td', {}, i.earned
          ? [badge('learning_state', 'earned'), ' ', t('learning.hours_earned', { n: hours(i.credit_hours_earned) })]
          : [badge('learning_state', 'in_progress'), ' ', Number.isFinite(i.required_seconds)
            ? t('learning.hours_needs', { n: hours(i.credit_hours), need: clock(i.required_seconds) })
            : t('learning.hours_of', { n: hours(i.credit_hours) })]),
        h('td', {}, dateTime(i.last_watched_at)));
    }))));
}

function complaintsTable(items) {
  if (!items.length) return h('p', { class: 'muted empty' }, t('complaints.none_mine'));
  const en = lang() === 'en';
  return h('div', { class: 'table-wrap' }, h('table', { id: 'my-complaints' },
    h('caption', { class: 'sr-only' }, t('complaints.mine')),
    h('thead', {}, h('tr', {}, ...['learning.resource', 'complaints.category', 'complaints.status', 'complaints.outcome', 'complaints.filed']
      .map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', {}, items.map((c) => h('tr', { dataset: { id: c.id, status: c.status } },
      h('td', {}, c.resource_name || c.resource_id),
      h('td', {}, label('complaint_category', c.category)),
      h('td', {}, badge('complaint_status', c.status)),
      h('td', {}, en ? c.outcome_en : c.outcome_zh, c.outcome_comment ? h('p', { class: 'muted' }, c.outcome_comment) : null),
      h('td', {}, dateTime(c.created_at)))))));
}

/** The view of /learning. */
export async function render() {
  const msg = messageBox();
  let data = { items: [], total_credit_hours: 0, credit_share: 0 };
  try { data = await api('GET', '/api/v1/me/learning'); } catch (e) { msg.show(e); }
  let complaints = [];
  try { complaints = (await api('GET', '/api/v1/me/complaints')).items; } catch (e) { msg.show(e); }
  const earned = data.items.filter((i) => i.earned).length;
  const summary = h('dl', { class: 'kv', id: 'learning-summary' },
    h('dt', {}, t('learning.total')), h('dd', { id: 'learning-total' }, hours(data.total_credit_hours)),
    h('dt', {}, t('learning.counts')), h('dd', {}, t('learning.counts_value', { watched: data.items.length, earned })));
  return [heading(t('learning.title')), msg.el, summary,
    h('p', { class: 'muted' }, t('learning.rule', { percent: Math.round((data.credit_share || 0) * 100) })),
    h('section', { 'aria-labelledby': 'learning-h' }, h('h2', { id: 'learning-h' }, t('learning.watched')), transcriptTable(data)),
    h('section', { 'aria-labelledby': 'complaints-h' }, h('h2', { id: 'complaints-h' }, t('complaints.mine')), complaintsTable(complaints))];
}
