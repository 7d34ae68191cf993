// The centre reviewers' queues of what learners sent: complaints about resources (take the
// resource down at once, then restore or retire it after a re-review, or dismiss an unfounded
// complaint; every step needs words the complainant reads; /api/v1/complaints…) and ratings
// with comments waiting to be shown (approve or reject, with a note for the author;
// /api/v1/feedback…, which a department admin works for their department). The API decides
// which step applies; refusals show its message.
import { api } from '../api.js';
import { t, dateTime } from '../i18n.js';
import { h, heading, messageBox, label, badge, field, select, notice } from '../ui.js';
import { stars } from './feedback.js';

/** The steps a reviewer may take on a complaint in `status` (the API's rule, for the menu). */
export function complaintSteps(status) {
  if (status === 'open') return ['take_down', 'dismiss', 'retire'];
  if (status === 'taken_down') return ['restore', 'retire'];
  return [];
}

/** The view of /review/complaints and /review/feedback. */
export async function render(ctx) {
  return ctx.path === '/review/complaints' ? complaints() : feedback();
}

async function complaints() {
  const msg = messageBox();
  const status = select(['open', 'taken_down', 'restored', 'retired', 'dismissed', ''].map((s) => [s, s ? label('complaint_status', s) : t('complaints.all')]),
    'open', { id: 'complaint-filter' });
  const list = h('div', { id: 'complaint-queue', 'aria-live': 'polite' });
  const load = async () => {
    try {
      const q = status.value ? `?status=${status.value}&per_page=100` : '?per_page=100';
      const page = await api('GET', `/api/v1/complaints${q}`);
      list.replaceChildren(h('p', {}, t('complaints.count', { n: page.total })),
        ...(page.items.length ? page.items.map(card) : [h('p', { class: 'muted empty' }, t('complaints.none'))]));
    } catch (e) { msg.show(e); }
  };
  const card = (c) => {
    const steps = complaintSteps(c.status);
    const comment = h('textarea', { id: `complaint-comment-${c.id}`, required: true });
    const out = messageBox();
    const buttons = steps.map((step) => h('button', { type: 'button', class: step === 'take_down' || step === 'retire' ? 'danger' : 'secondary',
      dataset: { step }, onclick: async () => {
        if (!comment.value.trim()) { out.show(t('complaints.comment_needed')); comment.focus(); return; }
        try {
          const done = step === 'take_down'
            ? await api('POST', `/api/v1/complaints/${c.id}/take-down`, { comment: comment.value.trim() })
            : await api('POST', `/api/v1/complaints/${c.id}/resolve`, { decision: step, comment: comment.value.trim() });
          notice(t('complaints.done', { status: label('complaint_status', done.status) }));
          await load();
        } catch (e) { out.show(e); }
      } }, t(`complaints.step_${step}`)));
    return h('article', { class: 'card queue-item', dataset: { id: c.id, status: c.status } },
      h('h2', {}, h('a', { href: `#/resource/${c.resource_id}` }, c.resource_name || c.resource_id)),
      h('dl', { class: 'kv' },
        h('dt', {}, t('complaints.category')), h('dd', {}, label('complaint_category', c.category)),
        h('dt', {}, t('complaints.detail')), h('dd', {}, c.detail),
        h('dt', {}, t('complaints.status')), h('dd', {}, badge('complaint_status', c.status)),
        h('dt', {}, t('complaints.filed')), h('dd', {}, dateTime(c.created_at)),
        c.outcome_comment ? [h('dt', {}, t('complaints.reviewer_words')), h('dd', {}, c.outcome_comment)] : null),
      steps.length ? [field(t('complaints.comment'), comment, t('complaints.comment_hint')), out.el, h('div', { class: 'row' }, buttons)] : null);
  };
  status.addEventListener('change', load);
  await load();
  return [heading(t('complaints.title')), h('p', {}, t('complaints.intro')), msg.el, field(t('complaints.status'), status), list];
}

async function feedback() {
  const msg = messageBox();
  const list = h('div', { id: 'feedback-queue', 'aria-live': 'polite' });
  const load = async () => {
    try {
      const page = await api('GET', '/api/v1/feedback?status=pending&per_page=100');
      list.replaceChildren(h('p', {}, t('moderation.count', { n: page.total })),
        ...(page.items.length ? page.items.map(card) : [h('p', { class: 'muted empty' }, t('moderation.none'))]));
    } catch (e) { msg.show(e); }
  };
  const card = (f) => {
    const note = h('input', { type: 'text', id: `moderation-note-${f.id}` });
    const out = messageBox();
    const decide = (decision) => async () => {
      try {
        await api('POST', `/api/v1/feedback/${f.id}/moderate`, { decision, note: note.value.trim() || null });
        notice(t(decision === 'approve' ? 'moderation.approved' : 'moderation.rejected'));
        await load();
      } catch (e) { out.show(e); }
    };
    return h('article', { class: 'card queue-item', dataset: { id: f.id } },
      h('h2', {}, h('a', { href: `#/watch/${f.resource_id}` }, f.resource_name || f.resource_id)),
      h('p', {}, stars(f.stars), ' ', h('span', { class: 'muted' }, dateTime(f.updated_at))),
      f.comment ? h('blockquote', {}, f.comment) : h('p', { class: 'muted' }, t('moderation.no_comment')),
      field(t('moderation.note'), note, t('moderation.note_hint')), out.el,
      h('div', { class: 'row' },
        h('button', { type: 'button', dataset: { decision: 'approve' }, onclick: decide('approve') }, t('moderation.approve')),
        h('button', { type: 'button', class: 'danger', dataset: { decision: 'reject' }, onclick: decide('reject') }, t('moderation.reject'))));
  };
  await load();
  return [heading(t('moderation.title')), h('p', {}, t('moderation.intro')), msg.el, list];
}
