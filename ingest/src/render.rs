//! Human-readable text of a [`ProbeOutput`]: the file's facts, the verdict
//! and every violation or error, labels in the chosen language and every
//! violation and error message in both languages (the chosen one first).

use std::fmt::Write;

use crate::messages::{Label, Lang};
use crate::output::ProbeOutput;
use crate::report::{MediaReport, StreamKind, StreamReport};
use crate::units;

/// Renders `output` as text in `lang`, one fact per line, ending with a newline.
pub fn render_text(output: &ProbeOutput, lang: Lang) -> String {
    let mut text = String::new();
    let colon = lang.pick("：", ": ");
    let other = match lang {
        Lang::Zh => Lang::En,
        Lang::En => Lang::Zh,
    };
    let size = output
        .report
        .as_ref()
        .map(|r| format!(" ({})", units::bytes(r.size_bytes)));
    line(
        &mut text,
        format!(
            "{}{colon}{}{}",
            Label::File.text(lang),
            output.file,
            size.unwrap_or_default()
        ),
    );
    if let Some(report) = &output.report {
        render_report(&mut text, report, lang);
    }
    if let Some(policy) = &output.policy {
        line(
            &mut text,
            format!("{}{colon}{policy}", Label::Policy.text(lang)),
        );
    }
    match (&output.validation, &output.error) {
        (_, Some(error)) => {
            line(
                &mut text,
                format!(
                    "{}{colon}{} [{}]",
                    Label::Result.text(lang),
                    Label::Unreadable.text(lang),
                    error.code
                ),
            );
            line(&mut text, format!("  {}", error.message(lang)));
            line(&mut text, format!("  {}", error.message(other)));
        }
        (Some(validation), None) if validation.accepted => {
            line(
                &mut text,
                format!(
                    "{}{colon}{}",
                    Label::Result.text(lang),
                    Label::Accepted.text(lang)
                ),
            );
        }
        (Some(validation), None) => {
            line(
                &mut text,
                format!(
                    "{}{colon}{} ({} {})",
                    Label::Result.text(lang),
                    Label::Rejected.text(lang),
                    validation.violations.len(),
                    Label::Violations.text(lang)
                ),
            );
            for v in &validation.violations {
                line(&mut text, format!("  - [{}] {}", v.code, v.message(lang)));
                line(&mut text, format!("    {}", v.message(other)));
            }
        }
        (None, None) => {}
    }
    text
}

fn line(text: &mut String, content: String) {
    text.push_str(&content);
    text.push('\n');
}

fn render_report(text: &mut String, report: &MediaReport, lang: Lang) {
    let colon = lang.pick("：", ": ");
    let unknown = Label::NotKnown.text(lang);
    line(
        text,
        format!(
            "{}{colon}{} ({})",
            Label::Container.text(lang),
            report.container_family,
            report.container
        ),
    );
    let duration = report
        .duration_seconds
        .map_or_else(|| unknown.to_owned(), units::duration);
    line(
        text,
        format!("{}{colon}{duration}", Label::Duration.text(lang)),
    );
    let bit_rate = report
        .effective_bit_rate()
        .map_or_else(|| unknown.to_owned(), units::bit_rate);
    line(
        text,
        format!("{}{colon}{bit_rate}", Label::BitRate.text(lang)),
    );
    for stream in &report.streams {
        line(text, stream_line(stream, lang));
    }
}

fn stream_line(stream: &StreamReport, lang: Lang) -> String {
    let colon = lang.pick("：", ": ");
    let kind = match stream.kind {
        StreamKind::Video => Label::Video,
        StreamKind::Audio => Label::Audio,
        StreamKind::Subtitle => Label::Subtitle,
        StreamKind::Data => Label::Data,
        StreamKind::Attachment => Label::Attachment,
        StreamKind::Unknown => Label::Unknown,
    };
    let mut s = format!(
        "{} #{} {}{colon}{}",
        Label::Stream.text(lang),
        stream.index,
        kind.text(lang),
        stream.codec
    );
    let codec_details: Vec<String> = [
        stream.profile.clone(),
        stream.level.map(|l| format!("level {l}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !codec_details.is_empty() {
        let _ = write!(s, " ({})", codec_details.join(", "));
    }
    if let Some(v) = &stream.video {
        let _ = write!(s, ", {}x{}", v.width, v.height);
        if let Some(pf) = &v.pixel_format {
            let _ = write!(s, " {pf}");
        }
        if v.sample_aspect_ratio != (1, 1) {
            let _ = write!(
                s,
                " SAR {}:{}",
                v.sample_aspect_ratio.0, v.sample_aspect_ratio.1
            );
        }
        if v.rotation != 0 {
            let _ = write!(s, ", {} {}°", Label::Rotated.text(lang), v.rotation);
        }
        if let Some(rate) = v.avg_frame_rate.or(v.real_frame_rate) {
            let _ = write!(s, ", {}", units::frame_rate(rate));
        }
        if v.frame_rate_is_variable {
            let _ = write!(s, " ({})", Label::VariableFrameRate.text(lang));
        }
        if let Some(transfer) = v.signal.hdr.transfer_name() {
            let _ = write!(s, ", {} {transfer}", Label::Hdr.text(lang));
        }
        if v.signal.interlaced {
            let _ = write!(
                s,
                ", {} ({})",
                Label::Interlaced.text(lang),
                v.signal.field_order.as_str()
            );
        }
        if v.closed_captions {
            let _ = write!(s, ", {}", Label::ClosedCaptions.text(lang));
        }
        let _ = write!(
            s,
            " → {} {}x{}",
            Label::DisplayedAs.text(lang),
            v.display_width,
            v.display_height
        );
    }
    if let Some(a) = &stream.audio {
        let _ = write!(
            s,
            ", {} Hz, {} {}",
            a.sample_rate,
            a.channels,
            Label::Channels.text(lang)
        );
        if let Some(layout) = &a.channel_layout {
            let _ = write!(s, " ({layout})");
        }
        if let Some(format) = &a.sample_format {
            let _ = write!(s, ", {format}");
        }
    }
    if let Some(rate) = stream.bit_rate {
        let _ = write!(s, ", {}", units::bit_rate(rate));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::probe::ProbeError;
    use crate::report::{AudioInfo, VideoInfo};

    fn report() -> MediaReport {
        MediaReport {
            file_name: "phone.mp4".into(),
            size_bytes: 683_502,
            container: "mov,mp4,m4a,3gp,3g2,mj2".into(),
            container_family: "mp4".into(),
            duration_seconds: Some(6.0),
            bit_rate: Some(911_336),
            streams: vec![
                StreamReport {
                    index: 0,
                    kind: StreamKind::Video,
                    codec: "h264".into(),
                    codec_long: None,
                    profile: Some("High".into()),
                    level: Some(31),
                    bit_rate: None,
                    duration_seconds: Some(6.0),
                    video: Some(VideoInfo {
                        width: 1280,
                        height: 720,
                        pixel_format: Some("yuv420p".into()),
                        rotation: 90,
                        sample_aspect_ratio: (1, 1),
                        display_width: 720,
                        display_height: 1280,
                        avg_frame_rate: Some(30.0),
                        real_frame_rate: Some(30.0),
                        frame_rate_is_variable: false,
                        closed_captions: false,
                        signal: Default::default(),
                    }),
                    audio: None,
                },
                StreamReport {
                    index: 1,
                    kind: StreamKind::Audio,
                    codec: "aac".into(),
                    codec_long: None,
                    profile: Some("LC".into()),
                    level: None,
                    bit_rate: Some(64_000),
                    duration_seconds: Some(6.0),
                    video: None,
                    audio: Some(AudioInfo {
                        channels: 2,
                        sample_rate: 48000,
                        sample_format: Some("fltp".into()),
                        channel_layout: Some("stereo".into()),
                    }),
                },
            ],
        }
    }

    #[test]
    fn accepted_file_renders_its_facts_and_verdict_in_chinese() {
        let out = ProbeOutput::from_probe("phone.mp4", Ok(report()), &Policy::lecture_default());
        let text = render_text(&out, Lang::Zh);
        assert!(text.contains("文件：phone.mp4 (667.48 KiB)"), "{text}");
        assert!(text.contains("流 #0 视频：h264 (High, level 31), 1280x720 yuv420p, 旋转 90°, 30 fps → 显示为 720x1280"), "{text}");
        assert!(
            text.contains("流 #1 音频：aac (LC), 48000 Hz, 2 声道 (stereo), fltp, 64.0 kbit/s"),
            "{text}"
        );
        assert!(text.ends_with("结论：通过\n"), "{text}");
    }

    #[test]
    fn rejected_file_lists_every_violation_in_both_languages_chosen_language_first() {
        let mut r = report();
        r.streams.truncate(1);
        let out = ProbeOutput::from_probe("phone.mp4", Ok(r), &Policy::lecture_default());
        let text = render_text(&out, Lang::En);
        assert!(text.contains("Result: rejected (1 violation(s))"), "{text}");
        let en = text
            .find("  - [audio.missing] The file has no audio stream")
            .expect(&text);
        let zh = text.find("    文件中没有音频流").expect(&text);
        assert!(en < zh);
    }

    #[test]
    fn unreadable_file_renders_the_error_code_and_both_messages() {
        let out =
            ProbeOutput::from_probe("x.mp4", Err(ProbeError::Empty), &Policy::lecture_default());
        let text = render_text(&out, Lang::Zh);
        assert!(text.contains("结论：无法读取 [probe.empty]"), "{text}");
        assert!(text.contains("文件为空"), "{text}");
        assert!(text.contains("The file is empty"), "{text}");
    }
}
