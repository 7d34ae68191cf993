//! Pure checks of a WHIP offer before it reaches the WebRTC stack: size,
//! SDP shape, media sections, directions and codecs. The WebRTC stack
//! parses the offer again in full; this only gives a publisher a precise,
//! coded reason when the offer cannot make a live stream.

use std::fmt;

/// Video codecs the live pipeline takes from a browser.
pub const VIDEO_CODECS: [&str; 3] = ["H264", "VP8", "VP9"];
/// Audio codecs the live pipeline takes from a browser.
pub const AUDIO_CODECS: [&str; 1] = ["OPUS"];

/// What an acceptable offer sends.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OfferSummary {
    /// Supported video codecs offered by sending video sections, in offer order.
    pub video: Vec<String>,
    /// Supported audio codecs offered by sending audio sections, in offer order.
    pub audio: Vec<String>,
}

/// Why an offer cannot make a live stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    /// The body is empty.
    #[error("the offer is empty")]
    Empty,
    /// The body is larger than the limit.
    #[error("offer of {bytes} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Size of the body.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The body is not an SDP session description.
    #[error("the offer is not an SDP session description")]
    NotSdp,
    /// No audio or video section.
    #[error("the offer has no audio or video section")]
    NoMedia,
    /// No video section that sends (WHIP publishers send).
    #[error("the offer sends no video")]
    NoVideo,
    /// Video is offered only in codecs the pipeline does not take.
    #[error("unsupported video codecs only: {offered}")]
    UnsupportedCodecs {
        /// The offered codec names, comma-separated.
        offered: String,
    },
}

impl OfferError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty | Self::NotSdp => "whip.malformed_offer",
            Self::TooLarge { .. } => "whip.offer_too_large",
            Self::NoMedia => "whip.no_media",
            Self::NoVideo => "whip.no_video",
            Self::UnsupportedCodecs { .. } => "whip.unsupported_codecs",
        }
    }

    /// Reason in Simplified Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            Self::Empty | Self::NotSdp => "推流请求不是有效的 SDP 会话描述".to_owned(),
            Self::TooLarge { max, .. } => format!("推流请求超过 {max} 字节的上限"),
            Self::NoMedia => "推流请求中没有音频或视频".to_owned(),
            Self::NoVideo => "推流请求中没有发送视频".to_owned(),
            Self::UnsupportedCodecs { offered } => {
                format!("不支持所提供的视频编码（{offered}），请使用 H.264、VP8 或 VP9")
            }
        }
    }

    /// Reason in English.
    pub fn message_en(&self) -> String {
        match self {
            Self::Empty | Self::NotSdp => {
                "The request body is not an SDP session description".to_owned()
            }
            Self::TooLarge { max, .. } => format!("The offer exceeds the limit of {max} bytes"),
            Self::NoMedia => "The offer has no audio or video".to_owned(),
            Self::NoVideo => "The offer sends no video".to_owned(),
            Self::UnsupportedCodecs { offered } => format!(
                "The offered video codecs ({offered}) are not supported; use H.264, VP8 or VP9"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn from_attribute(line: &str) -> Option<Self> {
        match line {
            "a=sendrecv" => Some(Self::SendRecv),
            "a=sendonly" => Some(Self::SendOnly),
            "a=recvonly" => Some(Self::RecvOnly),
            "a=inactive" => Some(Self::Inactive),
            _ => None,
        }
    }

    fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }
}

#[derive(Debug)]
struct Section {
    kind: String,
    rejected: bool,
    direction: Option<Direction>,
    codecs: Vec<String>,
}

/// The sections of `kind` that send.
fn sending_sections<'a>(
    media: &'a [&'a Section],
    kind: &'static str,
    session_direction: Direction,
) -> impl Iterator<Item = &'a Section> + 'a {
    media
        .iter()
        .copied()
        .filter(move |s| s.kind == kind)
        .filter(move |s| s.direction.unwrap_or(session_direction).sends())
}

/// Checks `sdp` (an offer of at most `max_bytes`) and says what it sends.
pub fn check_offer(sdp: &str, max_bytes: usize) -> Result<OfferSummary, OfferError> {
    if sdp.len() > max_bytes {
        return Err(OfferError::TooLarge {
            bytes: sdp.len(),
            max: max_bytes,
        });
    }
    let mut lines = sdp
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty());
    match lines.next() {
        None => return Err(OfferError::Empty),
        Some("v=0") => {}
        Some(_) => return Err(OfferError::NotSdp),
    }
    let mut session_direction = Direction::SendRecv;
    let mut sections: Vec<Section> = Vec::new();
    for line in lines {
        if line.len() < 2 || line.as_bytes()[1] != b'=' {
            return Err(OfferError::NotSdp);
        }
        if let Some(media) = line.strip_prefix("m=") {
            let mut fields = media.split(' ');
            let kind = fields.next().unwrap_or_default().to_ascii_lowercase();
            let rejected = fields.next() == Some("0");
            sections.push(Section {
                kind,
                rejected,
                direction: None,
                codecs: Vec::new(),
            });
            continue;
        }
        if let Some(direction) = Direction::from_attribute(line) {
            match sections.last_mut() {
                Some(section) => section.direction = Some(direction),
                None => session_direction = direction,
            }
            continue;
        }
        if let (Some(rtpmap), Some(section)) = (line.strip_prefix("a=rtpmap:"), sections.last_mut())
            && let Some((_, encoding)) = rtpmap.split_once(' ')
        {
            let name = encoding.split('/').next().unwrap_or_default();
            section.codecs.push(name.to_ascii_uppercase());
        }
    }
    let media: Vec<&Section> = sections
        .iter()
        .filter(|s| matches!(s.kind.as_str(), "audio" | "video") && !s.rejected)
        .collect();
    if media.is_empty() {
        return Err(OfferError::NoMedia);
    }
    let sending = |kind: &'static str| sending_sections(&media, kind, session_direction);
    let supported = |kind: &'static str, known: &[&str]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for codec in sending(kind).flat_map(|s| s.codecs.iter()) {
            if known.contains(&codec.as_str()) && !out.contains(codec) {
                out.push(codec.clone());
            }
        }
        out
    };
    if sending("video").next().is_none() {
        return Err(OfferError::NoVideo);
    }
    let video = supported("video", &VIDEO_CODECS);
    if video.is_empty() {
        let mut offered: Vec<&str> = Vec::new();
        for codec in sending("video").flat_map(|s| s.codecs.iter()) {
            // Repair and redundancy formats are not codecs of their own.
            if !matches!(codec.as_str(), "RTX" | "RED" | "ULPFEC" | "FLEXFEC-03")
                && !offered.contains(&codec.as_str())
            {
                offered.push(codec);
            }
        }
        return Err(OfferError::UnsupportedCodecs {
            offered: offered.join(", "),
        });
    }
    Ok(OfferSummary {
        video,
        audio: supported("audio", &AUDIO_CODECS),
    })
}

/// Whether `sdp` (an answer) has an audio section, not rejected, taking
/// Opus: the publish sends audio from its first packet on.
pub fn has_opus_audio(sdp: &str) -> bool {
    let mut taking_audio = false;
    for line in sdp.split('\n').map(|l| l.trim_end_matches('\r')) {
        if let Some(media) = line.strip_prefix("m=") {
            let mut fields = media.split(' ');
            taking_audio = fields.next() == Some("audio") && fields.next() != Some("0");
            continue;
        }
        let opus = line
            .strip_prefix("a=rtpmap:")
            .and_then(|rtpmap| rtpmap.split_once(' '))
            .is_some_and(|(_, encoding)| encoding.to_ascii_uppercase().starts_with("OPUS/"));
        if taking_audio && opus {
            return true;
        }
    }
    false
}

impl fmt::Display for OfferSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "video [{}], audio [{}]",
            self.video.join(", "),
            self.audio.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(sections: &str) -> String {
        format!("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n{sections}")
    }

    const VIDEO_VP8_H264: &str = "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\na=sendonly\r\n\
        a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=rtpmap:102 H264/90000\r\n";
    const AUDIO_OPUS: &str =
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n";

    #[test]
    fn a_browser_offer_with_vp8_h264_and_opus_is_accepted_with_its_codecs_in_order() {
        let summary = check_offer(&offer(&format!("{AUDIO_OPUS}{VIDEO_VP8_H264}")), 65536).unwrap();
        assert_eq!(summary.video, ["VP8", "H264"]);
        assert_eq!(summary.audio, ["OPUS"]);
    }

    #[test]
    fn video_without_audio_is_a_valid_publish() {
        let summary = check_offer(&offer(VIDEO_VP8_H264), 65536).unwrap();
        assert!(summary.audio.is_empty());
    }

    #[test]
    fn bodies_that_are_not_sdp_are_malformed() {
        assert_eq!(check_offer("", 100), Err(OfferError::Empty));
        assert_eq!(check_offer("\r\n\r\n", 100), Err(OfferError::Empty));
        assert_eq!(check_offer("{\"sdp\":1}", 100), Err(OfferError::NotSdp));
        assert_eq!(
            check_offer("v=0\r\nthis is not sdp", 100),
            Err(OfferError::NotSdp)
        );
    }

    #[test]
    fn an_offer_over_the_limit_is_refused_before_parsing() {
        let body = offer(VIDEO_VP8_H264);
        let err = check_offer(&body, 10).unwrap_err();
        assert_eq!(err.code(), "whip.offer_too_large");
    }

    #[test]
    fn an_offer_without_media_sections_has_no_media() {
        assert_eq!(check_offer(&offer(""), 65536), Err(OfferError::NoMedia));
        let data_only = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
        assert_eq!(
            check_offer(&offer(data_only), 65536),
            Err(OfferError::NoMedia)
        );
        let rejected = "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
        assert_eq!(
            check_offer(&offer(rejected), 65536),
            Err(OfferError::NoMedia)
        );
    }

    #[test]
    fn an_offer_that_only_receives_video_sends_no_video() {
        let recv = VIDEO_VP8_H264.replace("a=sendonly", "a=recvonly");
        assert_eq!(
            check_offer(&offer(&format!("{AUDIO_OPUS}{recv}")), 65536),
            Err(OfferError::NoVideo)
        );
        assert_eq!(
            check_offer(&offer(AUDIO_OPUS), 65536),
            Err(OfferError::NoVideo)
        );
    }

    #[test]
    fn the_session_level_direction_applies_to_sections_without_their_own() {
        let body = "v=0\r\ns=-\r\na=recvonly\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
        assert_eq!(check_offer(body, 65536), Err(OfferError::NoVideo));
    }

    #[test]
    fn unsupported_video_codecs_are_named_without_repair_formats() {
        let av1 = "m=video 9 UDP/TLS/RTP/SAVPF 45 46\r\na=sendonly\r\n\
            a=rtpmap:45 AV1/90000\r\na=rtpmap:46 rtx/90000\r\n";
        let err = check_offer(&offer(av1), 65536).unwrap_err();
        assert_eq!(
            err,
            OfferError::UnsupportedCodecs {
                offered: "AV1".into()
            }
        );
        assert!(err.message_en().contains("AV1") && err.message_zh().contains("AV1"));
    }

    #[test]
    fn an_answer_takes_audio_only_with_an_opus_section_that_is_not_rejected() {
        assert!(has_opus_audio(&offer(&format!(
            "{VIDEO_VP8_H264}{AUDIO_OPUS}"
        ))));
        assert!(!has_opus_audio(&offer(VIDEO_VP8_H264)));
        let rejected = AUDIO_OPUS.replace("m=audio 9", "m=audio 0");
        assert!(!has_opus_audio(&offer(&rejected)));
        let pcmu = "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n";
        assert!(!has_opus_audio(&offer(pcmu)));
    }

    #[test]
    fn every_error_has_a_code_and_both_messages() {
        for e in [
            OfferError::Empty,
            OfferError::NotSdp,
            OfferError::TooLarge { bytes: 2, max: 1 },
            OfferError::NoMedia,
            OfferError::NoVideo,
            OfferError::UnsupportedCodecs {
                offered: "X".into(),
            },
        ] {
            assert!(e.code().starts_with("whip."));
            assert!(!e.message_zh().is_empty() && !e.message_en().is_empty());
        }
    }
}
