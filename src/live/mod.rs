//! Live streaming in `yanxiu serve`: the wiring of the RTMP and WHIP
//! ingest and WHEP playback (`yanxiu_ingest::rtmp`, `yanxiu_ingest::whip`), the live
//! transcoder (`yanxiu_transcode::live`) and the live origin (`yanxiu_packager::live`) with the control plane as
//! the publish gate, owner of channel events and recordings.
//!
//! - [`settings`]: the `[live]` configuration.
//! - [`lifecycle`]: pure reconnect-window state machine of a channel.
//! - `service`: RTMP and WHIP servers, routing of publishes, running sessions.
//! - `runner`: one channel's session: media in, events, status, the end.
//! - `pipeline`: transcoder → packagers → origin, segments → persister.
//! - `persist`: segments and growing playlists to storage, with retries.
//! - `recording`: VOD playlists + master, then a draft resource.
//! - `recovery`: open-session markers; finishing sessions a stopped
//!   process left open.
//! - `http`: `/live/{channel_id}/…` playback with LL-HLS blocking reloads.
//! - `srt`: the SRT listener's settings and start (MPEG-TS over SRT).
//! - `whip_http`: `/whip/{stream_name}` WebRTC publishing (RFC 9725).
//! - `whep_http`: `/whep/{channel_id}` WebRTC playback of the source.
//! - `webrtc_http`: what the two share (CORS, content types, the answer).
//! - `ice_http`: STUN/TURN servers for WebRTC clients.
//! - `status`: channel status figures and per-channel metrics.

mod gate;
pub mod http;
mod ice_http;
pub mod lifecycle;
mod master;
mod persist;
mod pipeline;
mod proxy;
mod recording;
mod recovery;
mod runner;
mod service;
pub mod settings;
mod srt;
pub mod status;
mod webrtc_http;
mod whep_http;
mod whip_http;

pub use service::{LiveService, RtmpAddrs};
pub use settings::{LiveSection, LiveSettings};
pub use status::LiveBoard;
