// Publishing a camera or a screen to a channel over WHIP (RFC 9725), the browser side of
// `POST /whip/{stream_name}`: one RTCPeerConnection per attempt, the offer sent whole once
// ICE gathering is done (the server is ICE-lite and takes no trickle), the answer applied,
// and `DELETE` on the session's Location to stop. When the connection is lost the publisher
// posts a new offer at once and then with growing pauses, so that the server continues the
// same live session within its reconnect window. Errors carry the API's code and its message
// in the page's language (the server words them, as for every other call).
//
// The rules without a browser in them (codec order, bitrate, reconnect pauses, reading a
// pasted key) are plain exported functions, checked by the browser tests.
import { ApiError } from './api.js';
import { lang } from './i18n.js';
import { errorOf, gathered } from './webrtc_http.js';

/** The states a publisher goes through. */
export const STATES = ['stopped', 'connecting', 'live', 'reconnecting'];

/** How long to wait for ICE gathering before sending what is there (ms). */
export const GATHER_MS = 1500;
/** How long a posted offer may take to connect before the attempt counts as lost (ms). */
export const CONNECT_MS = 12000;
/** How long a `disconnected` connection may take to come back by itself (ms). */
export const GRACE_MS = 2000;
/** How long the publisher keeps trying after a loss before it gives up (ms). */
export const RECONNECT_FOR_MS = 60000;

/**
 * The video codecs in the order to offer them: H.264 first (the server passes it through as
 * the `source` rendition; packetization-mode 1 and constrained baseline first), then VP8,
 * then VP9 (both laddered), then the repair formats (RTX, RED, FEC); anything else (AV1,
 * HEVC: the server refuses them) is left out. `codecs` is RTCRtpSender.getCapabilities().
 */
export function codecOrder(codecs) {
  const mime = (c) => c.mimeType.toLowerCase();
  const rank = (c) => {
    const fmtp = c.sdpFmtpLine || '';
    return (/packetization-mode=1/.test(fmtp) ? 0 : 2) + (/profile-level-id=42e0/i.test(fmtp) ? 0 : 1);
  };
  const h264 = codecs.filter((c) => mime(c) === 'video/h264').sort((a, b) => rank(a) - rank(b));
  const of = (name) => codecs.filter((c) => mime(c) === `video/${name}`);
  const repair = codecs.filter((c) => /^video\/(rtx|red|ulpfec|flexfec-03)$/.test(mime(c)));
  return [...h264, ...of('vp8'), ...of('vp9'), ...repair];
}

/** The most the video may use (bits per second) for a picture `height` lines high; a shared
 * screen gets more for the same height (text needs it). */
export function maxBitrate(height, screen) {
  const base = height >= 1080 ? 4000000 : height >= 720 ? 2500000 : height >= 480 ? 1200000 : 800000;
  return screen ? Math.round(base * 1.25) : base;
}

/**
 * The pause before reconnect attempt `attempt` (0 = the first, at once), `elapsedMs` after the
 * connection was lost: 0, 1, 2, 4 s, then every 5 s; null once `RECONNECT_FOR_MS` has passed
 * (the publisher gives up). The first attempt is immediate so that it lands within the
 * server's reconnect window and the session goes on.
 */
export function reconnectDelay(attempt, elapsedMs) {
  if (elapsedMs >= RECONNECT_FOR_MS) return null;
  const steps = [0, 1000, 2000, 4000];
  return attempt < steps.length ? steps[attempt] : 5000;
}

/** Whether a failed attempt is worth repeating: the network or the server (busy, 5xx, 429),
 * not a refusal (a wrong, rotated or disabled key, an ended channel, a bad offer). */
export function retryable(err) {
  const s = err && typeof err.status === 'number' ? err.status : 0;
  return s === 0 || s === 429 || s >= 500;
}

/** The stream key in what the organiser pasted: the key itself, or the OBS stream-key field
 * (`<stream name>?key=<key>`), or a full RTMP address ending in it. */
export function keyFrom(text) {
  const s = String(text || '').trim();
  const m = s.match(/[?&]key=([^&\s]+)/);
  if (!m) return s;
  try { return decodeURIComponent(m[1]); } catch (e) { return m[1]; }
}



const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/**
 * One publish of `stream` (a MediaStream with one video track and at most one audio track)
 * to the WHIP endpoint `url` with the stream key `key`. Dispatches `change` whenever its
 * state or error changes. `screen` marks a shared screen (detail over motion), `height` the
 * picture height asked for (it sets the bitrate cap).
 */
export class WhipPublisher extends EventTarget {
  constructor({ url, key, stream, screen = false, height = 720 }) {
    super();
    Object.assign(this, { url, key, stream, screen, height });
    /** One of STATES. */
    this.state = 'stopped';
    /** The last failure (ApiError), or null. */
    this.error = null;
    /** Times the connection was lost and posted again. */
    this.reconnects = 0;
    /** The status of the last DELETE (200 when the server ended the publish). */
    this.deleteStatus = null;
    this.pc = null;
    this.location = null;
    this.stopped = true;
    this.lostAt = null;
    this.attempt = 0;
    this.looping = false;
    this.timers = new Set();
    this.sample = null;
  }

  set(state, error) {
    this.state = state;
    if (error !== undefined) this.error = error;
    this.dispatchEvent(new Event('change'));
  }

  later(fn, ms) {
    const id = setTimeout(() => { this.timers.delete(id); fn(); }, ms);
    this.timers.add(id);
  }

  /** Starts publishing; resolves once the offer is answered (or the attempt failed, then the
   * state is `stopped` with `error` set). */
  async start() {
    this.stopped = false;
    this.reconnects = 0;
    this.deleteStatus = null;
    this.set('connecting', null);
    try {
      await this.connect();
    } catch (e) {
      this.fail(e);
    }
  }

  /** One attempt: a new peer connection, the offer, the POST, the answer. Throws ApiError
   * (status 0 with code `network`: the network; a `golive.` code: the page's own words). */
  async connect() {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    this.pc = pc;
    this.sample = null; // a new connection counts its bytes from zero
    try {
      await this.negotiate(pc);
    } catch (e) {
      pc.close();
      if (this.pc === pc) this.pc = null;
      if (e instanceof ApiError) throw e;
      console.error(e);
      throw new ApiError(400, 'golive.failed', '');
    }
  }

  async negotiate(pc) {
    const video = this.stream.getVideoTracks()[0];
    const audio = this.stream.getAudioTracks()[0];
    if ('contentHint' in video) video.contentHint = this.screen ? 'detail' : 'motion';
    const vt = pc.addTransceiver(video, { direction: 'sendonly', streams: [this.stream] });
    if (audio) pc.addTransceiver(audio, { direction: 'sendonly', streams: [this.stream] });
    if (typeof vt.setCodecPreferences === 'function' && RTCRtpSender.getCapabilities) {
      const order = codecOrder(RTCRtpSender.getCapabilities('video').codecs);
      if (order.length) vt.setCodecPreferences(order);
    }
    pc.addEventListener('connectionstatechange', () => this.watch(pc));
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, GATHER_MS);
    let r;
    try {
      r = await fetch(this.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${this.key}`, 'Accept-Language': lang() === 'en' ? 'en' : 'zh-CN' },
        body: pc.localDescription.sdp,
      });
    } catch (e) {
      throw new ApiError(0, 'network', '');
    }
    const body = await r.text();
    if (r.status !== 201) throw errorOf(r.status, body);
    const loc = new URL(r.headers.get('location') || '', new URL(this.url, window.location.href)).href;
    if (this.pc !== pc || this.stopped) { // stopped while the offer was on its way
      fetch(loc, { method: 'DELETE' }).catch(() => {});
      pc.close();
      return;
    }
    this.location = loc;
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    await this.capBitrate(vt.sender);
    this.later(() => { if (this.pc === pc && pc.connectionState !== 'connected') this.lost(pc); }, CONNECT_MS);
  }

  /** Caps the video bitrate (the browser adapts below it to the congestion feedback). */
  async capBitrate(sender) {
    try {
      const p = sender.getParameters();
      if (!p.encodings || !p.encodings.length) p.encodings = [{}];
      p.encodings[0].maxBitrate = maxBitrate(this.height, this.screen);
      if (this.screen) p.degradationPreference = 'maintain-resolution';
      await sender.setParameters(p);
    } catch (e) { /* the browser keeps its own limit */ }
  }

  /** Follows the connection of `pc`: live once connected; a failure (or a disconnection that
   * lasts) is a loss. */
  watch(pc) {
    if (pc !== this.pc || this.stopped) return;
    const s = pc.connectionState;
    if (s === 'connected') {
      this.lostAt = null;
      this.attempt = 0;
      this.set('live', null);
    } else if (s === 'failed') {
      this.lost(pc);
    } else if (s === 'disconnected') {
      this.later(() => { if (this.pc === pc && pc.connectionState === 'disconnected') this.lost(pc); }, GRACE_MS);
    }
  }

  /** The connection of `pc` is gone: a first connection that never came up is a failure;
   * a live one is posted again. */
  lost(pc) {
    if (pc !== this.pc || this.stopped) return;
    if (this.state === 'connecting') {
      this.fail(new ApiError(0, 'golive.no_connection', ''));
      return;
    }
    if (this.lostAt === null) {
      this.lostAt = Date.now();
      this.attempt = 0;
      this.reconnects += 1;
    }
    this.pc = null;
    pc.close();
    this.reconnect();
  }

  async reconnect() {
    if (this.looping) return;
    this.looping = true;
    this.set('reconnecting');
    while (!this.stopped && !this.pc) {
      const wait = reconnectDelay(this.attempt, Date.now() - this.lostAt);
      if (wait === null) { this.fail(new ApiError(0, 'golive.gave_up', '')); break; }
      this.attempt += 1;
      await sleep(wait);
      if (this.stopped) break;
      try {
        await this.connect();
      } catch (e) {
        if (!retryable(e)) { this.fail(e); break; }
        this.set('reconnecting', e);
      }
    }
    this.looping = false;
  }

  fail(err) {
    this.stopped = true;
    this.clear();
    this.set('stopped', err);
  }

  clear() {
    for (const id of this.timers) clearTimeout(id);
    this.timers.clear();
    if (this.pc) this.pc.close();
    this.pc = null;
    this.location = null;
    this.sample = null;
  }

  /** Stops: DELETE on the session (the server ends the publish), then closes. The tracks
   * belong to the caller. */
  async stop() {
    const loc = this.location;
    this.stopped = true;
    if (loc) {
      try { this.deleteStatus = (await fetch(loc, { method: 'DELETE' })).status; } catch (e) { this.deleteStatus = 0; }
    }
    this.clear();
    this.set('stopped', null);
  }

  /** For a page that is going away: the DELETE is sent even as the page unloads. */
  abandon() {
    if (this.location) fetch(this.location, { method: 'DELETE', keepalive: true }).catch(() => {});
    this.stopped = true;
    this.clear();
  }

  /** What is being sent: {codec, width, height, fps, kbps}, or null before the first packet. */
  async stats() {
    const pc = this.pc;
    if (!pc || this.state !== 'live') return null;
    const report = await pc.getStats();
    let out = null;
    report.forEach((s) => {
      if (s.type !== 'outbound-rtp' || s.kind !== 'video') return;
      const codec = s.codecId && report.get(s.codecId);
      // The bitrate over at least a second, however often (and by how many views) asked.
      const prev = this.sample;
      if (!prev) this.sample = { at: s.timestamp, bytes: s.bytesSent, kbps: null };
      else if (s.timestamp - prev.at >= 1000) {
        this.sample = { at: s.timestamp, bytes: s.bytesSent, kbps: Math.round(((s.bytesSent - prev.bytes) * 8) / (s.timestamp - prev.at)) };
      }
      out = {
        codec: codec ? codec.mimeType.replace(/^video\//i, '') : null,
        width: s.frameWidth || null,
        height: s.frameHeight || null,
        fps: s.framesPerSecond || null,
        kbps: this.sample.kbps,
      };
    });
    return out;
  }
}
