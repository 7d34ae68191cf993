// The caption tracks (字幕) of a resource's latest revision: each language with its menu
// label, cue count and source format, a download of the stored WebVTT, and, while the
// producer may edit the revision, removal and the upload of a WebVTT or SubRip file for a
// language (it replaces that language's track). The server checks the file against the
// media and answers a refusal with the rule and the line; the page shows it as given.
import { api, download, sendFile } from '../api.js';
import { render as rerender } from '../app.js';
import { t, dateTime } from '../i18n.js';
import { h, field, messageBox, notice } from '../ui.js';

/** Language tags offered in the form (any other tag may be typed). */
const SUGGESTED = ['zh-CN', 'en', 'zh-HK', 'zh-TW', 'ja', 'ko', 'fr', 'de', 'ru', 'es'];

/** The captions section of a resource page; `editable` when the viewer may change them. */
export function captionsSection(r, editable) {
  const tracks = r.latest.captions || [];
  const base = `/api/v1/resources/${encodeURIComponent(r.id)}/captions`;
  const msg = messageBox();
  const box = h('section', { class: 'panel', id: 'captions', 'aria-labelledby': 'captions-h' },
    h('h2', { id: 'captions-h' }, t('captions.title')));
  if (!tracks.length) box.append(h('p', { class: 'muted', id: 'captions-none' }, t('captions.none')));
  else {
    const rows = tracks.map((c) => {
      const get = h('button', { type: 'button', class: 'secondary' }, t('captions.download'));
      get.addEventListener('click', async () => {
        try {
          const blob = await download(`${base}/${encodeURIComponent(c.language)}`);
          const a = h('a', { href: URL.createObjectURL(blob), download: `${c.language}.vtt` });
          a.click();
        } catch (e) { msg.show(e); }
      });
      const actions = [get];
      if (editable) {
        const del = h('button', { type: 'button', class: 'danger', 'data-language': c.language }, t('captions.remove'));
        del.addEventListener('click', async () => {
          if (!window.confirm(t('captions.remove_confirm', { language: c.label }))) return;
          try { await api('DELETE', `${base}/${encodeURIComponent(c.language)}`); notice(t('captions.removed')); rerender(); }
          catch (e) { msg.show(e); }
        });
        actions.push(del);
      }
      return h('tr', { 'data-language': c.language }, h('td', {}, c.language), h('td', {}, c.label),
        h('td', {}, String(c.cues)), h('td', {}, c.source_format === 'srt' ? 'SubRip' : 'WebVTT'),
        h('td', {}, dateTime(c.uploaded_at)), h('td', { class: 'row' }, actions));
    });
    box.append(h('div', { class: 'table-wrap' }, h('table', { id: 'captions-list' },
      h('thead', {}, h('tr', {}, ...['captions.language', 'captions.label', 'captions.cues', 'captions.format', 'captions.uploaded', 'captions.actions']
        .map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, rows))));
  }
  if (editable) box.append(uploadForm(base, msg));
  box.append(msg.el);
  return box;
}

function uploadForm(base, msg) {
  const language = h('input', { name: 'language', id: 'caption-language', required: true, list: 'caption-languages', value: 'zh-CN', autocomplete: 'off' });
  const languages = h('datalist', { id: 'caption-languages' }, SUGGESTED.map((v) => h('option', { value: v })));
  const labelInput = h('input', { name: 'label', id: 'caption-label', maxlength: '40' });
  const file = h('input', { type: 'file', name: 'file', id: 'caption-file', required: true, accept: '.vtt,.srt,text/vtt,application/x-subrip' });
  const submit = h('button', { type: 'submit', id: 'caption-upload' }, t('captions.upload'));
  const form = h('form', { class: 'stack', id: 'caption-form' },
    h('h3', {}, t('captions.add')), h('p', { class: 'muted' }, t('captions.hint')),
    h('div', { class: 'grid2' }, field(t('captions.language') + ' *', language, t('captions.language_hint')), languages,
      field(t('captions.label'), labelInput, t('captions.label_hint'))),
    field(t('captions.file') + ' *', file), h('div', {}, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const chosen = file.files && file.files[0];
    if (!chosen) { msg.show(t('captions.file_needed')); file.focus(); return; }
    const tag = language.value.trim();
    const query = labelInput.value.trim() ? `?label=${encodeURIComponent(labelInput.value.trim())}` : '';
    submit.disabled = true;
    try {
      await sendFile('PUT', `${base}/${encodeURIComponent(tag)}${query}`, chosen);
      notice(t('captions.uploaded_ok'));
      rerender();
    } catch (e) {
      msg.show(e);
      submit.disabled = false;
    }
  });
  return form;
}
