//! One WHEP viewer, sans-IO: a send-only WebRTC peer (str0m's `Rtc`,
//! ICE-lite) that packetizes the channel's feed frames towards a player.
//! No sockets and no clock: datagrams, frames and time come in as
//! arguments; datagrams to send come out through
//! [`WhepViewer::take_transmits`]. A viewer starts, and starts again after
//! it lost frames, at a keyframe; a player's keyframe request (PLI/FIR) is
//! passed up through [`WhepViewer::take_keyframe_request`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Rtc, RtcConfig};

use super::error::WhepError;
use super::feed::{FeedFrame, FeedMedia, FeedVideoCodec};
use crate::publish::EndReason;
use crate::whip::guarded::{self, Polled};
use crate::whip::peer::{PeerState, Transmit};

/// Running figures of a viewer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViewerCounters {
    /// Video frames sent.
    pub video_frames: u64,
    /// Audio packets sent.
    pub audio_packets: u64,
    /// Frames skipped (waiting for a keyframe, or not connected yet).
    pub skipped_frames: u64,
    /// Keyframe requests received from the player.
    pub keyframe_requests: u64,
}

/// One WHEP viewer.
#[derive(Debug)]
pub struct WhepViewer {
    rtc: Rtc,
    state: PeerState,
    now: Instant,
    connect_deadline: Instant,
    rtc_timeout: Instant,
    video_mid: Option<Mid>,
    audio_mid: Option<Mid>,
    /// Frames flow from a keyframe on.
    synced: bool,
    keyframe_requested: bool,
    transmits: VecDeque<Transmit>,
    counters: ViewerCounters,
}

impl WhepViewer {
    /// Answers a player's `offer` as an ICE-lite peer reachable at
    /// `candidates`, sending the source's video codec and Opus. The offer
    /// must be able to receive the source's video.
    pub fn answer(
        offer: &str,
        candidates: &[SocketAddr],
        media: FeedMedia,
        connect_timeout: Duration,
        now: Instant,
    ) -> Result<(Self, String), WhepError> {
        let codec = media.video.ok_or(WhepError::NotLive)?;
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| WhepError::Negotiation(e.to_string()))?;
        let config = RtcConfig::new()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false);
        let config = match codec {
            FeedVideoCodec::H264 => config.enable_h264(true),
            FeedVideoCodec::Vp8 => config.enable_vp8(true),
            FeedVideoCodec::Vp9 => config.enable_vp9(true),
        };
        let mut rtc = config.build(now);
        for addr in candidates {
            let candidate =
                Candidate::host(*addr, "udp").map_err(|e| WhepError::Negotiation(e.to_string()))?;
            rtc.add_local_candidate(candidate);
        }
        let answer = catch_unwind(AssertUnwindSafe(|| rtc.sdp_api().accept_offer(offer)))
            .map_err(|_| WhepError::Negotiation("the WebRTC stack failed on the offer".into()))?
            .map_err(|e| WhepError::Negotiation(e.to_string()))?;
        // The stack announces the media only once connected; the answer
        // names them now.
        let mids: Vec<Mid> = answer
            .media_lines
            .iter()
            .filter(|line| !line.disabled)
            .map(|line| line.mid())
            .collect();
        let mut viewer = Self {
            rtc,
            state: PeerState::Connecting,
            now,
            connect_deadline: now + connect_timeout,
            rtc_timeout: now,
            video_mid: None,
            audio_mid: None,
            synced: false,
            keyframe_requested: false,
            transmits: VecDeque::new(),
            counters: ViewerCounters::default(),
        };
        for mid in mids {
            match viewer.rtc.media(mid).map(|m| m.kind()) {
                Some(MediaKind::Video) => viewer.video_mid = viewer.video_mid.or(Some(mid)),
                Some(MediaKind::Audio) => viewer.audio_mid = viewer.audio_mid.or(Some(mid)),
                None => {}
            }
        }
        viewer.drain();
        if viewer.video_pt(codec).is_none() {
            return Err(WhepError::ViewerCodec {
                codec: codec.name(),
            });
        }
        Ok((viewer, answer.to_sdp_string()))
    }

    /// Where the viewer is.
    pub fn state(&self) -> &PeerState {
        &self.state
    }

    /// Running figures.
    pub fn counters(&self) -> ViewerCounters {
        self.counters
    }

    /// When [`Self::tick`] is due next.
    pub fn next_timeout(&self) -> Instant {
        match self.state {
            PeerState::Connecting => self.connect_deadline.min(self.rtc_timeout),
            PeerState::Connected => self.rtc_timeout,
            PeerState::Closed(_) => self.now,
        }
    }

    /// Offers a datagram that arrived at `destination` from `source`;
    /// `false` if it is not this viewer's.
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

    /// Lets time pass: retransmissions, reports, the connect timeout.
    pub fn tick(&mut self, now: Instant) {
        if matches!(self.state, PeerState::Closed(_)) {
            return;
        }
        self.now = now;
        if self.state == PeerState::Connecting && now >= self.connect_deadline {
            self.close(EndReason::Transport("the viewer did not connect".into()));
            return;
        }
        if now >= self.rtc_timeout {
            self.handle(Input::Timeout(now));
        }
    }

    /// Sends `frame` (at `now`). Video waits for a keyframe; the end of
    /// a publish makes the next frame wait for one too.
    pub fn send(&mut self, frame: &FeedFrame, now: Instant) {
        if self.state != PeerState::Connected {
            return;
        }
        self.now = now;
        match frame {
            FeedFrame::Video {
                codec,
                pts_ms,
                keyframe,
                data,
            } => {
                if !self.synced && !keyframe {
                    self.counters.skipped_frames += 1;
                    self.keyframe_requested = true;
                    return;
                }
                let (Some(mid), Some(pt)) = (self.video_mid, self.video_pt(*codec)) else {
                    self.counters.skipped_frames += 1;
                    return;
                };
                self.synced = true;
                if self.write(mid, pt, *pts_ms, data) {
                    self.counters.video_frames += 1;
                }
            }
            FeedFrame::Audio { pts_ms, data } => {
                let (Some(mid), Some(pt)) = (self.audio_mid, self.opus_pt()) else {
                    return;
                };
                if self.write(mid, pt, *pts_ms, data) {
                    self.counters.audio_packets += 1;
                }
            }
            FeedFrame::Ended => self.synced = false,
        }
        self.drain();
    }

    /// Frames were lost on the way to this viewer: wait for a keyframe.
    pub fn lost(&mut self) {
        self.synced = false;
        self.keyframe_requested = true;
    }

    /// Whether a keyframe is wanted (the player asked, or the viewer lost
    /// sync) since the last call.
    pub fn take_keyframe_request(&mut self) -> bool {
        std::mem::take(&mut self.keyframe_requested)
    }

    /// Ends the viewer for `reason`.
    pub fn close(&mut self, reason: EndReason) {
        if matches!(self.state, PeerState::Closed(_)) {
            return;
        }
        self.state = PeerState::Closed(reason);
        guarded::disconnect(&mut self.rtc, "viewer");
    }

    /// The datagrams to send, oldest first.
    pub fn take_transmits(&mut self) -> impl Iterator<Item = Transmit> + '_ {
        self.transmits.drain(..)
    }

    fn video_pt(&mut self, codec: FeedVideoCodec) -> Option<Pt> {
        let wanted = match codec {
            FeedVideoCodec::H264 => Codec::H264,
            FeedVideoCodec::Vp8 => Codec::Vp8,
            FeedVideoCodec::Vp9 => Codec::Vp9,
        };
        let writer = self.rtc.writer(self.video_mid?)?;
        let mut matching = writer
            .payload_params()
            .filter(|p| p.spec().codec == wanted)
            .collect::<Vec<_>>();
        // H.264 as access units split into fragments needs mode 1.
        matching.sort_by_key(|p| p.spec().format.packetization_mode != Some(1));
        matching.first().map(|p| p.pt())
    }

    fn opus_pt(&mut self) -> Option<Pt> {
        let writer = self.rtc.writer(self.audio_mid?)?;
        writer
            .payload_params()
            .find(|p| p.spec().codec == Codec::Opus)
            .map(|p| p.pt())
    }

    fn write(&mut self, mid: Mid, pt: Pt, pts_ms: u32, data: &[u8]) -> bool {
        let now = self.now;
        let rtc = &mut self.rtc;
        let written = catch_unwind(AssertUnwindSafe(|| {
            let writer = rtc.writer(mid)?;
            writer
                .write(pt, now, MediaTime::from_millis(u64::from(pts_ms)), data)
                .ok()
        }));
        match written {
            Ok(result) => result.is_some(),
            Err(_) => {
                self.close(EndReason::Protocol("the WebRTC stack failed".into()));
                false
            }
        }
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
                self.synced = false;
                self.keyframe_requested = true;
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.close(EndReason::Transport("ICE disconnected".into()));
            }
            Event::MediaAdded(added) => match added.kind {
                MediaKind::Video => {
                    self.video_mid.get_or_insert(added.mid);
                }
                MediaKind::Audio => {
                    self.audio_mid.get_or_insert(added.mid);
                }
            },
            Event::KeyframeRequest(_) => {
                self.counters.keyframe_requests += 1;
                self.keyframe_requested = true;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "viewer_tests.rs"]
mod tests;
