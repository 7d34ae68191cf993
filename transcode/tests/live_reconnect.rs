//! One live transcoder across publisher reconnects, on real media: a second
//! publisher with the same settings continues the timeline seamlessly; one
//! with another resolution keeps the rungs at their planned size and gives
//! every video rendition a second `Config` at the same instant, right
//! before its first (key)frame of the new configuration.
#![allow(clippy::unwrap_used)]

mod live_common;

use live_common::{
    Collected, access_units, assert_continuous, assert_decodes, config, make_flv, run, size,
};
use yanxiu_packager::media::TrackInput;
use yanxiu_transcode::live::{LiveInput, LiveRenditionKind};

/// The largest step allowed on a video timeline, 90 kHz: at a seam the
/// repair bridges with one frame after the longer of the old publisher's
/// tracks (its audio may run a few tens of milliseconds past its video).
const MAX_VIDEO_STEP: i64 = 9000;

fn video_units(units: &[LiveInput]) -> usize {
    units
        .iter()
        .filter(|u| matches!(u, LiveInput::Video { .. }))
        .count()
}

fn rendition<'a>(renditions: &'a [Collected], name: &str) -> &'a Collected {
    renditions.iter().find(|r| r.name == name).unwrap()
}

/// The sample right after configuration number `k`.
fn first_sample_of_config(c: &Collected, k: usize) -> &yanxiu_packager::media::Sample {
    let (before, _) = c.configs()[k];
    c.samples()[before]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_with_the_same_settings_continues_every_rendition_without_a_seam() {
    let dir = tempfile::tempdir().unwrap();
    let flv = make_flv(dir.path(), "a", "1280x720", 3, &["-g", "60", "-bf", "2"]);
    // Publisher A starts at 7 s; publisher B restarts its clock at 0.
    let mut units = access_units(&flv, |ms| 7000 + ms as u32);
    let b = access_units(&flv, |ms| ms as u32);
    assert_eq!(units[0], b[0], "identical avcC");
    let total_video = video_units(&units) + video_units(&b);
    units.extend(b);
    let run = run(config(true, &[360, 240]), units).await.unwrap();

    let names: Vec<&str> = run.renditions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["source", "360p", "240p", "audio"]);
    for r in &run.renditions {
        assert!(r.ended(), "{}", r.name);
        // One configuration: nothing for the consumer to do.
        assert_eq!(r.configs().len(), 1, "{}", r.name);
        let rate = i64::from(r.configs()[0].1.timescale);
        let max_step = if r.is_video() { MAX_VIDEO_STEP } else { rate };
        assert_continuous(r, max_step);
    }
    // Every unit of both publishers went out on the passthrough.
    let source = rendition(&run.renditions, "source");
    assert_eq!(source.samples().len(), total_video);
    // 6 s of pictures, all decoded and encoded by every rung.
    assert_eq!(run.report.video_frames, total_video as u64);
    for r in &run.stats.renditions {
        let collected = rendition(&run.renditions, &r.name).samples().len() as u64;
        assert_eq!(r.samples, collected, "{}", r.name);
    }
    assert_eq!(run.stats.video_units_received, total_video as u64);
    assert!(run.report.repairs >= 1, "the clock restart was repaired");
    // Keyframes stay aligned across the seam.
    let keys = source.keyframes();
    assert_eq!(keys.len(), 4, "{keys:?}");
    for name in ["360p", "240p"] {
        assert_eq!(rendition(&run.renditions, name).keyframes(), keys, "{name}");
        assert_decodes(dir.path(), rendition(&run.renditions, name), 0);
    }
    assert_decodes(dir.path(), source, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_at_another_resolution_re_announces_the_video_configurations_at_one_instant() {
    let dir = tempfile::tempdir().unwrap();
    let a_flv = make_flv(dir.path(), "a", "1280x720", 3, &["-g", "60"]);
    let b_flv = make_flv(dir.path(), "b", "640x360", 3, &["-g", "60"]);
    let mut units = access_units(&a_flv, |ms| 7000 + ms as u32);
    let b = access_units(&b_flv, |ms| ms as u32);
    let a_video = video_units(&units);
    let last_b_dts = b
        .iter()
        .rev()
        .find_map(|u| match u {
            LiveInput::Video { dts, .. } => Some(*dts),
            _ => None,
        })
        .unwrap();
    units.extend(b);
    let run = run(config(true, &[360, 240]), units).await.unwrap();

    let source = rendition(&run.renditions, "source");
    let configs = source.configs();
    assert_eq!(configs.len(), 2, "a second Config for the new SPS");
    assert_eq!(size(configs[0].1), (1280, 720));
    assert_eq!(size(configs[1].1), (640, 360));
    assert_eq!(configs[1].0, a_video, "announced before B's first sample");
    let switch = first_sample_of_config(source, 1);
    assert!(switch.is_sync);
    assert!(matches!(
        source.kind,
        LiveRenditionKind::Passthrough {
            width: 1280,
            height: 720
        }
    ));
    for (name, planned) in [("360p", (640, 360)), ("240p", (426, 240))] {
        let r = rendition(&run.renditions, name);
        let configs = r.configs();
        // The same configuration again, at the same instant as the source.
        assert_eq!(configs.len(), 2, "{name}");
        assert_eq!(configs[0].1, configs[1].1, "{name}: unchanged");
        assert_eq!(size(configs[1].1), planned, "{name}: planned size kept");
        let first = first_sample_of_config(r, 1);
        assert!(first.is_sync, "{name}");
        assert_eq!(first.pts, switch.pts, "{name}: same instant as the source");
        assert_eq!(r.keyframes(), source.keyframes(), "{name}");
        // Both sides of the switch decode (the scaler follows the new size).
        assert_decodes(dir.path(), r, 0);
        assert_decodes(dir.path(), r, 1);
    }
    assert_decodes(dir.path(), source, 0);
    assert_decodes(dir.path(), source, 1);
    let audio = rendition(&run.renditions, "audio");
    assert_eq!(audio.configs().len(), 1, "audio is not re-announced");
    for r in &run.renditions {
        assert!(r.ended(), "{}", r.name);
        let rate = i64::from(r.configs()[0].1.timescale);
        let max_step = if r.is_video() { MAX_VIDEO_STEP } else { rate };
        assert_continuous(r, max_step);
        assert!(
            !matches!(r.inputs.first(), Some(TrackInput::Sample(_))),
            "{}: a Config comes first",
            r.name
        );
    }
    assert_eq!(run.stats.last_input_video_dts_ms, Some(last_b_dts));
    assert!(run.stats.last_repaired_video_dts.unwrap() > 5 * 90_000);
}
