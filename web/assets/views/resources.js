// "My resources": the producer's (or organiser's) resources with their review state and
// processing status; also the table the reviewers' queues use.
import { all } from '../api.js';
import { t, dateTime } from '../i18n.js';
import { h, heading, badge, messageBox } from '../ui.js';

/** A table of resources linking to their pages. */
export function resourceTable(items, caption) {
  if (!items.length) return h('p', { class: 'muted empty' }, t('resources.none'));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'resources' },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', {}, h('tr', {}, ...['resources.name', 'resources.lecturer', 'resources.state', 'resources.processing', 'resources.updated']
      .map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', {}, items.map((r) => h('tr', { dataset: { id: r.id } },
      h('td', {}, h('a', { href: `#/resource/${r.id}` }, r.latest.metadata.name || t('resources.untitled'))),
      h('td', {}, r.latest.metadata.lecturer_name || '—'),
      h('td', {}, badge('state', r.latest.state)),
      h('td', {}, badge('processing', r.processing.status)),
      h('td', {}, dateTime(r.latest.updated_at)))))));
}

/** The view of /mine. */
export async function render() {
  const msg = messageBox();
  let table;
  try {
    const items = await all('/api/v1/resources');
    items.sort((a, b) => b.latest.updated_at - a.latest.updated_at);
    table = resourceTable(items, t('mine.title'));
  } catch (e) { msg.show(e); }
  return [heading(t('mine.title')), h('p', {}, h('a', { class: 'button', href: '#/upload' }, t('nav.upload'))), msg.el, table];
}
