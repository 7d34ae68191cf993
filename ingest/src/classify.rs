//! Pure classification of raw libav facts: which container family a demuxer
//! belongs to, which demuxers read still images rather than media, and
//! whether a stream's frame timestamps (read in decode order) follow a
//! constant rate; whether a picture is interlaced, from its field order
//! flag and from what libavfilter's `idet` counted in the pictures.

use crate::report::{FieldOrder, IdetCounts, Scan};

/// Codecs the WebM profile of Matroska allows; a `matroska,webm` file
/// holding only these is reported as `"webm"`.
const WEBM_CODECS: &[&str] = &["vp8", "vp9", "av1", "opus", "vorbis", "webvtt"];

/// Normalises a libav demuxer name to the container family policies name:
/// `"mp4"` (the MOV/MP4/M4A/3GP demuxer), `"webm"` or `"matroska"` (one
/// demuxer; `"webm"` when every stream uses a WebM codec, as the WebM
/// specification requires), `"mpegts"`, `"flv"`, `"avi"`, the sound files
/// `"mp3"`, `"flac"`, `"wav"`, `"ogg"` and `"aac"` (ADTS), or
/// `"other:<demuxer name>"` for everything else.
pub fn container_family(demuxer: &str, stream_codecs: &[&str]) -> String {
    match demuxer {
        "mov,mp4,m4a,3gp,3g2,mj2" | "mov" | "mp4" => "mp4".to_owned(),
        "matroska,webm" | "matroska" | "webm" => {
            let webm =
                !stream_codecs.is_empty() && stream_codecs.iter().all(|c| WEBM_CODECS.contains(c));
            if webm { "webm" } else { "matroska" }.to_owned()
        }
        "mpegts" => "mpegts".to_owned(),
        "flv" | "live_flv" => "flv".to_owned(),
        "avi" => "avi".to_owned(),
        // Sound files (lectures recorded without picture).
        "mp3" | "flac" | "wav" | "ogg" | "aac" => demuxer.to_owned(),
        other => format!("other:{other}"),
    }
}

/// Whether a demuxer reads still images (libav's `image2` and `*_pipe`
/// demuxers such as `png_pipe`, `jpeg_pipe`, `webp_pipe`): such a file is a
/// picture, not audio or video, whatever its name says.
pub fn is_still_image_demuxer(demuxer: &str) -> bool {
    demuxer == "image2" || demuxer.ends_with("_pipe")
}

/// Most places a frame may move between decode and presentation order:
/// H.264 and H.265 allow at most 16 reordered frames (`max_num_reorder_frames`,
/// bounded by the 16-picture decoded picture buffer); other codecs reorder
/// less or not at all.
pub const MAX_REORDER_DEPTH: usize = 16;

/// The presentation timestamps of a stream's first packets, as read from
/// the container: in decode order, and either every packet of the stream
/// or a window that stops somewhere inside it.
#[derive(Debug, Clone, Copy)]
pub struct TimestampSample<'a> {
    /// Presentation (else decode) timestamps, in the order the packets were
    /// read (decode order), any one time base.
    pub decode_order: &'a [i64],
    /// Whether the read reached the end of the stream, so no later packet
    /// can fill a gap in what was read.
    pub reached_end: bool,
}

/// Verdict on frame timestamps: `Some(true)` when the gaps between
/// consecutive presentation times differ by more than half (e.g. 1/30 s
/// then 1/15 s), `Some(false)` when they are even (rounding jitter such as
/// 33/34 ms is even), `None` with fewer than four distinct timestamps to
/// judge.
///
/// A window cut in decode order is not a window in presentation order:
/// with B-frames (x264's default pyramid of three, used throughout on still
/// slides) the last packets read are a reference frame ahead of the B-frames
/// that come before it on screen and were not read yet, so the sorted
/// window ends with a gap of several frame intervals that a constant-rate
/// stream does not have. A frame moves at most [`MAX_REORDER_DEPTH`] places
/// between the two orders, so when the window stops before the end of the
/// stream its `MAX_REORDER_DEPTH` latest presentation times are left out:
/// every frame shown before the rest has then been read.
pub fn timestamps_are_variable(sample: TimestampSample<'_>) -> Option<bool> {
    let mut sorted = sample.decode_order.to_vec();
    sorted.sort_unstable();
    if !sample.reached_end {
        sorted.truncate(sorted.len().saturating_sub(MAX_REORDER_DEPTH));
    }
    sorted.dedup();
    if sorted.len() < 4 {
        return None;
    }
    let gaps = sorted.windows(2).map(|w| w[1].saturating_sub(w[0]));
    let (min, max) = gaps.fold((i64::MAX, 0_i64), |(lo, hi), g| (lo.min(g), hi.max(g)));
    // Integer form of max > 1.5 × min, robust to any time base.
    Some(max.saturating_mul(2) > min.saturating_mul(3))
}

/// Whether a stream has a variable frame rate: the timestamp verdict when
/// there is one, else whether the average and the real (base) frame rates
/// disagree by more than 1 %.
pub fn frame_rate_is_variable(
    timestamp_verdict: Option<bool>,
    avg_frame_rate: Option<f64>,
    real_frame_rate: Option<f64>,
) -> bool {
    if let Some(verdict) = timestamp_verdict {
        return verdict;
    }
    match (avg_frame_rate, real_frame_rate) {
        (Some(avg), Some(real)) if avg > 0.0 && real > 0.0 => ((avg - real) / real).abs() > 0.01,
        _ => false,
    }
}

/// Fewest decided pictures (interlaced or progressive) the content check
/// needs before it says anything: still pictures (a slide) decide nothing.
pub const IDET_MIN_DECIDED: u64 = 10;

/// Share of the decided pictures one field parity must hold before the
/// pictures count as interlaced. Woven fields comb on every moving edge
/// with the same parity (a 1080i50 card: 75 of 75 top-first); progressive
/// pictures with fine moving detail, once compressed, fool `idet` often but
/// split between the parities (measured on this repository's progressive
/// fixtures: up to 72 % one parity, typically 30-60 %).
pub const IDET_INTERLACED_SHARE: f64 = 0.8;

/// What the pictures say, from `idet`'s multi-frame counts: `None` when
/// fewer than [`IDET_MIN_DECIDED`] pictures were decided (still pictures
/// decide nothing); interlaced with that field first when one parity holds
/// at least [`IDET_INTERLACED_SHARE`] of the decided pictures; otherwise
/// progressive (deinterlacing progressive pictures would halve their
/// vertical detail and double their frame rate, so doubt means progressive).
pub fn content_scan(counts: IdetCounts) -> Option<Scan> {
    let decided = counts.tff + counts.bff + counts.progressive;
    if decided < IDET_MIN_DECIDED {
        return None;
    }
    let share = |n: u64| n as f64 / decided as f64;
    Some(if share(counts.tff) >= IDET_INTERLACED_SHARE {
        Scan::TopFieldFirst
    } else if share(counts.bff) >= IDET_INTERLACED_SHARE {
        Scan::BottomFieldFirst
    } else {
        Scan::Progressive
    })
}

/// The scan to deinterlace by: flags lie in both directions, so a stream
/// is interlaced when its field order says so *or* its pictures do. The
/// pictures decide the field parity when they show interlacing; a flag
/// alone decides it otherwise.
pub fn scan_of(flag: FieldOrder, content: Option<Scan>) -> Scan {
    match content {
        Some(seen) if seen.is_interlaced() => seen,
        _ => flag.scan(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mov_demuxer_is_the_mp4_family() {
        assert_eq!(
            container_family("mov,mp4,m4a,3gp,3g2,mj2", &["h264", "aac"]),
            "mp4"
        );
    }

    #[test]
    fn matroska_with_only_webm_codecs_is_webm_otherwise_matroska() {
        assert_eq!(container_family("matroska,webm", &["vp9", "opus"]), "webm");
        assert_eq!(
            container_family("matroska,webm", &["h264", "aac"]),
            "matroska"
        );
        assert_eq!(
            container_family("matroska,webm", &["vp9", "aac"]),
            "matroska"
        );
        assert_eq!(container_family("matroska,webm", &[]), "matroska");
    }

    #[test]
    fn known_demuxers_map_to_their_family_and_others_are_tagged() {
        assert_eq!(container_family("mpegts", &[]), "mpegts");
        assert_eq!(container_family("flv", &[]), "flv");
        assert_eq!(container_family("live_flv", &[]), "flv");
        assert_eq!(container_family("avi", &[]), "avi");
        assert_eq!(container_family("yuv4mpegpipe", &[]), "other:yuv4mpegpipe");
        for sound in ["mp3", "flac", "wav", "ogg", "aac"] {
            assert_eq!(container_family(sound, &[]), sound);
        }
    }

    #[test]
    fn image_demuxers_are_still_images() {
        assert!(is_still_image_demuxer("png_pipe"));
        assert!(is_still_image_demuxer("image2"));
        assert!(!is_still_image_demuxer("mov,mp4,m4a,3gp,3g2,mj2"));
        assert!(!is_still_image_demuxer("yuv4mpegpipe"));
    }

    fn whole(decode_order: &[i64]) -> TimestampSample<'_> {
        TimestampSample {
            decode_order,
            reached_end: true,
        }
    }

    fn window(decode_order: &[i64]) -> TimestampSample<'_> {
        TimestampSample {
            decode_order,
            reached_end: false,
        }
    }

    /// Presentation times in decode order of a constant-rate stream coded
    /// as x264 does by default: an I-frame, then mini-GOPs of a P-frame
    /// followed by a B-pyramid of three (the reference B in the middle
    /// first), `tick` apart.
    fn b_pyramid(frames: i64, tick: i64) -> Vec<i64> {
        let mut out = vec![0];
        let mut base = 0;
        while base + 4 < frames {
            out.extend([base + 4, base + 2, base + 1, base + 3]);
            base += 4;
        }
        out.extend(base + 1..frames);
        out.into_iter().map(|n| n * tick).collect()
    }

    #[test]
    fn even_timestamps_are_constant_rate_even_with_rounding_jitter() {
        let ms_2997: Vec<i64> = (0..60)
            .map(|n| (n as f64 * 1001.0 / 30.0).round() as i64)
            .collect();
        assert_eq!(timestamps_are_variable(whole(&ms_2997)), Some(false));
        let reordered = [0, 3000, 1000, 2000, 5000, 4000];
        assert_eq!(timestamps_are_variable(whole(&reordered)), Some(false));
    }

    #[test]
    fn a_b_pyramid_window_cut_after_a_p_frame_is_constant_rate() {
        // 298 packets of a 25 fps stream (tick 512 in a 1/12800 time base):
        // the last packet read is the P-frame of frame 300, ahead of the
        // B-frames 297-299 that were not read yet, as in a still lecture
        // slide encoded by x264 with default settings.
        let pts = b_pyramid(1000, 512);
        let cut = &pts[..298];
        assert_eq!(cut.last(), Some(&(300 * 512)));
        assert!(!cut.contains(&(299 * 512)));
        assert_eq!(timestamps_are_variable(window(cut)), Some(false));
        // Every cut point inside the pyramid, not only that one.
        for len in 20..=320 {
            assert_eq!(
                timestamps_are_variable(window(&pts[..len])),
                Some(false),
                "window of {len} packets"
            );
        }
    }

    #[test]
    fn a_whole_stream_with_b_frames_is_constant_rate() {
        assert_eq!(
            timestamps_are_variable(whole(&b_pyramid(30, 1))),
            Some(false)
        );
        assert_eq!(
            timestamps_are_variable(whole(&b_pyramid(7, 1))),
            Some(false)
        );
    }

    #[test]
    fn a_rate_change_from_30_to_15_fps_is_variable() {
        let mut ts: Vec<i64> = (0..30).map(|n| n * 512).collect();
        ts.extend((0..30).map(|n| 30 * 512 + n * 1024));
        assert_eq!(timestamps_are_variable(whole(&ts)), Some(true));
        assert_eq!(timestamps_are_variable(window(&ts)), Some(true));
    }

    #[test]
    fn a_dropped_frame_inside_a_b_pyramid_window_is_variable() {
        let mut pts = b_pyramid(400, 512);
        let dropped = pts.iter().position(|&t| t == 101 * 512).expect("frame 101");
        pts.remove(dropped);
        assert_eq!(timestamps_are_variable(window(&pts[..300])), Some(true));
    }

    #[test]
    fn too_few_timestamps_give_no_verdict() {
        assert_eq!(timestamps_are_variable(whole(&[0, 1, 2])), None);
        assert_eq!(timestamps_are_variable(whole(&[5, 5, 5, 5, 5])), None);
        // A window keeps only what is surely complete.
        let short: Vec<i64> = (0..18).collect();
        assert_eq!(timestamps_are_variable(window(&short)), None);
        assert_eq!(timestamps_are_variable(whole(&short)), Some(false));
    }

    #[test]
    fn without_a_timestamp_verdict_disagreeing_rates_mean_variable() {
        assert!(frame_rate_is_variable(None, Some(22.78), Some(30.0)));
        assert!(!frame_rate_is_variable(None, Some(29.97), Some(29.97)));
        assert!(!frame_rate_is_variable(None, None, Some(30.0)));
        assert!(!frame_rate_is_variable(Some(false), Some(22.0), Some(30.0)));
        assert!(frame_rate_is_variable(Some(true), Some(30.0), Some(30.0)));
    }

    fn idet(tff: u64, bff: u64, progressive: u64, undetermined: u64) -> IdetCounts {
        IdetCounts {
            tff,
            bff,
            progressive,
            undetermined,
        }
    }

    #[test]
    fn pictures_combed_with_one_parity_are_interlaced_with_that_field_first() {
        assert_eq!(content_scan(idet(75, 0, 0, 0)), Some(Scan::TopFieldFirst));
        assert_eq!(
            content_scan(idet(2, 60, 5, 40)),
            Some(Scan::BottomFieldFirst)
        );
        assert_eq!(content_scan(idet(80, 0, 20, 0)), Some(Scan::TopFieldFirst));
    }

    #[test]
    fn false_alarms_split_between_parities_leave_pictures_progressive() {
        // Progressive fixtures measured here (tff, bff, progressive).
        assert_eq!(content_scan(idet(0, 5, 70, 0)), Some(Scan::Progressive));
        assert_eq!(content_scan(idet(51, 66, 83, 0)), Some(Scan::Progressive));
        assert_eq!(content_scan(idet(88, 81, 31, 0)), Some(Scan::Progressive));
        assert_eq!(content_scan(idet(144, 40, 16, 0)), Some(Scan::Progressive));
    }

    #[test]
    fn still_pictures_decide_nothing() {
        assert_eq!(content_scan(idet(0, 0, 0, 200)), None);
        assert_eq!(content_scan(idet(4, 0, 5, 190)), None);
        assert_eq!(content_scan(IdetCounts::default()), None);
    }

    #[test]
    fn a_stream_is_interlaced_when_its_flag_or_its_pictures_say_so() {
        use FieldOrder::*;
        // Flagged and seen.
        assert_eq!(
            scan_of(TopTop, Some(Scan::TopFieldFirst)),
            Scan::TopFieldFirst
        );
        // Flagged progressive, pictures combed: the pictures win.
        assert_eq!(
            scan_of(Progressive, Some(Scan::BottomFieldFirst)),
            Scan::BottomFieldFirst
        );
        // Flagged interlaced, pictures look progressive or undecided: the flag stands.
        assert_eq!(
            scan_of(BottomBottom, Some(Scan::Progressive)),
            Scan::BottomFieldFirst
        );
        assert_eq!(scan_of(TopTop, None), Scan::TopFieldFirst);
        // Nothing says interlaced.
        assert_eq!(scan_of(Unknown, None), Scan::Progressive);
        assert_eq!(
            scan_of(Progressive, Some(Scan::Progressive)),
            Scan::Progressive
        );
    }

    #[test]
    fn the_pictures_decide_the_field_parity_over_a_wrong_flag() {
        assert_eq!(
            scan_of(FieldOrder::TopTop, Some(Scan::BottomFieldFirst)),
            Scan::BottomFieldFirst
        );
    }
}
