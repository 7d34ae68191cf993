//! The SRT listener: each connection request is read ([`parse_stream_id`]),
//! put to the [`PublishGate`] and the one-publisher-per-channel registry,
//! and accepted or rejected before the connection is up; an accepted
//! publish runs in its own task, its MPEG-TS turned into [`LiveEvent`]s
//! ([`TsToEvents`]) on a bounded channel, until the caller leaves, goes
//! idle, is replaced, or the server shuts down.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::StreamExt;
use srt_tokio::access::{RejectReason, ServerRejectReason};
use srt_tokio::{ConnectionRequest, SrtIncoming, SrtListener, SrtSocket};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::config::SrtConfig;
use super::media::TsToEvents;
use super::stream_id::{StreamIdError, parse_stream_id};
use crate::publish::event::{EndReason, LiveEvent, LiveSession, PublishRefused, RtmpNotice};
use crate::publish::gate::{PublishGate, PublishRefusal, key_fingerprint};
use crate::publish::registry::{Admission, PublisherRegistry};

/// What [`PublishRefused::app`] says for a publish that came over SRT.
pub const SRT_APP: &str = "srt";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum SrtServerError {
    /// A limit in [`SrtConfig`] is unusable (zero).
    #[error("invalid SRT configuration: {0}")]
    InvalidConfig(&'static str),
    /// The listen address could not be bound.
    #[error("cannot listen for SRT on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
}

/// The SRT listener bound to its UDP address; [`run`](Self::run) serves it.
///
/// Every accepted publish is reported as [`RtmpNotice::Published`] with its
/// own bounded event receiver, every refused one as
/// [`RtmpNotice::Refused`], on the notice channel given to
/// [`bind`](Self::bind) (the RTMP server's notice type: the consumer treats
/// both alike).
#[derive(Debug)]
pub struct SrtServer {
    listener: SrtListener,
    incoming: SrtIncoming,
    shared: Arc<Shared>,
}

/// What every publish of one server shares.
struct Shared {
    config: SrtConfig,
    gate: Arc<dyn PublishGate>,
    registry: Mutex<PublisherRegistry<Arc<Stop>>>,
    notices: mpsc::Sender<RtmpNotice>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Asks a publish from outside to end (replacement, shutdown), with the
/// first reason given.
#[derive(Debug)]
struct Stop {
    token: CancellationToken,
    reason: Mutex<Option<EndReason>>,
}

impl Stop {
    fn stop(&self, reason: EndReason) {
        lock(&self.reason).get_or_insert(reason);
        self.token.cancel();
    }

    fn reason(&self) -> EndReason {
        lock(&self.reason)
            .clone()
            .unwrap_or(EndReason::ServerShutdown)
    }
}

impl SrtServer {
    /// Binds `config.listen`; returns the server and the address it
    /// actually listens on (useful with port 0).
    pub async fn bind(
        config: SrtConfig,
        gate: Arc<dyn PublishGate>,
        notices: mpsc::Sender<RtmpNotice>,
    ) -> Result<(Self, SocketAddr), SrtServerError> {
        validate(&config)?;
        let addr = config.listen;
        let bind_err = |source| SrtServerError::Bind { addr, source };
        // Bound here so that port 0 tells us the port it got.
        let socket = tokio::net::UdpSocket::bind(addr).await.map_err(bind_err)?;
        let local_addr = socket.local_addr().map_err(bind_err)?;
        let (listener, incoming) = SrtListener::builder()
            .latency(config.latency)
            .socket(socket)
            .bind(local_addr)
            .await
            .map_err(bind_err)?;
        let shared = Arc::new(Shared {
            registry: Mutex::new(PublisherRegistry::new(config.max_publishers)),
            config,
            gate,
            notices,
        });
        Ok((
            Self {
                listener,
                incoming,
                shared,
            },
            local_addr,
        ))
    }

    /// Serves until `shutdown` is cancelled, then ends every publish (with
    /// [`EndReason::ServerShutdown`]) and returns once they are all over.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut publishes = JoinSet::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(_) = publishes.join_next(), if !publishes.is_empty() => {}
                request = self.incoming.incoming().next() => match request {
                    Some(request) => {
                        let shared = self.shared.clone();
                        let token = shutdown.child_token();
                        publishes.spawn(serve_request(shared, request, token));
                    }
                    None => break,
                },
            }
        }
        self.listener.close().await;
        while publishes.join_next().await.is_some() {}
    }
}

fn validate(config: &SrtConfig) -> Result<(), SrtServerError> {
    if config.idle_timeout.is_zero() {
        return Err(SrtServerError::InvalidConfig(
            "idle_timeout must be positive",
        ));
    }
    if config.max_pes_bytes == 0 || config.max_publishers == 0 || config.event_buffer == 0 {
        return Err(SrtServerError::InvalidConfig(
            "max_pes_bytes, max_publishers and event_buffer must be positive",
        ));
    }
    Ok(())
}

/// The refusal for a streamid that is not a publish request.
fn stream_id_refusal(error: &StreamIdError) -> PublishRefusal {
    match error {
        StreamIdError::NotPublish(_) => PublishRefusal {
            code: "srt_not_publish".into(),
            message_zh: "此 SRT 地址只接受推流（streamid 中 m=publish），不提供播放".into(),
            message_en:
                "This SRT address only takes publishing (m=publish in the streamid), not playing"
                    .into(),
        },
        StreamIdError::Missing | StreamIdError::NoResource => PublishRefusal {
            code: "srt_bad_stream_id".into(),
            message_zh: "SRT streamid 应为 #!::r=<流名称>,k=<推流密钥>,m=publish".into(),
            message_en: "The SRT streamid should be #!::r=<stream name>,k=<stream key>,m=publish"
                .into(),
        },
    }
}

/// The SRT rejection code a refusal is sent with (SRT's access-control
/// codes: the caller sees e.g. 2401 unauthorized, 2402 overload).
fn reject_reason(refusal: &PublishRefusal) -> RejectReason {
    RejectReason::Server(match refusal.code.as_str() {
        PublishRefusal::SERVER_BUSY => ServerRejectReason::Overload,
        PublishRefusal::GATE_TIMEOUT => ServerRejectReason::Down,
        "srt_not_publish" => ServerRejectReason::BadMode,
        "srt_bad_stream_id" => ServerRejectReason::BadRequest,
        _ => ServerRejectReason::Unauthorized,
    })
}

/// Answers one connection request and, when accepted, runs its publish.
async fn serve_request(shared: Arc<Shared>, request: ConnectionRequest, token: CancellationToken) {
    let peer = request.remote();
    let raw_id = request
        .stream_id()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let target = match parse_stream_id(&raw_id) {
        Ok(target) => target.stream_name_or_key,
        Err(e) => {
            let refusal = stream_id_refusal(&e);
            refuse(&shared, request, &raw_id, refusal).await;
            return;
        }
    };
    let answer = tokio::select! {
        () = token.cancelled() => return,
        answer = timeout(shared.config.idle_timeout, shared.gate.authorize(SRT_APP, &target, peer)) => answer,
    };
    let ticket = match answer {
        Ok(Ok(ticket)) => ticket,
        Ok(Err(refusal)) => return refuse(&shared, request, &target, refusal).await,
        Err(_) => return refuse(&shared, request, &target, PublishRefusal::gate_timeout()).await,
    };
    let session_id = Uuid::new_v4();
    let stop = Arc::new(Stop {
        token,
        reason: Mutex::new(None),
    });
    let (admission, live_channels) = {
        let mut registry = lock(&shared.registry);
        let admission = registry.admit(&ticket.channel_id, session_id, stop.clone());
        (admission, registry.live_count())
    };
    match admission {
        Admission::Full => {
            return refuse(&shared, request, &target, PublishRefusal::server_busy()).await;
        }
        Admission::Admitted {
            replaced: Some(old),
        } => {
            tracing::info!(channel = %ticket.channel_id, "SRT publish replaces the channel's live publisher");
            old.stop(EndReason::Replaced);
        }
        Admission::Admitted { replaced: None } => {}
    }
    let channel_id = ticket.channel_id;
    let socket = match request.accept(None).await {
        Ok(socket) => socket,
        Err(e) => {
            lock(&shared.registry).release(&channel_id, session_id);
            tracing::debug!(%peer, error = %e, "SRT caller left before the connection was up");
            return;
        }
    };
    tracing::info!(
        %peer,
        key = %key_fingerprint(&target),
        channel = %channel_id,
        session = %session_id,
        live_channels,
        "SRT publish accepted"
    );
    let (events, receiver) = mpsc::channel(shared.config.event_buffer);
    let publish = Publish {
        shared: shared.clone(),
        socket,
        stop,
        events,
        media: TsToEvents::new(shared.config.max_pes_bytes),
    };
    let session = LiveSession {
        channel_id: channel_id.clone(),
        session_id,
        peer,
        events: receiver,
    };
    let started = LiveEvent::Started {
        channel_id: channel_id.clone(),
        session_id,
        peer,
    };
    let reason = publish.run(started, session).await;
    lock(&shared.registry).release(&channel_id, session_id);
    tracing::info!(%peer, channel = %channel_id, session = %session_id, %reason, "SRT publish ended");
}

/// Rejects the request with the SRT code of `refusal`, reports it, logs it
/// with the key's fingerprint only.
async fn refuse(
    shared: &Shared,
    request: ConnectionRequest,
    stream_name_or_key: &str,
    refusal: PublishRefusal,
) {
    let peer = request.remote();
    let fingerprint = key_fingerprint(stream_name_or_key);
    tracing::warn!(
        %peer,
        key = %fingerprint,
        code = %refusal.code,
        reason = %refusal.message_en,
        "SRT publish refused"
    );
    if let Err(e) = request.reject(reject_reason(&refusal)).await {
        tracing::debug!(%peer, error = %e, "SRT rejection not sent");
    }
    let notice = RtmpNotice::Refused(PublishRefused {
        app: SRT_APP.to_owned(),
        key_fingerprint: fingerprint,
        peer,
        refusal,
    });
    if shared.notices.send(notice).await.is_err() {
        tracing::debug!(%peer, "SRT refusal not recorded: the live service is gone");
    }
}

/// One accepted publish: socket in, events out.
struct Publish {
    shared: Arc<Shared>,
    socket: SrtSocket,
    stop: Arc<Stop>,
    events: mpsc::Sender<LiveEvent>,
    media: TsToEvents,
}

impl Publish {
    /// Runs the publish to its end; the reason, also sent as the last event.
    async fn run(mut self, started: LiveEvent, session: LiveSession) -> EndReason {
        let reason = match self.announce(started, session).await {
            Ok(()) => self.receive().await,
            Err(reason) => reason,
        };
        // Closing the socket first lets the encoder know at once.
        if let Err(e) = self.socket.close_and_finish().await {
            tracing::debug!(error = %e, "SRT socket close");
        }
        let ended = LiveEvent::Ended {
            reason: reason.clone(),
        };
        if self.events.send(ended).await.is_err() {
            tracing::debug!(%reason, "SRT publish ended after its consumer went");
        }
        reason
    }

    /// Sends `Started`, then hands the session to the consumer.
    async fn announce(
        &mut self,
        started: LiveEvent,
        session: LiveSession,
    ) -> Result<(), EndReason> {
        self.emit(started).await?;
        self.shared
            .notices
            .send(RtmpNotice::Published(session))
            .await
            .map_err(|_| EndReason::ConsumerGone)
    }

    async fn receive(&mut self) -> EndReason {
        let idle = self.shared.config.idle_timeout;
        loop {
            let received = tokio::select! {
                () = self.stop.token.cancelled() => return self.stop.reason(),
                received = timeout(idle, self.socket.next()) => received,
            };
            let bytes = match received {
                Err(_) => return EndReason::Idle,
                Ok(None | Some(Err(_))) => return EndReason::ClientClosed,
                Ok(Some(Ok((_, bytes)))) => bytes,
            };
            let events = match self.media.push(&bytes) {
                Ok(events) => events,
                Err(reason) => {
                    if let EndReason::UnsupportedMedia(what) = &reason {
                        tracing::warn!(codec = %what, "SRT publish carries a codec the live ingest does not take (H.264 and AAC only)");
                    }
                    return reason;
                }
            };
            for event in events {
                if let Err(reason) = self.emit(event).await {
                    return reason;
                }
            }
        }
    }

    /// Hands one event to the consumer; while its channel is full the
    /// socket is not read. A stop still ends the wait.
    async fn emit(&mut self, event: LiveEvent) -> Result<(), EndReason> {
        tokio::select! {
            () = self.stop.token.cancelled() => Err(self.stop.reason()),
            sent = self.events.send(event) => sent.map_err(|_| EndReason::ConsumerGone),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_sent_with_the_srt_access_control_code_of_their_kind() {
        let code = |refusal: &PublishRefusal| i32::from(reject_reason(refusal));
        let gate = PublishRefusal {
            code: "wrong_key".into(),
            message_zh: "推流密钥错误".into(),
            message_en: "wrong stream key".into(),
        };
        // On the wire 1000 + libsrt's SRT_REJX_* (1401 unauthorized, …).
        assert_eq!(code(&gate), 2401);
        assert_eq!(code(&PublishRefusal::server_busy()), 2402);
        assert_eq!(code(&PublishRefusal::gate_timeout()), 2503);
        let play = stream_id_refusal(&StreamIdError::NotPublish("request".into()));
        assert_eq!(code(&play), 2405);
        let malformed = stream_id_refusal(&StreamIdError::Missing);
        assert_eq!(code(&malformed), 2400);
    }

    #[test]
    fn the_servers_own_refusals_are_bilingual() {
        for error in [
            StreamIdError::Missing,
            StreamIdError::NoResource,
            StreamIdError::NotPublish("request".into()),
        ] {
            let refusal = stream_id_refusal(&error);
            assert!(refusal.code.starts_with("srt_"));
            assert!(!refusal.message_zh.is_empty() && !refusal.message_en.is_empty());
        }
    }

    #[test]
    fn zero_limits_are_refused() {
        for config in [
            SrtConfig {
                idle_timeout: std::time::Duration::ZERO,
                ..SrtConfig::default()
            },
            SrtConfig {
                event_buffer: 0,
                ..SrtConfig::default()
            },
        ] {
            assert!(matches!(
                validate(&config),
                Err(SrtServerError::InvalidConfig(_))
            ));
        }
    }
}
