//! One WHIP publisher, sans-IO: the WebRTC peer (str0m's `Rtc`: ICE-lite,
//! DTLS, SRTP, RTCP with NACK, sender reports and transport-wide
//! congestion feedback, depacketizing into frames) plus the conversion of
//! its frames into live events. No sockets and no clock: datagrams and
//! time come in as arguments, datagrams to send and events go out through
//! [`WhipPeer::take_transmits`] and [`WhipPeer::take_events`]. Tests drive
//! a publisher and a str0m client in memory.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use bytes::Bytes;
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{KeyframeRequestKind, MediaData, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Rtc, RtcConfig};

use super::clock::{MediaClock, Track};
use super::error::WhipError;
use super::guarded::{self, Polled};
use super::offer::has_opus_audio;
use super::video::{FrameOutcome, VideoAssembler, WebRtcVideoCodec};
use crate::publish::{EndReason, LiveEvent, VpxCodec};

/// Keyframe requests (PLI) are sent at most this often.
const KEYFRAME_REQUEST_EVERY: Duration = Duration::from_millis(500);

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The local address to send from.
    pub source: SocketAddr,
    /// Where to.
    pub destination: SocketAddr,
    /// The bytes.
    pub contents: Vec<u8>,
}

/// Where a publisher is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerState {
    /// Answered; ICE and DTLS not up yet.
    Connecting,
    /// Media can flow.
    Connected,
    /// Over, and why.
    Closed(EndReason),
}

/// Running figures of a publisher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerCounters {
    /// Video frames passed on.
    pub video_frames: u64,
    /// Audio packets passed on.
    pub audio_packets: u64,
    /// Frames held back (before a keyframe, after a loss) or unusable.
    pub dropped_frames: u64,
    /// Keyframe requests (PLI) sent.
    pub keyframe_requests: u64,
}

/// Timeouts and pacing of one publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerTimeouts {
    /// From the answer until ICE and DTLS are up.
    pub connect: Duration,
    /// Connected, without media.
    pub idle: Duration,
    /// Browsers send keyframes only when asked; a passed-through source
    /// (H.264) needs one per segment, so one is asked for when this long
    /// has passed since the last.
    pub keyframe_every: Option<Duration>,
}

/// One WHIP publisher.
#[derive(Debug)]
pub struct WhipPeer {
    rtc: Rtc,
    state: PeerState,
    now: Instant,
    connect_deadline: Instant,
    timeouts: PeerTimeouts,
    last_media: Instant,
    rtc_timeout: Instant,
    video_mid: Option<Mid>,
    /// The offer has an audio section (announced as Opus on connect).
    has_audio: bool,
    video: Option<VideoAssembler>,
    opus_config_sent: bool,
    clock: MediaClock,
    events: Vec<LiveEvent>,
    transmits: VecDeque<Transmit>,
    keyframe_wanted: bool,
    last_keyframe_request: Option<Instant>,
    /// When the last keyframe was passed on.
    last_keyframe: Option<Instant>,
    counters: PeerCounters,
}

impl WhipPeer {
    /// Answers `offer` as an ICE-lite peer reachable at `candidates` (UDP
    /// host candidates), taking H.264, VP8, VP9 and Opus.
    pub fn answer(
        offer: &str,
        candidates: &[SocketAddr],
        timeouts: PeerTimeouts,
        now: Instant,
    ) -> Result<(Self, String), WhipError> {
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| WhipError::Negotiation(e.to_string()))?;
        let mut rtc = RtcConfig::new()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_h264(true)
            .enable_vp8(true)
            .enable_vp9(true)
            .enable_opus(true, false)
            .build(now);
        for addr in candidates {
            let candidate =
                Candidate::host(*addr, "udp").map_err(|e| WhipError::Negotiation(e.to_string()))?;
            rtc.add_local_candidate(candidate);
        }
        let answer = catch_unwind(AssertUnwindSafe(|| rtc.sdp_api().accept_offer(offer)))
            .map_err(|_| WhipError::Negotiation("the WebRTC stack failed on the offer".into()))?
            .map_err(|e| WhipError::Negotiation(e.to_string()))?;
        let answer = answer.to_sdp_string();
        let mut peer = Self {
            rtc,
            state: PeerState::Connecting,
            now,
            connect_deadline: now + timeouts.connect,
            timeouts,
            last_media: now,
            rtc_timeout: now,
            video_mid: None,
            // From our answer: the stack's media events may come after the
            // connection, too late for the pipeline to plan the audio.
            has_audio: has_opus_audio(&answer),
            video: None,
            opus_config_sent: false,
            clock: MediaClock::new(),
            events: Vec::new(),
            transmits: VecDeque::new(),
            keyframe_wanted: false,
            last_keyframe_request: None,
            last_keyframe: None,
            counters: PeerCounters::default(),
        };
        peer.drain();
        Ok((peer, answer))
    }

    /// Where the publisher is.
    pub fn state(&self) -> &PeerState {
        &self.state
    }

    /// Running figures.
    pub fn counters(&self) -> PeerCounters {
        self.counters
    }

    /// When [`Self::tick`] is due next.
    pub fn next_timeout(&self) -> Instant {
        let own = match self.state {
            PeerState::Connecting => self.connect_deadline,
            PeerState::Connected => self.last_media + self.timeouts.idle,
            PeerState::Closed(_) => return self.now,
        };
        let keyframe = self.next_paced_keyframe().unwrap_or(own);
        own.min(self.rtc_timeout).min(keyframe)
    }

    /// When the next keyframe is to be asked for, for a passed-through
    /// source (H.264).
    fn next_paced_keyframe(&self) -> Option<Instant> {
        let every = self.timeouts.keyframe_every?;
        let passthrough = self.video.as_ref()?.codec() == WebRtcVideoCodec::H264;
        let last = self.last_keyframe?;
        passthrough.then(|| {
            let after_request = self
                .last_keyframe_request
                .map_or(last, |at| at.max(last) + KEYFRAME_REQUEST_EVERY);
            (last + every).max(after_request)
        })
    }

    /// Offers a datagram that arrived at `destination` from `source`;
    /// `false` if it is not this publisher's (then nothing changed).
    pub fn try_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) -> bool {
        if matches!(self.state, PeerState::Closed(_)) {
            return false;
        }
        let Ok(receive) = Receive::new(Protocol::Udp, source, destination, contents) else {
            return false;
        };
        let input = Input::Receive(now, receive);
        if !self.rtc.accepts(&input) {
            return false;
        }
        self.now = now;
        self.handle(input);
        true
    }

    /// Lets time pass: retransmissions, reports, feedback, and this
    /// publisher's own timeouts.
    pub fn tick(&mut self, now: Instant) {
        if matches!(self.state, PeerState::Closed(_)) {
            return;
        }
        self.now = now;
        match self.state {
            PeerState::Connecting if now >= self.connect_deadline => {
                let seconds = self.timeouts.connect.as_secs();
                self.close(EndReason::Transport(format!(
                    "ICE/DTLS did not connect within {seconds} s"
                )));
                return;
            }
            PeerState::Connected if now >= self.last_media + self.timeouts.idle => {
                self.close(EndReason::Idle);
                return;
            }
            _ => {}
        }
        if self.next_paced_keyframe().is_some_and(|at| now >= at) {
            self.keyframe_wanted = true;
            self.send_keyframe_request();
            self.drain();
        }
        if now >= self.rtc_timeout {
            self.handle(Input::Timeout(now));
        }
    }

    /// Asks the publisher for a keyframe (when frames had to be dropped).
    pub fn request_keyframe(&mut self) {
        self.keyframe_wanted = true;
        self.send_keyframe_request();
        self.drain();
    }

    /// Ends the publish for `reason` (the peer is told nothing more is
    /// wanted; a browser sees the connection close).
    pub fn close(&mut self, reason: EndReason) {
        if matches!(self.state, PeerState::Closed(_)) {
            return;
        }
        self.state = PeerState::Closed(reason);
        guarded::disconnect(&mut self.rtc, "publisher");
    }

    /// The datagrams to send, oldest first.
    pub fn take_transmits(&mut self) -> impl Iterator<Item = Transmit> + '_ {
        self.transmits.drain(..)
    }

    /// The events produced, oldest first.
    pub fn take_events(&mut self) -> Vec<LiveEvent> {
        std::mem::take(&mut self.events)
    }

    fn handle(&mut self, input: Input<'_>) {
        if let Err(reason) = guarded::handle(&mut self.rtc, input) {
            self.close(reason);
            return;
        }
        self.drain();
    }

    /// Polls the stack until it only has a timeout left.
    fn drain(&mut self) {
        while !matches!(self.state, PeerState::Closed(_)) {
            match guarded::poll(&mut self.rtc) {
                Polled::Timeout(at) => {
                    self.rtc_timeout = at;
                    return;
                }
                Polled::Transmit(t) => self.transmits.push_back(t),
                Polled::Event(event) => self.on_event(*event),
                Polled::Failed(reason) => self.close(reason),
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected if self.state == PeerState::Connecting => {
                self.state = PeerState::Connected;
                self.last_media = self.now;
                // The pipeline plans its audio rendition with the first
                // picture: announce the audio before any video.
                if self.has_audio {
                    self.announce_opus(2);
                }
                self.keyframe_wanted = true;
                self.send_keyframe_request();
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.close(EndReason::Transport("ICE disconnected".into()));
            }
            Event::MediaAdded(added) => match added.kind {
                MediaKind::Video => {
                    self.video_mid.get_or_insert(added.mid);
                }
                MediaKind::Audio => self.has_audio = true,
            },
            Event::MediaData(data) => self.media(data),
            _ => {}
        }
    }

    fn media(&mut self, data: MediaData) {
        self.last_media = self.now;
        let spec = data.params.spec();
        let video_codec = match spec.codec {
            Codec::H264 => WebRtcVideoCodec::H264,
            Codec::Vp8 => WebRtcVideoCodec::Vpx(VpxCodec::Vp8),
            Codec::Vp9 => WebRtcVideoCodec::Vpx(VpxCodec::Vp9),
            Codec::Opus => {
                self.audio(&data, spec.channels.unwrap_or(2));
                return;
            }
            _ => return,
        };
        self.video_mid.get_or_insert(data.mid);
        if self.video.as_ref().map(VideoAssembler::codec) != Some(video_codec) {
            self.video = Some(VideoAssembler::new(video_codec));
        }
        if let Some(info) = &data.last_sender_info {
            self.clock
                .sender_report(Track::Video, info.ntp_time, info.rtp_time.numer());
        }
        let ts = self.clock.time_ms(
            Track::Video,
            data.time.numer(),
            data.time.denom(),
            data.network_time,
        );
        let Some(video) = self.video.as_mut() else {
            return;
        };
        if !data.contiguous {
            video.lost();
        }
        match video.frame(&data.data, ts, &mut self.events) {
            FrameOutcome::Emitted { keyframe } => {
                self.counters.video_frames += 1;
                if keyframe {
                    self.keyframe_wanted = false;
                    self.last_keyframe = Some(self.now);
                }
            }
            FrameOutcome::AwaitingKeyframe | FrameOutcome::Unusable => {
                self.counters.dropped_frames += 1;
                self.keyframe_wanted = true;
                self.send_keyframe_request();
            }
        }
    }

    /// Tells the pipeline the audio is Opus (once per publish). WebRTC
    /// negotiates Opus as two channels; a mono stream decodes to both.
    fn announce_opus(&mut self, channels: u8) {
        if !self.opus_config_sent {
            self.opus_config_sent = true;
            self.events.push(LiveEvent::OpusConfig {
                channels: u16::from(channels.clamp(1, 2)),
            });
        }
    }

    fn audio(&mut self, data: &MediaData, channels: u8) {
        self.announce_opus(channels);
        if let Some(info) = &data.last_sender_info {
            self.clock
                .sender_report(Track::Audio, info.ntp_time, info.rtp_time.numer());
        }
        let ts = self.clock.time_ms(
            Track::Audio,
            data.time.numer(),
            data.time.denom(),
            data.network_time,
        );
        self.counters.audio_packets += 1;
        self.events.push(LiveEvent::Audio {
            dts_ms: ts,
            data: Bytes::copy_from_slice(&data.data),
        });
    }

    /// Sends a PLI if one is wanted and the last is old enough.
    fn send_keyframe_request(&mut self) {
        let due = self
            .last_keyframe_request
            .is_none_or(|at| self.now.saturating_duration_since(at) >= KEYFRAME_REQUEST_EVERY);
        let (true, true, Some(mid)) = (self.keyframe_wanted, due, self.video_mid) else {
            return;
        };
        let Some(mut writer) = self.rtc.writer(mid) else {
            return;
        };
        // Attempts are paced too, so a request that cannot go out yet is
        // not retried in a busy loop.
        self.last_keyframe_request = Some(self.now);
        match writer.request_keyframe(None, KeyframeRequestKind::Pli) {
            Ok(()) => self.counters.keyframe_requests += 1,
            // No receiving stream yet (no RTP seen): asked again when due.
            Err(e) => tracing::debug!(error = %e, "keyframe request not sent yet"),
        }
    }
}

#[cfg(test)]
#[path = "peer_tests.rs"]
mod tests;
