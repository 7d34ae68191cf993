//! End-to-end: a 10-minute lecture uploaded to `yanxiu serve` is encoded in
//! chunks by several workers at once (parallel encoding of long sources) and
//! joined into one ladder: every rung decodes, lasts as long as the source,
//! starts its segments where the other rungs do, has no timestamp gap or
//! overlap at a chunk join (ffprobe packet times), and is as faithful to
//! the source across a join as elsewhere (ffmpeg's `ssim` filter). A worker
//! killed in the middle of a chunk loses it to another worker, and the
//! ladder is still made, and recorded, once. The first chunks can be
//! previewed (growing EVENT playlists) while the rest are encoding, and the
//! technical QC report covers the whole source.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::fixtures::fixtures_dir;
use common::live::packet_times;
use common::server::{Server, api, login, prepare, resource, serve, signal_process, upload};
use serde_json::Value;

/// The fixture: 600 s of 720p25 slides, a moving box and a tone.
const FIXTURE: &str = "lecture_10min_720p25.mp4";
/// Chunks of 60 s (15 segments of 4 s) for sources over 300 s.
const CHUNKS: usize = 10;
/// Frames per second of the fixture.
const FPS: f64 = 25.0;

/// Two rungs at x264 `ultrafast`, so the test spends its time on chunks
/// and joins, not on compression; chunking from 300 s.
fn config(dir: &Path) -> String {
    let ladder = dir.join("ladder.toml");
    std::fs::write(
        &ladder,
        "preset = \"ultrafast\"\nchunk_threshold_seconds = 300.0\nchunk_seconds = 60.0\n\
         [[rungs]]\nheight = 720\ncrf = 26\nmax_bitrate_kbps = 2800\nbuffer_kbits = 5600\n\
         [[rungs]]\nheight = 360\ncrf = 26\nmax_bitrate_kbps = 800\nbuffer_kbits = 1600\n",
    )
    .expect("write ladder");
    format!("\n[media]\nladder_file = \"{}\"\n", ladder.display())
}

fn prepared() -> (tempfile::TempDir, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, config_file) = prepare(&config(dir.path()));
    (data, config_file, dir)
}

/// The resource's jobs (parent and chunks).
async fn jobs(s: &Server, token: &str, id: &str) -> Vec<Value> {
    let (status, body) = api(
        s,
        reqwest::Method::GET,
        &format!("/api/v1/resources/{id}/jobs"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

/// Polls until processing ends (chunked encoding on a shared 2-core
/// machine takes a while).
async fn finished(s: &Server, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let body = resource(s, token, id).await;
        let state = body["processing"]["status"].as_str().unwrap_or_default();
        if ["ready", "rejected", "failed"].contains(&state) {
            return body;
        }
        assert!(Instant::now() < deadline, "still {state}: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Fast start: polls until the resource can be previewed while its chunks
/// are still encoding, then returns the 360p media playlist a reviewer's
/// player gets then (through `/play` with a preview token).
async fn playable_while_processing(s: &Server, token: &str, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let body = resource(s, token, id).await;
        let state = body["processing"]["status"].as_str().unwrap_or_default();
        assert!(
            ["pending", "processing"].contains(&state),
            "ended before it was playable: {body}"
        );
        if body["processing"]["playback_url"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "never playable early: {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (status, grant) = api(
        s,
        reqwest::Method::POST,
        "/api/v1/playback-tokens",
        Some(token),
        Some(serde_json::json!({ "resource_id": id })),
    )
    .await;
    assert!(status < 300, "{grant}");
    let preview = grant["token"].as_str().expect("token");
    let get = |path: String| async move {
        let response = reqwest::get(format!("{}/play/{id}/{path}?token={preview}", s.base))
            .await
            .expect("GET");
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.expect("body")
    };
    let master = get("master.m3u8".to_owned()).await;
    assert!(master.contains("360p/index.m3u8"), "{master}");
    get("360p/index.m3u8".to_owned()).await
}

/// The one `process_upload` job and the `encode_chunk` jobs.
fn split_jobs(all: &[Value]) -> (Vec<&Value>, Vec<&Value>) {
    let parents = all
        .iter()
        .filter(|j| j["kind"] == "process_upload")
        .collect();
    let children = all.iter().filter(|j| j["kind"] == "encode_chunk").collect();
    (parents, children)
}

/// The ladder directory of the resource in local storage.
fn ladder_dir(s: &Server, id: &str) -> PathBuf {
    let root = s.data.path().join("media").join("ladders").join(id);
    let dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("master.m3u8").exists())
        .collect();
    assert_eq!(dirs.len(), 1, "one ladder with a master: {dirs:?}");
    dirs.into_iter().next().expect("ladder")
}

/// `(uri, duration)` of every segment a media playlist lists.
fn playlist(path: &Path) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        text.contains("#EXT-X-ENDLIST"),
        "not a VOD playlist: {text}"
    );
    let mut out = Vec::new();
    let mut duration = None;
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = d
                .trim_end_matches(',')
                .split(',')
                .next()
                .and_then(|d| d.parse().ok());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            out.push((line.trim().to_owned(), duration.take().expect("EXTINF")));
        }
    }
    out
}

/// A rung as one fMP4 file: its init segment, then every segment listed.
fn flatten(rung: &Path, into: &Path) -> Vec<(String, f64)> {
    let segments = playlist(&rung.join("index.m3u8"));
    let mut bytes = std::fs::read(rung.join("init.mp4")).expect("init.mp4");
    for (uri, _) in &segments {
        bytes.extend(std::fs::read(rung.join(uri)).unwrap_or_else(|e| panic!("{uri}: {e}")));
    }
    std::fs::write(into, bytes).expect("write flat rung");
    segments
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("ffmpeg and ffprobe must be installed");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The duration of the first video stream, from its packets (fMP4
/// fragments carry no per-packet duration ffprobe shows: a frame lasts
/// 1/FPS then).
fn video_seconds(file: &Path) -> f64 {
    let packets = packet_times(file);
    let first = packets.iter().map(|p| p.pts).fold(f64::INFINITY, f64::min);
    let end = packets
        .iter()
        .map(|p| {
            p.pts
                + if p.duration.is_finite() {
                    p.duration
                } else {
                    1.0 / FPS
                }
        })
        .fold(f64::NEG_INFINITY, f64::max);
    end - first
}

/// Per-frame SSIM (All) of `rung` against the source scaled to its size,
/// both timelines starting at zero.
fn ssim(rung: &Path, source: &Path, width: u32, height: u32) -> Vec<f64> {
    let text = run(Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(rung)
        .arg("-i")
        .arg(source)
        .args([
            "-lavfi",
            &format!(
                "[0:v]setpts=PTS-STARTPTS[a];[1:v]setpts=PTS-STARTPTS,\
                 scale={width}:{height}:flags=bicubic[b];[a][b]ssim=stats_file=-"
            ),
            "-f",
            "null",
            "-",
        ]));
    text.lines()
        .filter_map(|l| l.split("All:").nth(1))
        .filter_map(|v| v.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Checks the joined ladder the way a player and an engineer would.
fn check_ladder(dir: &Path, source: &Path) {
    let work = tempfile::tempdir().expect("tempdir");
    let source_seconds = video_seconds(source);
    let mut timelines = Vec::new();
    for (rung, (w, h)) in [("720p", (1280, 720)), ("360p", (640, 360))] {
        let flat = work.path().join(format!("{rung}.mp4"));
        let segments = flatten(&dir.join(rung), &flat);
        assert_eq!(segments.len(), 150, "{rung}: 600 s in 4 s segments");

        // Decodes without an error.
        let log = run(Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(&flat)
            .args(["-f", "null", "-"]));
        assert!(log.trim().is_empty(), "{rung} decodes with errors: {log}");

        // As long as the source, and the playlist agrees.
        let seconds = video_seconds(&flat);
        assert!(
            (seconds - source_seconds).abs() < 0.1,
            "{rung} lasts {seconds:.3} s, the source {source_seconds:.3} s"
        );
        let listed: f64 = segments.iter().map(|(_, d)| d).sum();
        assert!(
            (listed - source_seconds).abs() < 0.1,
            "{rung}: playlist {listed:.3} s"
        );

        // No gap, no overlap, anywhere (chunk joins included): each packet
        // decodes exactly one frame after the one before (the source is
        // 25 fps constant), and presentation times are every frame's once.
        let packets = packet_times(&flat);
        assert_eq!(packets.len(), 15_000, "{rung}: every frame, once");
        for pair in packets.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(
                (b.dts - a.dts - 1.0 / FPS).abs() < 0.000_5,
                "{rung}: {a:?} then {b:?}"
            );
        }
        let mut frames: Vec<i64> = packets
            .iter()
            .map(|p| (p.pts * FPS).round() as i64)
            .collect();
        frames.sort_unstable();
        frames.dedup();
        assert_eq!(frames.len(), 15_000, "{rung}: a presentation time repeats");
        assert_eq!(frames.last().map(|l| l - frames[0]), Some(14_999), "{rung}");
        timelines.push((rung, segments));

        if rung == "360p" {
            // As faithful across a join as elsewhere.
            let scores = ssim(&flat, source, w, h);
            assert_eq!(scores.len(), 15_000, "{rung}: one SSIM per frame");
            let near_join = |n: usize| {
                let t = n as f64 / FPS;
                (1..CHUNKS).any(|k| (t - 60.0 * k as f64).abs() < 1.0)
            };
            let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
            let (joins, rest): (Vec<_>, Vec<_>) =
                scores.iter().enumerate().partition(|(n, _)| near_join(*n));
            let joins = mean(joins.into_iter().map(|(_, s)| *s).collect());
            let rest = mean(rest.into_iter().map(|(_, s)| *s).collect());
            let worst = scores.iter().copied().fold(1.0, f64::min);
            assert!(
                joins > 0.9 && joins >= rest - 0.005,
                "SSIM around the joins {joins:.4}, elsewhere {rest:.4} (worst frame {worst:.4})"
            );
        }
    }
    // Segments start at the same times in every rung.
    let (first, rest) = timelines.split_first().expect("rungs");
    for (rung, segments) in rest {
        assert_eq!(segments.len(), first.1.len());
        for (a, b) in first.1.iter().zip(segments) {
            assert_eq!(a.0, b.0, "{rung}: segment names");
            assert!((a.1 - b.1).abs() < 0.001, "{rung}: {a:?} vs {b:?}");
        }
    }
    let master = std::fs::read_to_string(dir.join("master.m3u8")).expect("master");
    assert!(
        master.contains("720p/index.m3u8") && master.contains("audio/index.m3u8"),
        "{master}"
    );
    let audio = playlist(&dir.join("audio").join("index.m3u8"));
    // The audio, encoded once, lasts as long as the source's decoded sound
    // (its AAC packets: the fixture's copies each carry their own padding).
    let audio_seconds: f64 = audio.iter().map(|(_, d)| d).sum();
    let packets: f64 = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a", "-count_packets"])
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(source))
    .trim()
    .parse()
    .expect("audio packets");
    let source_audio = packets * 1024.0 / 48_000.0;
    assert!(
        (audio_seconds - source_audio).abs() < 0.1,
        "audio lasts {audio_seconds:.3} s, the source's {source_audio:.3} s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_lecture_is_encoded_in_chunks_by_two_workers_into_one_seamless_ladder() {
    let (data, config_file, _ladder) = prepared();
    let s = serve(data, config_file, 2);
    let producer = login(&s, "producer").await;
    let source = fixtures_dir().join(FIXTURE);
    let id = upload(&s, &producer, &source, None).await;
    let early = playable_while_processing(&s, &producer, &id).await;
    let r = finished(&s, &producer, &id).await;
    assert_eq!(r["processing"]["status"], "ready", "{r}");
    assert_eq!(
        r["processing"]["renditions"].as_array().map(Vec::len),
        Some(3),
        "two rungs and audio: {r}"
    );
    // Fast start: the first chunks were playable long before the rest.
    assert!(
        early.contains("#EXT-X-PLAYLIST-TYPE:EVENT") && !early.contains("#EXT-X-ENDLIST"),
        "{early}"
    );
    assert!(early.contains("seg-00001.m4s"), "{early}");

    let all = jobs(&s, &producer, &id).await;
    let (parents, children) = split_jobs(&all);
    assert_eq!(parents.len(), 1, "{all:?}");
    assert_eq!(parents[0]["state"], "succeeded");
    assert_eq!(
        parents[0]["result"]["chunks"],
        CHUNKS + 1,
        "chunks and audio"
    );
    assert_eq!(
        children.len(),
        CHUNKS + 1,
        "ten chunks of video and the audio"
    );
    assert!(children.iter().all(|c| c["state"] == "succeeded"));
    // Both workers encoded chunks.
    let workers: std::collections::BTreeSet<_> = children
        .iter()
        .filter_map(|c| c["worker_id"].as_str())
        .collect();
    assert_eq!(workers.len(), 2, "{workers:?}");

    // The technical QC of the whole source, decoded once beside the chunks.
    let qc_jobs: Vec<_> = all.iter().filter(|j| j["kind"] == "qc_source").collect();
    assert_eq!(qc_jobs.len(), 1, "{all:?}");
    assert_eq!(qc_jobs[0]["state"], "succeeded");
    let (status, qc) = api(
        &s,
        reqwest::Method::GET,
        &format!("/api/v1/resources/{id}/qc"),
        Some(&producer),
        None,
    )
    .await;
    assert_eq!(status, 200, "{qc}");
    let report = &qc["report"];
    assert!(
        (report["duration"].as_f64().unwrap_or_default() - 600.0).abs() < 1.0,
        "{report}"
    );
    assert!(
        report["loudness"]["integrated_lufs"].is_number(),
        "{report}"
    );
    assert_eq!(
        report["loudness_series"]["short_term_lufs"]
            .as_array()
            .map(Vec::len),
        Some(600),
        "one short-term reading a second"
    );

    check_ladder(&ladder_dir(&s, &id), &source);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_whose_worker_is_killed_is_encoded_again_and_the_ladder_made_once() {
    let (data, config_file, _ladder) = prepared();
    // The server only serves; worker processes encode.
    let s = serve(data, config_file, 0);
    let producer = login(&s, "producer").await;
    let mut first = s.worker();
    let source = fixtures_dir().join(FIXTURE);
    let id = upload(&s, &producer, &source, None).await;

    // Wait for a chunk under way, then kill its worker without a word.
    let deadline = Instant::now() + Duration::from_secs(300);
    let victim = loop {
        let all = jobs(&s, &producer, &id).await;
        let running = all.iter().find(|j| {
            j["kind"] == "encode_chunk"
                && j["state"] == "running"
                && j["progress"]["percent"].as_f64().is_some_and(|p| p > 0.0)
        });
        if let Some(job) = running {
            break job["id"].as_str().expect("id").to_owned();
        }
        assert!(Instant::now() < deadline, "no chunk started: {all:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    signal_process(&mut first, "KILL");
    let mut others = [s.worker(), s.worker()];
    let r = finished(&s, &producer, &id).await;
    for w in &mut others {
        signal_process(w, "TERM");
    }
    assert_eq!(r["processing"]["status"], "ready", "{r}");

    let all = jobs(&s, &producer, &id).await;
    let (parents, children) = split_jobs(&all);
    assert_eq!(parents.len(), 1, "{all:?}");
    assert_eq!(
        parents[0]["state"], "succeeded",
        "recorded once, by its parent"
    );
    assert_eq!(children.len(), CHUNKS + 1, "no part queued twice: {all:?}");
    assert!(
        children.iter().all(|c| c["state"] == "succeeded"),
        "{all:?}"
    );
    let killed = children
        .iter()
        .find(|c| c["id"] == victim.as_str())
        .expect("the killed chunk");
    assert_eq!(killed["attempts"], 2, "the lost attempt counts: {killed}");

    check_ladder(&ladder_dir(&s, &id), &source);
}
