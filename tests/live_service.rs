//! Live streaming end to end through `yanxiu serve`: real RTMP publishers
//! (ffmpeg, GStreamer `rtmp2sink`) push to the server's RTMP port, and the
//! tests play what the origin serves (`/live/{channel}/…`) with ffmpeg,
//! read the channel's status, events and metrics, and the recording the
//! session leaves behind.
//!
//! The tests run one at a time ([`one_at_a_time`]): each encodes in real
//! time and the server runs a live ladder, on a two-core machine.

mod common;

use std::time::{Duration, Instant};

use common::live::{
    FfmpegPublish, LiveChannel, assert_monotonic, create_channel, decode_all, decode_live,
    department_id, events, ffmpeg_publisher, get_text, gstreamer_publisher, media_playlist,
    metrics, of_kind, one_at_a_time, organiser, packet_times, parse_master, rendition_names,
    rotate_key, server_log, set_enabled, start_live, status, stored_rendition_runs, stored_session,
    wait_for_events, wait_for_master, wait_for_recording, wait_for_segments, wait_for_status,
    wait_for_stop, wait_until_not_live,
};

use common::server::{Server, api, resource};
use serde_json::json;

/// How long a master playlist may take to appear after a publish starts.
const MASTER_WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ffmpeg_publisher_goes_live_with_a_ladder_below_the_source_status_and_metrics() {
    let _turn = one_at_a_time().await;
    // 1080p is configured but never offered above a 720p source.
    let s = start_live("rung_heights = [1080, 360]\npreset = \"ultrafast\"\n");
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "物理公开课：光的折射", "low_latency").await;

    let started = Instant::now();
    let mut publisher = ffmpeg_publisher(&channel.publish_url(&s), &FfmpegPublish::default());
    let master_text = wait_for_master(&s, &channel, MASTER_WAIT).await;
    eprintln!(
        "master after {:.1} s:\n{master_text}",
        started.elapsed().as_secs_f64()
    );
    let master = parse_master(&master_text);

    // source (passthrough, 1280x720) and 360p, never 1080p; audio as a group.
    let mut video: Vec<(String, (u64, u64), String)> = master
        .variants
        .iter()
        .map(|v| {
            let resolution = v.resolution.expect("RESOLUTION on every variant");
            (
                // every URI names the session (`?v=`); the path is what is compared
                v.uri.split('?').next().unwrap_or_default().to_owned(),
                (resolution.width, resolution.height),
                v.codecs.clone().expect("CODECS on every variant"),
            )
        })
        .collect();
    video.sort_by_key(|v| v.1);
    assert_eq!(
        video
            .iter()
            .map(|v| (v.0.as_str(), v.1))
            .collect::<Vec<_>>(),
        [
            ("360p/index.m3u8", (640, 360)),
            ("source/index.m3u8", (1280, 720))
        ],
        "{master_text}"
    );
    for (uri, _, codecs) in &video {
        assert!(
            codecs.starts_with("avc1.") && codecs.contains("mp4a.40.2"),
            "{uri}: CODECS {codecs}"
        );
    }
    let audio: Vec<_> = master
        .alternatives
        .iter()
        .filter(|a| a.media_type == m3u8_rs::AlternativeMediaType::Audio)
        .collect();
    assert_eq!(audio.len(), 1, "{master_text}");
    assert_eq!(
        audio[0].uri.as_deref().and_then(|u| u.split('?').next()),
        Some("audio/index.m3u8")
    );
    assert!(
        master
            .variants
            .iter()
            .all(|v| v.audio.as_deref() == Some(audio[0].group_id.as_str())),
        "every variant names the audio group: {master_text}"
    );

    // After a few seconds every rendition lists at least two segments,
    // LL-HLS parts included, and each decodes without an error.
    let renditions = rendition_names(&master);
    assert_eq!(renditions.len(), 3, "{renditions:?}");
    for rendition in &renditions {
        let playlist = wait_for_segments(&s, &channel, rendition, 2, Duration::from_secs(20)).await;
        assert!(!playlist.end_list, "{rendition} is live");
        assert!(
            playlist
                .segments
                .iter()
                .all(|seg| seg.duration > 1.5 && seg.duration < 2.5),
            "{rendition}: 2 s segments: {playlist:?}"
        );
        let (_, text) = get_text(&channel.media_url(&s, rendition)).await;
        assert!(
            text.contains("#EXT-X-PART:"),
            "{rendition} has parts:\n{text}"
        );
        assert!(text.contains("#EXT-X-PRELOAD-HINT:"), "{text}");
        assert!(text.contains("CAN-BLOCK-RELOAD=YES"), "{text}");
    }
    for rendition in &renditions {
        decode_live(&channel.media_url(&s, rendition), 4);
    }

    // The status API shows the input as measured, a viewer, no damage.
    let live = wait_for_status(
        &s,
        &token,
        &channel,
        Duration::from_secs(10),
        "a steady input bitrate",
        |b| {
            b["status"]["input"]["bitrate_bps"]
                .as_u64()
                .is_some_and(|r| r > 0)
        },
    )
    .await;
    eprintln!("status: {live}");
    assert_eq!(live["state"], "live", "{live}");
    let st = &live["status"];
    assert_eq!(st["live"], true, "{live}");
    assert!(st["since"].as_i64().is_some(), "{live}");
    assert!(st["session_id"].as_str().is_some(), "{live}");
    assert_eq!(st["input"]["video_codec"], "h264", "{live}");
    assert_eq!(st["input"]["width"], 1280, "{live}");
    assert_eq!(st["input"]["height"], 720, "{live}");
    let fps = st["input"]["frame_rate"].as_f64().unwrap_or_default();
    assert!((fps - 30.0).abs() < 3.0, "about 30 fps: {live}");
    assert!(st["viewers"].as_u64().unwrap_or_default() >= 1, "{live}");
    assert_eq!(st["dropped_frames"], 0, "{live}");
    let mut offered: Vec<String> = st["renditions"]
        .as_array()
        .expect("renditions")
        .iter()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    offered.sort();
    assert_eq!(offered, ["360p", "audio", "source"], "{live}");

    let prometheus = metrics(&s).await;
    let up = format!("yanxiu_live_channel_up{{channel=\"{}\"}} 1", channel.id);
    assert!(prometheus.contains(&up), "{up} in:\n{prometheus}");
    let started_events = of_kind(&events(&s, &token, &channel).await, "started").len();
    assert_eq!(started_events, 1);

    assert!(publisher.running(), "{}", publisher.stderr());
    publisher.kill();
    assert!(
        !server_log(&s).contains(&channel.stream_key),
        "the stream key is never logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gstreamer_rtmp2sink_publisher_goes_live_and_its_segments_decode() {
    let _turn = one_at_a_time().await;
    let s = start_live("rung_heights = [360]\npreset = \"ultrafast\"\n");
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "化学实验直播", "standard").await;

    let mut publisher = gstreamer_publisher(&channel.publish_url(&s), 30);
    let master_text = wait_for_master(&s, &channel, MASTER_WAIT).await;
    let master = parse_master(&master_text);
    let renditions = rendition_names(&master);
    assert!(
        renditions.contains(&"source".to_owned()) && renditions.contains(&"audio".to_owned()),
        "{master_text}"
    );
    for rendition in &renditions {
        wait_for_segments(&s, &channel, rendition, 2, Duration::from_secs(20)).await;
        decode_live(&channel.media_url(&s, rendition), 3);
    }
    let live = wait_for_status(
        &s,
        &token,
        &channel,
        Duration::from_secs(10),
        "the GStreamer input measured",
        |b| b["status"]["input"]["width"] == 640,
    )
    .await;
    assert_eq!(live["status"]["live"], true, "{live}");
    assert_eq!(live["status"]["input"]["height"], 360, "{live}");
    assert_eq!(live["status"]["input"]["audio_codec"], "aac", "{live}");
    assert!(publisher.running(), "{}", publisher.stderr());
}

/// Publishes to `url` and expects a refusal: ffmpeg gives up quickly with
/// a non-zero status, having sent no media.
fn assert_refused(url: &str, why: &str) {
    let started = Instant::now();
    let mut publisher = ffmpeg_publisher(
        url,
        &FfmpegPublish {
            size: "640x360",
            seconds: 20.0,
            extra: Vec::new(),
        },
    );
    let exit = publisher.wait(Duration::from_secs(10));
    assert!(
        !exit.success(),
        "{why}: ffmpeg must fail, got {exit}:\n{}",
        publisher.stderr()
    );
    eprintln!(
        "{why}: refused after {:.2} s: {}",
        started.elapsed().as_secs_f64(),
        publisher.stderr().trim()
    );
}

/// The codes of the channel's `refused` events, oldest first.
async fn refusal_codes(s: &Server, token: &str, channel: &LiveChannel) -> Vec<String> {
    of_kind(&events(s, token, channel).await, "refused")
        .iter()
        .map(|e| e["detail"]["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_rotated_and_disabled_keys_and_unknown_names_are_refused_before_any_media() {
    let _turn = one_at_a_time().await;
    let s = start_live("rung_heights = [360]\npreset = \"ultrafast\"\n");
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "数学教研活动", "standard").await;

    // A wrong key: refused, recorded, nothing goes live.
    let wrong = format!(
        "{}/{}?key=sk_not-the-key-0123456789",
        s.rtmp, channel.stream_name
    );
    assert_refused(&wrong, "wrong key");
    assert_eq!(refusal_codes(&s, &token, &channel).await, ["wrong_key"]);
    // An unknown stream name with the channel's real key.
    let unknown = format!("{}/ch-000000000000?key={}", s.rtmp, channel.stream_key);
    assert_refused(&unknown, "unknown stream name");
    let idle = status(&s, &token, &channel).await;
    assert_eq!(idle["state"], "idle", "{idle}");
    assert_eq!(idle["status"]["live"], false, "{idle}");
    assert!(
        of_kind(&events(&s, &token, &channel).await, "started").is_empty(),
        "no session started"
    );
    let (code, body) = get_text(&channel.master_url(&s)).await;
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("live.not_live"), "{body}");
    assert!(
        !metrics(&s).await.contains(&format!(
            "yanxiu_live_channel_up{{channel=\"{}\"}} 1",
            channel.id
        )),
        "the channel is not up"
    );

    // After a rotation the old key is refused as rotated; the new one works.
    let rotated = rotate_key(&s, &token, &channel).await;
    assert_ne!(rotated.stream_key, channel.stream_key);
    assert_refused(&channel.publish_url(&s), "rotated key");
    assert_eq!(
        refusal_codes(&s, &token, &channel).await,
        ["wrong_key", "key_rotated"]
    );
    let mut publisher = ffmpeg_publisher(
        &rotated.publish_url(&s),
        &FfmpegPublish {
            size: "640x360",
            seconds: 30.0,
            extra: Vec::new(),
        },
    );
    wait_for_master(&s, &rotated, MASTER_WAIT).await;
    wait_for_segments(&s, &rotated, "source", 1, Duration::from_secs(15)).await;
    publisher.kill();

    // A disabled channel refuses even the current key.
    set_enabled(&s, &token, &rotated, false).await;
    assert_refused(&rotated.publish_url(&s), "disabled channel");
    let codes = refusal_codes(&s, &token, &rotated).await;
    assert_eq!(
        codes.last().map(String::as_str),
        Some("disabled"),
        "{codes:?}"
    );

    let log = server_log(&s);
    for code in ["wrong_key", "unknown_channel", "key_rotated", "disabled"] {
        assert!(
            log.contains("publish refused") && log.contains(code),
            "the refusal {code} is logged with its reason"
        );
    }
    for key in [&channel.stream_key, &rotated.stream_key] {
        assert!(
            !log.contains(key.as_str()),
            "a stream key in the server's log"
        );
    }
    assert!(
        !log.contains("sk_not-the-key"),
        "a refused key in the server's log"
    );
}

/// An 854x480 ffmpeg publish of `seconds` (with a 360p rung below it).
fn small_publish(seconds: f64) -> FfmpegPublish {
    FfmpegPublish {
        size: "854x480",
        seconds,
        extra: Vec::new(),
    }
}

/// The media sequence number of the last segment a live playlist lists.
fn last_msn(playlist: &m3u8_rs::MediaPlaylist) -> u64 {
    playlist.media_sequence + playlist.segments.len() as u64 - 1
}

/// Checks every stored rendition of a session: its (ended) VOD playlist's
/// init sections and segments give strictly monotonic DTS without gaps
/// above a second; returns the video duration of `source` in seconds.
fn assert_stored_timeline_monotonic(session_dir: &std::path::Path) -> f64 {
    let work = tempfile::tempdir().expect("tempdir");
    let mut source_seconds = 0.0;
    for rendition in std::fs::read_dir(session_dir)
        .expect("session dir")
        .flatten()
    {
        if !rendition.path().is_dir() {
            continue;
        }
        let name = rendition.file_name().to_string_lossy().into_owned();
        let mut packets = Vec::new();
        for run in stored_rendition_runs(&rendition.path(), work.path()) {
            packets.extend(packet_times(&run));
        }
        assert_monotonic(&name, &packets, 1.0);
        if name == "source" {
            let first = packets.first().map(|p| p.dts).unwrap_or_default();
            let last = packets
                .last()
                .map(|p| p.dts + p.duration)
                .unwrap_or_default();
            source_seconds = last - first;
        }
        eprintln!(
            "{name}: {} packets, DTS {:.3} … {:.3}",
            packets.len(),
            packets.first().map(|p| p.dts).unwrap_or_default(),
            packets.last().map(|p| p.dts).unwrap_or_default()
        );
    }
    source_seconds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_that_reconnects_within_the_window_continues_one_session_and_one_recording() {
    let _turn = one_at_a_time().await;
    let s =
        start_live("reconnect_window_seconds = 5\nrung_heights = [360]\npreset = \"ultrafast\"\n");
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "教师节典礼", "low_latency").await;

    // ~6 s, then the encoder dies (SIGKILL: no unpublish).
    let mut first = ffmpeg_publisher(&channel.publish_url(&s), &small_publish(30.0));
    wait_for_master(&s, &channel, MASTER_WAIT).await;
    let before = wait_for_segments(&s, &channel, "source", 2, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = media_playlist(&s, &channel, "source")
        .await
        .segments
        .len()
        .max(before.segments.len());
    let msn_before = last_msn(&media_playlist(&s, &channel, "source").await);
    let session = status(&s, &token, &channel).await["status"]["session_id"]
        .as_str()
        .expect("a session id")
        .to_owned();
    first.kill();

    // Back within the window for ~6 s, then a clean stop.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut second = ffmpeg_publisher(&channel.publish_url(&s), &small_publish(6.0));
    wait_for_events(
        &s,
        &token,
        &channel,
        Duration::from_secs(10),
        "reconnected",
        |e| !of_kind(e, "reconnected").is_empty(),
    )
    .await;
    let during = wait_for_status(
        &s,
        &token,
        &channel,
        Duration::from_secs(10),
        "live again",
        |b| b["status"]["live"] == true,
    )
    .await;
    assert_eq!(during["status"]["session_id"], session.as_str(), "{during}");
    assert_eq!(during["status"]["reconnects"], 1, "{during}");
    // The playlist continues: its sequence numbers go on, never back to 0.
    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        let playlist = media_playlist(&s, &channel, "source").await;
        if last_msn(&playlist) >= msn_before + 2 {
            break playlist;
        }
        assert!(
            Instant::now() < deadline,
            "the playlist did not go on: {playlist:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(after.media_sequence <= msn_before, "{after:?}");
    assert!(before >= 2);
    let exit = second.wait(Duration::from_secs(20));
    assert!(exit.success(), "{}", second.stderr());

    // The window runs out: one started, one reconnected, one stopped, one session.
    let (list, recording) = wait_for_recording(&s, &token, &channel).await;
    for kind in ["started", "reconnected", "stopped"] {
        let of = of_kind(&list, kind);
        assert_eq!(of.len(), 1, "one {kind}: {list:#?}");
        assert_eq!(of[0]["detail"]["session_id"], session.as_str(), "{list:#?}");
    }
    assert_eq!(of_kind(&list, "recorded").len(), 1, "{list:#?}");

    // One recording, about 6 + 6 s long, stored with a monotonic timeline.
    let body = resource(&s, &token, &recording).await;
    let duration = body["processing"]["probe"]["duration_seconds"]
        .as_f64()
        .unwrap_or_default();
    let session_dir = stored_session(&s, &channel, &session);
    let source_seconds = assert_stored_timeline_monotonic(&session_dir);
    eprintln!("recording {duration:.3} s, source timeline {source_seconds:.3} s");
    assert!((9.0..=15.0).contains(&duration), "about 12 s: {body}");
    assert!((9.0..=15.0).contains(&source_seconds), "about 12 s stored");
    decode_all(&session_dir.join("master.m3u8").to_string_lossy());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_window_the_session_ends_and_its_recording_is_a_playable_draft_resource() {
    let _turn = one_at_a_time().await;
    let s =
        start_live("reconnect_window_seconds = 2\nrung_heights = [360]\npreset = \"ultrafast\"\n");
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "物理实验课", "standard").await;

    let mut publisher = ffmpeg_publisher(&channel.publish_url(&s), &small_publish(8.0));
    wait_for_master(&s, &channel, MASTER_WAIT).await;
    let exit = publisher.wait(Duration::from_secs(30));
    assert!(exit.success(), "{}", publisher.stderr());

    let (_, recording) = wait_for_recording(&s, &token, &channel).await;
    let idle = status(&s, &token, &channel).await;
    assert_eq!(idle["state"], "idle", "{idle}");
    assert_eq!(idle["status"]["live"], false, "{idle}");
    wait_until_not_live(&s, &channel, Duration::from_secs(30)).await;
    assert!(
        !metrics(&s).await.contains(&format!(
            "yanxiu_live_channel_up{{channel=\"{}\"}} 1",
            channel.id
        )),
        "the channel is no longer up"
    );

    // A draft owned by the organiser, ready, playable with a preview token.
    let body = resource(&s, &token, &recording).await;
    let (code, me) = api(&s, reqwest::Method::GET, "/api/v1/me", Some(&token), None).await;
    assert_eq!(code, 200, "{me}");
    let me_id = me["id"]
        .as_str()
        .or(me["user"]["id"].as_str())
        .unwrap_or_default();
    assert_eq!(body["owner_id"].as_str(), Some(me_id), "{body}");
    assert_eq!(body["processing"]["status"], "ready", "{body}");
    assert_eq!(body["latest"]["state"], "draft", "{body}");
    assert!(body["published"].is_null(), "{body}");
    let duration = body["processing"]["probe"]["duration_seconds"]
        .as_f64()
        .unwrap_or_default();
    assert!((5.0..=11.0).contains(&duration), "about 8 s: {body}");

    let (code, grant) = api(
        &s,
        reqwest::Method::POST,
        "/api/v1/playback-tokens",
        Some(&token),
        Some(json!({ "resource_id": recording })),
    )
    .await;
    assert!(code < 300, "playback token: {grant}");
    let preview = grant["token"].as_str().expect("token");
    let master = format!("{}/play/{recording}/master.m3u8?token={preview}", s.base);
    let (code, text) = get_text(&master).await;
    assert_eq!(code, 200, "{text}");
    let parsed = parse_master(&text);
    let names = rendition_names(&parsed);
    assert!(names.len() >= 3, "source, 360p and audio: {text}");
    for name in &names {
        let url = format!(
            "{}/play/{recording}/{name}/index.m3u8?token={preview}",
            s.base
        );
        let (code, media) = get_text(&url).await;
        assert_eq!(code, 200, "{media}");
        assert!(media.contains("#EXT-X-ENDLIST"), "{media}");
        decode_all(&url);
    }
    decode_all(&master);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_that_wrap_and_jump_backwards_give_a_monotonic_stored_timeline() {
    let _turn = one_at_a_time().await;
    let s =
        start_live("reconnect_window_seconds = 5\nrung_heights = [360]\npreset = \"ultrafast\"\n");
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "时间戳故障演练", "low_latency").await;

    // FLV timestamps start 6 s before the 32-bit millisecond wrap
    // (4294967.296 s) and cross it. (ffmpeg's FLV muxer writes the top
    // bit as 0, so the server sees 0x7FFFxxxx ms fall back to 0: a wrap
    // of the signed 32-bit field.)
    let wrap = FfmpegPublish {
        extra: vec!["-output_ts_offset".into(), "4294961.296".into()],
        ..small_publish(12.0)
    };
    let mut wrapping = ffmpeg_publisher(&channel.publish_url(&s), &wrap);
    wait_for_master(&s, &channel, MASTER_WAIT).await;
    let exit = wrapping.wait(Duration::from_secs(30));
    assert!(exit.success(), "{}", wrapping.stderr());
    // Then a publisher whose timestamps start again at 0: a jump back of
    // more than 71 minutes, within the reconnect window.
    let mut restarted = ffmpeg_publisher(&channel.publish_url(&s), &small_publish(5.0));
    let exit = restarted.wait(Duration::from_secs(30));
    assert!(exit.success(), "{}", restarted.stderr());

    let list = wait_for_stop(&s, &token, &channel).await;
    assert_eq!(of_kind(&list, "started").len(), 1, "{list:#?}");
    assert_eq!(of_kind(&list, "reconnected").len(), 1, "{list:#?}");
    let session = of_kind(&list, "started")[0]["detail"]["session_id"]
        .as_str()
        .expect("session id")
        .to_owned();
    let session_dir = stored_session(&s, &channel, &session);
    let source_seconds = assert_stored_timeline_monotonic(&session_dir);
    assert!(
        (14.0..=20.0).contains(&source_seconds),
        "about 12 + 5 s of source video, got {source_seconds:.3} s"
    );
    decode_all(&session_dir.join("master.m3u8").to_string_lossy());
}

/// Files under `dir`, recursively (none when it does not exist).
fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| e.expect("dir entry").path())
        .map(|p| if p.is_dir() { files_under(&p) } else { 1 })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_does_not_record_keeps_nothing_in_storage_after_its_session() {
    let _turn = one_at_a_time().await;
    let s =
        start_live("reconnect_window_seconds = 1\nrung_heights = [360]\npreset = \"ultrafast\"\n");
    let token = organiser(&s).await;
    let department = department_id(&s, &token).await;
    let (code, body) = api(
        &s,
        reqwest::Method::POST,
        "/api/v1/channels",
        Some(&token),
        Some(json!({
            "name": "不录制的答疑",
            "department_id": department,
            "record_to_vod": false,
        })),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let text = |k: &str| body[k].as_str().expect("channel field").to_owned();
    let channel = LiveChannel {
        id: text("id"),
        stream_name: text("stream_name"),
        stream_key: text("stream_key"),
        obs_stream_key: text("obs_stream_key"),
        srt_publish_url: None,
    };

    let mut publisher = ffmpeg_publisher(&channel.publish_url(&s), &small_publish(6.0));
    wait_for_master(&s, &channel, MASTER_WAIT).await;
    wait_for_segments(&s, &channel, "source", 2, Duration::from_secs(15)).await;
    let session = status(&s, &token, &channel).await["status"]["session_id"]
        .as_str()
        .expect("a session id")
        .to_owned();
    // While live, segments are stored: they serve the DVR window.
    let dir = stored_session(&s, &channel, &session);
    assert!(files_under(&dir) > 0, "nothing stored under {dir:?}");
    let exit = publisher.wait(Duration::from_secs(30));
    assert!(exit.success(), "{}", publisher.stderr());

    let list = wait_for_stop(&s, &token, &channel).await;
    assert!(
        of_kind(&list, "stopped")[0]["detail"]["recording_resource_id"].is_null(),
        "{list:#?}"
    );
    assert!(of_kind(&list, "recorded").is_empty(), "{list:#?}");
    // Once the ended playlists are no longer served, nothing is left.
    wait_until_not_live(&s, &channel, Duration::from_secs(30)).await;
    assert_eq!(files_under(&dir), 0, "left in {dir:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_channel_plays_only_with_a_playback_token_carried_into_every_uri() {
    let _turn = one_at_a_time().await;
    let s =
        start_live("reconnect_window_seconds = 1\nrung_heights = [360]\npreset = \"ultrafast\"\n");
    let token = organiser(&s).await;
    let department = department_id(&s, &token).await;
    let (code, audience) = api(
        &s,
        reqwest::Method::POST,
        "/api/v1/audiences",
        Some(&token),
        Some(json!({ "name": "物理组教师", "department_id": department })),
    )
    .await;
    assert_eq!(code, 201, "{audience}");
    let (code, body) = api(
        &s,
        reqwest::Method::POST,
        "/api/v1/channels",
        Some(&token),
        Some(json!({
            "name": "组内教研直播",
            "department_id": department,
            "audience": "restricted",
            "audience_id": audience["id"],
            "latency_mode": "low_latency",
        })),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let text = |k: &str| body[k].as_str().expect("channel field").to_owned();
    let channel = LiveChannel {
        id: text("id"),
        stream_name: text("stream_name"),
        stream_key: text("stream_key"),
        obs_stream_key: text("obs_stream_key"),
        srt_publish_url: None,
    };
    let mut publisher = ffmpeg_publisher(&channel.publish_url(&s), &small_publish(20.0));

    // Without a token: refused, whether the channel is live or not.
    let deadline = Instant::now() + MASTER_WAIT;
    loop {
        let (code, body) = get_text(&channel.master_url(&s)).await;
        assert_eq!(code, 401, "{body}");
        if status(&s, &token, &channel).await["status"]["live"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "the channel did not go live");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (code, body) = get_text(&channel.media_url(&s, "source")).await;
    assert_eq!(code, 401, "{body}");

    // With the organiser's playback token: the master and every media
    // playlist carry it in their URIs, and the stream decodes through them.
    let (code, grant) = api(
        &s,
        reqwest::Method::POST,
        "/api/v1/playback-tokens",
        Some(&token),
        Some(json!({ "channel_id": channel.id })),
    )
    .await;
    assert!(code < 300, "playback token: {grant}");
    let playback = grant["token"]
        .as_str()
        .expect("a token for a restricted channel");
    let master_url = format!("{}?token={playback}", channel.master_url(&s));
    let deadline = Instant::now() + MASTER_WAIT;
    let master = loop {
        let (code, body) = get_text(&master_url).await;
        if code == 200 {
            break body;
        }
        assert!(Instant::now() < deadline, "master: {code} {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let uris: Vec<&str> = master
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert!(!uris.is_empty(), "{master}");
    for uri in &uris {
        assert!(uri.contains(&format!("token={playback}")), "{master}");
    }
    let media_url = format!("{}?token={playback}", channel.media_url(&s, "source"));
    let deadline = Instant::now() + Duration::from_secs(15);
    let media = loop {
        let (code, media) = get_text(&media_url).await;
        assert_eq!(code, 200, "{media}");
        if media.matches("#EXTINF").count() >= 2 {
            break media;
        }
        assert!(Instant::now() < deadline, "no segments: {media}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for line in media
        .lines()
        .filter(|l| l.contains("URI=\"") || l.ends_with(".m4s"))
    {
        assert!(line.contains("token="), "a URI without the token: {line}");
    }
    decode_live(&master_url, 4);
    // A forged token is refused.
    let (code, body) = get_text(&format!(
        "{}/live/{}/master.m3u8?token=not-a-token",
        s.base, channel.id
    ))
    .await;
    assert_eq!(code, 401, "{body}");
    publisher.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cut_short_by_a_killed_server_becomes_a_recording_after_the_restart() {
    let _turn = one_at_a_time().await;
    let mut s =
        start_live("reconnect_window_seconds = 1\nrung_heights = [360]\npreset = \"ultrafast\"\n");
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "断电演练", "standard").await;
    let mut publisher = ffmpeg_publisher(&channel.publish_url(&s), &small_publish(30.0));
    wait_for_master(&s, &channel, MASTER_WAIT).await;
    wait_for_segments(&s, &channel, "source", 3, Duration::from_secs(20)).await;
    let session = status(&s, &token, &channel).await["status"]["session_id"]
        .as_str()
        .expect("a session id")
        .to_owned();

    // The server dies mid-session (no chance to finish anything), then comes back.
    s.stop("KILL");
    publisher.kill();
    s.relaunch(1);
    let token = organiser(&s).await;

    let (list, recording) = wait_for_recording(&s, &token, &channel).await;
    let stopped = of_kind(&list, "stopped")[0];
    assert_eq!(
        stopped["detail"]["session_id"],
        session.as_str(),
        "{stopped}"
    );
    assert!(
        stopped["detail"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("restart")),
        "{stopped}"
    );
    let body = resource(&s, &token, &recording).await;
    assert_eq!(body["processing"]["status"], "ready", "{body}");
    let idle = status(&s, &token, &channel).await;
    assert_eq!(idle["state"], "idle", "{idle}");
    let session_dir = stored_session(&s, &channel, &session);
    assert!(
        assert_stored_timeline_monotonic(&session_dir) >= 4.0,
        "at least the segments listed before the kill"
    );
    decode_all(&session_dir.join("master.m3u8").to_string_lossy());
}
