//! HEVC sources in the live ladder (Enhanced RTMP, SRT), on real media
//! encoded with libx265: always laddered to H.264; where the channel allows
//! it, also passed through as an `hvc1` rendition beside the whole H.264
//! ladder (rungs up to the source size, for players without HEVC), the
//! rungs' keyframes on the source's so every rendition cuts segments at the
//! same instants. The passthrough keeps the codec the session started with:
//! an H.264 publisher continuing an HEVC session pauses it.
#![allow(clippy::unwrap_used)]

mod live_common;

use live_common::{
    Collected, Run, access_units, assert_continuous, assert_decodes, config, make_flv,
    make_hevc_mp4, run, size, video_units,
};
use yanxiu_packager::media::{TrackKind, VideoCodecConfig};
use yanxiu_transcode::live::{LiveInput, LiveRenditionKind};

/// The largest step allowed on a video timeline, 90 kHz (a reconnect seam).
const MAX_VIDEO_STEP: i64 = 9000;

fn rendition<'a>(run: &'a Run, name: &str) -> &'a Collected {
    run.renditions.iter().find(|r| r.name == name).unwrap()
}

fn names(run: &Run) -> Vec<&str> {
    run.renditions.iter().map(|r| r.name.as_str()).collect()
}

fn is_hevc(c: &Collected) -> bool {
    c.configs().iter().all(|(_, config)| {
        matches!(
            config.kind,
            TrackKind::Video {
                codec: VideoCodecConfig::Hevc(_),
                ..
            }
        )
    })
}

fn is_h264(c: &Collected) -> bool {
    c.configs().iter().all(|(_, config)| {
        matches!(
            config.kind,
            TrackKind::Video {
                codec: VideoCodecConfig::H264(_),
                ..
            }
        )
    })
}

/// The video units' data of a publish, in order.
fn video_data(units: &[LiveInput]) -> Vec<&[u8]> {
    units
        .iter()
        .filter_map(|u| match u {
            LiveInput::Video { data, .. } => Some(data.as_ref()),
            _ => None,
        })
        .collect()
}

/// 8 s of 640x360 HEVC with a keyframe every 2 s and B-frames, as one
/// Enhanced RTMP publish starting at 1 s.
fn hevc_publish(dir: &std::path::Path) -> Vec<LiveInput> {
    let mp4 = make_hevc_mp4(
        dir,
        "hevc",
        "640x360",
        8,
        "keyint=60:min-keyint=60:scenecut=0:bframes=2",
    );
    let units = access_units(&mp4, |ms| (1000 + ms) as u32);
    assert!(matches!(units[0], LiveInput::HevcConfig { .. }));
    units
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_hevc_source_is_passed_through_beside_a_whole_h264_ladder_on_its_keyframes() {
    let dir = tempfile::tempdir().unwrap();
    let units = hevc_publish(dir.path());
    let input = video_data(&units)
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect::<Vec<_>>();
    let mut settings = config(true, &[360, 240]);
    settings.hevc_passthrough = true;
    let run = run(settings, units).await.unwrap();

    // The H.264 ladder keeps its 360p rung: the HEVC rendition is extra.
    assert_eq!(names(&run), vec!["source", "360p", "240p", "audio"]);
    let source = rendition(&run, "source");
    assert_eq!(
        source.kind,
        LiveRenditionKind::Passthrough {
            width: 640,
            height: 360
        }
    );
    assert!(source.ended());
    assert_eq!(source.configs().len(), 1);
    assert!(is_hevc(source), "the source rendition is HEVC");
    let codec = source.configs()[0].1.codec_string();
    assert!(codec.starts_with("hvc1.1.6.L"), "Main profile: {codec}");
    // Every access unit as it came, none re-encoded.
    let passed: Vec<&[u8]> = source.samples().iter().map(|s| s.data.as_ref()).collect();
    assert_eq!(passed.len(), input.len());
    assert!(
        passed
            .iter()
            .zip(&input)
            .all(|(out, sent)| *out == sent.as_slice())
    );
    assert_continuous(source, MAX_VIDEO_STEP);
    assert_decodes(dir.path(), source, 0);

    let keys = source.keyframes();
    assert_eq!(keys.len(), 4, "a keyframe every 2 s: {keys:?}");
    for (name, expected) in [("360p", (640, 360)), ("240p", (426, 240))] {
        let rung = rendition(&run, name);
        assert!(rung.ended(), "{name}");
        assert!(is_h264(rung), "{name} is H.264");
        assert_eq!(size(rung.configs()[0].1), expected, "{name}");
        assert_eq!(rung.keyframes(), keys, "{name}: on the source's keyframes");
        assert_eq!(rung.samples().len(), input.len(), "{name}: every picture");
        assert_continuous(rung, MAX_VIDEO_STEP);
        assert_decodes(dir.path(), rung, 0);
    }
    assert_eq!(run.report.video_frames, input.len() as u64);
    assert_eq!(run.report.corrupt_units, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_channels_permission_an_hevc_source_is_laddered_to_h264_only() {
    let dir = tempfile::tempdir().unwrap();
    let units = hevc_publish(dir.path());
    let run = run(config(true, &[360, 240]), units).await.unwrap();
    assert_eq!(names(&run), vec!["360p", "240p", "audio"]);
    for name in ["360p", "240p"] {
        let rung = rendition(&run, name);
        assert!(matches!(rung.kind, LiveRenditionKind::Video { .. }));
        assert!(is_h264(rung), "{name}");
        assert_decodes(dir.path(), rung, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h264_publisher_continuing_an_hevc_session_pauses_the_hevc_rendition_until_hevc_is_back()
{
    let dir = tempfile::tempdir().unwrap();
    let mp4 = make_hevc_mp4(dir.path(), "hevc", "640x360", 3, "keyint=60:min-keyint=60");
    let flv = make_flv(dir.path(), "h264", "640x360", 3, &["-g", "60"]);
    // HEVC from 1 s, then H.264 (an OBS that switched encoder) restarting
    // its clock, then HEVC again at 40 s.
    let a = access_units(&mp4, |ms| (1000 + ms) as u32);
    let b = access_units(&flv, |ms| (200 + ms) as u32);
    let c = access_units(&mp4, |ms| (40_000 + ms) as u32);
    let (a_video, b_video, c_video) = (video_units(&a), video_units(&b), video_units(&c));
    let units: Vec<LiveInput> = [a, b, c].into_iter().flatten().collect();
    let mut settings = config(true, &[360, 240]);
    settings.hevc_passthrough = true;
    let run = run(settings, units).await.unwrap();

    assert_eq!(names(&run), vec!["source", "360p", "240p", "audio"]);
    let source = rendition(&run, "source");
    assert!(is_hevc(source), "never H.264 in the HEVC rendition");
    assert_eq!(source.samples().len(), a_video + c_video);
    let configs = source.configs();
    assert_eq!(configs.len(), 2, "announced again when HEVC is back");
    assert_eq!(configs[1].0, a_video);
    let samples = source.samples();
    assert!(samples[a_video].is_sync, "back at a keyframe");
    assert!(
        i64::from(samples[a_video - 1].duration) <= MAX_VIDEO_STEP,
        "the last HEVC sample is not stretched over the H.264 publish"
    );
    assert!(samples.windows(2).all(|w| w[0].dts < w[1].dts));
    assert_decodes(dir.path(), source, 0);
    assert_decodes(dir.path(), source, 1);
    for name in ["360p", "240p"] {
        let rung = rendition(&run, name);
        assert!(is_h264(rung), "{name}");
        assert_eq!(
            rung.samples().len(),
            a_video + b_video + c_video,
            "{name}: every picture of the three publishers"
        );
        assert_continuous(rung, MAX_VIDEO_STEP);
        // Restarted at the H.264 publisher and again at HEVC's return, at
        // the passthrough's switch instant.
        let rung_configs = rung.configs();
        assert_eq!(rung_configs.len(), 3, "{name}");
        let back = rung.samples()[rung_configs[2].0];
        assert!(back.is_sync, "{name}");
        assert_eq!(back.pts, samples[a_video].pts, "{name}");
    }
}
