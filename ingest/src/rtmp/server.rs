//! The RTMP listeners: [`RtmpIngest`] holds what every listener shares
//! (limits, the publish gate, the one-publisher-per-channel registry, the
//! connection slots); each [`RtmpServer`] accepts TCP connections on one
//! address, turns each into the stream RTMP runs over with its
//! [`StreamUpgrade`] (plain TCP for `rtmp://`, a TLS session for
//! `rtmps://`) and runs it in its own task (see `connection`) until
//! shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::config::RtmpConfig;
use super::connection::{ServerShared, serve_connection};
use crate::publish::event::RtmpNotice;
use crate::publish::gate::PublishGate;
use crate::publish::registry::PublisherRegistry;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum RtmpServerError {
    /// A limit in [`RtmpConfig`] is unusable (zero).
    #[error("invalid RTMP configuration: {0}")]
    InvalidConfig(&'static str),
    /// The listen address could not be bound.
    #[error("cannot listen for RTMP on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
}

/// Turns an accepted TCP connection into the byte stream RTMP runs over.
/// It runs inside the connection's task, under the publish deadline.
pub trait StreamUpgrade: Send + Sync + 'static {
    /// The stream RTMP reads and writes.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Upgrades `tcp` (a TLS handshake for RTMPS); an error closes it.
    fn upgrade(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// Plain RTMP: the TCP connection as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl StreamUpgrade for Plain {
    type Stream = TcpStream;
    async fn upgrade(&self, tcp: TcpStream) -> io::Result<TcpStream> {
        Ok(tcp)
    }
}

/// What all RTMP listeners of one process share: limits, gate, notices,
/// the publisher registry (one publisher per channel whichever listener
/// it came by) and `max_connections` across listeners.
///
/// Every accepted publish is reported as [`RtmpNotice::Published`] with its
/// own bounded event receiver, every refused one as
/// [`RtmpNotice::Refused`], on the notice channel given to
/// [`new`](Self::new). If that channel is full, the publishing
/// connection waits (nothing is dropped); if it is closed, publishes end.
#[derive(Debug, Clone)]
pub struct RtmpIngest {
    shared: Arc<ServerShared>,
    slots: Arc<Semaphore>,
}

impl RtmpIngest {
    /// Checks the limits; binds nothing yet.
    pub fn new(
        config: RtmpConfig,
        gate: Arc<dyn PublishGate>,
        notices: mpsc::Sender<RtmpNotice>,
    ) -> Result<Self, RtmpServerError> {
        validate(&config)?;
        let slots = Arc::new(Semaphore::new(config.max_connections));
        let shared = Arc::new(ServerShared {
            registry: Mutex::new(PublisherRegistry::new(config.max_publishers)),
            config,
            gate,
            notices,
        });
        Ok(Self { shared, slots })
    }

    /// Binds `addr` for connections upgraded by `upgrade`; returns the
    /// listener and the address it actually listens on (useful with port 0).
    pub async fn listen<U: StreamUpgrade>(
        &self,
        addr: SocketAddr,
        upgrade: U,
    ) -> Result<(RtmpServer<U>, SocketAddr), RtmpServerError> {
        let bind_err = |source| RtmpServerError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
        let local_addr = listener.local_addr().map_err(bind_err)?;
        let server = RtmpServer {
            listener,
            shared: self.shared.clone(),
            slots: self.slots.clone(),
            upgrade: Arc::new(upgrade),
        };
        Ok((server, local_addr))
    }
}

/// One RTMP listener bound to its address; [`run`](Self::run) serves it.
#[derive(Debug)]
pub struct RtmpServer<U = Plain> {
    listener: TcpListener,
    shared: Arc<ServerShared>,
    slots: Arc<Semaphore>,
    upgrade: Arc<U>,
}

impl RtmpServer<Plain> {
    /// A plain RTMP server alone: binds `config.listen` and returns the
    /// server with the address it actually listens on (useful with port 0).
    pub async fn bind(
        config: RtmpConfig,
        gate: Arc<dyn PublishGate>,
        notices: mpsc::Sender<RtmpNotice>,
    ) -> Result<(Self, SocketAddr), RtmpServerError> {
        let listen = config.listen;
        RtmpIngest::new(config, gate, notices)?
            .listen(listen, Plain)
            .await
    }
}

impl<U: StreamUpgrade> RtmpServer<U> {
    /// Serves until `shutdown` is cancelled, then ends every connection
    /// (their sessions get [`EndReason::ServerShutdown`](super::EndReason::ServerShutdown)) and returns once
    /// they are all closed.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                            tracing::warn!(%peer, "RTMP connection refused: too many connections");
                            continue;
                        };
                        let publish_by = Instant::now() + self.shared.config.publish_deadline;
                        let shared = self.shared.clone();
                        let upgrade = self.upgrade.clone();
                        let token = shutdown.child_token();
                        connections.spawn(async move {
                            if let Err(e) = stream.set_nodelay(true) {
                                tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
                            }
                            let upgraded = tokio::select! {
                                () = token.cancelled() => return,
                                r = tokio::time::timeout_at(publish_by, upgrade.upgrade(stream)) => r,
                            };
                            match upgraded {
                                Ok(Ok(stream)) => {
                                    serve_connection(shared, stream, peer, token, publish_by).await;
                                }
                                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "RTMP connection upgrade failed"),
                                Err(_) => tracing::debug!(%peer, "RTMP connection upgrade timed out"),
                            }
                            drop(slot);
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off briefly.
                        tracing::warn!(error = %e, "RTMP accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        while connections.join_next().await.is_some() {}
    }
}

fn validate(config: &RtmpConfig) -> Result<(), RtmpServerError> {
    if config.idle_timeout.is_zero() {
        return Err(RtmpServerError::InvalidConfig(
            "idle_timeout must be positive",
        ));
    }
    if config.max_message_bytes == 0 {
        return Err(RtmpServerError::InvalidConfig(
            "max_message_bytes must be positive",
        ));
    }
    if config.max_publishers == 0 || config.max_connections == 0 {
        return Err(RtmpServerError::InvalidConfig(
            "max_publishers and max_connections must be positive",
        ));
    }
    if config.event_buffer == 0 {
        return Err(RtmpServerError::InvalidConfig(
            "event_buffer must be positive",
        ));
    }
    Ok(())
}
