// One resource: its processing (stage, percent, speed, rejection reasons in plain words,
// refreshed while it works), a preview of the ladder, the Table 1/Table 2 metadata form
// (editable by the producer while the revision is not under review), the review history,
// the Table 1 review form, and the decision its viewer may take at this state: self-review
// and submit (producer), department approval (department reviewer), technical approval and
// publication (centre reviewer). The API checks every step again. The technical QC report
// (loudness, findings with their times, the loudness and timeline plots) shows once the
// processing job made one; the caption tracks are listed and managed in ./captions.js.
import { api, download } from '../api.js';
import { hasRole, session, render as rerender } from '../app.js';
import { t, has, lang, dateTime } from '../i18n.js';
import { h, field, heading, messageBox, badge, label, select, notice, audienceSelect, clock } from '../ui.js';
import { mountPlayer, sameOrigin, storyboardOf } from './player.js';
import { captionsSection } from './captions.js';

const EDITABLE = ['draft', 'rejected', 'published'];

/** The view of /resource/:id. */
export async function render(ctx) {
  const id = ctx.params.id;
  const r = await api('GET', `/api/v1/resources/${encodeURIComponent(id)}`);
  const rev = r.latest;
  const own = session.me && r.owner_id === session.me.id;
  const head = h('div', { class: 'row' }, badge('state', rev.state), badge('processing', r.processing.status),
    h('span', { class: 'muted' }, t('resource.revision', { n: rev.number })));
  return [
    heading(rev.metadata.name || t('resources.untitled')), head,
    processingPanel(r),
    await qcPanel(r),
    previewPanel(r),
    captionsSection(r, own && EDITABLE.includes(rev.state)),
    await reviewActions(r, own),
    await metadataSection(r, own && EDITABLE.includes(rev.state)),
    await table1(id),
    await history(id),
  ];
}

function processingPanel(r) {
  const panel = h('section', { class: 'panel', id: 'processing', 'aria-labelledby': 'proc-h', 'aria-live': 'polite' });
  const fill = (p) => {
    const working = p.status === 'processing' || p.status === 'pending';
    const job = (working && p.job) || {};
    const rows = [
      [t('processing.status'), badge('processing', p.status)],
      job.stage ? [t('processing.stage'), label('stage', job.stage)] : null,
      Number.isFinite(job.percent) ? [t('processing.percent'), `${job.percent.toFixed(0)}%`] : null,
      Number.isFinite(job.speed) && job.speed > 0 ? [t('processing.speed'), t('processing.speed_value', { x: job.speed.toFixed(1) })] : null,
      job.attempts ? [t('processing.attempts'), `${job.attempts} / ${job.max_attempts}`] : null,
      p.renditions && p.renditions.length ? [t('processing.renditions'), p.renditions.map((x) => x.name || x.height + 'p').join(' · ')] : null,
      p.audio_only ? [t('processing.media_kind'), h('span', { id: 'audio-only' }, t('processing.audio_only'))] : null,
    ].filter(Boolean);
    const reasons = [];
    const v = p.validation;
    if (v && v.violations && v.violations.length) {
      reasons.push(h('h3', {}, t('processing.rejected_reasons')),
        h('ul', { id: 'violations' }, v.violations.map((x) => h('li', {}, lang() === 'en' ? x.message_en : x.message_zh))));
    }
    if (p.failure) reasons.push(h('p', { class: 'error', id: 'failure' }, lang() === 'en' ? p.failure.message_en : p.failure.message_zh));
    if ((p.status === 'rejected' || p.status === 'failed') && (hasRole('producer') || hasRole('event_organiser'))) {
      // After fixing what the refusal named (the type, the category): the kept file again.
      const again = h('button', { type: 'button', id: 'reprocess' }, t('processing.reprocess'));
      const note = h('p', { class: 'hint' }, t('processing.reprocess_hint'));
      again.addEventListener('click', async () => {
        again.disabled = true;
        try {
          await api('POST', `/api/v1/resources/${encodeURIComponent(r.id)}/reprocess`);
          fill({ status: 'pending' });
          setTimeout(poll, 1000);
        } catch (e) {
          again.disabled = false;
          note.textContent = e.message;
          note.className = 'error';
        }
      });
      reasons.push(h('div', { class: 'row' }, again), note);
    }
    panel.dataset.status = p.status;
    panel.replaceChildren(h('h2', { id: 'proc-h' }, t('processing.title')),
      h('dl', { class: 'kv' }, rows.flatMap(([k, val]) => [h('dt', {}, k), h('dd', {}, val)])),
      ...(working ? [h('progress', { max: '100', value: String(job.percent || 0), 'aria-label': t('processing.percent') })] : []),
      ...reasons);
  };
  fill(r.processing);
  const poll = async () => {
    if (!document.body.contains(panel)) return;
    const s = panel.dataset.status;
    if (s !== 'pending' && s !== 'processing') return;
    try {
      const fresh = await api('GET', `/api/v1/resources/${r.id}`);
      fill(fresh.processing);
      if (fresh.processing.status === 'ready') { rerender(); return; }
    } catch (e) { /* shown on the next full load */ }
    setTimeout(poll, 1500);
  };
  setTimeout(poll, 1500);
  return panel;
}

/** The technical QC report: loudness, counts, findings in the page's language, the plots. */
async function qcPanel(r) {
  let q;
  try { q = await api('GET', `/api/v1/resources/${encodeURIComponent(r.id)}/qc`); } catch (e) { return null; }
  const rep = q.report || {};
  const l = rep.loudness || {};
  const s = rep.summary || {};
  const num = (v, unit) => (Number.isFinite(v) ? `${v.toFixed(1)} ${unit}` : '—');
  const rows = [
    [t('qc.loudness'), `${num(l.integrated_lufs, 'LUFS')} · ${t('qc.range')} ${num(l.range_lu, 'LU')} · ${t('qc.true_peak')} ${num(l.true_peak_dbtp, 'dBTP')}`],
    [t('qc.counts'), t('qc.counts_value', { errors: s.errors || 0, warnings: s.warnings || 0, infos: s.infos || 0 })],
  ];
  const severity = { error: t('qc.error'), warning: t('qc.warning'), info: t('qc.info') };
  const findings = rep.findings || [];
  const list = findings.length
    ? h('ul', { id: 'qc-findings' }, findings.map((f) => h('li', { 'data-severity': f.severity },
      h('strong', {}, severity[f.severity] || f.severity), ` ${clock(f.start)}–${clock(f.end)} `,
      lang() === 'en' ? f.message_en : f.message_zh, h('span', { class: 'muted' }, ` (${f.code})`))))
    : h('p', { class: 'muted' }, t('qc.no_findings'));
  const plots = h('div', { class: 'qc-plots' });
  for (const [key, url] of [['qc.plot_loudness', q.plots.loudness], ['qc.plot_timeline', q.plots.timeline]]) {
    try {
      const blob = await download(url);
      plots.append(h('img', { src: URL.createObjectURL(blob), alt: t(key) }));
    } catch (e) { plots.append(h('p', { class: 'muted' }, t('qc.plot_missing'))); }
  }
  return h('section', { class: 'panel', id: 'qc', 'aria-labelledby': 'qc-h' }, h('h2', { id: 'qc-h' }, t('qc.title')),
    h('div', { class: 'table-wrap' }, h('table', {}, h('tbody', {},
      rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v)))))),
    list, plots);
}

function previewPanel(r) {
  if (!r.processing.playback_url) return null;
  const box = h('section', { 'aria-labelledby': 'preview-h' }, h('h2', { id: 'preview-h' }, t('resource.preview')));
  const msg = messageBox();
  const btn = h('button', { type: 'button', class: 'secondary', id: 'preview-button' }, t('resource.preview_button'));
  btn.addEventListener('click', async () => {
    try {
      const tok = await api('POST', '/api/v1/playback-tokens', { resource_id: r.id });
      btn.remove();
      const url = sameOrigin(tok.playback_url || r.processing.playback_url);
      box.append(await mountPlayer(url, { id: r.id, remember: false, storyboard: storyboardOf(r.id, url) }));
    } catch (e) { msg.show(e); }
  });
  box.append(btn, msg.el);
  return box;
}

async function reviewActions(r, own) {
  const st = r.latest.state;
  let level = null;
  if (own && (st === 'draft' || st === 'rejected')) level = 'self';
  else if (!own && hasRole('department_reviewer') && st === 'self_reviewed') level = 'department';
  else if (!own && hasRole('centre_reviewer') && st === 'department_approved') level = 'technical';
  const publish = !own && hasRole('centre_reviewer') && st === 'technically_approved';
  if (!level && !publish) return null;
  const msg = messageBox();
  const box = h('section', { class: 'panel', id: 'decision', 'aria-labelledby': 'decision-h' });
  if (publish) {
    const b = h('button', { type: 'button', id: 'publish-button' }, t('review.publish'));
    b.addEventListener('click', async () => {
      b.disabled = true;
      try { await api('POST', `/api/v1/resources/${r.id}/publish`, {}); notice(t('review.published')); rerender(); }
      catch (e) { msg.show(e); b.disabled = false; }
    });
    box.append(h('h2', { id: 'decision-h' }, t('review.publish_title')), b, msg.el);
    return box;
  }
  const comment = h('textarea', { id: 'review-comment', name: 'comment' });
  const approve = h('button', { type: 'button', id: 'approve-button' }, t(level === 'self' ? 'review.submit_self' : 'review.approve'));
  const reject = level === 'self' ? null : h('button', { type: 'button', class: 'danger', id: 'reject-button' }, t('review.reject'));
  const decide = async (decision) => {
    if (decision === 'reject' && !comment.value.trim()) { msg.show(t('review.reason_needed')); comment.focus(); return; }
    try {
      await api('POST', `/api/v1/resources/${r.id}/reviews`, { level, decision, comment: comment.value.trim() || t('review.default_comment') });
      notice(t(decision === 'approve' ? 'review.approved' : 'review.rejected'));
      rerender();
    } catch (e) { msg.show(e); }
  };
  approve.addEventListener('click', () => decide('approve'));
  if (reject) reject.addEventListener('click', () => decide('reject'));
  box.append(h('h2', { id: 'decision-h' }, t(`review.level_${level}`)),
    h('p', {}, t(`review.level_${level}_hint`)),
    field(t('review.comment'), comment, level === 'self' ? null : t('review.comment_hint')), msg.el, h('div', { class: 'row' }, approve, reject));
  return box;
}

/** The Table 1 and Table 2 fields: [key, kind, required]. */
const FIELDS = [
  ['name', 'text', true], ['lecturer_name', 'text', true], ['lecturer_unit', 'text', true], ['lecturer_title', 'text'],
  ['credit_hours', 'number', true], ['display_order', 'number', true], ['category1', 'text'], ['category2', 'text'],
  ['project_name', 'text'], ['undertaking_unit', 'text'], ['summary', 'textarea'], ['resource_type', 'type'],
  ['openness', 'openness'], ['audience_id', 'audience'], ['source_url', 'url'],
];

async function metadataSection(r, editable) {
  const m = r.latest.metadata;
  const box = h('section', { 'aria-labelledby': 'meta-h' }, h('h2', { id: 'meta-h' }, t('meta.title')));
  if (!editable) {
    box.append(h('dl', { class: 'kv', id: 'metadata' }, FIELDS.flatMap(([k]) => [h('dt', {}, t(`meta.${k}`)),
      h('dd', {}, k === 'openness' ? label('openness', m[k]) : k === 'resource_type' ? label('type', m[k]) : (m[k] ?? '—'))])));
    return box;
  }
  const inputs = {};
  const audience = await audienceSelect(m.audience_id, { name: 'audience_id' });
  const controls = FIELDS.map(([k, kind, req]) => {
    let c;
    if (kind === 'audience') c = audience;
    else if (kind === 'textarea') c = h('textarea', { name: k }, m[k] || '');
    else if (kind === 'type') c = select(['video', 'audio', 'image', 'document', 'other'].map((v) => [v, label('type', v)]), m[k], { name: k });
    else if (kind === 'openness') c = select(['public', 'non_public'].map((v) => [v, label('openness', v)]), m[k], { name: k });
    else c = h('input', { type: kind, name: k, value: m[k] ?? '', required: !!req, step: k === 'credit_hours' ? '0.5' : null, min: kind === 'number' ? '0' : null });
    inputs[k] = c;
    return field(t(`meta.${k}`) + (req ? ' *' : ''), c, has(`meta.${k}_hint`) ? t(`meta.${k}_hint`) : null);
  });
  const msg = messageBox();
  const form = h('form', { class: 'stack', id: 'metadata-form' }, h('p', { class: 'muted' }, t('meta.required_note')),
    h('div', { class: 'grid2' }, controls), msg.el, h('div', {}, h('button', { type: 'submit', id: 'metadata-save' }, t('meta.save'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = (k) => inputs[k].value.trim();
    const metadata = {};
    for (const [k, kind] of FIELDS) {
      if (kind === 'number') metadata[k] = Number(v(k) || 0);
      else if (['category1', 'category2', 'audience_id', 'source_url'].includes(k)) metadata[k] = v(k) || null;
      else metadata[k] = v(k);
    }
    try {
      await api('PATCH', `/api/v1/resources/${r.id}`, { metadata });
      msg.ok(t('meta.saved'));
      notice(t('meta.saved'));
    } catch (e) { msg.show(e); }
  });
  box.append(form);
  return box;
}

async function table1(id) {
  let f;
  try { f = await api('GET', `/api/v1/resources/${id}/review-form`); } catch (e) { return null; }
  const rows = [
    ['meta.project_name', f.project_name], ['meta.undertaking_unit', f.undertaking_unit], ['meta.name', f.resource_name],
    ['meta.lecturer_name', f.lecturer_name], ['meta.lecturer_unit', f.lecturer_unit], ['meta.summary', f.summary],
    ['meta.credit_hours', f.credit_hours], ['meta.openness', label('openness', f.openness)], ['meta.resource_type', label('type', f.resource_type)],
  ];
  const opinions = (f.opinions || []).map((o) => [label('level', o.level), `${o.decision ? label('decision', o.decision) + ' · ' : ''}${o.comment || ''} ${o.reviewer ? '· ' + o.reviewer : ''} ${o.date || ''}`.trim()]);
  return h('section', { 'aria-labelledby': 't1-h', id: 'table1' }, h('h2', { id: 't1-h' }, t('table1.title')),
    h('div', { class: 'table-wrap' }, h('table', {}, h('tbody', {},
      rows.map(([k, val]) => h('tr', {}, h('th', { scope: 'row' }, t(k)), h('td', {}, val === '' || val === null ? '—' : String(val)))),
      opinions.map(([k, val]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, val || '—')))))));
}

async function history(id) {
  let items;
  try { const d = await api('GET', `/api/v1/resources/${id}/reviews`); items = d.items || d; } catch (e) { return null; }
  return h('section', { 'aria-labelledby': 'hist-h' }, h('h2', { id: 'hist-h' }, t('review.history')),
    items.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'review-history' },
      h('thead', {}, h('tr', {}, ...['review.when', 'review.level', 'review.decision', 'review.reviewer', 'review.comment'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, items.map((x) => h('tr', {}, h('td', {}, dateTime(x.decided_at)), h('td', {}, label('level', x.level)),
        h('td', {}, badge('decision', x.decision)), h('td', {}, x.reviewer_name), h('td', {}, x.comment))))))
      : h('p', { class: 'muted' }, t('review.none')));
}
