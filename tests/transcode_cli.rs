//! End-to-end: `yanxiu transcode` over every fixture, with ffprobe/ffmpeg as
//! the independent reader of what it wrote.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{tool, transcode, yanxiu};
use common::fixtures::{FixtureExpectation, expectations, fixtures_dir};
use m3u8_rs::{MasterPlaylist, MediaPlaylist, Playlist};

fn read_master(dir: &Path) -> MasterPlaylist {
    let bytes = std::fs::read(dir.join("master.m3u8")).expect("master.m3u8 written");
    match m3u8_rs::parse_playlist_res(&bytes) {
        Ok(Playlist::MasterPlaylist(m)) => m,
        other => panic!("master.m3u8 is not a master playlist: {other:?}"),
    }
}

fn read_media(path: &Path) -> MediaPlaylist {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match m3u8_rs::parse_playlist_res(&bytes) {
        Ok(Playlist::MediaPlaylist(m)) => m,
        other => panic!("{} is not a media playlist: {other:?}", path.display()),
    }
}

/// Duration of the first stream of `kind` ("v" or "a") as ffprobe decodes it.
fn stream_duration(file: &Path, kind: &str) -> f64 {
    // Packet timestamps: last pts + its duration - first pts.
    let csv = tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            &format!("{kind}:0"),
            "-show_entries",
            "packet=pts_time,duration_time",
            "-of",
            "csv=p=0",
            &file.to_string_lossy(),
        ],
    );
    let mut first = f64::MAX;
    let mut end = f64::MIN;
    for line in csv.lines() {
        let mut parts = line.split(',');
        let pts: f64 = match parts.next().and_then(|p| p.parse().ok()) {
            Some(p) => p,
            None => continue,
        };
        let dur: f64 = parts.next().and_then(|d| d.parse().ok()).unwrap_or(0.0);
        first = first.min(pts);
        end = end.max(pts + dur);
    }
    assert!(first < f64::MAX, "no {kind} packets in {}", file.display());
    end - first
}

/// A rendition's segments joined to its init segment, as one playable file.
fn joined(rendition: &Path, playlist: &MediaPlaylist, into: &Path) -> Vec<PathBuf> {
    let init = std::fs::read(rendition.join("init.mp4")).expect("init.mp4");
    playlist
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut bytes = init.clone();
            bytes.extend(std::fs::read(rendition.join(&s.uri)).expect("segment"));
            let path = into.join(format!("joined-{i}.mp4"));
            std::fs::write(&path, bytes).expect("write joined segment");
            path
        })
        .collect()
}

/// (first packet pts, is keyframe) of a standalone segment file.
fn first_packet(file: &Path) -> (f64, bool) {
    let csv = tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,flags",
            "-read_intervals",
            "%+#1",
            "-of",
            "csv=p=0",
            &file.to_string_lossy(),
        ],
    );
    let line = csv.lines().next().unwrap_or_default();
    let mut parts = line.split(',');
    let pts = parts
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(f64::NAN);
    let key = parts.next().is_some_and(|f| f.starts_with('K'));
    (pts, key)
}

/// The peak segment bit rate of a media playlist as RFC 8216 defines it:
/// the largest bit rate of any run of consecutive segments lasting 0.5 to 1.5
/// times the target duration (the whole playlist when no run qualifies).
fn peak_bitrate(dir: &Path, playlist: &MediaPlaylist) -> u64 {
    let target = playlist.target_duration as f64;
    let sizes: Vec<(f64, f64)> = playlist
        .segments
        .iter()
        .map(|s| {
            let bytes = std::fs::metadata(dir.join(&s.uri))
                .map(|m| m.len())
                .unwrap_or(0);
            (bytes as f64 * 8.0, f64::from(s.duration))
        })
        .collect();
    let mut peak: f64 = 0.0;
    for i in 0..sizes.len() {
        let (mut bits, mut secs) = (0.0, 0.0);
        for &(b, d) in &sizes[i..] {
            bits += b;
            secs += d;
            if secs > 1.5 * target + 1e-9 {
                break;
            }
            if secs >= 0.5 * target - 1e-9 {
                peak = peak.max(bits / secs);
            }
        }
    }
    if peak == 0.0 {
        let (bits, secs) = sizes
            .iter()
            .fold((0.0, 0.0), |(b, s), &(x, y)| (b + x, s + y));
        peak = bits / secs.max(1e-9);
    }
    peak.ceil() as u64
}

/// Checks one ladder; returns the problems found.
fn check_ladder(fx: &FixtureExpectation, source: &Path, out: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |p: String| problems.push(format!("{}: {p}", fx.file));
    let master = read_master(out);
    let master_text = std::fs::read_to_string(out.join("master.m3u8")).unwrap_or_default();
    if !master_text.contains("#EXT-X-VERSION:7") {
        fail("master is not HLS version 7".into());
    }
    if master.variants.is_empty() {
        fail("no variants".into());
        return problems;
    }
    let audio_media: Vec<_> = master
        .alternatives
        .iter()
        .filter(|a| a.uri.is_some())
        .collect();
    let has_audio_rendition = !audio_media.is_empty();
    if fx.has_audio != has_audio_rendition {
        fail(format!(
            "audio rendition present = {has_audio_rendition}, expected {}",
            fx.has_audio
        ));
    }
    let source_video = stream_duration(source, "v");
    let temp = tempfile::tempdir().expect("tempdir");

    // The top rung (the largest picture; on still slides its measured
    // bandwidth can sit a few bit/s below a smaller rung's) keeps the
    // display geometry.
    let top = &master.variants[..]
        .iter()
        .max_by_key(|v| v.resolution.map_or(0, |r| r.width * r.height))
        .expect("a variant")
        .clone();
    let res = top.resolution.expect("RESOLUTION");
    let (w, h) = (f64::from(fx.display_width), f64::from(fx.display_height));
    let (rw, rh) = (res.width as f64, res.height as f64);
    if ((rw / rh) - (w / h)).abs() > 0.02 * (w / h) {
        fail(format!(
            "top rung {rw}x{rh} does not keep the display aspect {w}x{h}"
        ));
    }
    if rw > w + 1.0 || rh > h + 1.0 {
        fail(format!("top rung {rw}x{rh} upscales the {w}x{h} source"));
    }
    if w.min(h) <= 1080.0 && (rw.min(rh) - w.min(h)).abs() > 0.1 * w.min(h) {
        fail(format!(
            "top rung {rw}x{rh} loses resolution of the {w}x{h} source"
        ));
    }

    let mut audio_peak = 0u64;
    if let Some(a) = audio_media.first() {
        let dir = out.join(
            Path::new(a.uri.as_deref().unwrap_or_default())
                .parent()
                .unwrap_or(Path::new("")),
        );
        let pl = read_media(&out.join(a.uri.as_deref().unwrap_or_default()));
        audio_peak = peak_bitrate(&dir, &pl);
        let decoded = stream_duration(&out.join(a.uri.as_deref().unwrap_or_default()), "a");
        let source_audio = stream_duration(source, "a");
        if (decoded - source_audio).abs() > 0.1 {
            fail(format!(
                "audio lasts {decoded:.3} s, source audio {source_audio:.3} s"
            ));
        }
    }

    let mut starts_by_rung: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for v in &master.variants {
        let uri = Path::new(&v.uri);
        let rung_dir = out.join(uri.parent().unwrap_or(Path::new("")));
        let name = rung_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (attr, present) in [
            ("AVERAGE-BANDWIDTH", v.average_bandwidth.is_some()),
            ("CODECS", v.codecs.is_some()),
            ("RESOLUTION", v.resolution.is_some()),
            ("FRAME-RATE", v.frame_rate.is_some()),
        ] {
            if !present {
                fail(format!("{name}: variant lacks {attr}"));
            }
        }
        let playlist_path = out.join(uri);
        let pl = read_media(&playlist_path);
        if !pl.end_list {
            fail(format!("{name}: media playlist has no ENDLIST"));
        }
        // Decodes end to end without an error.
        let decode = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&playlist_path)
            .args(["-f", "null", "-"])
            .output()
            .expect("ffmpeg must be installed");
        let errors = String::from_utf8_lossy(&decode.stderr);
        if !decode.status.success() || !errors.trim().is_empty() {
            fail(format!("{name}: ffmpeg decode errors: {errors}"));
        }
        let duration = stream_duration(&playlist_path, "v");
        if (duration - source_video).abs() > 0.1 {
            fail(format!(
                "{name}: lasts {duration:.3} s, source video {source_video:.3} s"
            ));
        }
        // Segments: 4-6 s except the last; each starts on a keyframe.
        let n = pl.segments.len();
        for (i, s) in pl.segments.iter().enumerate() {
            let d = f64::from(s.duration);
            if i + 1 < n && !(3.9..=6.1).contains(&d) {
                fail(format!("{name}: segment {i} lasts {d:.3} s"));
            }
        }
        let peak = peak_bitrate(&rung_dir, &pl);
        let rung_tmp = temp.path().join(&name);
        std::fs::create_dir_all(&rung_tmp).expect("mkdir");
        let mut starts = Vec::new();
        for (i, file) in joined(&rung_dir, &pl, &rung_tmp).iter().enumerate() {
            let (pts, key) = first_packet(file);
            if !key {
                fail(format!(
                    "{name}: segment {i} does not start with a keyframe"
                ));
            }
            starts.push(pts);
        }
        starts_by_rung.insert(name.clone(), starts);
        // EXTINF carries milliseconds, the packager measures in ticks: allow 0.1 %.
        if (v.bandwidth as f64) < (peak + audio_peak) as f64 * 0.999 {
            fail(format!(
                "{name}: BANDWIDTH {} below measured peak {} (+ audio {})",
                v.bandwidth, peak, audio_peak
            ));
        }
    }
    // Segment boundaries line up across rungs.
    let mut rungs = starts_by_rung.iter();
    if let Some((first_name, first)) = rungs.next() {
        for (name, starts) in rungs {
            let aligned = starts.len() == first.len()
                && starts.iter().zip(first).all(|(a, b)| (a - b).abs() < 0.002);
            if !aligned {
                fail(format!(
                    "segments of {name} {starts:?} do not line up with {first_name} {first:?}"
                ));
            }
        }
    }
    // The poster is a real JPEG at the top rung's size.
    let poster = out.join("poster.jpg");
    let info = tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
            &poster.to_string_lossy(),
        ],
    );
    if info.trim() != format!("mjpeg,{},{}", res.width, res.height) {
        fail(format!(
            "poster is {info:?}, expected mjpeg at {}x{}",
            res.width, res.height
        ));
    }
    // The storyboard: a WebVTT whose cues cover the source, every cue on a
    // sheet that exists and is a JPEG large enough to hold its tile.
    let vtt = std::fs::read_to_string(out.join("storyboard/storyboard.vtt")).unwrap_or_default();
    let cues: Vec<&str> = vtt.lines().filter(|l| l.contains("#xywh=")).collect();
    let expected_cues = (source_video / 2.0).ceil() as usize;
    if !vtt.starts_with("WEBVTT") || cues.len().abs_diff(expected_cues) > 1 {
        fail(format!(
            "storyboard has {} cues, expected about {expected_cues}",
            cues.len()
        ));
    }
    for cue in &cues {
        let (sheet, xywh) = cue.split_once("#xywh=").unwrap_or_default();
        let dims: Vec<u64> = xywh.split(',').filter_map(|v| v.parse().ok()).collect();
        let sheet_path = out.join("storyboard").join(sheet);
        let info = tool(
            "ffprobe",
            &[
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,width,height",
                "-of",
                "csv=p=0",
                &sheet_path.to_string_lossy(),
            ],
        );
        let parts: Vec<&str> = info.trim().split(',').collect();
        let fits = dims.len() == 4
            && parts.first() == Some(&"mjpeg")
            && parts
                .get(1)
                .and_then(|w| w.parse::<u64>().ok())
                .is_some_and(|w| w >= dims[0] + dims[2])
            && parts
                .get(2)
                .and_then(|h| h.parse::<u64>().ok())
                .is_some_and(|h| h >= dims[1] + dims[3]);
        if !fits {
            fail(format!(
                "storyboard cue {cue} does not fit its sheet ({info})"
            ));
            break;
        }
    }
    // The master playlist was published last.
    let master_time = std::fs::metadata(out.join("master.m3u8"))
        .and_then(|m| m.modified())
        .expect("mtime");
    for entry in walk(out) {
        let t = std::fs::metadata(&entry)
            .and_then(|m| m.modified())
            .expect("mtime");
        if t > master_time {
            fail(format!("{} was written after master.m3u8", entry.display()));
        }
    }
    problems
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn every_accepted_fixture_transcodes_to_a_decodable_aligned_ladder() {
    let dir = fixtures_dir();
    let mut problems = Vec::new();
    let mut checked = 0;
    for fx in expectations().iter().filter(|f| f.transcode) {
        let source = dir.join(&fx.file);
        let out = tempfile::tempdir().expect("tempdir");
        let result = yanxiu(&[
            "transcode",
            &source.to_string_lossy(),
            "--out",
            &out.path().to_string_lossy(),
        ]);
        if !result.status.success() {
            problems.push(format!(
                "{}: exit {:?}: {}",
                fx.file,
                result.status.code(),
                String::from_utf8_lossy(&result.stderr)
            ));
            continue;
        }
        problems.extend(check_ladder(fx, &source, out.path()));
        checked += 1;
    }
    assert!(
        checked >= 10,
        "only {checked} fixtures are marked transcode = true"
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn rejected_fixtures_exit_1_with_their_codes_and_write_nothing() {
    let dir = fixtures_dir();
    let mut seen = 0;
    for fx in expectations().iter().filter(|f| f.probe_exit == 1) {
        let out = tempfile::tempdir().expect("tempdir");
        let target = out.path().join("ladder");
        let result = yanxiu(&[
            "transcode",
            &dir.join(&fx.file).to_string_lossy(),
            "--out",
            &target.to_string_lossy(),
            "--json",
        ]);
        assert_eq!(result.status.code(), Some(1), "{}: {:?}", fx.file, result);
        let json: serde_json::Value = serde_json::from_slice(&result.stdout)
            .unwrap_or_else(|e| panic!("{}: --json output: {e}", fx.file));
        let mut codes: Vec<String> = json["validation"]["violations"]
            .as_array()
            .expect("violations array")
            .iter()
            .map(|v| v["code"].as_str().expect("code").to_owned())
            .collect();
        codes.sort();
        let mut expected = fx.violations.clone();
        expected.sort();
        assert_eq!(codes, expected, "{}", fx.file);
        assert!(
            !target.exists(),
            "{}: output was written for a rejected file",
            fx.file
        );
        seen += 1;
    }
    assert!(seen >= 2, "expectations name only {seen} rejected fixtures");
}

#[test]
fn broken_fixtures_exit_2_quickly_without_a_panic() {
    let dir = fixtures_dir();
    let mut seen = 0;
    for fx in expectations().iter().filter(|f| f.probe_exit == 2) {
        let out = tempfile::tempdir().expect("tempdir");
        let started = Instant::now();
        let result = yanxiu(&[
            "transcode",
            &dir.join(&fx.file).to_string_lossy(),
            "--out",
            &out.path().to_string_lossy(),
        ]);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{}: {stderr}", fx.file);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{} took {:?}",
            fx.file,
            started.elapsed()
        );
        assert!(!stderr.contains("panicked"), "{}: {stderr}", fx.file);
        assert!(!out.path().join("master.m3u8").exists());
        seen += 1;
    }
    assert!(seen >= 5, "expectations name only {seen} broken fixtures");
}

/// `yanxiu transcode FILE --out OUT --policy POLICY`, which must succeed.
fn transcode_under(policy: &Path, file: &Path, out: &Path) {
    transcode(file, out, &["--policy", &policy.to_string_lossy()]);
}

#[test]
fn a_policy_that_allows_silent_video_gives_a_ladder_without_an_audio_group() {
    let dir = fixtures_dir();
    let work = tempfile::tempdir().expect("tempdir");
    let policy = work.path().join("policy.toml");
    // Keys left out keep the default policy's values.
    std::fs::write(
        &policy,
        "name = \"silent-video\"\n[audio]\nrequired = false\n",
    )
    .expect("write policy");
    let out = work.path().join("ladder");
    transcode_under(&policy, &dir.join("video_only.mp4"), &out);
    let master = read_master(&out);
    assert!(master.alternatives.is_empty());
    assert!(master.variants.iter().all(|v| v.audio.is_none()));
    assert!(
        master
            .variants
            .iter()
            .all(|v| !v.codecs.as_deref().unwrap_or("").contains("mp4a"))
    );
}

#[test]
fn a_policy_that_allows_sound_alone_gives_an_audio_only_ladder_with_a_waveform_poster() {
    let dir = fixtures_dir();
    let work = tempfile::tempdir().expect("tempdir");
    let policy = work.path().join("policy.toml");
    std::fs::write(&policy, "name = \"radio\"\n[video]\nrequired = false\n").expect("policy");
    for (file, channels, seconds) in [
        ("lecture_audio.mp3", "2", 12.0),
        ("lecture_audio.flac", "1", 10.0),
    ] {
        let out = work.path().join(file);
        transcode_under(&policy, &dir.join(file), &out);
        let master = read_master(&out);
        assert_eq!(master.variants.len(), 1, "{file}: {master:?}");
        assert_eq!(master.variants[0].codecs.as_deref(), Some("mp4a.40.2"));
        assert!(master.variants[0].resolution.is_none());
        // The whole rendition, as a player appends it: AAC for the lecture's length.
        let rendition = out.join("audio");
        let playlist = read_media(&rendition.join("index.m3u8"));
        let mut whole = std::fs::read(rendition.join("init.mp4")).expect("init.mp4");
        for segment in &playlist.segments {
            whole.extend(std::fs::read(rendition.join(&segment.uri)).expect("segment"));
        }
        let joined = work.path().join(format!("{file}.mp4"));
        std::fs::write(&joined, whole).expect("write rendition");
        let decoded = stream_duration(&joined, "a");
        assert!(
            (decoded - seconds).abs() < 0.1,
            "{file}: {decoded} s of {seconds} s"
        );
        let facts = tool(
            "ffprobe",
            &[
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,channels",
                "-of",
                "csv=p=0",
                &joined.to_string_lossy(),
            ],
        );
        assert_eq!(facts.trim(), format!("aac,{channels}"), "{file}");
        let poster = tool(
            "ffprobe",
            &[
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,width,height",
                "-of",
                "csv=p=0",
                &out.join("poster.jpg").to_string_lossy(),
            ],
        );
        assert_eq!(poster.trim(), "mjpeg,1280,720", "{file}");
        assert!(
            !out.join("storyboard").exists(),
            "{file}: no pictures to scrub"
        );
    }
    // A file that carries a cover picture: the cover is the poster, at its own size.
    let out = work.path().join("cover");
    transcode_under(&policy, &dir.join("lecture_audio_cover.mp3"), &out);
    assert_eq!(read_master(&out).variants.len(), 1);
    let poster = out.join("poster.jpg");
    let facts = tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
            &poster.to_string_lossy(),
        ],
    );
    assert_eq!(facts.trim(), "mjpeg,600,600");
    // Its colours: the cover's blue (0x1f3a93) at the top left, not the waveform's navy.
    let pixel = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&poster)
        .args([
            "-vf",
            "crop=2:2:10:10",
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .expect("run ffmpeg");
    let rgb = &pixel.stdout[..3];
    let near = |a: u8, b: u8| a.abs_diff(b) <= 8;
    assert!(
        near(rgb[0], 0x1f) && near(rgb[1], 0x3a) && near(rgb[2], 0x93),
        "the cover's colour, not {rgb:?}"
    );
}

#[test]
fn a_killed_transcode_never_leaves_a_master_playlist() {
    let dir = fixtures_dir();
    let out = tempfile::tempdir().expect("tempdir");
    // A stale ladder from an earlier run must not survive either.
    std::fs::write(out.path().join("master.m3u8"), "#EXTM3U\n").expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_yanxiu"))
        .args(["transcode"])
        .arg(dir.join("lecture_1080p30.mp4"))
        .arg("--out")
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until the first segment exists, then kill it hard.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let started = walk(out.path())
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "m4s"));
        if started || Instant::now() > deadline {
            break;
        }
        if child.try_wait().expect("try_wait").is_some() {
            panic!("transcode finished before it could be interrupted; use a longer fixture");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert!(
        !out.path().join("master.m3u8").exists(),
        "a master playlist survived the crash"
    );
}
