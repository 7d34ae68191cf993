//! The live transcoder on a real stream: an FLV made with the ffmpeg CLI,
//! demuxed with libavformat into RTMP-style access units that start near the
//! 32-bit wrap and jump backwards, transcoded, packaged with the CMAF writer
//! and decoded again by the ffmpeg CLI.
#![allow(clippy::unwrap_used)]

mod live_common;

use std::process::Command;

use yanxiu_packager::cmaf::{TrackFragment, init_segment, media_segment};
use yanxiu_packager::media::{Sample, TrackInput};
use yanxiu_transcode::live::{
    LiveConfig, LiveInput, LiveRenditionKind, LiveTranscoder, RepairEvent,
};

/// The test FLV: 6 s of 720p with B-frames and 1 s GOPs.
fn make_flv(dir: &std::path::Path) -> std::path::PathBuf {
    live_common::make_flv(dir, "source", "1280x720", 6, &["-bf", "2", "-g", "30"])
}

/// The FLV's access units, with timestamps starting 3 s before the 32-bit
/// wrap and jumping back 1.5 s at 4.5 s of input.
fn access_units(path: &std::path::Path) -> Vec<LiveInput> {
    let base = u32::MAX - 3000;
    let fault = |ms: i64| -> u32 {
        let ms = if ms >= 4500 { ms - 1500 } else { ms };
        base.wrapping_add(ms as u32)
    };
    let mut units = live_common::access_units(path, fault);
    units.push(LiveInput::End);
    units
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_with_a_wrap_and_a_backward_jump_gives_an_aligned_decodable_ladder() {
    let dir = tempfile::tempdir().unwrap();
    let units = access_units(&make_flv(dir.path()));
    let config = LiveConfig::default();
    let gop_ticks = (config.ladder.gop_seconds * 90_000.0) as i64;
    let mut live = LiveTranscoder::start(config).unwrap();
    let input = live.input();
    let feeder = tokio::spawn(async move {
        for unit in units {
            input.send(unit).await.unwrap();
        }
    });
    let renditions = live.renditions().await.unwrap();
    let names: Vec<&str> = renditions.iter().map(|r| r.name.as_str()).collect();
    // A 720p source: passthrough, the rungs below it (720p itself is the
    // passthrough), audio.
    assert_eq!(names, vec!["source", "480p", "360p", "audio"]);
    let mut collectors = Vec::new();
    for mut r in renditions {
        collectors.push(tokio::spawn(async move {
            let mut config = None;
            let mut samples = Vec::new();
            let mut ended = false;
            while let Some(input) = r.samples.recv().await {
                match input {
                    TrackInput::Config(c) => config = Some(c),
                    TrackInput::Sample(s) => samples.push(s),
                    TrackInput::End => ended = true,
                }
            }
            (r.name, r.kind, config.unwrap(), samples, ended)
        }));
    }
    feeder.await.unwrap();
    let mut events_rx = live.take_events().unwrap();
    let report = live.finish().await.unwrap();
    let mut events = Vec::new();
    while let Ok(e) = events_rx.try_recv() {
        events.push(e);
    }
    assert!(report.video_frames >= 170, "{report:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RepairEvent::Wrapped { .. })),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RepairEvent::BackwardJump { .. })),
        "{events:?}"
    );
    let mut source_keys = Vec::new();
    let mut rung_keys = Vec::new();
    for c in collectors {
        let (name, kind, track, samples, ended) = c.await.unwrap();
        assert!(ended, "{name} ended");
        check_continuous(&name, &samples);
        match kind {
            LiveRenditionKind::Video { .. } => rung_keys.push(keyframe_times(&samples)),
            LiveRenditionKind::Passthrough { .. } => source_keys = keyframe_times(&samples),
            LiveRenditionKind::Audio => {}
        }
        decodes(dir.path(), &name, &track, &samples);
    }
    // With passthrough the rungs' keyframes are the source's (one a second
    // here, through the wrap and the jump), so every rendition cuts its
    // segments at the same instants.
    assert!(source_keys.len() >= 5, "{source_keys:?}");
    assert!(
        source_keys.windows(2).all(|w| w[1] - w[0] < gop_ticks),
        "{source_keys:?}"
    );
    assert_eq!(rung_keys.len(), 2);
    for keys in rung_keys {
        assert_eq!(keys, source_keys, "rung keyframes on the source's");
    }
}

fn check_continuous(name: &str, samples: &[Sample]) {
    assert!(samples.len() > 100, "{name}: {} samples", samples.len());
    assert!(samples[0].is_sync);
    for w in samples.windows(2) {
        assert!(w[0].dts < w[1].dts, "{name}: dts not increasing");
        assert_eq!(w[0].dts + i64::from(w[0].duration), w[1].dts, "{name}: gap");
        assert!(w[1].pts >= w[1].dts);
    }
}

fn keyframe_times(samples: &[Sample]) -> Vec<i64> {
    samples
        .iter()
        .filter(|s| s.is_sync)
        .map(|s| s.pts)
        .collect()
}

fn decodes(
    dir: &std::path::Path,
    name: &str,
    track: &yanxiu_packager::media::TrackConfig,
    samples: &[Sample],
) {
    let mut file = init_segment(&[(1, track)]);
    let mut start = 0;
    let mut seq = 1;
    for i in 1..=samples.len() {
        let cut = i == samples.len()
            || (samples[i].is_sync && track.is_video() && i - start >= 30)
            || (!track.is_video() && i - start >= 90);
        if cut {
            let seg = media_segment(
                seq,
                &[TrackFragment {
                    track_id: 1,
                    samples: &samples[start..i],
                }],
            )
            .unwrap();
            file.extend_from_slice(&seg);
            start = i;
            seq += 1;
        }
    }
    let path = dir.join(format!("{name}.mp4"));
    std::fs::write(&path, file).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .expect("the ffmpeg CLI must be installed");
    assert!(out.status.success(), "{name}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "{name}: {stderr}");
}
