// The reviewers' queues: the department reviewer's (self-reviewed resources of their
// department) and the centre reviewer's (department-approved ones for technical review, and
// technically approved ones waiting for publication). Each row opens the resource page with
// the Table 1 form and the decision buttons.
import { all } from '../api.js';
import { t } from '../i18n.js';
import { h, heading, messageBox } from '../ui.js';
import { resourceTable } from './resources.js';

/** The view of /review/department and /review/centre. */
export async function render(ctx) {
  const centre = ctx.path === '/review/centre';
  const queues = centre
    ? [['department_approved', 'review.queue_technical'], ['technically_approved', 'review.queue_publish']]
    : [['self_reviewed', 'review.queue_department']];
  const msg = messageBox();
  const sections = [];
  for (const [state, key] of queues) {
    try {
      const items = await all(`/api/v1/resources?state=${state}`);
      sections.push(h('section', { 'aria-labelledby': `q-${state}`, class: 'queue', dataset: { state } },
        h('h2', { id: `q-${state}` }, t(key, { n: items.length })), resourceTable(items, t(key, { n: items.length }))));
    } catch (e) { msg.show(e); }
  }
  return [heading(t(centre ? 'review.title_centre' : 'review.title_department')), msg.el, ...sections];
}
