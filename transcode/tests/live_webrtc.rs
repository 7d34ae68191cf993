//! The live transcoder on what browsers publish over WebRTC, on real media:
//! VP8 or VP9 with Opus (WebMs made with the ffmpeg CLI, demuxed with
//! libavformat into `LiveInput`s), laddered without a passthrough and with
//! the audio encoded to AAC; and sessions whose publishers change codec
//! (H.264 to VP8 and back, VP9 to H.264) keep every rung going on one
//! monotonic timeline.
#![allow(clippy::unwrap_used)]

mod live_common;

use live_common::{
    Collected, GOP_TICKS, access_units, assert_continuous, assert_decodes, config, covered,
    make_flv, make_webm, run, size, span_ms, video_units, webm_units,
};
use yanxiu_packager::media::{AudioCodecConfig, Sample, TrackKind};
use yanxiu_transcode::live::{LiveInput, LiveRenditionKind};

/// One frame at 30 fps, 90 kHz.
const FRAME: i64 = 3000;

/// The largest step allowed on a video timeline, 90 kHz: at a seam the
/// repair bridges with one frame after the longer of the old publisher's
/// tracks (its audio may run a few tens of milliseconds past its video).
const MAX_VIDEO_STEP: i64 = 9000;

fn rendition<'a>(renditions: &'a [Collected], name: &str) -> &'a Collected {
    renditions
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no rendition {name}"))
}

fn names(renditions: &[Collected]) -> Vec<&str> {
    renditions.iter().map(|r| r.name.as_str()).collect()
}

/// The sample right after configuration number `k`.
fn first_sample_of_config(c: &Collected, k: usize) -> &Sample {
    let (before, _) = c.configs()[k];
    c.samples()[before]
}

/// The rate and channels of an AAC audio rendition (panics otherwise).
fn aac_audio(c: &Collected) -> (u32, u16) {
    let configs = c.configs();
    assert_eq!(configs.len(), 1, "{}: one configuration", c.name);
    match &configs[0].1.kind {
        TrackKind::Audio {
            sample_rate,
            channels,
            codec: AudioCodecConfig::Aac(_),
        } => (*sample_rate, *channels),
        TrackKind::Video { .. } => panic!("{}: not audio", c.name),
    }
}

/// The milliseconds of audio a publish's Opus packets of `packet_ms`
/// cover from the first one fed after the first picture (audio before the
/// first picture is not encoded) to the end of the last one.
fn encoded_audio_ms(units: &[LiveInput], packet_ms: u32) -> i64 {
    let first_picture = units
        .iter()
        .position(|u| matches!(u, LiveInput::Video { .. }))
        .unwrap();
    let times: Vec<i64> = units[first_picture..]
        .iter()
        .filter_map(|u| match u {
            LiveInput::Audio { pts, .. } => Some(i64::from(*pts)),
            _ => None,
        })
        .collect();
    times.last().unwrap() + i64::from(packet_ms) - times.first().unwrap()
}

/// A browser's VP8/VP9 + Opus publish (640x480, 6 s, Opus packets of
/// `opus_ms`), transcoded with passthrough *requested*: checks the ladder
/// has no `source`, rungs at and below the source, grid keyframes, full
/// durations and decodable AAC audio.
async fn check_vpx_publish(encoder: &str, opus_ms: u32) {
    let dir = tempfile::tempdir().unwrap();
    let webm = make_webm(dir.path(), "browser", encoder, "640x480", 6, opus_ms);
    let units = webm_units(&webm, |ms| (1000 + ms) as u32);
    let frames = video_units(&units);
    assert!(frames >= 175, "{frames} frames demuxed");
    let video_span = span_ms(&units, true);
    let audio_ms = encoded_audio_ms(&units, opus_ms);
    let run = run(config(true, &[720, 480, 360]), units).await.unwrap();

    // No passthrough for VP8/VP9; the rungs at or below 640x480.
    assert_eq!(names(&run.renditions), vec!["480p", "360p", "audio"]);
    for (name, planned) in [("480p", (640, 480)), ("360p", (480, 360))] {
        let r = rendition(&run.renditions, name);
        assert_eq!(
            r.kind,
            LiveRenditionKind::Video {
                width: planned.0,
                height: planned.1
            },
            "{name}"
        );
        assert_eq!(r.configs().len(), 1, "{name}");
        assert_eq!(size(r.configs()[0].1), planned, "{name}");
        assert!(r.ended(), "{name}");
        assert_continuous(r, FRAME + 90);
        // Every picture decoded and encoded once.
        assert_eq!(r.samples().len(), frames, "{name}");
        // As long as the input, within a frame.
        let input = (video_span * 90) + FRAME;
        let diff = covered(r) - input;
        assert!(diff.abs() <= FRAME, "{name}: {diff} ticks off the input");
        // Keyframes on the GOP grid (the source's come every second).
        let keys = r.keyframes();
        assert_eq!(keys.len(), 3, "{name}: {keys:?}");
        for w in keys.windows(2) {
            assert!((w[1] - w[0] - GOP_TICKS).abs() <= FRAME / 2, "{keys:?}");
        }
        assert_decodes(dir.path(), r, 0);
    }
    let audio = rendition(&run.renditions, "audio");
    assert!(audio.ended());
    let (rate, channels) = aac_audio(audio);
    assert_eq!((rate, channels), (48_000, 1), "mono 48 kHz like the sine");
    assert_continuous(audio, i64::from(rate));
    let seconds = covered(audio) as f64 / f64::from(rate);
    let input = audio_ms as f64 / 1000.0;
    assert!(
        (seconds - input).abs() < 0.05,
        "audio {seconds:.3} s for {input:.3} s of Opus"
    );
    assert_decodes(dir.path(), audio, 0);

    // The counters.
    assert_eq!(run.report.video_frames, frames as u64);
    assert_eq!(run.stats.video_units_received, frames as u64);
    assert_eq!(run.stats.video_frames_decoded, frames as u64);
    assert_eq!(run.stats.corrupt_units, 0);
    assert_eq!(run.stats.dropped_units, 0);
    for r in &run.stats.renditions {
        let collected = rendition(&run.renditions, &r.name).samples().len() as u64;
        assert_eq!(r.samples, collected, "{}", r.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vp8_and_opus_publish_is_laddered_without_a_source_rendition_with_aac_audio() {
    check_vpx_publish("libvpx", 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vp9_publish_with_60_ms_opus_packets_is_laddered_with_audio_of_the_full_duration() {
    check_vpx_publish("libvpx-vp9", 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h264_session_continued_by_a_vp8_publisher_and_then_h264_again_keeps_every_rung_going() {
    let dir = tempfile::tempdir().unwrap();
    let flv = make_flv(dir.path(), "rtmp", "640x480", 3, &["-g", "60"]);
    let webm = make_webm(dir.path(), "browser", "libvpx", "640x480", 3, 20);
    // A publishes H.264 from 7 s, the browser restarts the clock near 0,
    // and C (H.264 again, the same avcC) comes back at 50 s.
    let a = access_units(&flv, |ms| (7000 + ms) as u32);
    let b = webm_units(&webm, |ms| (100 + ms) as u32);
    let c = access_units(&flv, |ms| (50_000 + ms) as u32);
    let (a_video, b_video, c_video) = (video_units(&a), video_units(&b), video_units(&c));
    let audio_ms: i64 = [&a, &b, &c].iter().map(|u| span_ms(u, false)).sum();
    let units: Vec<LiveInput> = [a, b, c].into_iter().flatten().collect();
    let run = run(config(true, &[360, 240]), units).await.unwrap();

    assert_eq!(
        names(&run.renditions),
        vec!["source", "360p", "240p", "audio"]
    );
    // The passthrough: A's units, nothing while the browser publishes, then
    // C's after a new Config at C's first (key)frame.
    let source = rendition(&run.renditions, "source");
    assert_eq!(source.samples().len(), a_video + c_video);
    let configs = source.configs();
    assert_eq!(configs.len(), 2, "announced again when H.264 is back");
    assert_eq!(configs[1].0, a_video);
    let back = first_sample_of_config(source, 1);
    assert!(back.is_sync);
    let source_samples = source.samples();
    let last_of_a = source_samples[a_video - 1];
    assert!(
        i64::from(last_of_a.duration) <= MAX_VIDEO_STEP,
        "A's last sample is not stretched over the browser's publish: {}",
        last_of_a.duration
    );
    assert!(source_samples.windows(2).all(|w| w[0].dts < w[1].dts));
    assert!(source.ended());
    assert_decodes(dir.path(), source, 0);
    assert_decodes(dir.path(), source, 1);

    let a_keyframe = source.keyframes()[0];
    for name in ["360p", "240p"] {
        let r = rendition(&run.renditions, name);
        assert!(r.ended(), "{name}");
        // Every picture of the three publishers, on one timeline.
        assert_eq!(r.samples().len(), a_video + b_video + c_video, "{name}");
        assert_continuous(r, MAX_VIDEO_STEP);
        // Restarted (the same configuration again) at the browser's first
        // picture and at C's, which is the passthrough's switch instant.
        let configs = r.configs();
        assert_eq!(configs.len(), 3, "{name}");
        assert!(configs.iter().all(|(_, c)| *c == configs[0].1), "{name}");
        assert_eq!(configs[1].0, a_video, "{name}: restart at the browser");
        assert_eq!(configs[2].0, a_video + b_video, "{name}: restart at C");
        assert!(first_sample_of_config(r, 1).is_sync, "{name}");
        assert_eq!(first_sample_of_config(r, 2).pts, back.pts, "{name}");
        assert!(first_sample_of_config(r, 2).is_sync, "{name}");
        assert_eq!(r.keyframes()[0], a_keyframe, "{name}");
        for k in 0..3 {
            assert_decodes(dir.path(), r, k);
        }
    }
    let audio = rendition(&run.renditions, "audio");
    assert!(audio.ended());
    let (rate, _) = aac_audio(audio);
    assert_continuous(audio, i64::from(rate));
    // AAC, Opus, AAC: all of it (each publish's last frame and the two
    // bridged seams are within the tolerance).
    let seconds = covered(audio) as f64 / f64::from(rate);
    let input = audio_ms as f64 / 1000.0;
    assert!(
        (seconds - input).abs() < 0.2,
        "audio {seconds:.3} s for {input:.3} s of input"
    );
    assert_decodes(dir.path(), audio, 0);

    let total = (a_video + b_video + c_video) as u64;
    assert_eq!(run.report.video_frames, total);
    assert_eq!(run.stats.video_units_received, total);
    assert_eq!(run.stats.corrupt_units, 0);
    assert!(run.report.repairs >= 2, "both clock changes were repaired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vp9_session_continued_by_an_h264_publisher_switches_decoders_without_a_passthrough() {
    let dir = tempfile::tempdir().unwrap();
    let webm = make_webm(dir.path(), "browser", "libvpx-vp9", "640x480", 3, 20);
    let flv = make_flv(dir.path(), "rtmp", "1280x720", 3, &["-g", "60"]);
    let a = webm_units(&webm, |ms| (2000 + ms) as u32);
    let b = access_units(&flv, |ms| ms as u32);
    let (a_video, b_video) = (video_units(&a), video_units(&b));
    let units: Vec<LiveInput> = a.into_iter().chain(b).collect();
    let run = run(config(true, &[480, 360]), units).await.unwrap();

    // Planned from the VP9 source: no passthrough for the whole session,
    // even when H.264 (of another size) follows.
    assert_eq!(names(&run.renditions), vec!["480p", "360p", "audio"]);
    for (name, planned) in [("480p", (640, 480)), ("360p", (480, 360))] {
        let r = rendition(&run.renditions, name);
        assert!(r.ended(), "{name}");
        assert_eq!(r.samples().len(), a_video + b_video, "{name}");
        assert_continuous(r, MAX_VIDEO_STEP);
        let configs = r.configs();
        assert_eq!(configs.len(), 2, "{name}: restarted at the H.264 publisher");
        assert_eq!(configs[1].0, a_video, "{name}");
        assert_eq!(size(configs[1].1), planned, "{name}: planned size kept");
        assert!(first_sample_of_config(r, 1).is_sync, "{name}");
        // Both sides decode (a new scaler for the 720p pictures).
        assert_decodes(dir.path(), r, 0);
        assert_decodes(dir.path(), r, 1);
    }
    // Opus, then AAC (44.1 kHz) into one 48 kHz AAC rendition.
    let audio = rendition(&run.renditions, "audio");
    assert!(audio.ended());
    let (rate, _) = aac_audio(audio);
    assert_eq!(rate, 48_000);
    assert_continuous(audio, i64::from(rate));
    assert!(covered(audio) > 55 * i64::from(rate) / 10, "about 6 s");
    assert_decodes(dir.path(), audio, 0);
    assert_eq!(run.report.video_frames, (a_video + b_video) as u64);
}
