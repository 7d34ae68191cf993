//! What an ingest server reports: per accepted publish a [`LiveSession`]
//! whose bounded channel carries [`LiveEvent`]s, and (RTMP) per refused
//! publish a [`PublishRefused`]; the RTMP server sends both as
//! [`RtmpNotice`]s.

use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::gate::PublishRefusal;
use crate::rtmp::metadata::StreamMetadata;

/// One event of an accepted publish, in the order the publisher sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// The publish was accepted; always the first event.
    Started {
        /// Channel from the gate's ticket.
        channel_id: String,
        /// Unique id of this publish.
        session_id: Uuid,
        /// Publisher address.
        peer: SocketAddr,
    },
    /// H.264 sequence header (`AVCDecoderConfigurationRecord`).
    VideoConfig {
        /// The avcC record.
        avcc: Bytes,
    },
    /// One H.264 picture (HEVC after a [`LiveEvent::HevcConfig`]).
    Video {
        /// Decode timestamp, milliseconds, as sent (RTMP time, may wrap).
        dts_ms: u32,
        /// Composition offset: pts = dts + cts.
        cts_ms: i32,
        /// Whether this is a key frame.
        keyframe: bool,
        /// Length-prefixed NAL units.
        data: Bytes,
    },
    /// HEVC sequence start (Enhanced RTMP): the `HEVCDecoderConfigurationRecord`.
    /// Following [`LiveEvent::Video`]s carry length-prefixed HEVC NAL units.
    HevcConfig {
        /// The hvcC record.
        hvcc: Bytes,
    },
    /// A VP8 or VP9 source (WebRTC) of `width`x`height`: sent before the
    /// first frame and again whenever the codec or the size changes. Each
    /// following [`LiveEvent::Video`] carries one compressed frame
    /// (`cts_ms` 0).
    VpxConfig {
        /// VP8 or VP9.
        codec: VpxCodec,
        /// Frame width from the keyframe header.
        width: u32,
        /// Frame height from the keyframe header.
        height: u32,
    },
    /// AAC `AudioSpecificConfig`.
    AudioConfig {
        /// The config bytes.
        asc: Bytes,
    },
    /// Opus audio at 48 kHz (WebRTC); each following [`LiveEvent::Audio`]
    /// carries one Opus packet.
    OpusConfig {
        /// Channel count (1 or 2).
        channels: u16,
    },
    /// One raw AAC frame, or one Opus packet after [`LiveEvent::OpusConfig`].
    Audio {
        /// Timestamp, milliseconds, as sent.
        dts_ms: u32,
        /// Raw AAC access unit or Opus packet.
        data: Bytes,
    },
    /// The publisher's `onMetaData`.
    Metadata(StreamMetadata),
    /// The publish is over; always the last event.
    Ended {
        /// Why it ended.
        reason: EndReason,
    },
}

/// A video codec that is decoded and laddered, never passed through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VpxCodec {
    /// VP8 (RFC 6386).
    Vp8,
    /// VP9.
    Vp9,
}

/// Why a publish ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The publisher unpublished (deleteStream / FCUnpublish).
    Unpublished,
    /// The publisher closed the connection.
    ClientClosed,
    /// A new publish on the same channel took over (encoder reconnect).
    Replaced,
    /// No bytes from the publisher for longer than the idle timeout.
    Idle,
    /// The client did not take our responses within the idle timeout.
    Stalled,
    /// A message larger than the configured maximum.
    Oversized {
        /// Size of the offending message.
        bytes: usize,
    },
    /// A codec the ingest does not take.
    UnsupportedMedia(String),
    /// The client broke the protocol (malformed chunk, tag, or command order).
    Protocol(String),
    /// The consumer dropped the session's event receiver.
    ConsumerGone,
    /// The server is shutting down.
    ServerShutdown,
    /// The WebRTC transport failed or timed out (ICE, DTLS).
    Transport(String),
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unpublished => f.write_str("publisher unpublished"),
            Self::ClientClosed => f.write_str("publisher closed the connection"),
            Self::Replaced => f.write_str("replaced by a new publish on the same channel"),
            Self::Idle => f.write_str("no data within the idle timeout"),
            Self::Stalled => f.write_str("client stopped reading within the idle timeout"),
            Self::Oversized { bytes } => write!(f, "message of {bytes} bytes exceeds the limit"),
            Self::UnsupportedMedia(what) => write!(f, "unsupported media: {what}"),
            Self::Protocol(what) => write!(f, "protocol error: {what}"),
            Self::ConsumerGone => f.write_str("nobody consumes the session any more"),
            Self::ServerShutdown => f.write_str("server shutting down"),
            Self::Transport(what) => write!(f, "WebRTC transport: {what}"),
        }
    }
}

/// An accepted publish: who, and the receiving end of its events.
#[derive(Debug)]
pub struct LiveSession {
    /// Channel from the gate's ticket.
    pub channel_id: String,
    /// Unique id of this publish (also in [`LiveEvent::Started`]).
    pub session_id: Uuid,
    /// Publisher address.
    pub peer: SocketAddr,
    /// Events, `Started` first and `Ended` last. Bounded: a consumer that
    /// falls behind slows an RTMP publisher down (TCP backpressure) and
    /// makes a WHIP publisher drop frames up to the next keyframe, which it
    /// asks for; dropping the receiver ends the publish with
    /// [`EndReason::ConsumerGone`].
    pub events: mpsc::Receiver<LiveEvent>,
}

/// A refused publish, for the channel's event history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRefused {
    /// Application part of the URL.
    pub app: String,
    /// [`key_fingerprint`](super::gate::key_fingerprint) of the key; never the key.
    pub key_fingerprint: String,
    /// Client address.
    pub peer: SocketAddr,
    /// The gate's (or the server's) reason.
    pub refusal: PublishRefusal,
}

/// What the server tells its owner.
#[derive(Debug)]
pub enum RtmpNotice {
    /// A publish was accepted; consume its events.
    Published(LiveSession),
    /// A publish was refused and its connection closed.
    Refused(PublishRefused),
}
