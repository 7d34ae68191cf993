//! The RTMP targets: `rml_rtmp`'s server handshake and [`ServerSession`]
//! driven with fuzz bytes cut into socket reads ([`split_reads`]),
//! answering requests the way the ingest's connection does (connect
//! accepted, publish accepted unless the key is empty, play refused), so
//! chunk parsing, AMF0 commands, the publish path, metadata and the FLV
//! tags of published media are all reached.
//!
//! The connection of `yanxiu_ingest::rtmp` is async and private; this is a
//! synchronous copy of its decisions, without sockets, gate or clock.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use yanxiu_ingest::rtmp::flv::{AudioTag, VideoTag, parse_audio, parse_video};
use yanxiu_ingest::rtmp::{RtmpConfig, StreamMetadata};

use crate::amf0::check_stream_metadata;
use crate::known_bugs::{KnownPanic, install_panic_filter, take_known_panic};
use crate::media::{check_audio_specific_config, check_avcc, check_nal_units};
use crate::reads::split_reads;

/// Feeds `data`, cut into reads, to a server connection from the first
/// handshake byte on.
pub fn rtmp_server_session(data: &[u8]) {
    drive_server_session(data);
}

/// Completes a real handshake with an `rml_rtmp` client first, then feeds
/// `data`, cut into reads, as the chunk stream after it.
pub fn rtmp_server_session_after_handshake(data: &[u8]) {
    drive_server_session_after_handshake(data);
}

/// How far a connection got: what [`rtmp_server_session`] and
/// [`rtmp_server_session_after_handshake`] reached with one input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionReport {
    /// The handshake completed and the protocol session started.
    pub session_started: bool,
    /// Connect requests accepted.
    pub connects: usize,
    /// A publish was accepted.
    pub published: bool,
    /// `onMetaData` updates mapped.
    pub metadata: usize,
    /// H.264 sequence headers.
    pub video_configs: usize,
    /// H.264 frames.
    pub video_frames: usize,
    /// AAC sequence headers.
    pub audio_configs: usize,
    /// AAC frames.
    pub audio_frames: usize,
    /// The connection ended (error, unpublish, refusal) before the input did.
    pub ended: bool,
    /// It ended on a known `rml_rtmp` panic ([`crate::known_bugs`]).
    pub known_panic: Option<KnownPanic>,
}

/// [`rtmp_server_session`], reporting how far the input got.
pub fn drive_server_session(data: &[u8]) -> SessionReport {
    let mut connection =
        Connection::new(Stage::Handshake(Box::new(Handshake::new(PeerType::Server))));
    connection.run(data);
    connection.state.report
}

/// [`rtmp_server_session_after_handshake`], reporting how far the input got.
pub fn drive_server_session_after_handshake(data: &[u8]) -> SessionReport {
    let mut server = Handshake::new(PeerType::Server);
    let mut client = Handshake::new(PeerType::Client);
    let c0_c1 = client
        .generate_outbound_p0_and_p1()
        .expect("client handshake starts");
    let Ok(HandshakeProcessResult::InProgress {
        response_bytes: s0_s1_s2,
    }) = server.process_bytes(&c0_c1)
    else {
        panic!("server answers C0+C1 with S0+S1+S2");
    };
    let Ok(HandshakeProcessResult::Completed {
        response_bytes: c2, ..
    }) = client.process_bytes(&s0_s1_s2)
    else {
        panic!("client completes on S0+S1+S2");
    };
    let Ok(HandshakeProcessResult::Completed { .. }) = server.process_bytes(&c2) else {
        panic!("server completes on C2");
    };
    let mut connection = Connection::new(Stage::Handshake(Box::new(server)));
    connection
        .start_session(&[])
        .expect("a fresh session starts");
    connection.run(data);
    connection.state.report
}

/// The connection ends here (the ingest would log an end reason).
#[derive(Debug)]
struct Ended;

enum Stage {
    // Boxed: a handshake holds two 1536-byte packets, a session its maps.
    Handshake(Box<Handshake>),
    Session(Box<ServerSession>),
}

struct Connection {
    stage: Stage,
    state: PublishState,
}

/// What the ingest's connection remembers besides the protocol session.
struct PublishState {
    publishing: bool,
    max_message_bytes: usize,
    report: SessionReport,
}

impl Connection {
    fn new(stage: Stage) -> Self {
        Self {
            stage,
            state: PublishState {
                publishing: false,
                max_message_bytes: RtmpConfig::default().max_message_bytes,
                report: SessionReport::default(),
            },
        }
    }

    /// Feeds every read until the connection ends.
    fn run(&mut self, data: &[u8]) {
        for read in split_reads(data) {
            if self.receive(read).is_err() {
                self.state.report.ended = true;
                return;
            }
        }
    }

    fn receive(&mut self, bytes: &[u8]) -> Result<(), Ended> {
        match &mut self.stage {
            Stage::Handshake(handshake) => match handshake.process_bytes(bytes) {
                // A partial handshake packet gets an empty answer.
                Ok(HandshakeProcessResult::InProgress { .. }) => Ok(()),
                Ok(HandshakeProcessResult::Completed {
                    remaining_bytes, ..
                }) => self.start_session(&remaining_bytes),
                Err(_) => Err(Ended),
            },
            Stage::Session(session) => self.state.input(session, bytes),
        }
    }

    /// Starts the protocol session once the handshake is done and feeds it
    /// the bytes read past the handshake.
    fn start_session(&mut self, leftover: &[u8]) -> Result<(), Ended> {
        let (mut session, initial) =
            ServerSession::new(ServerSessionConfig::new()).map_err(|_| Ended)?;
        self.state.report.session_started = true;
        self.state.process(&mut session, initial)?;
        if !leftover.is_empty() {
            self.state.input(&mut session, leftover)?;
        }
        self.stage = Stage::Session(Box::new(session));
        Ok(())
    }
}

/// Session responses are written to the socket; here they must at least
/// hold a chunk header.
fn written(bytes: &[u8]) {
    assert!(!bytes.is_empty(), "an empty response packet");
}

impl PublishState {
    fn input(&mut self, session: &mut ServerSession, bytes: &[u8]) -> Result<(), Ended> {
        install_panic_filter();
        let results = match catch_unwind(AssertUnwindSafe(|| session.handle_input(bytes))) {
            Ok(results) => results.map_err(|_| Ended)?,
            Err(payload) => match take_known_panic() {
                Some(known) => {
                    self.report.known_panic = Some(known);
                    return Err(Ended);
                }
                None => resume_unwind(payload),
            },
        };
        self.process(session, results)
    }

    /// Writes responses and acts on events in order; responses to an event
    /// go before anything queued after it.
    fn process(
        &mut self,
        session: &mut ServerSession,
        results: Vec<ServerSessionResult>,
    ) -> Result<(), Ended> {
        let mut queue = VecDeque::from(results);
        while let Some(result) = queue.pop_front() {
            match result {
                ServerSessionResult::OutboundResponse(packet) => written(&packet.bytes),
                ServerSessionResult::RaisedEvent(event) => {
                    let more = self.on_event(session, event)?;
                    for result in more.into_iter().rev() {
                        queue.push_front(result);
                    }
                }
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        Ok(())
    }

    fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerSessionEvent,
    ) -> Result<Vec<ServerSessionResult>, Ended> {
        match event {
            ServerSessionEvent::ConnectionRequested { request_id, .. } => {
                self.report.connects += 1;
                session.accept_request(request_id).map_err(|_| Ended)
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                stream_key,
                ..
            } => {
                if self.publishing {
                    // The ingest ends a connection that publishes twice.
                    return Err(Ended);
                }
                if stream_key.is_empty() {
                    // A refusal: NetStream.Publish.BadName, then the end.
                    let answer = session
                        .reject_request(request_id, "NetStream.Publish.BadName", "unknown key")
                        .map_err(|_| Ended)?;
                    self.process(session, answer)?;
                    return Err(Ended);
                }
                self.publishing = true;
                self.report.published = true;
                session.accept_request(request_id).map_err(|_| Ended)
            }
            ServerSessionEvent::PublishStreamFinished { .. } if self.publishing => Err(Ended),
            ServerSessionEvent::PlayStreamRequested { request_id, .. } => {
                let answer = session
                    .reject_request(request_id, "NetStream.Play.Failed", "publish only")
                    .map_err(|_| Ended)?;
                self.process(session, answer)?;
                Err(Ended)
            }
            ServerSessionEvent::StreamMetadataChanged { metadata, .. } => {
                check_stream_metadata(&StreamMetadata::from(&metadata));
                self.report.metadata += 1;
                Ok(Vec::new())
            }
            ServerSessionEvent::VideoDataReceived { data, .. } => {
                self.check_size(data.len())?;
                match parse_video(&data).map_err(|_| Ended)? {
                    VideoTag::Config { avcc } => {
                        self.report.video_configs += 1;
                        check_avcc(&avcc);
                    }
                    VideoTag::HevcConfig { .. } => self.report.video_configs += 1,
                    VideoTag::Frame { data, .. } => {
                        self.report.video_frames += 1;
                        check_nal_units(&data);
                    }
                    VideoTag::EndOfSequence | VideoTag::Command => {}
                    VideoTag::Unsupported { .. } | VideoTag::UnsupportedFourCc { .. } => {
                        return Err(Ended);
                    }
                }
                Ok(Vec::new())
            }
            ServerSessionEvent::AudioDataReceived { data, .. } => {
                self.check_size(data.len())?;
                match parse_audio(&data).map_err(|_| Ended)? {
                    AudioTag::Config { asc } => {
                        self.report.audio_configs += 1;
                        check_audio_specific_config(&asc);
                    }
                    AudioTag::Frame { .. } => self.report.audio_frames += 1,
                    AudioTag::Unsupported { .. } => return Err(Ended),
                }
                Ok(Vec::new())
            }
            _ => Ok(Vec::new()),
        }
    }

    fn check_size(&self, len: usize) -> Result<(), Ended> {
        if len > self.max_message_bytes {
            return Err(Ended);
        }
        Ok(())
    }
}
