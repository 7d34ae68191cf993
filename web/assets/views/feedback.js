// Under the player: the resource's ratings and approved comments (everyone who may watch it),
// the signed-in learner's own rating and comment (1–5 stars, shown once a moderator approved
// it; PUT /api/v1/resources/{id}/feedback) and a report of the resource with a reason
// category (POST /api/v1/resources/{id}/complaints), whose outcome "my learning" shows.
import { api } from '../api.js';
import { session } from '../app.js';
import { t, dateTime } from '../i18n.js';
import { h, field, messageBox, badge, select } from '../ui.js';

/** The reason categories of a complaint, in the API's order. */
export const CATEGORIES = ['political', 'scientific', 'inappropriate', 'copyright', 'privacy', 'advertising', 'technical', 'other'];

/** "★★★☆☆" for 3 of 5, with the number for screen readers beside it. */
export function stars(n) {
  const k = Math.max(0, Math.min(5, Math.round(n)));
  return h('span', { class: 'stars' }, h('span', { 'aria-hidden': 'true' }, '★'.repeat(k) + '☆'.repeat(5 - k)),
    h('span', { class: 'sr-only' }, t('feedback.stars_n', { n: k })));
}

function ratingForm(id, mine, onSaved) {
  const msg = messageBox();
  const current = mine ? mine.stars : 0;
  const choices = [1, 2, 3, 4, 5].map((n) => h('label', { class: 'check star' },
    h('input', { type: 'radio', name: 'feedback-stars', value: String(n), checked: n === current, required: true }),
    t('feedback.stars_n', { n })));
  const comment = h('textarea', { id: 'feedback-comment', maxlength: '1000' });
  comment.value = (mine && mine.comment) || '';
  const status = h('p', { id: 'feedback-mine', 'aria-live': 'polite' });
  const showMine = (f) => {
    if (!f) { status.replaceChildren(); return; }
    status.replaceChildren(t('feedback.mine'), ' ', badge('feedback_status', f.status),
      ...(f.moderation_note ? [h('span', { class: 'muted' }, ` ${f.moderation_note}`)] : []));
  };
  showMine(mine);
  const form = h('form', { class: 'stack', id: 'feedback-form' },
    h('fieldset', { class: 'stars-choice' }, h('legend', {}, t('feedback.rating')), h('div', { class: 'row' }, choices)),
    field(t('feedback.comment'), comment, t('feedback.comment_hint')), msg.el, status,
    h('div', {}, h('button', { type: 'submit', id: 'feedback-submit' }, t(mine ? 'feedback.update' : 'feedback.submit'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const picked = form.querySelector('input[name="feedback-stars"]:checked');
    if (!picked) { msg.show(t('feedback.pick_stars')); return; }
    try {
      const f = await api('PUT', `/api/v1/resources/${encodeURIComponent(id)}/feedback`,
        { stars: Number(picked.value), comment: comment.value.trim() || null });
      msg.ok(t(f.status === 'approved' ? 'feedback.saved' : 'feedback.saved_pending'));
      showMine(f);
      onSaved();
    } catch (e) { msg.show(e); }
  });
  return form;
}

function complaintForm(id) {
  const msg = messageBox();
  const category = select(CATEGORIES.map((c) => [c, t(`complaint_category.${c}`)]), 'other', { id: 'complaint-category' });
  const detail = h('textarea', { id: 'complaint-detail', required: true, maxlength: '2000' });
  const form = h('form', { class: 'stack', id: 'complaint-form' },
    field(t('complaints.category'), category), field(t('complaints.detail'), detail, t('complaints.detail_hint')), msg.el,
    h('div', {}, h('button', { type: 'submit', class: 'danger', id: 'complaint-submit' }, t('complaints.file'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', `/api/v1/resources/${encodeURIComponent(id)}/complaints`, { category: category.value, detail: detail.value.trim() });
      detail.value = '';
      msg.ok(t('complaints.filed_ok'));
      msg.el.append(' ', h('a', { href: '#/learning', id: 'complaint-follow' }, t('complaints.follow')));
    } catch (e) { msg.show(e); }
  });
  return h('details', { id: 'complaint', class: 'panel' }, h('summary', {}, t('complaints.report')), form);
}

/** The ratings and comments of resource `id`, the viewer's own form and the report form: the
 * section at once, filled when the summary arrives (the player does not wait for it). */
export function feedbackSection(id) {
  const box = h('section', { id: 'feedback', 'aria-labelledby': 'feedback-h' }, h('h2', { id: 'feedback-h' }, t('feedback.title')));
  const summaryEl = h('div', { id: 'feedback-summary' });
  let summary = null;
  const load = async () => {
    try { summary = await api('GET', `/api/v1/resources/${encodeURIComponent(id)}/feedback`); } catch (e) { summary = null; }
    if (!summary) { summaryEl.replaceChildren(); return; }
    const comments = summary.comments.length ? [h('ul', { class: 'plain comments', id: 'feedback-comments' }, summary.comments.map((c) =>
      h('li', { class: 'card' }, stars(c.stars), ' ', h('span', { class: 'muted' }, dateTime(c.created_at)), h('p', {}, c.comment))))] : [];
    summaryEl.replaceChildren(
      h('p', { id: 'feedback-average' }, summary.ratings
        ? [stars(summary.average_stars), ' ', t('feedback.average', { avg: summary.average_stars.toFixed(1), n: summary.ratings })]
        : t('feedback.no_ratings')), ...comments);
  };
  box.append(summaryEl);
  load().then(() => {
    if (session.me) {
      box.append(h('h3', {}, t('feedback.yours')), ratingForm(id, summary && summary.mine, load), complaintForm(id));
    } else {
      box.append(h('p', { class: 'muted' }, h('a', { href: `#/login?next=${encodeURIComponent(`/watch/${id}`)}` }, t('feedback.sign_in'))));
    }
    box.dataset.loaded = 'true';
  });
  return box;
}
