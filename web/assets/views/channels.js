// The event organiser's channels: list, create and edit (schedule, audience, recording,
// latency mode, HEVC passthrough), the audiences of the department (each managed on its own page), the stream
// key shown once with copy buttons and the two OBS fields, going live from the page over
// WHIP (./golive.js), and a live dashboard (input, renditions, viewers, dropped frames, last
// error, events) that refreshes itself; rotate the key, switch publishing off, end the event.
import { api, all } from '../api.js';
import { go, session } from '../app.js';
import { t, dateTime } from '../i18n.js';
import { h, field, check, heading, messageBox, badge, label, select, copyButton, notice, audienceSelect } from '../ui.js';
import { goLivePanel, rememberKey, keptKey } from './golive.js';

/** The view of /channels and /channel/:id. */
export async function render(ctx) {
  return ctx.params.id ? channelPage(ctx.params.id) : listPage();
}

async function listPage() {
  const msg = messageBox();
  let table = null;
  try {
    const items = await all('/api/v1/channels');
    table = items.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'channel-list' },
      h('thead', {}, h('tr', {}, ...['channel.name', 'channel.state', 'channel.latency_mode', 'channel.scheduled_start'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, items.map((c) => h('tr', {}, h('td', {}, h('a', { href: `#/channel/${c.id}` }, c.name)),
        h('td', {}, badge('channel_state', c.state)), h('td', {}, label('latency', c.latency_mode)), h('td', {}, dateTime(c.scheduled_start)))))))
      : h('p', { class: 'muted' }, t('channel.none'));
  } catch (e) { msg.show(e); }
  return [heading(t('channel.list_title')), msg.el, table, await createForm(), await audienceList(), audienceForm()];
}

/** The audiences of the organiser's department, each linked to its members page. */
async function audienceList() {
  const dept = session.me.department_id;
  let items = [];
  try { items = await all(dept ? `/api/v1/audiences?department_id=${encodeURIComponent(dept)}` : '/api/v1/audiences'); } catch (e) { items = []; }
  return h('section', { 'aria-labelledby': 'audiences-h' }, h('h2', { id: 'audiences-h' }, t('audience.list_title')),
    items.length ? h('ul', { id: 'audience-list' }, items.map((a) => h('li', {}, h('a', { href: `#/audience/${a.id}` }, a.name))))
      : h('p', { class: 'muted' }, t('audience.no_audiences')));
}

function toMs(v) { return v ? new Date(v).getTime() : null; }
function toLocal(ms) {
  if (!ms) return '';
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

/** The fields shared by create and edit. */
async function channelFields(c) {
  const f = {
    name: h('input', { type: 'text', required: true, value: c.name || '', id: 'channel-name' }),
    audience: select(['public', 'restricted'].map((v) => [v, label('audience', v)]), c.audience || 'public', { id: 'channel-audience' }),
    audience_id: await audienceSelect(c.audience_id, { id: 'channel-audience-id' }),
    latency_mode: select(['standard', 'low_latency'].map((v) => [v, label('latency', v)]), c.latency_mode || 'standard', { id: 'channel-latency' }),
    record_to_vod: h('input', { type: 'checkbox', id: 'channel-record', checked: c.record_to_vod !== false }),
    hevc_passthrough: h('input', { type: 'checkbox', id: 'channel-hevc', checked: c.hevc_passthrough === true }),
    scheduled_start: h('input', { type: 'datetime-local', value: toLocal(c.scheduled_start), id: 'channel-start' }),
    scheduled_end: h('input', { type: 'datetime-local', value: toLocal(c.scheduled_end), id: 'channel-end' }),
  };
  const els = [field(t('channel.name'), f.name), field(t('channel.audience'), f.audience),
    field(t('channel.audience_id'), f.audience_id, t('channel.audience_id_hint')), field(t('channel.latency_mode'), f.latency_mode),
    check(t('channel.record_to_vod'), f.record_to_vod),
    check(t('channel.hevc_passthrough'), f.hevc_passthrough, t('channel.hevc_passthrough_hint')),
    field(t('channel.scheduled_start'), f.scheduled_start),
    field(t('channel.scheduled_end'), f.scheduled_end)];
  const values = () => ({
    name: f.name.value.trim(), audience: f.audience.value, audience_id: f.audience_id.value.trim() || null,
    latency_mode: f.latency_mode.value, record_to_vod: f.record_to_vod.checked,
    hevc_passthrough: f.hevc_passthrough.checked,
    scheduled_start: toMs(f.scheduled_start.value), scheduled_end: toMs(f.scheduled_end.value),
  });
  return { els, values };
}

async function createForm() {
  const { els, values } = await channelFields({});
  const msg = messageBox();
  const form = h('form', { class: 'stack', id: 'channel-form' }, h('h2', {}, t('channel.create_title')), ...els, msg.el,
    h('div', {}, h('button', { type: 'submit' }, t('channel.create'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const c = await api('POST', '/api/v1/channels', { ...values(), department_id: session.me.department_id });
      sessionStorage.setItem(`yanxiu.key.${c.id}`, JSON.stringify(c));
      go(`/channel/${c.id}`);
    } catch (e) { msg.show(e); }
  });
  return form;
}

/** A new audience of the organiser's department (its members are managed by the department
 * admin; channels and resources of the audience are open only to them). */
function audienceForm() {
  const name = h('input', { type: 'text', required: true, id: 'audience-name' });
  const msg = messageBox();
  const form = h('form', { class: 'stack', id: 'audience-form' }, h('h2', {}, t('audience.create_title')),
    field(t('audience.name'), name), msg.el, h('div', {}, h('button', { type: 'submit' }, t('audience.create'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', '/api/v1/audiences', { name: name.value.trim(), department_id: session.me.department_id });
      notice(t('audience.created', { name: name.value.trim() }));
      go('/channels');
    } catch (e) { msg.show(e); }
  });
  return form;
}

/** The key panel, shown once after creation or rotation (kept only for this page view). */
function keyPanel(k) {
  return h('section', { class: 'panel', id: 'key-panel', 'aria-labelledby': 'key-h' },
    h('h2', { id: 'key-h' }, t('channel.key_title')), h('p', { class: 'error' }, t('channel.key_once')),
    h('h3', {}, t('channel.obs_settings')), h('p', {}, t('channel.obs_hint')),
    h('dl', { class: 'kv' },
      h('dt', {}, t('channel.obs_server')), h('dd', {}, h('span', { class: 'secret', id: 'obs-server' }, k.obs_server), ' ', copyButton(k.obs_server, t('channel.obs_server'))),
      h('dt', {}, t('channel.obs_stream_key')), h('dd', {}, h('span', { class: 'secret', id: 'obs-key' }, k.obs_stream_key), ' ', copyButton(k.obs_stream_key, t('channel.obs_stream_key'))),
      h('dt', {}, t('channel.rtmp_url')), h('dd', {}, h('span', { class: 'secret' }, `${k.rtmp_url}`))),
    h('h3', {}, t('channel.whip_settings')), h('p', {}, t('channel.whip_hint')),
    h('dl', { class: 'kv' },
      h('dt', {}, t('channel.whip_url')), h('dd', {}, h('span', { class: 'secret', id: 'whip-url' }, k.whip_url), ' ', copyButton(k.whip_url, t('channel.whip_url'))),
      h('dt', {}, t('channel.whip_token')), h('dd', {}, h('span', { class: 'secret', id: 'whip-token' }, k.stream_key), ' ', copyButton(k.stream_key, t('channel.whip_token')))),
    ...(k.srt_publish_url ? [h('h3', {}, t('channel.srt_settings')), h('p', {}, t('channel.srt_hint')),
      h('dl', { class: 'kv' },
        h('dt', {}, t('channel.srt_url')), h('dd', {}, h('span', { class: 'secret', id: 'srt-url' }, k.srt_publish_url), ' ', copyButton(k.srt_publish_url, t('channel.srt_url'))))] : []));
}

async function channelPage(id) {
  const c = await api('GET', `/api/v1/channels/${encodeURIComponent(id)}`);
  const fresh = sessionStorage.getItem(`yanxiu.key.${id}`);
  sessionStorage.removeItem(`yanxiu.key.${id}`);
  if (fresh) rememberKey(id, JSON.parse(fresh)); // kept in this tab's memory only
  const msg = messageBox();
  const dash = h('section', { class: 'panel', id: 'dashboard', 'aria-labelledby': 'dash-h' });
  const events = h('section', { id: 'events', 'aria-labelledby': 'ev-h' });
  let first = true; // the first call runs before the page is in the document
  const refresh = async () => {
    if (!first && !dash.isConnected) return;
    first = false;
    try {
      const s = await api('GET', `/api/v1/channels/${id}/status`);
      const st = s.status || {};
      const inp = st.input;
      dash.dataset.live = st.live ? 'true' : 'false';
      dash.replaceChildren(h('h2', { id: 'dash-h' }, t('channel.dashboard')), h('dl', { class: 'kv' },
        h('dt', {}, t('channel.state')), h('dd', {}, badge('channel_state', s.state), ' ', st.live && s.state !== 'live' ? badge('channel_state', 'live') : ''),
        h('dt', {}, t('channel.since')), h('dd', {}, dateTime(st.since)),
        h('dt', {}, t('channel.input')), h('dd', { id: 'dash-input' }, inp ? `${inp.video_codec || '—'} ${inp.width || '?'}×${inp.height || '?'} ${inp.frame_rate ? inp.frame_rate.toFixed(2) + ' fps' : ''} ${inp.bitrate_bps ? Math.round(inp.bitrate_bps / 1000) + ' kbps' : ''} · ${inp.audio_codec || '—'}` : '—'),
        h('dt', {}, t('channel.renditions')), h('dd', {}, (st.renditions || []).map((r) => (typeof r === 'string' ? r : r.name || `${r.height}p`)).join(' · ') || '—'),
        h('dt', {}, t('channel.viewers')), h('dd', {}, String(st.viewers ?? 0)),
        h('dt', {}, t('channel.dropped_frames')), h('dd', {}, String(st.dropped_frames ?? 0)),
        h('dt', {}, t('channel.reconnects')), h('dd', { id: 'dash-reconnects' }, String(st.reconnects ?? 0)),
        h('dt', {}, t('channel.last_error')), h('dd', { id: 'dash-error' }, st.last_error || '—')));
      const ev = await api('GET', `/api/v1/channels/${id}/events?per_page=20`);
      events.replaceChildren(h('h2', { id: 'ev-h' }, t('channel.events')), ev.items.length
        ? h('ul', {}, ev.items.map((e) => h('li', {}, `${dateTime(e.at)} · ${label('event', e.kind)}`,
          e.kind === 'recorded' && e.detail && e.detail.resource_id ? [' · ', h('a', { href: `#/resource/${e.detail.resource_id}` }, t('channel.recording'))] : '')))
        : h('p', { class: 'muted' }, t('channel.no_events')));
    } catch (e) { msg.show(e); }
    setTimeout(refresh, 2000);
  };
  refresh();
  const { els, values } = await channelFields(c);
  const edit = h('form', { class: 'stack', id: 'channel-edit' }, h('h2', {}, t('channel.edit_title')), ...els,
    h('div', {}, h('button', { type: 'submit' }, t('common.save'))));
  edit.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try { await api('PATCH', `/api/v1/channels/${id}`, values()); notice(t('common.saved')); } catch (e) { msg.show(e); }
  });
  const kept = keptKey(id);
  const rotate = h('button', { type: 'button', class: 'secondary', id: 'rotate-key' }, t('channel.rotate'));
  rotate.addEventListener('click', async () => {
    if (!window.confirm(t('channel.rotate_confirm'))) return;
    try { rememberKey(id, await api('POST', `/api/v1/channels/${id}/rotate-key`)); go(`/channel/${id}`); } catch (e) { msg.show(e); }
  });
  const toggle = h('button', { type: 'button', class: 'secondary', id: 'toggle-enabled' }, t(c.enabled ? 'channel.disable' : 'channel.enable'));
  toggle.addEventListener('click', async () => {
    try { await api('PATCH', `/api/v1/channels/${id}`, { enabled: !c.enabled }); go(`/channel/${id}`); } catch (e) { msg.show(e); }
  });
  const end = h('button', { type: 'button', class: 'danger', id: 'end-event', disabled: c.state === 'ended' }, t('channel.end'));
  end.addEventListener('click', async () => {
    if (!window.confirm(t('channel.end_confirm'))) return;
    try { await api('PATCH', `/api/v1/channels/${id}`, { state: 'ended' }); go(`/channel/${id}`); } catch (e) { msg.show(e); }
  });
  const info = h('dl', { class: 'kv' },
    h('dt', {}, t('channel.stream_name')), h('dd', {}, c.stream_name),
    h('dt', {}, t('channel.rtmp_url')), h('dd', {}, c.rtmp_url),
    h('dt', {}, t('channel.playback_url')), h('dd', {}, c.playback_url),
    h('dt', {}, t('channel.watch_page')), h('dd', {}, h('a', { href: `#/live/${c.id}`, id: 'watch-live-link' }, `${location.origin}/#/live/${c.id}`)),
    h('dt', {}, t('channel.enabled')), h('dd', {}, t(c.enabled ? 'common.yes' : 'common.no')));
  return [heading(c.name), info, h('div', { class: 'row' }, rotate, toggle, end), msg.el, kept ? keyPanel(kept) : null,
    goLivePanel(c), dash, events, edit];
}
