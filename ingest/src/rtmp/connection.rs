//! One RTMP connection, from handshake to close: feeds socket bytes to the
//! protocol crate's sans-IO session (`rml_rtmp`), writes its responses,
//! asks the [`PublishGate`](super::PublishGate) on `publish` before
//! accepting it, registers the channel's publisher, turns FLV tags into
//! [`LiveEvent`]s and enforces the idle and message size limits.
//!
//! Every way a connection ends is an [`EndReason`]; the internal steps
//! return `Err(reason)` to end it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::config::RtmpConfig;
use super::flv::{AudioTag, VideoTag, parse_audio, parse_video};
use super::metadata::StreamMetadata;
use crate::publish::event::{EndReason, LiveEvent, LiveSession, PublishRefused, RtmpNotice};
use crate::publish::gate::{PublishGate, PublishRefusal, key_fingerprint};
use crate::publish::registry::{Admission, PublisherRegistry};

/// Size of one socket read.
const READ_CHUNK: usize = 64 * 1024;

/// Locks a mutex, taking the data even if a panicking thread poisoned it
/// (every critical section here leaves the data consistent).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// State shared by all connections of one server.
pub(crate) struct ServerShared {
    pub(crate) config: RtmpConfig,
    pub(crate) gate: Arc<dyn PublishGate>,
    pub(crate) registry: Mutex<PublisherRegistry<Arc<StopSignal>>>,
    pub(crate) notices: mpsc::Sender<RtmpNotice>,
}

impl std::fmt::Debug for ServerShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerShared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Asks a connection from outside to end (replacement, shutdown), with the
/// first reason given.
#[derive(Debug)]
pub(crate) struct StopSignal {
    token: CancellationToken,
    reason: Mutex<Option<EndReason>>,
}

impl StopSignal {
    fn new(token: CancellationToken) -> Self {
        Self {
            token,
            reason: Mutex::new(None),
        }
    }

    /// Ends the connection; later reasons do not overwrite the first.
    pub(crate) fn stop(&self, reason: EndReason) {
        lock(&self.reason).get_or_insert(reason);
        self.token.cancel();
    }

    /// The reason given, or shutdown when the server's token was cancelled.
    fn reason(&self) -> EndReason {
        lock(&self.reason)
            .clone()
            .unwrap_or(EndReason::ServerShutdown)
    }
}

/// The accepted publish of a connection.
struct LivePublish {
    channel_id: String,
    session_id: Uuid,
    events: mpsc::Sender<LiveEvent>,
}

/// Calls into the protocol crate with its panics turned into a protocol
/// error that ends this connection only (and still releases its channel
/// and reports the end of its publish). `rml_rtmp` 0.8 panics on some
/// hostile input (found by fuzzing; see `fuzz/README.md`).
fn guarded<T>(what: &str, call: impl FnOnce() -> T) -> Result<T, EndReason> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call))
        .map_err(|_| EndReason::Protocol(format!("{what}: malformed input")))
}

/// Runs one connection to its end and reports how an accepted publish
/// ended. `stream` is the TCP connection or a TLS session over it (RTMPS);
/// `publish_by` is when the publish must have been accepted (counted from
/// the TCP accept, so a TLS handshake spends from the same allowance).
pub(crate) async fn serve_connection<S>(
    shared: Arc<ServerShared>,
    stream: S,
    peer: SocketAddr,
    token: CancellationToken,
    publish_by: Instant,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut conn = Connection {
        publish_by,
        shared,
        stream,
        peer,
        stop: Arc::new(StopSignal::new(token)),
        live: None,
    };
    let reason = match conn.run().await {
        Ok(never) => match never {},
        Err(reason) => reason,
    };
    let Some(live) = conn.live.take() else {
        tracing::debug!(%peer, %reason, "RTMP connection closed without a publish");
        return;
    };
    lock(&conn.shared.registry).release(&live.channel_id, live.session_id);
    tracing::info!(%peer, channel = %live.channel_id, session = %live.session_id, %reason, "RTMP publish ended");
    // Closing the socket first lets the encoder know at once.
    drop(conn.stream);
    // The consumer may have gone; then there is nobody to tell.
    let _ = live.events.send(LiveEvent::Ended { reason }).await;
}

/// Nothing: the connection loop only ever ends with an [`EndReason`].
enum Never {}

struct Connection<S> {
    /// Until a publish is accepted, the connection must get there by then.
    publish_by: Instant,
    shared: Arc<ServerShared>,
    stream: S,
    peer: SocketAddr,
    stop: Arc<StopSignal>,
    live: Option<LivePublish>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Connection<S> {
    async fn run(&mut self) -> Result<Never, EndReason> {
        let leftover = self.handshake().await?;
        let (mut session, initial) = ServerSession::new(ServerSessionConfig::new())
            .map_err(|e| EndReason::Protocol(e.to_string()))?;
        self.process(&mut session, initial).await?;
        let mut input = leftover;
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            if !input.is_empty() {
                let results = guarded("chunk stream", || session.handle_input(&input))?
                    .map_err(|e| EndReason::Protocol(e.to_string()))?;
                self.process(&mut session, results).await?;
            }
            let n = self.read(&mut buf).await?;
            input.clear();
            input.extend_from_slice(&buf[..n]);
        }
    }

    /// Completes the RTMP handshake; returns bytes read past its end.
    async fn handshake(&mut self) -> Result<Vec<u8>, EndReason> {
        let mut handshake = Handshake::new(PeerType::Server);
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = self.read(&mut buf).await?;
            match guarded("handshake", || handshake.process_bytes(&buf[..n]))? {
                Ok(HandshakeProcessResult::InProgress { response_bytes }) => {
                    self.write(&response_bytes).await?
                }
                Ok(HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                }) => {
                    self.write(&response_bytes).await?;
                    return Ok(remaining_bytes);
                }
                Err(e) => return Err(EndReason::Protocol(format!("handshake: {e}"))),
            }
        }
    }

    /// Reads some bytes; ends the connection on close, idle, a missed
    /// publish deadline or a stop.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, EndReason> {
        let idle_at = Instant::now() + self.shared.config.idle_timeout;
        let (deadline, missed) = if self.live.is_none() && self.publish_by < idle_at {
            (
                self.publish_by,
                EndReason::Protocol("no publish within the publish deadline".into()),
            )
        } else {
            (idle_at, EndReason::Idle)
        };
        tokio::select! {
            () = self.stop.token.cancelled() => Err(self.stop.reason()),
            read = timeout_at(deadline, self.stream.read(buf)) => match read {
                Err(_) => Err(missed),
                Ok(Ok(0) | Err(_)) => Err(EndReason::ClientClosed),
                Ok(Ok(n)) => Ok(n),
            },
        }
    }

    /// Writes protocol bytes; a client that does not take them within the
    /// idle timeout is cut off.
    async fn write(&mut self, bytes: &[u8]) -> Result<(), EndReason> {
        let idle = self.shared.config.idle_timeout;
        // A TLS stream keeps records until flushed; for TCP it is a no-op.
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match timeout(idle, write).await {
            Err(_) => Err(EndReason::Stalled),
            Ok(Err(_)) => Err(EndReason::ClientClosed),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Writes the session's responses and acts on its events, in order.
    async fn process(
        &mut self,
        session: &mut ServerSession,
        results: Vec<ServerSessionResult>,
    ) -> Result<(), EndReason> {
        let mut queue = VecDeque::from(results);
        while let Some(result) = queue.pop_front() {
            match result {
                ServerSessionResult::OutboundResponse(packet) => self.write(&packet.bytes).await?,
                ServerSessionResult::RaisedEvent(event) => {
                    let more = self.on_event(session, event).await?;
                    // Responses to this event go before anything queued after it.
                    for result in more.into_iter().rev() {
                        queue.push_front(result);
                    }
                }
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        Ok(())
    }

    /// Writes the packets of a reject answer (it raises no events).
    async fn write_responses(
        &mut self,
        results: Vec<ServerSessionResult>,
    ) -> Result<(), EndReason> {
        for result in results {
            if let ServerSessionResult::OutboundResponse(packet) = result {
                self.write(&packet.bytes).await?;
            }
        }
        Ok(())
    }

    async fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerSessionEvent,
    ) -> Result<Vec<ServerSessionResult>, EndReason> {
        let protocol =
            |e: rml_rtmp::sessions::ServerSessionError| EndReason::Protocol(e.to_string());
        match event {
            ServerSessionEvent::ConnectionRequested { request_id, .. } => {
                session.accept_request(request_id).map_err(protocol)
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                app_name,
                stream_key,
                ..
            } => {
                self.on_publish(session, request_id, &app_name, &stream_key)
                    .await
            }
            ServerSessionEvent::PublishStreamFinished { .. } if self.live.is_some() => {
                Err(EndReason::Unpublished)
            }
            ServerSessionEvent::PlayStreamRequested { request_id, .. } => {
                let refusal = session
                    .reject_request(
                        request_id,
                        "NetStream.Play.Failed",
                        "this server only accepts publishing",
                    )
                    .map_err(protocol)?;
                self.write_responses(refusal).await?;
                Err(EndReason::Protocol("play is not supported".into()))
            }
            ServerSessionEvent::StreamMetadataChanged { metadata, .. } => {
                self.emit(LiveEvent::Metadata(StreamMetadata::from(&metadata)))
                    .await?;
                Ok(Vec::new())
            }
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => {
                self.on_video(timestamp.value, data).await?;
                Ok(Vec::new())
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => {
                self.on_audio(timestamp.value, data).await?;
                Ok(Vec::new())
            }
            // releaseStream, chunk size changes, acknowledgements, pings and
            // unknown commands need nothing from us (releaseStream and
            // FCPublish carry the key: never log their arguments).
            _ => Ok(Vec::new()),
        }
    }

    async fn on_publish(
        &mut self,
        session: &mut ServerSession,
        request_id: u32,
        app: &str,
        key: &str,
    ) -> Result<Vec<ServerSessionResult>, EndReason> {
        if self.live.is_some() {
            return Err(EndReason::Protocol(
                "second publish on one connection".into(),
            ));
        }
        // The gate gets the idle timeout to answer; a stop still ends the wait.
        let answer = tokio::select! {
            () = self.stop.token.cancelled() => return Err(self.stop.reason()),
            answer = timeout(self.shared.config.idle_timeout, self.shared.gate.authorize(app, key, self.peer)) => answer,
        };
        let ticket = match answer {
            Ok(Ok(ticket)) => ticket,
            Ok(Err(refusal)) => return self.refuse(session, request_id, app, key, refusal).await,
            Err(_) => {
                return self
                    .refuse(
                        session,
                        request_id,
                        app,
                        key,
                        PublishRefusal::gate_timeout(),
                    )
                    .await;
            }
        };
        let session_id = Uuid::new_v4();
        let (admission, live_channels) = {
            let mut registry = lock(&self.shared.registry);
            let admission = registry.admit(&ticket.channel_id, session_id, self.stop.clone());
            (admission, registry.live_count())
        };
        match admission {
            Admission::Full => {
                return self
                    .refuse(session, request_id, app, key, PublishRefusal::server_busy())
                    .await;
            }
            Admission::Admitted {
                replaced: Some(old),
            } => {
                tracing::info!(channel = %ticket.channel_id, "RTMP publish replaces the channel's live publisher");
                old.stop(EndReason::Replaced);
            }
            Admission::Admitted { replaced: None } => {}
        }
        let (events, receiver) = mpsc::channel(self.shared.config.event_buffer);
        self.live = Some(LivePublish {
            channel_id: ticket.channel_id.clone(),
            session_id,
            events,
        });
        tracing::info!(
            peer = %self.peer,
            app,
            key = %key_fingerprint(key),
            channel = %ticket.channel_id,
            session = %session_id,
            live_channels,
            "RTMP publish accepted"
        );
        self.emit(LiveEvent::Started {
            channel_id: ticket.channel_id.clone(),
            session_id,
            peer: self.peer,
        })
        .await?;
        let live_session = LiveSession {
            channel_id: ticket.channel_id,
            session_id,
            peer: self.peer,
            events: receiver,
        };
        if self
            .shared
            .notices
            .send(RtmpNotice::Published(live_session))
            .await
            .is_err()
        {
            return Err(EndReason::ConsumerGone);
        }
        session
            .accept_request(request_id)
            .map_err(|e| EndReason::Protocol(e.to_string()))
    }

    /// Tells the client why (NetStream.Publish.BadName with the English
    /// reason), reports the refusal, and ends the connection.
    async fn refuse(
        &mut self,
        session: &mut ServerSession,
        request_id: u32,
        app: &str,
        key: &str,
        refusal: PublishRefusal,
    ) -> Result<Vec<ServerSessionResult>, EndReason> {
        let fingerprint = key_fingerprint(key);
        tracing::warn!(
            peer = %self.peer,
            app,
            key = %fingerprint,
            code = %refusal.code,
            reason = %refusal.message_en,
            "RTMP publish refused"
        );
        if let Ok(answer) =
            session.reject_request(request_id, "NetStream.Publish.BadName", &refusal.message_en)
        {
            // Best effort: the connection is closed right after either way.
            let _ = self.write_responses(answer).await;
        }
        let code = refusal.code.clone();
        let notice = RtmpNotice::Refused(PublishRefused {
            app: app.to_owned(),
            key_fingerprint: fingerprint,
            peer: self.peer,
            refusal,
        });
        // A closed notice channel means nobody records refusals any more.
        let _ = self.shared.notices.send(notice).await;
        Err(EndReason::Protocol(format!("publish refused: {code}")))
    }

    fn check_size(&self, body: &Bytes) -> Result<(), EndReason> {
        if body.len() > self.shared.config.max_message_bytes {
            return Err(EndReason::Oversized { bytes: body.len() });
        }
        Ok(())
    }

    async fn on_video(&mut self, timestamp: u32, body: Bytes) -> Result<(), EndReason> {
        self.check_size(&body)?;
        match parse_video(&body) {
            Ok(VideoTag::Config { avcc }) => self.emit(LiveEvent::VideoConfig { avcc }).await,
            Ok(VideoTag::HevcConfig { hvcc }) => self.emit(LiveEvent::HevcConfig { hvcc }).await,
            Ok(VideoTag::Frame {
                keyframe,
                cts_ms,
                data,
            }) => {
                self.emit(LiveEvent::Video {
                    dts_ms: timestamp,
                    cts_ms,
                    keyframe,
                    data,
                })
                .await
            }
            Ok(VideoTag::EndOfSequence | VideoTag::Command) => Ok(()),
            Ok(VideoTag::Unsupported { codec_id }) => Err(EndReason::UnsupportedMedia(format!(
                "video codec id {codec_id} (H.264, or HEVC over Enhanced RTMP, is accepted)"
            ))),
            Ok(VideoTag::UnsupportedFourCc { fourcc }) => {
                Err(EndReason::UnsupportedMedia(format!(
                    "Enhanced RTMP video {} (H.264 and HEVC are accepted)",
                    String::from_utf8_lossy(&fourcc)
                )))
            }
            Err(e) => Err(EndReason::Protocol(e.to_string())),
        }
    }

    async fn on_audio(&mut self, timestamp: u32, body: Bytes) -> Result<(), EndReason> {
        self.check_size(&body)?;
        match parse_audio(&body) {
            Ok(AudioTag::Config { asc }) => self.emit(LiveEvent::AudioConfig { asc }).await,
            Ok(AudioTag::Frame { data }) => {
                self.emit(LiveEvent::Audio {
                    dts_ms: timestamp,
                    data,
                })
                .await
            }
            Ok(AudioTag::Unsupported { sound_format }) => Err(EndReason::UnsupportedMedia(
                format!("audio sound format {sound_format} (only AAC is accepted)"),
            )),
            Err(e) => Err(EndReason::Protocol(e.to_string())),
        }
    }

    /// Hands one event to the consumer. While its channel is full this
    /// waits, and the socket is not read meanwhile (TCP backpressure on the
    /// encoder); waiting on the consumer is not idleness. A stop (replaced,
    /// shutdown) still ends the wait.
    async fn emit(&mut self, event: LiveEvent) -> Result<(), EndReason> {
        let Some(live) = &self.live else {
            // The protocol crate drops media of streams not yet publishing;
            // nothing reaches a consumer before the gate said yes.
            return Ok(());
        };
        tokio::select! {
            () = self.stop.token.cancelled() => Err(self.stop.reason()),
            sent = live.events.send(event) => sent.map_err(|_| EndReason::ConsumerGone),
        }
    }
}
