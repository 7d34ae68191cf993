// The learner's catalogue (Table 2): published resources the viewer may watch, by the two
// category levels, with posters and a search over name, lecturer and unit.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, field, heading, messageBox } from '../ui.js';

/** The view of /catalogue (?c1=&c2=&q=). */
export async function render(ctx) {
  const msg = messageBox();
  let items = [];
  try { items = (await api('GET', '/api/v1/catalogue?per_page=200')).items; } catch (e) { msg.show(e); }
  const q = ctx.query;
  let c1 = q.get('c1') || '';
  let c2 = q.get('c2') || '';
  const search = h('input', { type: 'search', id: 'catalogue-search', value: q.get('q') || '' });
  const level1 = h('ul', { class: 'cats', id: 'cat1', 'aria-label': t('catalogue.level1') });
  const level2 = h('ul', { class: 'cats', id: 'cat2', 'aria-label': t('catalogue.level2') });
  const list = h('ul', { class: 'cards', id: 'catalogue-list' });
  const count = h('p', { class: 'muted', 'aria-live': 'polite', id: 'catalogue-count' });
  const cats = new Map();
  for (const e of items) {
    if (!e.category1) continue;
    if (!cats.has(e.category1)) cats.set(e.category1, new Set());
    if (e.category2) cats.get(e.category1).add(e.category2);
  }
  const chip = (text, pressed, onclick) => h('li', {}, h('button', { type: 'button', 'aria-pressed': pressed ? 'true' : 'false', onclick }, text));
  const draw = () => {
    level1.replaceChildren(chip(t('catalogue.all'), !c1, () => { c1 = ''; c2 = ''; draw(); }),
      ...[...cats.keys()].map((k) => chip(k, c1 === k, () => { c1 = k; c2 = ''; draw(); })));
    const subs = c1 && cats.has(c1) ? [...cats.get(c1)] : [];
    level2.hidden = !subs.length;
    level2.replaceChildren(...(subs.length ? [chip(t('catalogue.all'), !c2, () => { c2 = ''; draw(); }),
      ...subs.map((k) => chip(k, c2 === k, () => { c2 = k; draw(); }))] : []));
    const words = search.value.trim().toLowerCase();
    const shown = items.filter((e) => (!c1 || e.category1 === c1) && (!c2 || e.category2 === c2)
      && (!words || [e.name, e.lecturer_name, e.lecturer_unit, e.summary].join(' ').toLowerCase().includes(words)));
    count.textContent = t('catalogue.count', { n: shown.length });
    list.replaceChildren(...shown.map((e) => h('li', {}, h('a', { href: `#/watch/${encodeURIComponent(e.resource_id)}` },
      h('img', { class: 'poster', src: `/play/${encodeURIComponent(e.resource_id)}/poster.jpg`, alt: '', loading: 'lazy', width: '320', height: '180' }),
      h('div', { class: 'body' }, h('h2', {}, e.name),
        h('p', { class: 'muted' }, `${e.lecturer_name} · ${e.lecturer_unit}`),
        h('p', {}, t('catalogue.credit_hours', { n: e.credit_hours })))))));
  };
  search.addEventListener('input', draw);
  draw();
  return [heading(t('catalogue.title')), field(t('catalogue.search'), search), level1, level2, msg.el, count, list];
}
