//! Keyframe alignment of the live ladder on real media: with passthrough
//! the encoded rungs put their keyframes exactly on the source's (so every
//! rendition cuts segments at the same instants), and force keyframes when
//! the source's GOP is longer than two GOPs; without passthrough they stay
//! on the GOP grid.
#![allow(clippy::unwrap_used)]

mod live_common;

use live_common::{GOP_TICKS, Run, access_units, config, make_flv, run};
use yanxiu_transcode::live::LiveRenditionKind;

/// One frame at 30 fps, in 90 kHz ticks.
const FRAME: i64 = 3000;

fn source_and_rung_keyframes(run: &Run) -> (Vec<i64>, Vec<(String, Vec<i64>)>) {
    let mut source = Vec::new();
    let mut rungs = Vec::new();
    for r in &run.renditions {
        assert!(r.ended(), "{} ended", r.name);
        match r.kind {
            LiveRenditionKind::Passthrough { .. } => source = r.keyframes(),
            LiveRenditionKind::Video { .. } => rungs.push((r.name.clone(), r.keyframes())),
            LiveRenditionKind::Audio => {}
        }
    }
    assert_eq!(rungs.len(), 2, "two encoded rungs");
    (source, rungs)
}

async fn transcode(x264: &[&str], passthrough: bool) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let flv = make_flv(dir.path(), "source", "640x360", 8, x264);
    let units = access_units(&flv, |ms| 1000 + ms as u32);
    run(config(passthrough, &[240, 180]), units).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rung_keyframes_are_the_passthrough_keyframes_for_a_two_second_source_gop() {
    let run = transcode(&["-g", "60", "-sc_threshold", "0"], true).await;
    let (source, rungs) = source_and_rung_keyframes(&run);
    // 8 s with a keyframe every 2 s.
    assert_eq!(source.len(), 4, "{source:?}");
    assert!(source.windows(2).all(|w| w[1] - w[0] == 60 * FRAME));
    for (name, keys) in rungs {
        assert_eq!(keys, source, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rung_keyframes_follow_an_irregular_source_gop_exactly() {
    // Keyframes at irregular instants, 0.5 s to 2.6 s apart.
    let run = transcode(
        &[
            "-g",
            "300",
            "-sc_threshold",
            "0",
            "-force_key_frames",
            "0,0.5,2.2,2.7,5.3,6.4",
        ],
        true,
    )
    .await;
    let (source, rungs) = source_and_rung_keyframes(&run);
    let gaps: Vec<i64> = source.windows(2).map(|w| (w[1] - w[0]) / FRAME).collect();
    assert_eq!(gaps, vec![15, 51, 15, 78, 33], "{source:?}");
    for (name, keys) in rungs {
        assert_eq!(keys, source, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_gop_longer_than_two_gops_gets_forced_rung_keyframes_between_its_own() {
    // Source keyframes at 0 s and 7 s only.
    let run = transcode(
        &[
            "-g",
            "300",
            "-sc_threshold",
            "0",
            "-force_key_frames",
            "0,7",
        ],
        true,
    )
    .await;
    let (source, rungs) = source_and_rung_keyframes(&run);
    assert_eq!(source.len(), 2, "{source:?}");
    let (first, second) = (source[0], source[1]);
    // Two GOPs after the source's keyframe, then one every GOP, then the
    // source's next keyframe.
    let expected = vec![first, first + 2 * GOP_TICKS, first + 3 * GOP_TICKS, second];
    for (name, keys) in &rungs {
        assert_eq!(keys, &expected, "{name}");
        assert!(keys.windows(2).all(|w| w[1] - w[0] <= 2 * GOP_TICKS));
    }
    assert_eq!(rungs[0].1, rungs[1].1, "rungs aligned with each other");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_passthrough_rung_keyframes_stay_on_the_gop_grid() {
    let run = transcode(&["-g", "45", "-sc_threshold", "0"], false).await;
    let mut all = Vec::new();
    for r in run.renditions.iter().filter(|r| r.is_video()) {
        assert!(
            matches!(r.kind, LiveRenditionKind::Video { .. }),
            "no passthrough"
        );
        let keys = r.keyframes();
        // After the first picture, one keyframe per GOP multiple of the
        // output timeline (shifted by the two-frame presentation delay),
        // within half a frame of it (input times are whole milliseconds).
        let grid: Vec<i64> = keys[1..]
            .iter()
            .map(|k| {
                let t = k - 2 * FRAME;
                let n = (t + GOP_TICKS / 2).div_euclid(GOP_TICKS);
                assert!(
                    (t - n * GOP_TICKS).abs() <= FRAME / 2,
                    "{}: {keys:?}",
                    r.name
                );
                n
            })
            .collect();
        assert_eq!(grid, vec![1, 2, 3, 4], "{}: {keys:?}", r.name);
        all.push(keys);
    }
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], all[1]);
}
