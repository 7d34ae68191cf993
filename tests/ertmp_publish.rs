//! Enhanced RTMP through `yanxiu serve`: a publisher sends HEVC the way OBS 30+ does (the
//! published E-RTMP spec's extended video header, FourCC `hvc1`: SequenceStart with the
//! hvcC, CodedFrames with their composition time) and AAC in legacy tags. The live ladder
//! is H.264, every rung plays (ffmpeg decodes the live HLS), and the channel reports an
//! HEVC source. On a channel that allows HEVC passthrough the master also lists the source
//! as it came (`hvc1`), its segments cut at the same instants as the H.264 rungs', and
//! hls.js in Chromium plays the channel on what the browser can decode.
//!
//! Neither Debian's ffmpeg 5.1 nor GStreamer 1.22 publishes HEVC over RTMP, so the
//! publisher here is rml_rtmp's client session (a real RTMP client: handshake, connect,
//! publish, chunking) carrying tags built from an HEVC/AAC file that the ffmpeg CLI encoded
//! with libx265; the samples are read with libavformat and paced in real time.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use ffmpeg_next as ff;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
};
use rml_rtmp::time::RtmpTimestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::browser::{CHROMIUM, browser_node_modules, watch_live};
use common::live::{
    create_channel, decode_live, media_playlist, one_at_a_time, organiser, parse_master,
    patch_channel, require_tool, start_live, status, wait_for_master, wait_for_segments,
};
use serde_json::json;

/// One sample of the source file, in milliseconds.
struct Sample {
    video: bool,
    dts_ms: u32,
    cts_ms: i32,
    keyframe: bool,
    data: Bytes,
}

/// The file's decoder configurations (hvcC, AudioSpecificConfig) and its samples in
/// decode order, interleaved as stored.
struct Source {
    hvcc: Bytes,
    asc: Bytes,
    samples: Vec<Sample>,
}

/// Encodes `seconds` of a moving test picture and a tone as HEVC (libx265, 2 s GOP,
/// B-frames) and AAC in MP4.
fn encode_hevc_source(dir: &std::path::Path, seconds: u32) -> std::path::PathBuf {
    let out = dir.join("hevc-aac.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=640x360:rate=25:duration={seconds}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency=440:sample_rate=48000:duration={seconds}"
        ))
        .args([
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "keyint=50:min-keyint=50:bframes=2:log-level=error",
            "-tag:v",
            "hvc1",
            "-c:a",
            "aac",
            "-b:a",
            "96k",
        ])
        .arg(&out)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg could not encode the HEVC source");
    out
}

/// Reads the file's configurations and samples with libavformat.
fn read_source(path: &std::path::Path) -> Source {
    ff::init().expect("libav");
    let mut input = ff::format::input(path).expect("open the source");
    let (mut video, mut audio) = (None, None);
    for stream in input.streams() {
        match stream.parameters().id() {
            ff::codec::Id::HEVC => video = Some((stream.index(), stream.time_base())),
            ff::codec::Id::AAC => audio = Some((stream.index(), stream.time_base())),
            _ => {}
        }
    }
    let (video, audio) = (
        video.expect("an HEVC stream"),
        audio.expect("an AAC stream"),
    );
    let ms = |ts: i64, tb: ff::Rational| {
        (ts as f64 * f64::from(tb.numerator()) * 1000.0 / f64::from(tb.denominator())).round()
            as i64
    };
    let mut samples = Vec::new();
    for (stream, packet) in input.packets() {
        let is_video = stream.index() == video.0;
        if !is_video && stream.index() != audio.0 {
            continue;
        }
        let tb = if is_video { video.1 } else { audio.1 };
        let dts = ms(packet.dts().or(packet.pts()).unwrap_or(0), tb);
        let pts = ms(packet.pts().unwrap_or(dts), tb);
        samples.push(Sample {
            video: is_video,
            // B-frames make the first decode times negative: start the stream at 0.
            dts_ms: u32::try_from(dts + 200).expect("a positive time"),
            cts_ms: i32::try_from(pts - dts).expect("a small offset"),
            keyframe: packet.is_key(),
            data: Bytes::copy_from_slice(packet.data().unwrap_or_default()),
        });
    }
    Source {
        hvcc: hvcc_box(&std::fs::read(path).expect("read the source")),
        // AAC LC, 48 kHz (index 3), stereo: what the ffmpeg command above encodes.
        asc: Bytes::from_static(&[0x11, 0x90]),
        samples,
    }
}

/// The body of the MP4's `hvcC` box: the HEVCDecoderConfigurationRecord.
fn hvcc_box(file: &[u8]) -> Bytes {
    let at = file
        .windows(4)
        .position(|w| w == b"hvcC")
        .expect("an hvcC box");
    let size = u32::from_be_bytes(file[at - 4..at].try_into().expect("4 bytes")) as usize;
    Bytes::copy_from_slice(&file[at + 4..at - 4 + size])
}

/// An Enhanced RTMP video tag: `[IsExHeader | FrameType | PacketType]`, `hvc1`, body.
fn hevc_tag(frame_type: u8, packet_type: u8, body: &[&[u8]]) -> Bytes {
    let mut tag = vec![0x80 | (frame_type << 4) | packet_type];
    tag.extend_from_slice(b"hvc1");
    for part in body {
        tag.extend_from_slice(part);
    }
    Bytes::from(tag)
}

/// A legacy AAC audio tag (AAC, 44 kHz flag, 16-bit, stereo).
fn aac_tag(packet_type: u8, body: &[u8]) -> Bytes {
    let mut tag = vec![0xAF, packet_type];
    tag.extend_from_slice(body);
    Bytes::from(tag)
}

/// A minimal RTMP publisher over rml_rtmp's client session.
struct Publisher {
    socket: TcpStream,
    session: ClientSession,
    buffer: Vec<u8>,
}

impl Publisher {
    /// Connects to `rtmp://host:port/app` and publishes `stream_key`.
    async fn publish(rtmp_url: &str, stream_key: &str) -> Publisher {
        let rest = rtmp_url.strip_prefix("rtmp://").expect("an rtmp:// URL");
        let (address, app) = rest.split_once('/').expect("rtmp://host:port/app");
        let mut socket = TcpStream::connect(address).await.expect("connect");
        let mut handshake = Handshake::new(PeerType::Client);
        let p0p1 = handshake.generate_outbound_p0_and_p1().expect("p0 p1");
        socket.write_all(&p0p1).await.expect("send p0 p1");
        let mut buffer = [0u8; 8192];
        let remaining = loop {
            let n = socket.read(&mut buffer).await.expect("read handshake");
            assert!(n > 0, "the server closed during the handshake");
            match handshake.process_bytes(&buffer[..n]).expect("handshake") {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    socket.write_all(&response_bytes).await.expect("send");
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    socket.write_all(&response_bytes).await.expect("send");
                    break remaining_bytes;
                }
            }
        };
        let (session, results) = ClientSession::new(ClientSessionConfig::new()).expect("session");
        let mut publisher = Publisher {
            socket,
            session,
            buffer: remaining,
        };
        publisher.send_results(results).await;
        let connect = publisher
            .session
            .request_connection(app.to_owned())
            .expect("connect");
        publisher.send_results(vec![connect]).await;
        publisher
            .wait_for(|e| matches!(e, ClientSessionEvent::ConnectionRequestAccepted))
            .await;
        let publish = publisher
            .session
            .request_publishing(stream_key.to_owned(), PublishRequestType::Live)
            .expect("publish");
        publisher.send_results(vec![publish]).await;
        publisher
            .wait_for(|e| matches!(e, ClientSessionEvent::PublishRequestAccepted))
            .await;
        publisher
    }

    async fn send_results(&mut self, results: Vec<ClientSessionResult>) {
        for result in results {
            if let ClientSessionResult::OutboundResponse(packet) = result {
                self.socket.write_all(&packet.bytes).await.expect("send");
            }
        }
    }

    /// Reads from the server until the session raises an event `wanted` accepts.
    async fn wait_for(&mut self, wanted: impl Fn(&ClientSessionEvent) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let input = std::mem::take(&mut self.buffer);
            let results = if input.is_empty() {
                Vec::new()
            } else {
                self.session.handle_input(&input).expect("server input")
            };
            let mut found = false;
            for result in &results {
                if let ClientSessionResult::RaisedEvent(event) = result {
                    assert!(
                        !matches!(event, ClientSessionEvent::ConnectionRequestRejected { .. }),
                        "refused: {event:?}"
                    );
                    found |= wanted(event);
                }
            }
            self.send_results(results).await;
            if found {
                return;
            }
            assert!(Instant::now() < deadline, "no answer from the server");
            let mut chunk = [0u8; 8192];
            let n = tokio::time::timeout(Duration::from_secs(10), self.socket.read(&mut chunk))
                .await
                .expect("an answer in time")
                .expect("read");
            assert!(n > 0, "the server closed the connection");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    async fn video(&mut self, tag: Bytes, dts_ms: u32) {
        let result = self
            .session
            .publish_video_data(tag, RtmpTimestamp::new(dts_ms), false)
            .expect("video");
        self.send_results(vec![result]).await;
    }

    async fn audio(&mut self, tag: Bytes, dts_ms: u32) {
        let result = self
            .session
            .publish_audio_data(tag, RtmpTimestamp::new(dts_ms), false)
            .expect("audio");
        self.send_results(vec![result]).await;
    }
}

/// Publishes `source` to `rtmp_url` with `stream_key` in real time, as an encoder would.
async fn publish_hevc(rtmp_url: String, stream_key: String, source: Source) {
    let mut publisher = Publisher::publish(&rtmp_url, &stream_key).await;
    publisher.video(hevc_tag(1, 0, &[&source.hvcc]), 0).await;
    publisher.audio(aac_tag(0, &source.asc), 0).await;
    let started = Instant::now();
    for sample in &source.samples {
        let due = Duration::from_millis(u64::from(sample.dts_ms));
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        if sample.video {
            let frame_type = if sample.keyframe { 1 } else { 2 };
            let cts = sample.cts_ms.to_be_bytes();
            let tag = hevc_tag(frame_type, 1, &[&cts[1..], &sample.data]);
            publisher.video(tag, sample.dts_ms).await;
        } else {
            publisher
                .audio(aac_tag(1, &sample.data), sample.dts_ms)
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enhanced_rtmp_hevc_publish_is_laddered_to_h264_that_plays() {
    require_tool("ffmpeg", "-version");
    let _turn = one_at_a_time().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let source = read_source(&encode_hevc_source(dir.path(), 10));
    assert!(
        source.hvcc.len() > 23 && source.hvcc[0] == 1,
        "an hvcC record"
    );
    assert!(source.samples.iter().filter(|s| s.video).count() >= 250);

    let s = start_live("");
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "HEVC 课堂直播", "standard").await;
    let publishing = tokio::spawn(publish_hevc(
        s.rtmp.clone(),
        channel.obs_stream_key.clone(),
        source,
    ));

    let master = parse_master(&wait_for_master(&s, &channel, Duration::from_secs(30)).await);
    assert!(!master.variants.is_empty(), "{master:?}");
    for variant in &master.variants {
        let codecs = variant.codecs.clone().unwrap_or_default();
        assert!(
            codecs.starts_with("avc1."),
            "every rung is H.264 for players without HEVC: {codecs}"
        );
        let height = variant.resolution.map(|r| r.height).unwrap_or_default();
        assert!(height <= 360, "no rung above the 360p source: {variant:?}");
    }
    let first = master.variants[0].uri.split('/').next().unwrap_or_default();
    wait_for_segments(&s, &channel, first, 2, Duration::from_secs(30)).await;
    let live = status(&s, &token, &channel).await;
    eprintln!("E-RTMP HEVC ladder: {master:?}\nstatus: {live}");
    assert_eq!(live["state"], "live", "{live}");
    let input = &live["status"]["input"];
    assert_eq!(
        input["video_codec"], "hevc",
        "the status names the source: {live}"
    );
    assert_eq!(
        (input["width"].as_u64(), input["height"].as_u64()),
        (Some(640), Some(360)),
        "{live}"
    );
    assert_eq!(live["status"]["dropped_frames"], 0, "{live}");
    let url = channel.master_url(&s);
    tokio::task::spawn_blocking(move || decode_live(&url, 3))
        .await
        .expect("decode");
    publishing.await.expect("the publisher ran to the end");
}

/// What ffprobe says of the first video stream at `url`: codec, width, height.
fn probe_video(url: &str) -> (String, u64, u64) {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=codec_name,width,height", "-of", "json"])
        .arg(url)
        .output()
        .expect("run ffprobe");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ffprobe JSON");
    let stream = &json["streams"][0];
    (
        stream["codec_name"].as_str().unwrap_or_default().to_owned(),
        stream["width"].as_u64().unwrap_or_default(),
        stream["height"].as_u64().unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_allows_it_passes_the_hevc_source_through_beside_the_h264_ladder() {
    require_tool("ffmpeg", "-version");
    require_tool(CHROMIUM, "--version");
    require_tool("node", "--version");
    let modules = browser_node_modules();
    let _turn = one_at_a_time().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let source = read_source(&encode_hevc_source(dir.path(), 40));

    let s = start_live("preset = \"ultrafast\"\n");
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "HEVC 直通课堂", "standard").await;
    let changed = patch_channel(&s, &token, &channel, json!({"hevc_passthrough": true})).await;
    assert_eq!(changed["hevc_passthrough"], true, "{changed}");
    let publishing = tokio::spawn(publish_hevc(
        s.rtmp.clone(),
        channel.obs_stream_key.clone(),
        source,
    ));

    let text = wait_for_master(&s, &channel, Duration::from_secs(30)).await;
    let master = parse_master(&text);
    let passthrough = master
        .variants
        .iter()
        .find(|v| v.uri.starts_with("source/"))
        .unwrap_or_else(|| panic!("an HEVC source variant: {text}"));
    let codecs = passthrough.codecs.clone().unwrap_or_default();
    assert!(codecs.starts_with("hvc1.1.6.L"), "HEVC Main: {text}");
    assert!(codecs.contains("mp4a.40.2"), "with the audio: {text}");
    let size = passthrough.resolution.map(|r| (r.width, r.height));
    assert_eq!(size, Some((640, 360)), "{text}");
    let rungs: Vec<_> = master
        .variants
        .iter()
        .filter(|v| !v.uri.starts_with("source/"))
        .collect();
    assert!(
        rungs
            .iter()
            .all(|v| v.codecs.as_deref().is_some_and(|c| c.starts_with("avc1."))),
        "the ladder is H.264: {text}"
    );
    assert!(
        rungs
            .iter()
            .any(|v| v.resolution.is_some_and(|r| r.height == 360)),
        "an H.264 rung at the source size for players without HEVC: {text}"
    );

    wait_for_segments(&s, &channel, "source", 3, Duration::from_secs(30)).await;
    wait_for_segments(&s, &channel, "360p", 3, Duration::from_secs(30)).await;
    let probed = probe_video(&channel.media_url(&s, "source"));
    assert_eq!(
        probed,
        ("hevc".to_owned(), 640, 360),
        "the source as it came"
    );
    let url = channel.media_url(&s, "source");
    tokio::task::spawn_blocking(move || decode_live(&url, 3))
        .await
        .expect("decode the HEVC rendition");

    // One keyframe grid: every segment of the HEVC rendition and of the
    // H.264 rung has the same sequence number and length. The session's
    // first segment is the exception: x265's open GOPs decode each later
    // keyframe ahead of the pictures shown just before it (2 frames of
    // reordering where the stream's first keyframe has 1), so in decode
    // time the passed-through first segment is a frame shorter.
    let hevc = media_playlist(&s, &channel, "source").await;
    let h264 = media_playlist(&s, &channel, "360p").await;
    let lengths = |p: &m3u8_rs::MediaPlaylist| -> Vec<(u64, f32)> {
        p.segments
            .iter()
            .enumerate()
            .map(|(i, seg)| (p.media_sequence + i as u64, seg.duration))
            .collect()
    };
    let (hevc, h264) = (lengths(&hevc), lengths(&h264));
    let common: Vec<_> = hevc
        .iter()
        .filter_map(|(msn, d)| {
            h264.iter()
                .find(|(m, _)| m == msn)
                .map(|(_, e)| (*msn, *d, *e))
        })
        .collect();
    eprintln!("segments (msn, HEVC s, H.264 s): {common:?}");
    assert!(common.len() >= 3, "{hevc:?} / {h264:?}");
    for (msn, a, b) in &common {
        let tolerance = if *msn == 0 { 0.041 } else { 0.002 };
        assert!(
            (a - b).abs() < tolerance,
            "segment {msn}: {a} s in HEVC, {b} s in H.264"
        );
    }

    let report = watch_live(&modules, &channel.master_url(&s), 6.0).await;
    eprintln!("hls.js on the HEVC passthrough channel: {report:?}");
    report.assert_played(6.0, 3.0);
    let hevc_levels = report
        .level_codecs
        .iter()
        .filter(|c| c.as_deref().is_some_and(|c| c.starts_with("hvc1.")))
        .count();
    // hls.js keeps the HEVC level only where the browser's MediaSource
    // decodes HEVC; everywhere else it plays the H.264 ladder.
    assert_eq!(
        hevc_levels,
        usize::from(report.hevc_supported),
        "{report:?}"
    );
    let playing = report.current_codec.clone().unwrap_or_default();
    assert!(
        playing.starts_with("avc1.") || (report.hevc_supported && playing.starts_with("hvc1.")),
        "{report:?}"
    );

    let live = status(&s, &token, &channel).await;
    assert_eq!(live["status"]["input"]["video_codec"], "hevc", "{live}");
    assert_eq!(live["status"]["dropped_frames"], 0, "{live}");
    publishing.await.expect("the publisher ran to the end");
}
