//! The zh-CN / English message catalogue of the ingest crate: policy
//! violation messages, probe and policy error messages, and the labels of
//! the human-readable report. Every message people read comes from here,
//! in both languages.

use serde::{Deserialize, Serialize};

use crate::probe::{ProbeError, UnreadableReason};

/// Language of human-readable output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// Simplified Chinese (zh-CN), the default.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Both languages, the default first.
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    /// The language the POSIX locale variables ask for: the first non-empty
    /// of `LC_ALL`, `LC_MESSAGES`, `LANG` decides; English when it starts
    /// with `en`, otherwise (and when none is set) zh-CN.
    pub fn from_locale(
        lc_all: Option<&str>,
        lc_messages: Option<&str>,
        lang: Option<&str>,
    ) -> Lang {
        let chosen = [lc_all, lc_messages, lang]
            .into_iter()
            .flatten()
            .find(|v| !v.is_empty());
        match chosen {
            Some(v) if v.to_ascii_lowercase().starts_with("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// Picks the zh or en text.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// Every rule of a [`crate::policy::Policy`] a file can break, with its
/// stable code (the `code` of a [`crate::validate::Violation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViolationCode {
    /// `container.not_allowed`: container family not in the allowed list.
    ContainerNotAllowed,
    /// `file.too_large`: file bigger than the size limit.
    FileTooLarge,
    /// `duration.unknown`: the duration cannot be determined.
    DurationUnknown,
    /// `duration.too_short`: shorter than the minimum duration.
    DurationTooShort,
    /// `duration.too_long`: longer than the maximum duration.
    DurationTooLong,
    /// `bitrate.too_high`: overall bit rate above the limit.
    BitrateTooHigh,
    /// `video.missing`: no video stream where one is required.
    VideoMissing,
    /// `video.codec_not_allowed`: video codec not in the allowed list.
    VideoCodecNotAllowed,
    /// `video.resolution_too_low`: displayed long or short edge below the minimum.
    VideoResolutionTooLow,
    /// `video.resolution_too_high`: displayed long or short edge above the maximum.
    VideoResolutionTooHigh,
    /// `video.frame_rate_out_of_range`: frame rate outside the allowed range.
    VideoFrameRateOutOfRange,
    /// `video.hdr_not_allowed`: HDR (PQ or HLG) picture where the policy
    /// accepts only SDR.
    VideoHdrNotAllowed,
    /// `video.interlaced_not_allowed`: interlaced picture where the policy
    /// accepts only progressive.
    VideoInterlacedNotAllowed,
    /// `audio.missing`: no audio stream where one is required.
    AudioMissing,
    /// `audio.codec_not_allowed`: audio codec not in the allowed list.
    AudioCodecNotAllowed,
}

impl ViolationCode {
    /// Every code, in the order validation reports them.
    pub const ALL: [ViolationCode; 15] = [
        ViolationCode::ContainerNotAllowed,
        ViolationCode::FileTooLarge,
        ViolationCode::DurationUnknown,
        ViolationCode::DurationTooShort,
        ViolationCode::DurationTooLong,
        ViolationCode::BitrateTooHigh,
        ViolationCode::VideoMissing,
        ViolationCode::VideoCodecNotAllowed,
        ViolationCode::VideoResolutionTooLow,
        ViolationCode::VideoResolutionTooHigh,
        ViolationCode::VideoFrameRateOutOfRange,
        ViolationCode::VideoHdrNotAllowed,
        ViolationCode::VideoInterlacedNotAllowed,
        ViolationCode::AudioMissing,
        ViolationCode::AudioCodecNotAllowed,
    ];

    /// The stable code string.
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationCode::ContainerNotAllowed => "container.not_allowed",
            ViolationCode::FileTooLarge => "file.too_large",
            ViolationCode::DurationUnknown => "duration.unknown",
            ViolationCode::DurationTooShort => "duration.too_short",
            ViolationCode::DurationTooLong => "duration.too_long",
            ViolationCode::BitrateTooHigh => "bitrate.too_high",
            ViolationCode::VideoMissing => "video.missing",
            ViolationCode::VideoCodecNotAllowed => "video.codec_not_allowed",
            ViolationCode::VideoResolutionTooLow => "video.resolution_too_low",
            ViolationCode::VideoResolutionTooHigh => "video.resolution_too_high",
            ViolationCode::VideoFrameRateOutOfRange => "video.frame_rate_out_of_range",
            ViolationCode::VideoHdrNotAllowed => "video.hdr_not_allowed",
            ViolationCode::VideoInterlacedNotAllowed => "video.interlaced_not_allowed",
            ViolationCode::AudioMissing => "audio.missing",
            ViolationCode::AudioCodecNotAllowed => "audio.codec_not_allowed",
        }
    }

    /// The code for a code string, if it is one.
    pub fn from_code(code: &str) -> Option<ViolationCode> {
        ViolationCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// The message for this violation in `lang`, with the measured value
    /// (`actual`) and the policy's limit filled in.
    pub fn message(self, lang: Lang, actual: &str, limit: &str) -> String {
        use ViolationCode::*;
        match (self, lang) {
            (ContainerNotAllowed, Lang::Zh) => {
                format!("容器格式“{actual}”不在允许范围内（允许：{limit}）")
            }
            (ContainerNotAllowed, Lang::En) => {
                format!("Container format \"{actual}\" is not allowed (allowed: {limit})")
            }
            (FileTooLarge, Lang::Zh) => format!("文件大小 {actual} 超过上限 {limit}"),
            (FileTooLarge, Lang::En) => format!("File size {actual} exceeds the limit of {limit}"),
            (DurationUnknown, Lang::Zh) => {
                format!("无法确定文件时长，无法核对时长要求（{limit}）")
            }
            (DurationUnknown, Lang::En) => format!(
                "The duration of the file cannot be determined, so the duration rule ({limit}) cannot be checked"
            ),
            (DurationTooShort, Lang::Zh) => format!("时长 {actual} 短于最短要求 {limit}"),
            (DurationTooShort, Lang::En) => {
                format!("Duration {actual} is shorter than the minimum of {limit}")
            }
            (DurationTooLong, Lang::Zh) => format!("时长 {actual} 超过上限 {limit}"),
            (DurationTooLong, Lang::En) => {
                format!("Duration {actual} exceeds the limit of {limit}")
            }
            (BitrateTooHigh, Lang::Zh) => format!("总码率 {actual} 超过上限 {limit}"),
            (BitrateTooHigh, Lang::En) => {
                format!("Overall bit rate {actual} exceeds the limit of {limit}")
            }
            (VideoMissing, Lang::Zh) => "文件中没有视频流，课程视频必须包含画面".to_owned(),
            (VideoMissing, Lang::En) => {
                "The file has no video stream; a course video must have a picture".to_owned()
            }
            (VideoCodecNotAllowed, Lang::Zh) => {
                format!("视频编码“{actual}”不在允许范围内（允许：{limit}）")
            }
            (VideoCodecNotAllowed, Lang::En) => {
                format!("Video codec \"{actual}\" is not allowed (allowed: {limit})")
            }
            (VideoResolutionTooLow, Lang::Zh) => format!(
                "画面尺寸 {actual} 低于最低要求 {limit}（按长边×短边比较，竖屏与横屏同等对待）"
            ),
            (VideoResolutionTooLow, Lang::En) => format!(
                "Picture size {actual} is below the minimum of {limit} (long edge by short edge; portrait is judged like landscape)"
            ),
            (VideoResolutionTooHigh, Lang::Zh) => {
                format!("画面尺寸 {actual} 超过上限 {limit}（按长边×短边比较，竖屏与横屏同等对待）")
            }
            (VideoResolutionTooHigh, Lang::En) => format!(
                "Picture size {actual} exceeds the limit of {limit} (long edge by short edge; portrait is judged like landscape)"
            ),
            (VideoFrameRateOutOfRange, Lang::Zh) => {
                format!("帧率 {actual} 不在允许范围 {limit} 内")
            }
            (VideoFrameRateOutOfRange, Lang::En) => {
                format!("Frame rate {actual} is outside the allowed range of {limit}")
            }
            (VideoHdrNotAllowed, Lang::Zh) => {
                format!(
                    "画面为高动态范围（HDR，{actual}），本策略只接受标准动态范围画面（{limit}）"
                )
            }
            (VideoHdrNotAllowed, Lang::En) => format!(
                "The picture is high dynamic range (HDR, {actual}); this policy accepts only standard dynamic range pictures ({limit})"
            ),
            (VideoInterlacedNotAllowed, Lang::Zh) => {
                format!("画面为隔行扫描（{actual}），本策略只接受逐行扫描画面（{limit}）")
            }
            (VideoInterlacedNotAllowed, Lang::En) => format!(
                "The picture is interlaced ({actual}); this policy accepts only progressive pictures ({limit})"
            ),
            (AudioMissing, Lang::Zh) => "文件中没有音频流，课程视频必须包含声音".to_owned(),
            (AudioMissing, Lang::En) => {
                "The file has no audio stream; a course video must have sound".to_owned()
            }
            (AudioCodecNotAllowed, Lang::Zh) => {
                format!("音频编码“{actual}”不在允许范围内（允许：{limit}）")
            }
            (AudioCodecNotAllowed, Lang::En) => {
                format!("Audio codec \"{actual}\" is not allowed (allowed: {limit})")
            }
        }
    }
}

/// The message for a probe failure in `lang`.
pub fn probe_error_message(error: &ProbeError, lang: Lang) -> String {
    match (error, lang) {
        (ProbeError::NotFound { path }, Lang::Zh) => format!("文件不存在：{}", path.display()),
        (ProbeError::NotFound { path }, Lang::En) => format!("File not found: {}", path.display()),
        (ProbeError::Empty, Lang::Zh) => "文件为空（0 字节），请重新上传".to_owned(),
        (ProbeError::Empty, Lang::En) => {
            "The file is empty (0 bytes); please upload it again".to_owned()
        }
        (ProbeError::NotMedia { detected_as: None }, Lang::Zh) => {
            "无法识别为音视频文件（按文件内容判断，与扩展名无关）".to_owned()
        }
        (ProbeError::NotMedia { detected_as: None }, Lang::En) => {
            "Not a recognisable audio or video file (judged by its content, not its name)"
                .to_owned()
        }
        (
            ProbeError::NotMedia {
                detected_as: Some(d),
            },
            Lang::Zh,
        ) => {
            format!("这不是音视频文件：内容是静态图片（{d}），与扩展名无关")
        }
        (
            ProbeError::NotMedia {
                detected_as: Some(d),
            },
            Lang::En,
        ) => {
            format!(
                "Not an audio or video file: the content is a still image ({d}), whatever its name says"
            )
        }
        (ProbeError::Unreadable { reason }, Lang::Zh) => {
            format!(
                "文件已损坏或无法读取：{}",
                unreadable_reason_message(reason, lang)
            )
        }
        (ProbeError::Unreadable { reason }, Lang::En) => {
            format!(
                "The file is damaged or unreadable: {}",
                unreadable_reason_message(reason, lang)
            )
        }
        (ProbeError::Timeout { after }, Lang::Zh) => {
            format!(
                "读取文件超时（{:.1} 秒内未完成），文件可能已损坏",
                after.as_secs_f64()
            )
        }
        (ProbeError::Timeout { after }, Lang::En) => format!(
            "Reading the file timed out (not finished within {:.1} s); it may be damaged",
            after.as_secs_f64()
        ),
        (ProbeError::Io { source }, Lang::Zh) => format!("读取文件时发生 I/O 错误：{source}"),
        (ProbeError::Io { source }, Lang::En) => {
            format!("I/O error while reading the file: {source}")
        }
    }
}

/// The detail of an [`UnreadableReason`] in `lang` (libav's own error text
/// is quoted as is).
pub fn unreadable_reason_message(reason: &UnreadableReason, lang: Lang) -> String {
    use UnreadableReason::*;
    match (reason, lang) {
        (NotARegularFile, Lang::Zh) => "不是普通文件（目录、设备或管道）".to_owned(),
        (NotARegularFile, Lang::En) => {
            "not a regular file (a directory, device or pipe)".to_owned()
        }
        (HeadersUnreadable { format, libav }, Lang::Zh) => {
            format!("无法读取 {format} 容器的文件头（{libav}），文件可能不完整")
        }
        (HeadersUnreadable { format, libav }, Lang::En) => {
            format!(
                "the {format} container headers cannot be read ({libav}); the file may be incomplete"
            )
        }
        (StreamInfoUnreadable { libav }, Lang::Zh) => format!("无法读取音视频流参数（{libav}）"),
        (StreamInfoUnreadable { libav }, Lang::En) => {
            format!("the stream parameters cannot be read ({libav})")
        }
        (NoStreams, Lang::Zh) => "容器中没有任何音视频流，文件可能不完整".to_owned(),
        (NoStreams, Lang::En) => {
            "the container holds no streams; the file may be incomplete".to_owned()
        }
        (
            PictureTooLarge {
                stream,
                width,
                height,
                max_edge,
                max_pixels,
            },
            Lang::Zh,
        ) => format!(
            "第 {stream} 路流声明的画面为 {width}x{height}，超出安全上限（每边 {max_edge} 像素，每帧 {max_pixels} 像素），拒绝解码"
        ),
        (
            PictureTooLarge {
                stream,
                width,
                height,
                max_edge,
                max_pixels,
            },
            Lang::En,
        ) => format!(
            "stream {stream} declares a {width}x{height} picture, beyond the safety limit ({max_edge} pixels per edge, {max_pixels} pixels per picture); not decoded"
        ),
        (
            Truncated {
                size_bytes,
                needed_bytes,
            },
            Lang::Zh,
        ) => format!(
            "文件不完整：实际 {size_bytes} 字节，但索引指向第 {needed_bytes} 字节，上传可能中断"
        ),
        (
            Truncated {
                size_bytes,
                needed_bytes,
            },
            Lang::En,
        ) => format!(
            "the file is truncated: it has {size_bytes} bytes but its index refers to byte {needed_bytes}; the upload was probably interrupted"
        ),
    }
}

/// The message for a policy file that cannot be used, in `lang`.
pub fn policy_error_message(detail: &str, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("策略文件无效：{detail}"),
        Lang::En => format!("Invalid policy file: {detail}"),
    }
}

/// Labels of the human-readable probe report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// "File"
    File,
    /// "Container"
    Container,
    /// "Duration"
    Duration,
    /// "Bit rate"
    BitRate,
    /// "Stream"
    Stream,
    /// "video"
    Video,
    /// "audio"
    Audio,
    /// "subtitle"
    Subtitle,
    /// "data"
    Data,
    /// "attachment"
    Attachment,
    /// "unknown"
    Unknown,
    /// "displayed as"
    DisplayedAs,
    /// "rotated"
    Rotated,
    /// "variable frame rate"
    VariableFrameRate,
    /// "channels"
    Channels,
    /// "Policy"
    Policy,
    /// "Result"
    Result,
    /// "accepted"
    Accepted,
    /// "rejected"
    Rejected,
    /// "unreadable"
    Unreadable,
    /// "violations"
    Violations,
    /// "not known"
    NotKnown,
    /// "HDR"
    Hdr,
    /// "interlaced"
    Interlaced,
    /// "closed captions (CEA-608/708)"
    ClosedCaptions,
}

impl Label {
    /// Every label.
    pub const ALL: [Label; 25] = [
        Label::File,
        Label::Container,
        Label::Duration,
        Label::BitRate,
        Label::Stream,
        Label::Video,
        Label::Audio,
        Label::Subtitle,
        Label::Data,
        Label::Attachment,
        Label::Unknown,
        Label::DisplayedAs,
        Label::Rotated,
        Label::VariableFrameRate,
        Label::Channels,
        Label::Policy,
        Label::Result,
        Label::Accepted,
        Label::Rejected,
        Label::Unreadable,
        Label::Violations,
        Label::NotKnown,
        Label::Hdr,
        Label::Interlaced,
        Label::ClosedCaptions,
    ];

    /// The label in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        use Label::*;
        let (zh, en) = match self {
            File => ("文件", "File"),
            Container => ("容器", "Container"),
            Duration => ("时长", "Duration"),
            BitRate => ("码率", "Bit rate"),
            Stream => ("流", "Stream"),
            Video => ("视频", "video"),
            Audio => ("音频", "audio"),
            Subtitle => ("字幕", "subtitle"),
            Data => ("数据", "data"),
            Attachment => ("附件", "attachment"),
            Unknown => ("未知", "unknown"),
            DisplayedAs => ("显示为", "displayed as"),
            Rotated => ("旋转", "rotated"),
            VariableFrameRate => ("可变帧率", "variable frame rate"),
            Channels => ("声道", "channels"),
            Policy => ("策略", "Policy"),
            Result => ("结论", "Result"),
            Accepted => ("通过", "accepted"),
            Rejected => ("不通过", "rejected"),
            Unreadable => ("无法读取", "unreadable"),
            Violations => ("项不符合要求", "violation(s)"),
            NotKnown => ("未知", "unknown"),
            Hdr => ("高动态范围", "HDR"),
            Interlaced => ("隔行扫描", "interlaced"),
            ClosedCaptions => ("含隐藏字幕 (CEA-608/708)", "closed captions (CEA-608/708)"),
        };
        lang.pick(zh, en)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    fn has_cjk(s: &str) -> bool {
        s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn every_violation_code_has_a_distinct_stable_code_string() {
        let codes: HashSet<&str> = ViolationCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(codes.len(), ViolationCode::ALL.len());
        for code in ViolationCode::ALL {
            assert_eq!(ViolationCode::from_code(code.as_str()), Some(code));
            let (area, rule) = code.as_str().split_once('.').expect("area.rule");
            assert!(!area.is_empty() && !rule.is_empty());
        }
    }

    #[test]
    fn every_violation_has_a_chinese_and_an_english_message_with_its_values() {
        for code in ViolationCode::ALL {
            let zh = code.message(Lang::Zh, "ACTUAL", "LIMIT");
            let en = code.message(Lang::En, "ACTUAL", "LIMIT");
            assert!(has_cjk(&zh), "{code:?} zh: {zh}");
            assert!(!has_cjk(&en), "{code:?} en: {en}");
            assert!(en.is_ascii(), "{code:?} en is not plain English: {en}");
            // Messages that name a measured value show it in both languages,
            // and every message except the missing-stream ones names the limit.
            assert_eq!(zh.contains("ACTUAL"), en.contains("ACTUAL"), "{code:?}");
            assert_eq!(zh.contains("LIMIT"), en.contains("LIMIT"), "{code:?}");
            let about_presence = matches!(
                code,
                ViolationCode::VideoMissing | ViolationCode::AudioMissing
            );
            assert_eq!(en.contains("LIMIT"), !about_presence, "{code:?}: {en}");
        }
    }

    #[test]
    fn every_probe_error_has_a_chinese_and_an_english_message() {
        let reasons = [
            UnreadableReason::NotARegularFile,
            UnreadableReason::HeadersUnreadable {
                format: "mov".into(),
                libav: "x".into(),
            },
            UnreadableReason::StreamInfoUnreadable { libav: "x".into() },
            UnreadableReason::NoStreams,
            UnreadableReason::PictureTooLarge {
                stream: 0,
                width: 1,
                height: 1,
                max_edge: 1,
                max_pixels: 1,
            },
            UnreadableReason::Truncated {
                size_bytes: 1,
                needed_bytes: 2,
            },
        ];
        let mut errors = vec![
            ProbeError::NotFound {
                path: PathBuf::from("x.mp4"),
            },
            ProbeError::Empty,
            ProbeError::NotMedia { detected_as: None },
            ProbeError::NotMedia {
                detected_as: Some("png_pipe".into()),
            },
            ProbeError::Timeout {
                after: Duration::from_secs(1),
            },
            ProbeError::Io {
                source: std::io::Error::other("boom"),
            },
        ];
        errors.extend(
            reasons
                .into_iter()
                .map(|reason| ProbeError::Unreadable { reason }),
        );
        for error in &errors {
            let zh = error.message(Lang::Zh);
            let en = error.message(Lang::En);
            assert!(has_cjk(&zh), "{error:?}: {zh}");
            assert!(!has_cjk(&en), "{error:?}: {en}");
            assert!(error.code().starts_with("probe."));
        }
        assert!(has_cjk(&policy_error_message("x", Lang::Zh)));
        assert!(!has_cjk(&policy_error_message("x", Lang::En)));
    }

    #[test]
    fn every_label_exists_in_both_languages() {
        for label in Label::ALL {
            assert!(has_cjk(label.text(Lang::Zh)), "{label:?}");
            assert!(
                label.text(Lang::En).is_ascii() && !label.text(Lang::En).is_empty(),
                "{label:?}"
            );
        }
    }

    #[test]
    fn locale_starting_with_en_selects_english_and_everything_else_chinese() {
        assert_eq!(Lang::from_locale(None, None, None), Lang::Zh);
        assert_eq!(Lang::from_locale(None, None, Some("en_US.UTF-8")), Lang::En);
        assert_eq!(Lang::from_locale(None, None, Some("C.UTF-8")), Lang::Zh);
        assert_eq!(
            Lang::from_locale(Some("zh_CN.UTF-8"), None, Some("en_US.UTF-8")),
            Lang::Zh
        );
        assert_eq!(
            Lang::from_locale(Some(""), Some("en_GB"), Some("zh_CN")),
            Lang::En
        );
    }
}
