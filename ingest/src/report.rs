//! The facts the prober reports about one media file: container, duration,
//! bit rate and every stream with its picture or sound parameters.
//!
//! These types are plain data (serde in both directions) so that the
//! validator, the transcoder and the API can share them without touching
//! libav.

use serde::{Deserialize, Serialize};
pub use yanxiu_transcode::picture::{FieldOrder, HdrKind, Scan};

/// Everything the prober learned about one media file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaReport {
    /// The file's name (last path component), as uploaded.
    pub file_name: String,
    /// Size of the file in bytes.
    pub size_bytes: u64,
    /// libav short name of the demuxer that read the file, e.g.
    /// `"mov,mp4,m4a,3gp,3g2,mj2"` or `"matroska,webm"`.
    pub container: String,
    /// The container normalised to a family the policy names:
    /// `"mp4"` (MP4/MOV/M4A/3GP), `"webm"`, `"matroska"`, `"mpegts"`, `"flv"`,
    /// `"avi"`, or `"other:<demuxer name>"`. See [`crate::classify::container_family`].
    pub container_family: String,
    /// Duration of the whole file in seconds, when the container states or
    /// libav could estimate it.
    pub duration_seconds: Option<f64>,
    /// Overall bit rate in bits per second, when known.
    pub bit_rate: Option<u64>,
    /// Every stream in container order.
    pub streams: Vec<StreamReport>,
}

/// One stream of a media file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamReport {
    /// The stream's index in the container (what a demuxer or decoder selects).
    pub index: usize,
    /// What the stream carries.
    pub kind: StreamKind,
    /// libav short codec name, e.g. `"h264"`, `"aac"`.
    pub codec: String,
    /// libav long codec name, e.g. `"H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10"`.
    pub codec_long: Option<String>,
    /// Codec profile name, e.g. `"High"` or `"LC"`.
    pub profile: Option<String>,
    /// Codec level as libav reports it (H.264 4.0 is `40`).
    pub level: Option<i32>,
    /// Stream bit rate in bits per second, when known.
    pub bit_rate: Option<u64>,
    /// Stream duration in seconds, when known.
    pub duration_seconds: Option<f64>,
    /// Picture parameters, for [`StreamKind::Video`] streams.
    pub video: Option<VideoInfo>,
    /// Sound parameters, for [`StreamKind::Audio`] streams.
    pub audio: Option<AudioInfo>,
}

/// What a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// Moving pictures.
    Video,
    /// Sound.
    Audio,
    /// Subtitles or captions.
    Subtitle,
    /// Timed data (e.g. timecode, KLV).
    Data,
    /// An attached file or picture: Matroska attachments (fonts) and cover art
    /// (a still picture libav exposes as a video stream with the
    /// `attached_pic` disposition). Never a primary video stream.
    Attachment,
    /// Anything libav cannot classify.
    Unknown,
}

/// Picture parameters of a video stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    /// Coded picture width in pixels (before SAR and rotation).
    pub width: u32,
    /// Coded picture height in pixels (before SAR and rotation).
    pub height: u32,
    /// libav pixel format name, e.g. `"yuv420p"`.
    pub pixel_format: Option<String>,
    /// Clockwise degrees to rotate the decoded picture for display: 0, 90, 180 or 270.
    pub rotation: u16,
    /// Sample (pixel) aspect ratio; 1:1 when unknown.
    pub sample_aspect_ratio: (u32, u32),
    /// Width of the picture as displayed: after SAR and rotation, rounded to even.
    pub display_width: u32,
    /// Height of the picture as displayed: after SAR and rotation, rounded to even.
    pub display_height: u32,
    /// Average frame rate (frames / duration), when known.
    pub avg_frame_rate: Option<f64>,
    /// libav's "real" base frame rate (the lowest rate all timestamps fit), when known.
    pub real_frame_rate: Option<f64>,
    /// Whether the frame timestamps do not follow one constant rate.
    pub frame_rate_is_variable: bool,
    /// Whether the pictures carry closed captions (CEA-608/708 as ATSC A/53
    /// user data, the way broadcast encoders and cameras write them), seen on
    /// the first pictures the content interlace check decodes (libav hands
    /// each picture's caption bytes over as side data); `false` when that
    /// check did not run. The transcoder carries them into every rung.
    #[serde(default)]
    pub closed_captions: bool,
    /// Colour description and scan (progressive or interlaced).
    #[serde(flatten)]
    pub signal: VideoSignal,
}

/// The colour description and the scan of a video stream: what the stream
/// states (libav names, `None` when unstated) and what follows from it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VideoSignal {
    /// Transfer characteristic, e.g. `"bt709"`, `"smpte2084"` (PQ),
    /// `"arib-std-b67"` (HLG).
    pub color_transfer: Option<String>,
    /// Colour primaries, e.g. `"bt709"`, `"bt2020"`.
    pub color_primaries: Option<String>,
    /// Matrix coefficients (libav's colour space), e.g. `"bt709"`, `"bt2020nc"`.
    pub color_matrix: Option<String>,
    /// Code range: `"tv"` (limited) or `"pc"` (full).
    pub color_range: Option<String>,
    /// The field order the stream states.
    pub field_order: FieldOrder,
    /// HDR kind the transfer states (tone-mapped to SDR when transcoded).
    pub hdr: HdrKind,
    /// Interlaced: stated by the field order, or found in the pictures by
    /// the content check (deinterlaced when transcoded).
    pub interlaced: bool,
    /// Progressive, or interlaced with which field first: the flag, unless
    /// the pictures say otherwise (see [`crate::classify::scan_of`]).
    pub scan: Scan,
    /// What the content check (libavfilter's `idet` over the first
    /// pictures) counted, when it ran.
    pub interlace_check: Option<IdetCounts>,
}

/// Pictures libavfilter's `idet` classified (its multi-frame counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IdetCounts {
    /// Interlaced, top field first.
    pub tff: u64,
    /// Interlaced, bottom field first.
    pub bff: u64,
    /// Progressive.
    pub progressive: u64,
    /// Not decided (e.g. still pictures).
    pub undetermined: u64,
}

/// Sound parameters of an audio stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioInfo {
    /// Number of channels.
    pub channels: u16,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// libav sample format name, e.g. `"fltp"`.
    pub sample_format: Option<String>,
    /// libav channel layout description, e.g. `"stereo"`, `"5.1"`.
    pub channel_layout: Option<String>,
}

impl MediaReport {
    /// The first real video stream (cover art is [`StreamKind::Attachment`]
    /// and never counts), which is what the transcoder encodes.
    pub fn primary_video(&self) -> Option<&StreamReport> {
        self.streams
            .iter()
            .find(|s| s.kind == StreamKind::Video && s.video.is_some())
    }

    /// The first audio stream, which is what the transcoder encodes.
    pub fn primary_audio(&self) -> Option<&StreamReport> {
        self.streams
            .iter()
            .find(|s| s.kind == StreamKind::Audio && s.audio.is_some())
    }

    /// The overall bit rate: the container's figure, or else size × 8 / duration.
    pub fn effective_bit_rate(&self) -> Option<u64> {
        self.bit_rate.or_else(|| {
            let seconds = self.duration_seconds.filter(|d| *d > 0.0)?;
            // Saturating float → int conversion; sizes are far below 2^53.
            Some(((self.size_bytes as f64) * 8.0 / seconds).round() as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(index: usize, kind: StreamKind) -> StreamReport {
        StreamReport {
            index,
            kind,
            codec: "x".into(),
            codec_long: None,
            profile: None,
            level: None,
            bit_rate: None,
            duration_seconds: None,
            video: None,
            audio: None,
        }
    }

    fn video_info() -> VideoInfo {
        VideoInfo {
            width: 640,
            height: 360,
            pixel_format: None,
            rotation: 0,
            sample_aspect_ratio: (1, 1),
            display_width: 640,
            display_height: 360,
            avg_frame_rate: Some(25.0),
            real_frame_rate: Some(25.0),
            frame_rate_is_variable: false,
            closed_captions: false,
            signal: VideoSignal::default(),
        }
    }

    #[test]
    fn primary_video_skips_cover_art_and_takes_the_first_real_video_stream() {
        let mut cover = stream(0, StreamKind::Attachment);
        cover.video = Some(video_info());
        let audio = stream(1, StreamKind::Audio);
        let mut v1 = stream(2, StreamKind::Video);
        v1.video = Some(video_info());
        let mut v2 = stream(3, StreamKind::Video);
        v2.video = Some(video_info());
        let report = MediaReport {
            file_name: "a.mp4".into(),
            size_bytes: 1,
            container: "c".into(),
            container_family: "mp4".into(),
            duration_seconds: None,
            bit_rate: None,
            streams: vec![cover, audio, v1, v2],
        };
        assert_eq!(report.primary_video().map(|s| s.index), Some(2));
        // The audio stream has no AudioInfo, so it is not usable as primary audio.
        assert_eq!(report.primary_audio().map(|s| s.index), None);
    }

    #[test]
    fn a_report_stored_before_colour_and_scan_were_probed_still_reads() {
        let mut value = serde_json::to_value(video_info()).expect("serialise");
        let object = value.as_object_mut().expect("object");
        for key in [
            "color_transfer",
            "color_primaries",
            "color_matrix",
            "color_range",
            "field_order",
            "hdr",
            "interlaced",
            "scan",
            "interlace_check",
        ] {
            assert!(object.remove(key).is_some(), "{key} is a flat field");
        }
        let read: VideoInfo = serde_json::from_value(value).expect("old report");
        assert_eq!(read, video_info());
    }

    #[test]
    fn colour_and_scan_facts_are_flat_fields_of_the_video_object() {
        let mut info = video_info();
        info.signal.hdr = HdrKind::Pq;
        info.signal.field_order = FieldOrder::TopTop;
        info.signal.scan = Scan::TopFieldFirst;
        let value = serde_json::to_value(&info).expect("serialise");
        assert_eq!(value["hdr"], "pq");
        assert_eq!(value["field_order"], "tt");
        assert_eq!(value["scan"], "top_field_first");
    }

    #[test]
    fn effective_bit_rate_falls_back_to_size_over_duration() {
        let mut report = MediaReport {
            file_name: "a.mp4".into(),
            size_bytes: 1_000_000,
            container: "c".into(),
            container_family: "mp4".into(),
            duration_seconds: Some(8.0),
            bit_rate: None,
            streams: vec![],
        };
        assert_eq!(report.effective_bit_rate(), Some(1_000_000));
        report.bit_rate = Some(42);
        assert_eq!(report.effective_bit_rate(), Some(42));
        report.bit_rate = None;
        report.duration_seconds = None;
        assert_eq!(report.effective_bit_rate(), None);
    }
}
