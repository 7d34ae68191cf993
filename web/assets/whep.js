// Playing a live channel over WebRTC with WHEP, the browser side of `POST /whep/{channel}`:
// one receive-only RTCPeerConnection, the ICE servers the server hands out (TURN for networks
// that block UDP) asked for first, the offer sent whole once ICE gathering is done (the server
// is ICE-lite and takes no trickle), the answer applied, and `DELETE` on the session's Location
// to stop. A refusal carries the API's code and its message in the page's language; the live
// page then falls back to HLS and says why.
//
// The rules without a browser in them (reading the API's error, reading `Link` headers, which
// failures mean "use HLS") are plain exported functions, checked by the browser tests.
import { ApiError } from './api.js';
import { lang } from './i18n.js';
import { errorOf, gathered } from './webrtc_http.js';

export { errorOf };

/** How long to wait for ICE gathering before sending what is there (ms). */
export const GATHER_MS = 1500;
/** How long an answered offer may take to connect before the playback counts as failed (ms). */
export const CONNECT_MS = 10000;
/** How long the ICE servers may take to arrive before the offer goes without them (ms). */
export const ICE_SERVERS_MS = 2000;


/**
 * The ICE servers named by `Link` headers of a WHIP/WHEP answer (RFC 9725 §4.6):
 * `<turn:h:3478?transport=tcp>; rel="ice-server"; username="u"; credential="c"`, several
 * comma-separated. Returns RTCIceServer objects; other links are ignored.
 */
export function iceServersFromLinks(header) {
  if (!header) return [];
  const out = [];
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = part.match(/^\s*<([^>]+)>(.*)$/);
    if (!m) continue;
    const params = {};
    for (const p of m[2].split(';')) {
      const kv = p.match(/^\s*([\w-]+)\s*=\s*"?([^"]*)"?\s*$/);
      if (kv) params[kv[1].toLowerCase()] = kv[2];
    }
    if (params.rel !== 'ice-server') continue;
    const server = { urls: m[1] };
    if (params.username) server.username = params.username;
    if (params.credential) server.credential = params.credential;
    out.push(server);
  }
  return out;
}

/** Whether WebRTC playback can be tried in this browser. */
export function supported() {
  return typeof window.RTCPeerConnection === 'function';
}

/** The ICE servers for a new connection (GET /api/v1/live/ice-servers), or none. */
async function iceServers() {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ICE_SERVERS_MS);
  try {
    const r = await fetch('/api/v1/live/ice-servers', { signal: ctl.signal });
    if (!r.ok) return [];
    const body = await r.json();
    return Array.isArray(body.ice_servers) ? body.ice_servers : [];
  } catch (e) {
    return [];
  } finally {
    clearTimeout(timer);
  }
}


/**
 * One WebRTC playback of the channel whose WHEP endpoint is `url`, with the playback token
 * `token` (restricted channels) into `video`. States: `stopped`, `connecting`, `playing`,
 * `failed` (then `error` is an ApiError); dispatches `change` whenever the state changes.
 */
export class WhepPlayer extends EventTarget {
  constructor({ url, token, video }) {
    super();
    Object.assign(this, { url, token, video });
    this.state = 'stopped';
    this.error = null;
    this.pc = null;
    this.location = null;
    this.timer = 0;
  }

  set(state, error) {
    this.state = state;
    if (error !== undefined) this.error = error;
    this.dispatchEvent(new Event('change'));
  }

  /** Starts; resolves once the offer is answered, or with the state `failed`. */
  async start() {
    this.set('connecting', null);
    try {
      await this.negotiate();
    } catch (e) {
      this.fail(e instanceof ApiError ? e : new ApiError(400, 'live.webrtc_failed', ''));
    }
  }

  async negotiate() {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers: await iceServers() });
    this.pc = pc;
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const stream = new MediaStream();
    pc.addEventListener('track', (ev) => {
      stream.addTrack(ev.track);
      this.video.srcObject = stream;
      this.video.play().catch(() => {});
    });
    pc.addEventListener('connectionstatechange', () => {
      if (this.pc !== pc) return;
      if (pc.connectionState === 'failed') this.fail(new ApiError(0, 'live.webrtc_lost', ''));
    });
    this.video.addEventListener('playing', () => { if (this.pc === pc) this.set('playing'); });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, GATHER_MS);
    const headers = { 'Content-Type': 'application/sdp', 'Accept-Language': lang() === 'en' ? 'en' : 'zh-CN' };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let r;
    try {
      r = await fetch(this.url, { method: 'POST', headers, body: pc.localDescription.sdp });
    } catch (e) {
      throw new ApiError(0, 'network', '');
    }
    const body = await r.text();
    if (r.status !== 201) throw errorOf(r.status, body);
    this.location = new URL(r.headers.get('location') || '', new URL(this.url, window.location.href)).href;
    this.links = iceServersFromLinks(r.headers.get('link'));
    if (this.pc !== pc) { this.abandon(); return; } // stopped while the offer was on its way
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    this.timer = setTimeout(() => {
      if (this.pc === pc && this.state === 'connecting') this.fail(new ApiError(0, 'live.webrtc_no_connection', ''));
    }, CONNECT_MS);
  }

  fail(err) {
    this.abandon();
    this.set('failed', err);
  }

  /** Ends the playback: DELETE on the session (the server stops sending), then closes. */
  async stop() {
    const loc = this.location;
    this.close();
    if (loc) await fetch(loc, { method: 'DELETE' }).catch(() => {});
    this.set('stopped', null);
  }

  /** For a view that is going away: the DELETE is sent even as the page unloads. */
  abandon() {
    if (this.location) fetch(this.location, { method: 'DELETE', keepalive: true }).catch(() => {});
    this.close();
  }

  close() {
    clearTimeout(this.timer);
    if (this.pc) this.pc.close();
    this.pc = null;
    this.location = null;
    if (this.video) this.video.srcObject = null;
  }

  /** What arrives: {codec, width, height, framesDecoded, candidate}, or null. */
  async stats() {
    const pc = this.pc;
    if (!pc) return null;
    const report = await pc.getStats();
    const out = { codec: null, width: this.video.videoWidth, height: this.video.videoHeight, framesDecoded: 0, candidate: null };
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.framesDecoded = s.framesDecoded || 0;
        const codec = s.codecId && report.get(s.codecId);
        if (codec) out.codec = codec.mimeType.replace(/^video\//i, '');
      }
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
        const local = report.get(s.localCandidateId);
        if (local) out.candidate = local.candidateType;
      }
    });
    return out;
  }
}
