//! The live side of the end-to-end tests: a `yanxiu serve` with an event
//! organiser, channels created through the API, real RTMP publishers
//! (ffmpeg, GStreamer's `rtmp2sink`) as child processes, and the player's
//! side: the master and media playlists (parsed with m3u8-rs), status and
//! events of a channel, ffmpeg decoding and ffprobe packet timestamps.
//!
//! Every external tool is required: a missing one fails the test with what
//! to install, it never skips.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use m3u8_rs::{MasterPlaylist, MediaPlaylist, Playlist};
use serde_json::{Value, json};

use super::server::{self, PASSWORD, Server, api, http, login};

/// The organiser every live test runs its channels as.
pub const ORGANISER: &str = "organiser";
/// The department of the organiser (and of the channels).
pub const DEPARTMENT: &str = "物理教研室";

/// Fails with what to install unless `program` runs (`version_flag` prints
/// its version).
pub fn require_tool(program: &str, version_flag: &str) {
    let out = Command::new(program)
        .arg(version_flag)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the live tests need `{program}` ({e}); run scripts/install-deps.sh (Debian \
                 packages ffmpeg, gstreamer1.0-tools + plugins, chromium, nodejs)"
            )
        });
    assert!(
        out.status.success(),
        "`{program} {version_flag}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `yanxiu serve` whose `[live]` table gets `live_config` (bare
/// keys, e.g. `reconnect_window_seconds = 3\n`), with the accounts of
/// [`server::prepare`] plus the event organiser [`ORGANISER`]. The server
/// logs at `info` so the tests can check what it logs.
pub fn start_live(live_config: &str) -> Server {
    start_live_with(live_config, false, "info")
}

/// [`start_live`] with the server's `RUST_LOG` set to `rust_log`.
pub fn start_live_with_log(live_config: &str, rust_log: &str) -> Server {
    start_live_with(live_config, false, rust_log)
}

/// [`start_live`] where `config` may go on past the `[live]` table; with
/// `tls`, it holds a `[tls]` table (see `common::tls::tls_config`) and the
/// server also listens for HTTPS and RTMPS.
pub fn start_live_with(config: &str, tls: bool, rust_log: &str) -> Server {
    start_live_node(None, config, tls, rust_log)
}

/// [`start_live`] on the shared database at `database_url` (a first node of a cluster; more
/// join it with `server::another_node`).
pub fn start_live_on(database_url: &str, live_config: &str) -> Server {
    start_live_node(Some(database_url), live_config, false, "info")
}

fn start_live_node(database_url: Option<&str>, config: &str, tls: bool, rust_log: &str) -> Server {
    let (data, config) = server::prepare_on(database_url, config);
    let out = server::yanxiu()
        .args([
            "admin",
            "create-user",
            "--username",
            ORGANISER,
            "--password",
            PASSWORD,
            "--role",
            "event_organiser",
            "--department",
            DEPARTMENT,
            "--data-dir",
        ])
        .arg(data.path())
        .arg("--config")
        .arg(&config)
        .output()
        .expect("run yanxiu admin");
    assert!(
        out.status.success(),
        "create the organiser: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match tls {
        true => server::serve_tls(data, config, 1, rust_log),
        false => server::serve_with_log(data, config, 1, rust_log),
    }
}

/// A channel as its creation returned it.
#[derive(Debug, Clone)]
pub struct LiveChannel {
    /// Channel id (playback URLs).
    pub id: String,
    /// Public stream name.
    pub stream_name: String,
    /// The secret stream key.
    pub stream_key: String,
    /// `<stream_name>?key=<stream_key>`, as OBS takes it.
    pub obs_stream_key: String,
    /// The SRT publish URL with the key, when the server takes SRT.
    pub srt_publish_url: Option<String>,
}

impl LiveChannel {
    /// The RTMP publish URL of this channel with its current key.
    pub fn publish_url(&self, s: &Server) -> String {
        format!("{}/{}", s.rtmp, self.obs_stream_key)
    }

    /// The master playlist URL.
    pub fn master_url(&self, s: &Server) -> String {
        format!("{}/live/{}/master.m3u8", s.base, self.id)
    }

    /// The media playlist URL of `rendition`.
    pub fn media_url(&self, s: &Server, rendition: &str) -> String {
        format!("{}/live/{}/{rendition}/index.m3u8", s.base, self.id)
    }

    fn from_api(body: &Value) -> Self {
        let text = |k: &str| {
            body[k]
                .as_str()
                .unwrap_or_else(|| panic!("channel field {k}: {body}"))
                .to_owned()
        };
        Self {
            id: text("id"),
            stream_name: text("stream_name"),
            stream_key: text("stream_key"),
            obs_stream_key: text("obs_stream_key"),
            srt_publish_url: body["srt_publish_url"].as_str().map(str::to_owned),
        }
    }
}

/// The id of the organiser's department.
pub async fn department_id(s: &Server, token: &str) -> String {
    let (status, body) = api(
        s,
        reqwest::Method::GET,
        "/api/v1/departments",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == DEPARTMENT))
        .and_then(|d| d["id"].as_str())
        .unwrap_or_else(|| panic!("no department {DEPARTMENT}: {body}"))
        .to_owned()
}

/// Creates a public, recorded channel with `latency_mode`
/// (`low_latency` or `standard`) as the organiser (`token`).
pub async fn create_channel(
    s: &Server,
    token: &str,
    name: &str,
    latency_mode: &str,
) -> LiveChannel {
    let department = department_id(s, token).await;
    let (status, body) = api(
        s,
        reqwest::Method::POST,
        "/api/v1/channels",
        Some(token),
        Some(json!({
            "name": name,
            "department_id": department,
            "record_to_vod": true,
            "latency_mode": latency_mode,
        })),
    )
    .await;
    assert_eq!(status, 201, "create channel: {body}");
    LiveChannel::from_api(&body)
}

/// Rotates the channel's key; returns the channel with the new key.
pub async fn rotate_key(s: &Server, token: &str, channel: &LiveChannel) -> LiveChannel {
    let (status, body) = api(
        s,
        reqwest::Method::POST,
        &format!("/api/v1/channels/{}/rotate-key", channel.id),
        Some(token),
        Some(json!({})),
    )
    .await;
    assert!(status < 300, "rotate key: {body}");
    LiveChannel::from_api(&body)
}

/// Changes the channel (`PATCH`); returns the channel as the API shows it.
pub async fn patch_channel(s: &Server, token: &str, channel: &LiveChannel, change: Value) -> Value {
    let (status, body) = api(
        s,
        reqwest::Method::PATCH,
        &format!("/api/v1/channels/{}", channel.id),
        Some(token),
        Some(change.clone()),
    )
    .await;
    assert!(status < 300, "change {change}: {body}");
    body
}

/// Switches publishing on the channel on or off.
pub async fn set_enabled(s: &Server, token: &str, channel: &LiveChannel, enabled: bool) {
    patch_channel(s, token, channel, json!({ "enabled": enabled })).await;
}

/// The organiser's token.
pub async fn organiser(s: &Server) -> String {
    login(s, ORGANISER).await
}

/// `GET /api/v1/channels/{id}/status`.
pub async fn status(s: &Server, token: &str, channel: &LiveChannel) -> Value {
    let (code, body) = api(
        s,
        reqwest::Method::GET,
        &format!("/api/v1/channels/{}/status", channel.id),
        Some(token),
        None,
    )
    .await;
    assert_eq!(code, 200, "status: {body}");
    body
}

/// The channel's events, oldest first.
pub async fn events(s: &Server, token: &str, channel: &LiveChannel) -> Vec<Value> {
    let (code, body) = api(
        s,
        reqwest::Method::GET,
        &format!("/api/v1/channels/{}/events?per_page=100", channel.id),
        Some(token),
        None,
    )
    .await;
    assert_eq!(code, 200, "events: {body}");
    let mut items = body["items"].as_array().cloned().unwrap_or_default();
    items.reverse();
    items
}

/// The events of `kind`, oldest first.
pub fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

/// Polls until `check` holds for the channel's events, or fails after `timeout`.
pub async fn wait_for_events(
    s: &Server,
    token: &str,
    channel: &LiveChannel,
    timeout: Duration,
    what: &str,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let list = events(s, token, channel).await;
        if check(&list) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not seen in {timeout:?}: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (30 s at most) until the session has stopped; returns the events.
pub async fn wait_for_stop(s: &Server, token: &str, channel: &LiveChannel) -> Vec<Value> {
    wait_for_events(s, token, channel, Duration::from_secs(30), "stopped", |e| {
        !of_kind(e, "stopped").is_empty()
    })
    .await
}

/// Waits (30 s at most) until the session has stopped; returns the events
/// and the id of the recording its `stopped` event names.
pub async fn wait_for_recording(
    s: &Server,
    token: &str,
    channel: &LiveChannel,
) -> (Vec<Value>, String) {
    let list = wait_for_stop(s, token, channel).await;
    let stopped = of_kind(&list, "stopped")[0];
    let recording = stopped["detail"]["recording_resource_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a recording: {stopped}"))
        .to_owned();
    (list, recording)
}

/// Polls the status until `check` holds, or fails after `timeout`.
/// The one session of a channel's event history `list`: exactly one event
/// of each of `kinds`, all naming that session, and one `recorded`.
pub fn one_session_of(list: &[Value], kinds: &[&str]) -> String {
    let session = of_kind(list, "started")
        .first()
        .and_then(|e| e["detail"]["session_id"].as_str())
        .unwrap_or_else(|| panic!("a started session: {list:#?}"))
        .to_owned();
    for kind in kinds {
        let of = of_kind(list, kind);
        assert_eq!(of.len(), 1, "one {kind}: {list:#?}");
        assert_eq!(of[0]["detail"]["session_id"], session.as_str(), "{list:#?}");
    }
    assert_eq!(of_kind(list, "recorded").len(), 1, "{list:#?}");
    session
}

pub async fn wait_for_status(
    s: &Server,
    token: &str,
    channel: &LiveChannel,
    timeout: Duration,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let body = status(s, token, channel).await;
        if check(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not seen in {timeout:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// GET `url`: status and body text.
pub async fn get_text(url: &str) -> (u16, String) {
    let resp = http().get(url).send().await.expect("GET");
    let code = resp.status().as_u16();
    (code, resp.text().await.unwrap_or_default())
}

/// GET `url`: the body bytes of a 200 answer.
pub async fn get_bytes(url: &str) -> Vec<u8> {
    let resp = http().get(url).send().await.expect("GET");
    assert_eq!(resp.status().as_u16(), 200, "GET {url}");
    resp.bytes().await.expect("body").to_vec()
}

/// Polls until the channel's master playlist is served; returns its text.
pub async fn wait_for_master(s: &Server, channel: &LiveChannel, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let (code, text) = get_text(&channel.master_url(s)).await;
        if code == 200 {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no master playlist within {timeout:?}: last answer {code} {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Parses a master playlist.
pub fn parse_master(text: &str) -> MasterPlaylist {
    match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(Playlist::MasterPlaylist(m)) => m,
        other => panic!("not a master playlist ({other:?}):\n{text}"),
    }
}

/// Parses a media playlist.
/// Every video rendition of `master` and the audio rendition, by name
/// (the URI's first path segment), in the playlist's order.
pub fn rendition_names(master: &MasterPlaylist) -> Vec<String> {
    let name = |uri: &str| uri.split('/').next().unwrap_or(uri).to_owned();
    let mut names: Vec<String> = master.variants.iter().map(|v| name(&v.uri)).collect();
    names.extend(
        master
            .alternatives
            .iter()
            .filter_map(|a| a.uri.as_deref())
            .map(name),
    );
    names
}

pub fn parse_media(text: &str) -> MediaPlaylist {
    match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(Playlist::MediaPlaylist(m)) => m,
        other => panic!("not a media playlist ({other:?}):\n{text}"),
    }
}

/// Fetches and parses the live media playlist of `rendition`.
pub async fn media_playlist(s: &Server, channel: &LiveChannel, rendition: &str) -> MediaPlaylist {
    let url = channel.media_url(s, rendition);
    let (code, text) = get_text(&url).await;
    assert_eq!(code, 200, "GET {url}: {text}");
    parse_media(&text)
}

/// Polls until the media playlist of `rendition` lists at least `segments`
/// complete segments.
pub async fn wait_for_segments(
    s: &Server,
    channel: &LiveChannel,
    rendition: &str,
    segments: usize,
    timeout: Duration,
) -> MediaPlaylist {
    let deadline = Instant::now() + timeout;
    loop {
        let playlist = media_playlist(s, channel, rendition).await;
        if playlist.segments.len() >= segments {
            return playlist;
        }
        assert!(
            Instant::now() < deadline,
            "{rendition}: fewer than {segments} segments after {timeout:?}: {playlist:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls until the channel's live playback answers 404 `live.not_live`.
pub async fn wait_until_not_live(s: &Server, channel: &LiveChannel, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let (code, text) = get_text(&channel.master_url(s)).await;
        if code == 404 {
            assert!(text.contains("live.not_live"), "{text}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the master is still served {timeout:?} after the end: {code} {text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A publisher process, killed on drop.
pub struct Publisher {
    /// The process.
    pub child: Child,
    /// What it is (for messages).
    pub what: &'static str,
    /// Its stderr.
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Publisher {
    /// Kills it with SIGKILL (a crashed encoder, a pulled cable).
    pub fn kill(&mut self) {
        server::signal_process(&mut self.child, "KILL");
    }

    /// Waits up to `timeout` for it to exit; its exit status.
    pub fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the {} publisher still runs after {timeout:?}:\n{}",
                self.what,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// How an ffmpeg publisher encodes.
#[derive(Debug, Clone)]
pub struct FfmpegPublish {
    /// `WIDTHxHEIGHT` of the testsrc2 picture.
    pub size: &'static str,
    /// Seconds of media it sends (then it unpublishes and exits).
    pub seconds: f64,
    /// Extra output options before the URL (e.g. `-output_ts_offset`).
    pub extra: Vec<String>,
}

impl Default for FfmpegPublish {
    fn default() -> Self {
        Self {
            size: "1280x720",
            seconds: 30.0,
            extra: Vec::new(),
        }
    }
}

/// Runs `command` as a publisher, its stderr kept for messages (e.g. a
/// publisher of another protocol built by a test).
pub fn spawn_logged(mut command: Command, what: &'static str) -> Publisher {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("stderr.log");
    let file = std::fs::File::create(&log).expect("publisher log");
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn the {what} publisher ({e}): is it installed?"));
    Publisher {
        child,
        what,
        log,
        _dir: dir,
    }
}

/// Publishes testsrc2 + a sine tone in real time (`-re`), H.264 with 2 s
/// GOPs (`ultrafast`) and AAC, to `url`.
pub fn ffmpeg_publisher(url: &str, options: &FfmpegPublish) -> Publisher {
    require_tool("ffmpeg", "-version");
    let mut command = Command::new("ffmpeg");
    command
        .args(["-hide_banner", "-nostdin", "-loglevel", "warning", "-re"])
        .args(["-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={}:rate=30", options.size))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &options.seconds.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args([
            "-g",
            "60",
            "-keyint_min",
            "60",
            "-pix_fmt",
            "yuv420p",
            "-b:v",
            "2M",
        ])
        .args(["-c:a", "aac", "-b:a", "96k", "-ar", "48000"])
        .args(&options.extra)
        .args(["-f", "flv"])
        .arg(url);
    spawn_logged(command, "ffmpeg")
}

/// Publishes videotestsrc + audiotestsrc with GStreamer 1.22's `rtmp2sink`
/// (x264enc, avenc_aac, flvmux) for `seconds`.
pub fn gstreamer_publisher(url: &str, seconds: u32) -> Publisher {
    require_tool("gst-launch-1.0", "--version");
    let buffers = seconds * 30;
    // ~21.3 ms per 1024-sample AAC frame at 48 kHz: audiotestsrc's default
    // 1024 samples per buffer at 48 kHz.
    let audio_buffers = seconds * 47;
    let mut command = Command::new("gst-launch-1.0");
    command.arg("-e").args(
        format!(
            "flvmux name=m streamable=true latency=100000000 ! rtmp2sink location={url} \
             videotestsrc is-live=true num-buffers={buffers} \
             ! video/x-raw,width=640,height=360,framerate=30/1 \
             ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=60 bitrate=1500 \
             ! video/x-h264,profile=high ! h264parse ! queue ! m. \
             audiotestsrc is-live=true wave=sine num-buffers={audio_buffers} \
             ! audio/x-raw,rate=48000,channels=2 ! audioconvert ! avenc_aac ! aacparse \
             ! queue ! m."
        )
        .split_whitespace(),
    );
    spawn_logged(command, "gst-launch-1.0")
}

/// Decodes `input` (an ended playlist URL or a file) completely with
/// ffmpeg (`-v error -xerror`, every stream); fails on any decode error.
pub fn decode_all(input: &str) {
    decode(input, &[], &[]);
}

/// Decodes the first `seconds` of a live playlist from its oldest listed
/// segment (a live playlist never ends by itself).
pub fn decode_live(url: &str, seconds: u32) {
    decode(
        url,
        &["-live_start_index", "0"],
        &["-t", &seconds.to_string()],
    );
}

/// Decodes all of `input` keeping its timestamps as they are: a WebRTC
/// source has a variable frame rate, which ffmpeg's default output timing
/// (the declared frame rate) would fold into duplicates.
pub fn decode_all_vfr(input: &str) {
    decode(input, &[], &VFR_OUTPUT);
}

/// [`decode_live`] keeping timestamps as they are (see [`decode_all_vfr`]).
pub fn decode_live_vfr(url: &str, seconds: u32) {
    decode(
        url,
        &["-live_start_index", "0"],
        &[&["-t", &seconds.to_string()], VFR_OUTPUT.as_slice()].concat(),
    );
}

/// Output options that keep a variable frame rate's timestamps: frames
/// pass as they are, in the input's time base (the default, 1/frame rate,
/// rounds two frames 1/45 s apart onto one tick and the null muxer refuses
/// the second).
const VFR_OUTPUT: [&str; 4] = ["-fps_mode", "passthrough", "-enc_time_base", "-1"];

fn decode(input: &str, input_options: &[&str], output_options: &[&str]) {
    require_tool("ffmpeg", "-version");
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-xerror"])
        .args(input_options)
        .args(["-i", input])
        .args(output_options)
        .args(["-map", "0", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "ffmpeg could not decode {input} ({}):\n{stderr}",
        out.status
    );
}

/// One packet as ffprobe reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacketTime {
    /// Decode timestamp, seconds.
    pub dts: f64,
    /// Presentation timestamp, seconds.
    pub pts: f64,
    /// Duration, seconds.
    pub duration: f64,
}

/// The packets of the first stream of `file` (an init section followed by
/// its segments), in file order.
pub fn packet_times(file: &Path) -> Vec<PacketTime> {
    require_tool("ffprobe", "-version");
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "0", "-show_entries"])
        .args(["packet=dts_time,pts_time,duration_time", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<f64> = line
                .split(',')
                .map(|f| f.trim().parse().unwrap_or(f64::NAN))
                .collect();
            // csv order follows ffprobe's packet fields: pts_time, dts_time, duration_time.
            PacketTime {
                pts: fields.first().copied().unwrap_or(f64::NAN),
                dts: fields.get(1).copied().unwrap_or(f64::NAN),
                duration: fields.get(2).copied().unwrap_or(f64::NAN),
            }
        })
        .collect()
}

/// The directory of a stored session under the data dir.
pub fn stored_session(s: &Server, channel: &LiveChannel, session_id: &str) -> PathBuf {
    s.data
        .path()
        .join("media/live")
        .join(&channel.id)
        .join(session_id)
}

/// Joins every init section and segment of a stored rendition's VOD
/// playlist, in playlist order, into one file per init section run
/// (`EXT-X-MAP` change): ffprobe reads each as one fragmented MP4.
pub fn stored_rendition_runs(rendition_dir: &Path, work: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(rendition_dir.join("index.m3u8"))
        .unwrap_or_else(|e| panic!("{}: {e}", rendition_dir.display()));
    let playlist = parse_media(&text);
    assert!(
        playlist.end_list,
        "the recording's playlist is ended:\n{text}"
    );
    let mut runs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut map = None;
    for segment in &playlist.segments {
        if let Some(m) = &segment.map {
            map = Some(m.uri.clone());
        }
        let init = map.clone().expect("an EXT-X-MAP before the first segment");
        let strip = |uri: &str| uri.split('?').next().unwrap_or(uri).to_owned();
        if runs.last().is_none_or(|(current, _)| *current != init) {
            let bytes = std::fs::read(rendition_dir.join(strip(&init))).expect("init section");
            runs.push((init.clone(), bytes));
        }
        let seg = std::fs::read(rendition_dir.join(strip(&segment.uri))).expect("segment");
        if let Some((_, bytes)) = runs.last_mut() {
            bytes.extend_from_slice(&seg);
        }
    }
    let name = rendition_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    runs.into_iter()
        .enumerate()
        .map(|(i, (_, bytes))| {
            let path = work.join(format!("{name}-run{i}.mp4"));
            std::fs::write(&path, bytes).expect("write run");
            path
        })
        .collect()
}

/// Asserts `packets` (in order) have strictly increasing DTS and no gap
/// between one packet's end and the next one's DTS above `max_gap` seconds.
pub fn assert_monotonic(what: &str, packets: &[PacketTime], max_gap: f64) {
    assert!(packets.len() > 10, "{what}: only {} packets", packets.len());
    for pair in packets.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert!(
            b.dts > a.dts,
            "{what}: DTS not strictly increasing: {a:?} then {b:?}"
        );
        let end = a.dts
            + if a.duration.is_finite() {
                a.duration
            } else {
                0.0
            };
        assert!(
            b.dts - end <= max_gap,
            "{what}: a gap of {:.3} s between {a:?} and {b:?}",
            b.dts - end
        );
    }
}

/// The Prometheus text of `/metrics`.
pub async fn metrics(s: &Server) -> String {
    let (code, text) = get_text(&format!("{}/metrics", s.base)).await;
    assert_eq!(code, 200, "{text}");
    text
}

/// The server's stderr so far.
pub fn server_log(s: &Server) -> String {
    std::fs::read_to_string(&s.stderr_log).unwrap_or_default()
}

/// Serializes the live tests of one test binary: each runs real-time
/// encoders and a live ladder, and the CI machine has two cores.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}
