//! A channel's source feed for WHEP viewers. The publisher's events,
//! whichever protocol brought them, are converted once per channel into
//! what WebRTC carries ([`FeedConverter`], pure): H.264 as Annex B access
//! units with the parameter sets before each keyframe, VP8/VP9 frames as
//! they came, Opus packets as they came. An AAC source's audio is
//! converted to Opus by the caller (it takes a codec) and announced with
//! [`FeedConverter::set_aac_converted`]. [`LiveFeed`] fans the frames out
//! through a bounded broadcast channel: a viewer that falls behind loses
//! frames and waits for the next keyframe, it never holds the publisher up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::broadcast;
use yanxiu_packager::h264::{AvcDecoderConfig, length_prefixed_nal_units};

use crate::publish::{LiveEvent, VpxCodec};

/// Frames buffered per channel for its viewers (about four seconds of
/// 30 fps video with its audio).
pub const FEED_CAPACITY: usize = 512;

/// The video codecs a feed carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedVideoCodec {
    /// H.264, Annex B.
    H264,
    /// VP8.
    Vp8,
    /// VP9.
    Vp9,
}

impl FeedVideoCodec {
    /// The name used in status and errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::H264 => "h264",
            Self::Vp8 => "vp8",
            Self::Vp9 => "vp9",
        }
    }
}

/// One frame for the viewers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedFrame {
    /// A video frame (an access unit).
    Video {
        /// Its codec.
        codec: FeedVideoCodec,
        /// Presentation time, ms on the publish's timeline.
        pts_ms: u32,
        /// Decodable on its own (H.264: parameter sets included).
        keyframe: bool,
        /// The frame.
        data: Bytes,
    },
    /// An Opus packet.
    Audio {
        /// Presentation time, ms on the publish's timeline.
        pts_ms: u32,
        /// The packet.
        data: Bytes,
    },
    /// The publish ended (a new one may follow on the same feed).
    Ended,
}

impl FeedFrame {
    /// A keyframe.
    pub fn is_keyframe(&self) -> bool {
        matches!(self, Self::Video { keyframe: true, .. })
    }
}

/// What a feed knows of its source, for answering a viewer before frames flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedMedia {
    /// The video codec, once configured.
    pub video: Option<FeedVideoCodec>,
    /// The feed carries Opus audio: the source's own, or its AAC converted.
    pub opus_audio: bool,
    /// The source has frames shown in another order than decoded
    /// (B-frames), which WebRTC players cannot show smoothly.
    pub reordered: bool,
}

/// Pure conversion of one publish's events into feed frames.
#[derive(Debug, Default)]
pub struct FeedConverter {
    parameter_sets: Option<Bytes>,
    media: FeedMedia,
    /// The source's audio is Opus (forwarded as it came).
    opus_source: bool,
    /// The source's audio is AAC.
    aac_source: bool,
}

impl FeedConverter {
    /// A converter for a new publish.
    pub fn new() -> Self {
        Self::default()
    }

    /// What is known of the source so far.
    pub fn media(&self) -> FeedMedia {
        self.media
    }

    /// Whether the source is AAC (its audio reaches viewers only once the
    /// caller converts it).
    pub fn aac_source(&self) -> bool {
        self.aac_source
    }

    /// Says whether the caller now converts the AAC source's audio to Opus
    /// (and publishes it as [`FeedFrame::Audio`]); ignored for other sources.
    pub fn set_aac_converted(&mut self, converted: bool) {
        if self.aac_source {
            self.media.opus_audio = converted;
        }
    }

    /// The frame `event` gives viewers, if any. Configurations update the
    /// converter; AAC audio gives nothing (WebRTC players take Opus: the
    /// caller converts it).
    pub fn convert(&mut self, event: &LiveEvent) -> Option<FeedFrame> {
        match event {
            LiveEvent::VideoConfig { avcc } => {
                self.parameter_sets = AvcDecoderConfig::from_avcc(avcc).ok().map(|config| {
                    let mut annexb = Vec::new();
                    for set in config.sps().iter().chain(config.pps()) {
                        annexb.extend_from_slice(&START_CODE);
                        annexb.extend_from_slice(set);
                    }
                    Bytes::from(annexb)
                });
                self.media.video = Some(FeedVideoCodec::H264);
                None
            }
            LiveEvent::HevcConfig { .. } => {
                // Browsers take no HEVC over WebRTC: viewers get the HLS ladder.
                self.parameter_sets = None;
                self.media.video = None;
                None
            }
            LiveEvent::VpxConfig { codec, .. } => {
                self.parameter_sets = None;
                self.media.video = Some(match codec {
                    VpxCodec::Vp8 => FeedVideoCodec::Vp8,
                    VpxCodec::Vp9 => FeedVideoCodec::Vp9,
                });
                None
            }
            LiveEvent::AudioConfig { .. } => {
                self.media.opus_audio = false;
                (self.opus_source, self.aac_source) = (false, true);
                None
            }
            LiveEvent::OpusConfig { .. } => {
                self.media.opus_audio = true;
                (self.opus_source, self.aac_source) = (true, false);
                None
            }
            LiveEvent::Video {
                dts_ms,
                cts_ms,
                keyframe,
                data,
            } => {
                let codec = self.media.video?;
                if *cts_ms != 0 {
                    self.media.reordered = true;
                }
                let pts_ms = dts_ms.wrapping_add_signed(*cts_ms);
                let data = match codec {
                    FeedVideoCodec::H264 => self.annexb(data, *keyframe)?,
                    FeedVideoCodec::Vp8 | FeedVideoCodec::Vp9 => data.clone(),
                };
                Some(FeedFrame::Video {
                    codec,
                    pts_ms,
                    keyframe: *keyframe,
                    data,
                })
            }
            LiveEvent::Audio { dts_ms, data } => self.opus_source.then(|| FeedFrame::Audio {
                pts_ms: *dts_ms,
                data: data.clone(),
            }),
            LiveEvent::Ended { .. } => Some(FeedFrame::Ended),
            LiveEvent::Started { .. } | LiveEvent::Metadata(_) => None,
        }
    }

    /// A length-prefixed access unit in Annex B, the parameter sets first
    /// on a keyframe. Access unit delimiters and in-band parameter sets
    /// are left out (the configuration's are the ones in force).
    fn annexb(&self, avcc: &[u8], keyframe: bool) -> Option<Bytes> {
        let mut out = Vec::with_capacity(avcc.len() + 64);
        if keyframe {
            out.extend_from_slice(self.parameter_sets.as_deref()?);
        }
        for nal in length_prefixed_nal_units(avcc) {
            let kind = nal.first().map(|b| b & 0x1f);
            if matches!(kind, Some(7..=9)) || nal.is_empty() {
                continue;
            }
            out.extend_from_slice(&START_CODE);
            out.extend_from_slice(nal);
        }
        Some(Bytes::from(out))
    }
}

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// One channel's feed: the broadcast of its frames and what is known of
/// its source.
#[derive(Debug)]
pub struct LiveFeed {
    frames: broadcast::Sender<FeedFrame>,
    media: Mutex<Option<FeedMedia>>,
}

impl LiveFeed {
    fn new() -> Self {
        let (frames, _) = broadcast::channel(FEED_CAPACITY);
        Self {
            frames,
            media: Mutex::new(None),
        }
    }

    /// Sends `frame` to the viewers (none listening is fine) and records
    /// `media` as the source's; [`FeedFrame::Ended`] forgets it.
    pub fn publish(&self, frame: FeedFrame, media: FeedMedia) {
        let live = (frame != FeedFrame::Ended).then_some(media);
        *self.media.lock().unwrap_or_else(PoisonError::into_inner) = live;
        // An error only says nobody listens.
        let _ = self.frames.send(frame);
    }

    /// Records what is known of the source without a frame (configurations).
    pub fn describe(&self, media: FeedMedia) {
        *self.media.lock().unwrap_or_else(PoisonError::into_inner) = Some(media);
    }

    /// What is known of the source while a publish feeds it.
    pub fn media(&self) -> Option<FeedMedia> {
        *self.media.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new receiver of the frames from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedFrame> {
        self.frames.subscribe()
    }

    /// Receivers listening.
    pub fn receivers(&self) -> usize {
        self.frames.receiver_count()
    }
}

/// Every channel's feed, shared by the publishing side and the viewers.
#[derive(Debug, Default)]
pub struct LiveFeeds {
    feeds: Mutex<HashMap<String, Arc<LiveFeed>>>,
}

impl LiveFeeds {
    /// No feeds yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The feed of `channel_id`, created on first use.
    pub fn feed(&self, channel_id: &str) -> Arc<LiveFeed> {
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        // Feeds of channels nobody publishes or watches any more go.
        feeds.retain(|_, f| Arc::strong_count(f) > 1 || f.media().is_some());
        feeds
            .entry(channel_id.to_owned())
            .or_insert_with(|| Arc::new(LiveFeed::new()))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::EndReason;

    /// SPS written by libx264 for 320x240 High profile, level 1.3.
    const SPS: [u8; 25] = [
        0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
        0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0x99, 0x60,
    ];
    const PPS: [u8; 6] = [0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

    fn avcc() -> Bytes {
        let mut record = vec![1, 0x64, 0x00, 0x0d, 0xff, 0xe1];
        record.extend_from_slice(&(SPS.len() as u16).to_be_bytes());
        record.extend_from_slice(&SPS);
        record.push(1);
        record.extend_from_slice(&(PPS.len() as u16).to_be_bytes());
        record.extend_from_slice(&PPS);
        Bytes::from(record)
    }

    fn length_prefixed(nals: &[&[u8]]) -> Bytes {
        let mut out = Vec::new();
        for nal in nals {
            out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
            out.extend_from_slice(nal);
        }
        Bytes::from(out)
    }

    fn video(dts_ms: u32, cts_ms: i32, keyframe: bool, data: Bytes) -> LiveEvent {
        LiveEvent::Video {
            dts_ms,
            cts_ms,
            keyframe,
            data,
        }
    }

    #[test]
    fn h264_keyframes_become_annexb_with_the_configured_parameter_sets_first() {
        let mut converter = FeedConverter::new();
        assert_eq!(
            converter.convert(&LiveEvent::VideoConfig { avcc: avcc() }),
            None
        );
        let aud: &[u8] = &[0x09, 0xf0];
        let idr: &[u8] = &[0x65, 0x88, 0x84];
        let frame = converter.convert(&video(40, 0, true, length_prefixed(&[aud, idr])));
        let mut expected = vec![0, 0, 0, 1];
        expected.extend_from_slice(&SPS);
        expected.extend_from_slice(&[0, 0, 0, 1]);
        expected.extend_from_slice(&PPS);
        expected.extend_from_slice(&[0, 0, 0, 1]);
        expected.extend_from_slice(idr);
        assert_eq!(
            frame,
            Some(FeedFrame::Video {
                codec: FeedVideoCodec::H264,
                pts_ms: 40,
                keyframe: true,
                data: Bytes::from(expected),
            })
        );
    }

    #[test]
    fn h264_delta_frames_carry_only_their_slices_and_pts_adds_the_composition_offset() {
        let mut converter = FeedConverter::new();
        converter.convert(&LiveEvent::VideoConfig { avcc: avcc() });
        let slice: &[u8] = &[0x41, 0x9a];
        let frame = converter.convert(&video(1000, 80, false, length_prefixed(&[slice])));
        assert_eq!(
            frame,
            Some(FeedFrame::Video {
                codec: FeedVideoCodec::H264,
                pts_ms: 1080,
                keyframe: false,
                data: Bytes::from_static(&[0, 0, 0, 1, 0x41, 0x9a]),
            })
        );
        assert!(
            converter.media().reordered,
            "a composition offset means B-frames"
        );
    }

    #[test]
    fn video_before_its_configuration_and_aac_audio_give_viewers_nothing() {
        let mut converter = FeedConverter::new();
        let slice: &[u8] = &[0x65, 1];
        assert_eq!(
            converter.convert(&video(0, 0, true, length_prefixed(&[slice]))),
            None
        );
        converter.convert(&LiveEvent::AudioConfig {
            asc: Bytes::from_static(&[0x12, 0x10]),
        });
        let aac = LiveEvent::Audio {
            dts_ms: 0,
            data: Bytes::from_static(&[1, 2, 3]),
        };
        assert_eq!(converter.convert(&aac), None);
        assert!(!converter.media().opus_audio);
    }

    #[test]
    fn converted_aac_is_announced_as_opus_and_a_new_opus_source_needs_no_conversion() {
        let mut converter = FeedConverter::new();
        converter.set_aac_converted(true);
        assert!(!converter.media().opus_audio, "no AAC source yet");
        converter.convert(&LiveEvent::AudioConfig {
            asc: Bytes::from_static(&[0x12, 0x10]),
        });
        assert!(converter.aac_source());
        converter.set_aac_converted(true);
        assert!(converter.media().opus_audio);
        let aac = LiveEvent::Audio {
            dts_ms: 0,
            data: Bytes::from_static(&[1, 2, 3]),
        };
        assert_eq!(converter.convert(&aac), None, "the AAC itself never passes");
        converter.convert(&LiveEvent::OpusConfig { channels: 2 });
        assert!(!converter.aac_source());
        converter.set_aac_converted(false);
        assert!(
            converter.media().opus_audio,
            "Opus is forwarded as it comes"
        );
    }

    #[test]
    fn vp8_frames_and_opus_packets_pass_as_they_came() {
        let mut converter = FeedConverter::new();
        converter.convert(&LiveEvent::VpxConfig {
            codec: VpxCodec::Vp8,
            width: 640,
            height: 360,
        });
        converter.convert(&LiveEvent::OpusConfig { channels: 2 });
        let data = Bytes::from_static(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]);
        assert_eq!(
            converter.convert(&video(20, 0, true, data.clone())),
            Some(FeedFrame::Video {
                codec: FeedVideoCodec::Vp8,
                pts_ms: 20,
                keyframe: true,
                data,
            })
        );
        let opus = Bytes::from_static(&[0xfc, 0xff, 0xfe]);
        assert_eq!(
            converter.convert(&LiveEvent::Audio {
                dts_ms: 25,
                data: opus.clone()
            }),
            Some(FeedFrame::Audio {
                pts_ms: 25,
                data: opus
            })
        );
        assert_eq!(
            converter.media(),
            FeedMedia {
                video: Some(FeedVideoCodec::Vp8),
                opus_audio: true,
                reordered: false
            }
        );
    }

    #[test]
    fn a_feed_reaches_every_subscriber_and_forgets_its_source_when_the_publish_ends() {
        let feeds = LiveFeeds::new();
        let feed = feeds.feed("ch1");
        let mut a = feed.subscribe();
        let mut b = feeds.feed("ch1").subscribe();
        let media = FeedMedia {
            video: Some(FeedVideoCodec::Vp8),
            ..FeedMedia::default()
        };
        let frame = FeedFrame::Audio {
            pts_ms: 1,
            data: Bytes::from_static(&[1]),
        };
        feed.publish(frame.clone(), media);
        assert_eq!(feed.media(), Some(media));
        assert_eq!(a.try_recv().ok(), Some(frame.clone()));
        assert_eq!(b.try_recv().ok(), Some(frame));
        let mut converter = FeedConverter::new();
        let ended = converter.convert(&LiveEvent::Ended {
            reason: EndReason::Unpublished,
        });
        assert_eq!(ended, Some(FeedFrame::Ended));
        feed.publish(FeedFrame::Ended, media);
        assert_eq!(feed.media(), None);
        assert_eq!(a.try_recv().ok(), Some(FeedFrame::Ended));
    }

    #[test]
    fn a_slow_viewer_loses_old_frames_instead_of_holding_the_feed() {
        let feed = LiveFeeds::new().feed("ch");
        let mut slow = feed.subscribe();
        for pts_ms in 0..(FEED_CAPACITY as u32 + 10) {
            feed.publish(
                FeedFrame::Audio {
                    pts_ms,
                    data: Bytes::new(),
                },
                FeedMedia::default(),
            );
        }
        assert!(matches!(
            slow.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(10))
        ));
    }
}
