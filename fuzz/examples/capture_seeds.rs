//! Captures the seed corpus from real publishers: runs ffmpeg and
//! GStreamer (`rtmp2sink`) against a one-connection RTMP server on
//! loopback that answers like the ingest (`rml_rtmp`, connect and publish
//! accepted), records every socket read, and writes the seeds of every
//! target into the corpus directory:
//!
//! - `rtmp_server_session/<publisher>-publish`: all reads, handshake first;
//! - `rtmp_server_session_after_handshake/<publisher>-publish`: the reads after it;
//! - `amf0/<publisher>-<n>-<command>`: AMF0 command and data message payloads;
//! - `flv_video_tag/…`, `flv_audio_tag/…`: the first sequence header, key
//!   frame, inter frame and audio frame bodies.
//!
//! Run: `cargo run -p yanxiu-fuzz --example capture_seeds -- fuzz/corpus`
//! (needs `ffmpeg` with libx264, and `gst-launch-1.0` with x264enc and avenc_aac).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rml_rtmp::chunk_io::ChunkDeserializer;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::messages::RtmpMessage;
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use yanxiu_fuzz::reads::join_reads;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let corpus = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: capture_seeds CORPUS_DIR")?;
    for publisher in ["ffmpeg", "gstreamer"] {
        let capture = capture(publisher)?;
        capture.write_seeds(&corpus, publisher)?;
        eprintln!(
            "{publisher}: {} reads, {} bytes after the handshake, {} AMF0 messages",
            capture.reads.len(),
            capture.after_handshake.iter().map(Vec::len).sum::<usize>(),
            capture.amf0.len()
        );
    }
    Ok(())
}

/// What one publisher sent.
#[derive(Default)]
struct Capture {
    /// Every socket read, in order.
    reads: Vec<Vec<u8>>,
    /// The reads after the handshake (the first one is its leftover).
    after_handshake: Vec<Vec<u8>>,
    /// AMF0 command (type 20) and data (type 18) payloads with a name.
    amf0: Vec<(String, Vec<u8>)>,
    /// First FLV tag body of each kind.
    tags: BTreeMap<&'static str, Vec<u8>>,
}

fn publisher_command(publisher: &str, url: &str) -> Command {
    let mut command = if publisher == "ffmpeg" {
        let mut c = Command::new("ffmpeg");
        c.args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"])
            .arg("testsrc2=size=64x48:rate=10")
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
            .args([
                "-t", "0.5", "-c:v", "libx264", "-preset", "veryfast", "-bf", "2",
            ])
            .args([
                "-g", "5", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k",
            ])
            .args(["-f", "flv", url]);
        c
    } else {
        let mut c = Command::new("gst-launch-1.0");
        c.arg("-q")
            .args(["videotestsrc", "num-buffers=5", "!"])
            .args(["video/x-raw,width=64,height=48,framerate=10/1", "!"])
            .args([
                "x264enc",
                "key-int-max=5",
                "bframes=2",
                "!",
                "h264parse",
                "!",
            ])
            .args(["flvmux", "name=mux", "streamable=true", "!"])
            .args(["rtmp2sink", &format!("location={url}")])
            .args(["audiotestsrc", "num-buffers=5", "!", "audioconvert", "!"])
            .args(["avenc_aac", "!", "aacparse", "!", "mux."]);
        c
    };
    command.stdin(Stdio::null());
    command
}

fn capture(publisher: &str) -> Result<Capture, Error> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("rtmp://{}/live/seed-key", listener.local_addr()?);
    let mut child = publisher_command(publisher, &url)
        .spawn()
        .map_err(|e| format!("cannot start {publisher}: {e}"))?;
    let result = accept_and_record(&listener, &mut child);
    // The publisher ends on its own after the stream; make sure it does.
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn accept_and_record(listener: &TcpListener, child: &mut Child) -> Result<Capture, Error> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline || child.try_wait()?.is_some() {
                    return Err("the publisher did not connect".into());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e.into()),
        }
    };
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    record(stream)
}

fn record(mut stream: TcpStream) -> Result<Capture, Error> {
    let mut capture = Capture::default();
    let mut handshake = Handshake::new(PeerType::Server);
    let mut session: Option<ServerSession> = None;
    let mut messages = ChunkDeserializer::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            // Closed or quiet: the capture is what arrived so far.
            Err(_) => break,
        };
        let read = buf[..n].to_vec();
        capture.reads.push(read.clone());
        let chunk_bytes = match session.as_mut() {
            Some(session) => {
                let results = session.handle_input(&read)?;
                answer(&mut stream, session, results)?;
                read
            }
            None => match handshake.process_bytes(&read)? {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    stream.write_all(&response_bytes)?;
                    continue;
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    stream.write_all(&response_bytes)?;
                    let (mut new, initial) = ServerSession::new(ServerSessionConfig::new())?;
                    answer(&mut stream, &mut new, initial)?;
                    let results = new.handle_input(&remaining_bytes)?;
                    answer(&mut stream, &mut new, results)?;
                    session = Some(new);
                    remaining_bytes
                }
            },
        };
        capture.after_handshake.push(chunk_bytes.clone());
        capture.collect_messages(&mut messages, &chunk_bytes)?;
    }
    if session.is_none() {
        return Err("the handshake did not complete".into());
    }
    Ok(capture)
}

/// Writes responses and accepts every connect and publish request.
fn answer(
    stream: &mut TcpStream,
    session: &mut ServerSession,
    results: Vec<ServerSessionResult>,
) -> Result<(), Error> {
    for result in results {
        match result {
            ServerSessionResult::OutboundResponse(packet) => stream.write_all(&packet.bytes)?,
            ServerSessionResult::RaisedEvent(
                ServerSessionEvent::ConnectionRequested { request_id, .. }
                | ServerSessionEvent::PublishStreamRequested { request_id, .. },
            ) => {
                let more = session.accept_request(request_id)?;
                answer(stream, session, more)?;
            }
            _ => {}
        }
    }
    Ok(())
}

impl Capture {
    /// Reassembles messages from the chunk stream (a second deserializer,
    /// following chunk size changes like the session does).
    fn collect_messages(
        &mut self,
        messages: &mut ChunkDeserializer,
        bytes: &[u8],
    ) -> Result<(), Error> {
        let mut input = bytes;
        while let Some(payload) = messages.get_next_message(input)? {
            input = &[];
            match payload.type_id {
                20 | 18 => {
                    let name = match payload.to_rtmp_message()? {
                        RtmpMessage::Amf0Command { command_name, .. } => command_name,
                        _ => "data".to_owned(),
                    };
                    // Encoders repeat onMetaData; one copy is enough.
                    if !self
                        .amf0
                        .iter()
                        .any(|(_, known)| known[..] == payload.data[..])
                    {
                        self.amf0.push((name, payload.data.to_vec()));
                    }
                }
                9 => {
                    let kind = match payload.data.get(..2) {
                        Some([0x17, 0]) => "video-avc-config",
                        Some([0x17, 1]) => "video-keyframe",
                        Some([0x27, 1]) if payload.data.get(2..5) != Some(&[0, 0, 0]) => {
                            "video-interframe-with-cts"
                        }
                        Some([0x27, 1]) => "video-interframe",
                        Some([0x17, 2]) => "video-end-of-sequence",
                        _ => "video-other",
                    };
                    self.tags
                        .entry(kind)
                        .or_insert_with(|| payload.data.to_vec());
                }
                8 => {
                    let kind = match payload.data.get(1) {
                        Some(0) => "audio-aac-config",
                        _ => "audio-aac-frame",
                    };
                    self.tags
                        .entry(kind)
                        .or_insert_with(|| payload.data.to_vec());
                }
                _ => {
                    if let RtmpMessage::SetChunkSize { size } = payload.to_rtmp_message()? {
                        messages.set_max_chunk_size(size as usize)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn write_seeds(&self, corpus: &Path, publisher: &str) -> Result<(), Error> {
        let write = |target: &str, name: &str, bytes: &[u8]| -> Result<(), Error> {
            let dir = corpus.join(target);
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join(format!("{publisher}-{name}")), bytes)?;
            Ok(())
        };
        write(
            "rtmp_server_session",
            "publish",
            &join_reads(self.reads.iter().map(Vec::as_slice)),
        )?;
        write(
            "rtmp_server_session_after_handshake",
            "publish",
            &join_reads(self.after_handshake.iter().map(Vec::as_slice)),
        )?;
        for (index, (name, bytes)) in self.amf0.iter().enumerate() {
            let name: String = name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '@')
                .collect();
            write("amf0", &format!("{index:02}-{name}"), bytes)?;
        }
        for (kind, bytes) in &self.tags {
            let target = if kind.starts_with("video") {
                "flv_video_tag"
            } else {
                "flv_audio_tag"
            };
            write(target, kind, bytes)?;
        }
        Ok(())
    }
}
