// The live page of a channel: hls.js on the channel's playlist (LL-HLS when the channel is
// low-latency), with a playback token when the viewer is signed in (restricted channels), its
// playback reported for the viewing figures;
// while the channel is not live it says so and tries again every few seconds. WHEP playback
// has its place marked in render().
import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, heading } from '../ui.js';
import { mountPlayer, sameOrigin } from './player.js';

/** The view of /live/:id. */
export async function render(ctx) {
  const id = ctx.params.id;
  let url = `/live/${encodeURIComponent(id)}/master.m3u8`;
  let grant = null;
  try { grant = await api('POST', '/api/v1/playback-tokens', { channel_id: id }); url = sameOrigin(grant.playback_url || url); } catch (e) { /* public */ }
  const report = grant && { target: { channel_id: id }, token: grant.events_token };
  // WHEP goes here: when the channel offers WebRTC playback (`/whep/`), mount a WebRTC player
  // for it (one POST of an offer, as ../whip.js publishes) and keep hls.js below as the
  // fallback for browsers or networks without it.
  const waiting = h('p', { id: 'live-waiting', 'aria-live': 'polite' });
  const player = await mountPlayer(url, { id: `live-${id}`, remember: false, live: true, report, onFatal: (hls) => {
    waiting.textContent = t('live.waiting');
    setTimeout(() => { if (waiting.isConnected) { hls.loadSource(url); } }, 3000);
  }, onPlaying: () => { waiting.textContent = ''; } });
  return [heading(t('live.title')), waiting, player];
}
