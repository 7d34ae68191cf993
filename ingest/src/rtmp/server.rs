//! The RTMP listener: accepts TCP connections up to the configured limit
//! and runs each in its own task (see `connection`) until shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
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

/// An RTMP publish server bound to its address; [`run`](Self::run) serves it.
///
/// Every accepted publish is reported as [`RtmpNotice::Published`] with its
/// own bounded event receiver, every refused one as
/// [`RtmpNotice::Refused`], on the notice channel given to
/// [`bind`](Self::bind). If that channel is full, the publishing
/// connection waits (nothing is dropped); if it is closed, publishes end.
#[derive(Debug)]
pub struct RtmpServer {
    listener: TcpListener,
    shared: Arc<ServerShared>,
}

impl RtmpServer {
    /// Binds `config.listen` and returns the server with the address it
    /// actually listens on (useful with port 0).
    pub async fn bind(
        config: RtmpConfig,
        gate: Arc<dyn PublishGate>,
        notices: mpsc::Sender<RtmpNotice>,
    ) -> Result<(Self, SocketAddr), RtmpServerError> {
        validate(&config)?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| RtmpServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| RtmpServerError::Bind {
                addr: config.listen,
                source,
            })?;
        let shared = Arc::new(ServerShared {
            registry: Mutex::new(PublisherRegistry::new(config.max_publishers)),
            config,
            gate,
            notices,
        });
        Ok((Self { listener, shared }, local_addr))
    }

    /// Serves until `shutdown` is cancelled, then ends every connection
    /// (their sessions get [`EndReason::ServerShutdown`](super::EndReason::ServerShutdown)) and returns once
    /// they are all closed.
    pub async fn run(self, shutdown: CancellationToken) {
        let connection_slots = Arc::new(Semaphore::new(self.shared.config.max_connections));
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let Ok(slot) = connection_slots.clone().try_acquire_owned() else {
                            tracing::warn!(%peer, "RTMP connection refused: too many connections");
                            continue;
                        };
                        let shared = self.shared.clone();
                        let token = shutdown.child_token();
                        connections.spawn(async move {
                            serve_connection(shared, stream, peer, token).await;
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
