//! The WHIP server's driver: one UDP socket shared by every publisher, one
//! task owning the publishers ([`WhipPeer`]s, sans-IO), and a bounded
//! command channel through which the HTTP side creates and ends publishes.
//! A publish becomes a [`LiveSession`] for the live service only once ICE
//! and DTLS are up, so a publisher that never connects leaves nothing
//! behind.
//!
//! Backpressure: UDP cannot be slowed down, so when a publish's event
//! channel is full its video is dropped up to the next keyframe, which is
//! asked for (PLI), and the configuration is sent again before it.
//!
//! The same socket and task serve the WHEP viewers ([`Viewers`]): a
//! viewer's keyframe request reaches the channel's WHIP publisher, if the
//! channel is published over WHIP.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::config::WhipConfig;
use super::error::WhipError;
use super::peer::{PeerState, PeerTimeouts, Transmit, WhipPeer};
use crate::publish::registry::{Admission, PublisherRegistry};
use crate::publish::{EndReason, LiveEvent, LiveSession, PublishRefusal, PublishTicket};
use crate::whep::{LiveFeeds, ViewerLimits, Viewers, WhepAnswer, WhepError};

/// Commands waiting for the driver.
const COMMAND_QUEUE: usize = 64;
/// Largest datagram read.
const DATAGRAM_BYTES: usize = 4096;

/// An accepted WHIP offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhipAnswer {
    /// The publish (also the WHIP session resource's id).
    pub session_id: Uuid,
    /// The SDP answer.
    pub sdp: String,
}

#[derive(Debug)]
enum Command {
    Publish {
        ticket: PublishTicket,
        offer: String,
        from: SocketAddr,
        reply: oneshot::Sender<Result<WhipAnswer, WhipError>>,
    },
    End {
        session_id: Uuid,
        reply: oneshot::Sender<Result<(), WhipError>>,
    },
    Lookup {
        session_id: Uuid,
        reply: oneshot::Sender<Option<String>>,
    },
    Play {
        channel_id: String,
        offer: String,
        from: SocketAddr,
        reply: oneshot::Sender<Result<WhepAnswer, WhepError>>,
    },
    StopViewing {
        session_id: Uuid,
        reply: oneshot::Sender<Result<(), WhepError>>,
    },
}

/// The handle the HTTP side uses.
#[derive(Debug, Clone)]
pub struct WhipServer {
    commands: mpsc::Sender<Command>,
    local_addr: SocketAddr,
    config: Arc<WhipConfig>,
}

impl WhipServer {
    /// Binds the UDP socket. Accepted publishes go to `sessions` once they
    /// connect; WHEP viewers watch `feeds`. Run the returned driver to serve.
    pub async fn bind(
        config: WhipConfig,
        sessions: mpsc::Sender<LiveSession>,
        feeds: Arc<LiveFeeds>,
    ) -> io::Result<(Self, WhipDriver)> {
        let socket = UdpSocket::bind(config.udp_listen).await?;
        let local_addr = socket.local_addr()?;
        let candidates = candidates(&config, local_addr)?;
        let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
        let config = Arc::new(config);
        let driver = WhipDriver {
            socket,
            local_addr,
            destination: candidates[0],
            candidates,
            config: config.clone(),
            commands: rx,
            sessions,
            publishers: HashMap::new(),
            registry: PublisherRegistry::new(config.max_publishers.max(1)),
            viewers: Viewers::new(
                feeds,
                ViewerLimits {
                    per_channel: config.max_viewers_per_channel,
                    per_address: config.max_viewers_per_address,
                    connect_timeout: config.connect_timeout,
                },
            ),
        };
        Ok((
            Self {
                commands,
                local_addr,
                config,
            },
            driver,
        ))
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The settings.
    pub fn config(&self) -> &WhipConfig {
        &self.config
    }

    /// Answers `offer` for the channel of `ticket` (the gate already said
    /// yes); `from` is the HTTP client. A live WHIP publisher of the same
    /// channel is replaced.
    pub async fn publish(
        &self,
        ticket: PublishTicket,
        offer: String,
        from: SocketAddr,
    ) -> Result<WhipAnswer, WhipError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Publish {
                ticket,
                offer,
                from,
                reply,
            })
            .await
            .map_err(|_| WhipError::Stopped)?;
        answer.await.map_err(|_| WhipError::Stopped)?
    }

    /// Ends publish `session_id` (WHIP `DELETE`).
    pub async fn end(&self, session_id: Uuid) -> Result<(), WhipError> {
        let (reply, done) = oneshot::channel();
        self.commands
            .send(Command::End { session_id, reply })
            .await
            .map_err(|_| WhipError::Stopped)?;
        done.await.map_err(|_| WhipError::Stopped)?
    }

    /// Answers a WHEP player's `offer` for `channel_id` (authorized by the
    /// caller); `from` is the HTTP client.
    pub async fn play(
        &self,
        channel_id: String,
        offer: String,
        from: SocketAddr,
    ) -> Result<WhepAnswer, WhepError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Play {
                channel_id,
                offer,
                from,
                reply,
            })
            .await
            .map_err(|_| WhepError::Stopped)?;
        answer.await.map_err(|_| WhepError::Stopped)?
    }

    /// Ends WHEP playback `session_id` (WHEP `DELETE`).
    pub async fn stop_viewing(&self, session_id: Uuid) -> Result<(), WhepError> {
        let (reply, done) = oneshot::channel();
        self.commands
            .send(Command::StopViewing { session_id, reply })
            .await
            .map_err(|_| WhepError::Stopped)?;
        done.await.map_err(|_| WhepError::Stopped)?
    }

    /// The channel of publish `session_id`, while it runs.
    pub async fn channel_of(&self, session_id: Uuid) -> Result<String, WhipError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Lookup { session_id, reply })
            .await
            .map_err(|_| WhipError::Stopped)?;
        answer
            .await
            .map_err(|_| WhipError::Stopped)?
            .ok_or(WhipError::NoSession)
    }
}

/// The host candidates: each advertised address with the bound port, or
/// the bound address itself.
fn candidates(config: &WhipConfig, bound: SocketAddr) -> io::Result<Vec<SocketAddr>> {
    if config.advertise.is_empty() {
        if bound.ip().is_unspecified() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the WebRTC UDP socket is bound to an unspecified address: \
                 name the addresses to advertise",
            ));
        }
        return Ok(vec![bound]);
    }
    Ok(config
        .advertise
        .iter()
        .map(|ip| SocketAddr::new(*ip, bound.port()))
        .collect())
}

#[derive(Debug)]
struct Publisher {
    peer: WhipPeer,
    channel_id: String,
    from: SocketAddr,
    events: mpsc::Sender<LiveEvent>,
    /// The receiving end, until the publisher connects.
    pending: Option<mpsc::Receiver<LiveEvent>>,
    /// Video is dropped up to the next keyframe (the channel was full).
    dropping: bool,
    /// The configurations to send again before that keyframe.
    video_config: Option<LiveEvent>,
    audio_config: Option<LiveEvent>,
    /// Events dropped because the consumer was behind.
    dropped_behind: u64,
}

/// The task that serves the socket and the publishers.
#[derive(Debug)]
pub struct WhipDriver {
    socket: UdpSocket,
    local_addr: SocketAddr,
    /// The address publishers send to (for the WebRTC stack's bookkeeping).
    destination: SocketAddr,
    candidates: Vec<SocketAddr>,
    config: Arc<WhipConfig>,
    commands: mpsc::Receiver<Command>,
    sessions: mpsc::Sender<LiveSession>,
    publishers: HashMap<Uuid, Publisher>,
    registry: PublisherRegistry<Uuid>,
    viewers: Viewers,
}

impl WhipDriver {
    /// Serves until `shutdown`; then every publish ends with
    /// [`EndReason::ServerShutdown`].
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut buf = vec![0u8; DATAGRAM_BYTES];
        tracing::info!(addr = %self.local_addr, "WHIP UDP listening");
        loop {
            let deadline = self
                .publishers
                .values()
                .map(|p| p.peer.next_timeout())
                .chain(self.viewers.next_timeout())
                .min();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                command = self.commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => break,
                },
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, source)) => self.datagram(source, &buf[..n]),
                    Err(e) => tracing::debug!(error = %e, "WHIP UDP receive failed"),
                },
                Some((channel, frame)) = self.viewers.next_frame(), if self.viewers.watching() => {
                    self.viewers.frame(&channel, frame, Instant::now());
                    self.flush_viewers();
                }
                () = sleep => self.tick(),
            }
        }
        self.viewers.close_all();
        self.flush_viewers();
        let ids: Vec<Uuid> = self.publishers.keys().copied().collect();
        for id in ids {
            if let Some(p) = self.publishers.get_mut(&id) {
                p.peer.close(EndReason::ServerShutdown);
            }
            self.pump(id);
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Publish {
                ticket,
                offer,
                from,
                reply,
            } => {
                let result = self.publish(ticket, &offer, from);
                if reply.send(result).is_err() {
                    tracing::debug!("WHIP client went away before its answer");
                }
            }
            Command::Lookup { session_id, reply } => {
                let channel = self
                    .publishers
                    .get(&session_id)
                    .filter(|p| !matches!(p.peer.state(), PeerState::Closed(_)))
                    .map(|p| p.channel_id.clone());
                if reply.send(channel).is_err() {
                    tracing::debug!("WHIP client went away before its answer");
                }
            }
            Command::Play {
                channel_id,
                offer,
                from,
                reply,
            } => {
                let result = self
                    .viewers
                    .play(&channel_id, &offer, from, &self.candidates, Instant::now())
                    .map(|(session_id, sdp)| WhepAnswer { session_id, sdp });
                self.flush_viewers();
                if reply.send(result).is_err() {
                    tracing::debug!("WHEP client went away before its answer");
                }
            }
            Command::StopViewing { session_id, reply } => {
                let result = self.viewers.stop(session_id);
                self.flush_viewers();
                if reply.send(result).is_err() {
                    tracing::debug!("WHEP client went away before its answer");
                }
            }
            Command::End { session_id, reply } => {
                let result = match self.publishers.get_mut(&session_id) {
                    Some(p) => {
                        p.peer.close(EndReason::Unpublished);
                        Ok(())
                    }
                    None => Err(WhipError::NoSession),
                };
                if result.is_ok() {
                    self.pump(session_id);
                }
                if reply.send(result).is_err() {
                    tracing::debug!("WHIP client went away before its answer");
                }
            }
        }
    }

    fn publish(
        &mut self,
        ticket: PublishTicket,
        offer: &str,
        from: SocketAddr,
    ) -> Result<WhipAnswer, WhipError> {
        let max = self.config.max_per_address.max(1);
        if self.publishes_from(from.ip()) >= max {
            return Err(WhipError::TooManyFromAddress { max });
        }
        let timeouts = PeerTimeouts {
            connect: self.config.connect_timeout,
            idle: self.config.idle_timeout,
            keyframe_every: Some(self.config.keyframe_every),
        };
        let (peer, sdp) = WhipPeer::answer(offer, &self.candidates, timeouts, Instant::now())?;
        let session_id = Uuid::new_v4();
        match self
            .registry
            .admit(&ticket.channel_id, session_id, session_id)
        {
            Admission::Full => return Err(WhipError::Refused(PublishRefusal::server_busy())),
            Admission::Admitted {
                replaced: Some(old),
            } => {
                if let Some(p) = self.publishers.get_mut(&old) {
                    p.peer.close(EndReason::Replaced);
                }
                self.pump(old);
            }
            Admission::Admitted { replaced: None } => {}
        }
        let (events, rx) = mpsc::channel(self.config.event_capacity.max(16));
        // Room for one event is certain: the channel is new.
        if events
            .try_send(LiveEvent::Started {
                channel_id: ticket.channel_id.clone(),
                session_id,
                peer: from,
            })
            .is_err()
        {
            return Err(WhipError::Stopped);
        }
        self.publishers.insert(
            session_id,
            Publisher {
                peer,
                channel_id: ticket.channel_id,
                from,
                events,
                pending: Some(rx),
                dropping: false,
                video_config: None,
                audio_config: None,
                dropped_behind: 0,
            },
        );
        tracing::info!(session = %session_id, %from, "WHIP publish answered");
        Ok(WhipAnswer { session_id, sdp })
    }

    fn publishes_from(&self, ip: IpAddr) -> usize {
        self.publishers
            .values()
            .filter(|p| p.from.ip() == ip && !matches!(p.peer.state(), PeerState::Closed(_)))
            .count()
    }

    fn datagram(&mut self, source: SocketAddr, contents: &[u8]) {
        let now = Instant::now();
        let destination = self.destination;
        let owner = self.publishers.iter_mut().find_map(|(id, p)| {
            p.peer
                .try_receive(now, source, destination, contents)
                .then_some(*id)
        });
        match owner {
            Some(id) => self.pump(id),
            None if self.viewers.try_receive(now, source, destination, contents) => {
                self.flush_viewers();
            }
            None => tracing::trace!(%source, "WebRTC datagram of no session"),
        }
    }

    /// Sends the viewers' datagrams and passes their keyframe requests to
    /// the publishers of their channels.
    fn flush_viewers(&mut self) {
        let socket = &self.socket;
        let keyframes = self.viewers.flush(|t: Transmit| {
            if let Err(e) = socket.try_send_to(&t.contents, t.destination) {
                tracing::trace!(error = %e, "WHEP datagram not sent");
            }
        });
        let wanting: Vec<Uuid> = self
            .publishers
            .iter()
            .filter(|(_, p)| keyframes.contains(&p.channel_id))
            .map(|(id, _)| *id)
            .collect();
        for id in wanting {
            if let Some(p) = self.publishers.get_mut(&id) {
                p.peer.request_keyframe();
            }
            self.pump(id);
        }
    }

    fn tick(&mut self) {
        let now = Instant::now();
        let due: Vec<Uuid> = self
            .publishers
            .iter()
            .filter(|(_, p)| p.peer.next_timeout() <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(p) = self.publishers.get_mut(&id) {
                p.peer.tick(now);
            }
            self.pump(id);
        }
        self.viewers.tick(now);
        self.flush_viewers();
    }

    /// Sends what publisher `id` has to send, hands its events on, routes
    /// it once connected and forgets it once closed.
    fn pump(&mut self, id: Uuid) {
        let Some(p) = self.publishers.get_mut(&id) else {
            return;
        };
        for t in p.peer.take_transmits() {
            // UDP: a datagram the kernel cannot take now is lost, as on the wire.
            if let Err(e) = self.socket.try_send_to(&t.contents, t.destination) {
                tracing::trace!(error = %e, "WHIP datagram not sent");
            }
        }
        if *p.peer.state() == PeerState::Connected
            && let Some(events) = p.pending.take()
        {
            let session = LiveSession {
                channel_id: p.channel_id.clone(),
                session_id: id,
                peer: p.from,
                events,
            };
            tracing::info!(session = %id, channel = %p.channel_id, "WHIP publisher connected");
            route(&self.sessions, session);
        }
        forward(p);
        if let PeerState::Closed(reason) = p.peer.state().clone() {
            self.registry.release(&p.channel_id, id);
            let c = p.peer.counters();
            tracing::info!(
                session = %id,
                channel = %p.channel_id,
                %reason,
                video_frames = c.video_frames,
                audio_packets = c.audio_packets,
                held_back = c.dropped_frames,
                keyframe_requests = c.keyframe_requests,
                dropped_behind = p.dropped_behind,
                "WHIP publish ended"
            );
            if let Some(p) = self.publishers.remove(&id)
                && p.pending.is_none()
            {
                // The consumer takes events in order; the end must arrive.
                let events = p.events;
                tokio::spawn(async move {
                    if events.send(LiveEvent::Ended { reason }).await.is_err() {
                        tracing::debug!("WHIP publish ended after its consumer");
                    }
                });
            }
        }
    }
}

/// Hands a connected publish to the live service.
fn route(sessions: &mpsc::Sender<LiveSession>, session: LiveSession) {
    match sessions.try_send(session) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(session)) => {
            let sessions = sessions.clone();
            tokio::spawn(async move {
                if sessions.send(session).await.is_err() {
                    tracing::warn!("the live service stopped taking WHIP publishes");
                }
            });
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            tracing::warn!("the live service stopped taking WHIP publishes");
        }
    }
}

/// Hands a publisher's events to its consumer without waiting.
fn forward(p: &mut Publisher) {
    let mut keyframe_needed = false;
    for event in p.peer.take_events() {
        match &event {
            LiveEvent::VideoConfig { .. } | LiveEvent::VpxConfig { .. } => {
                p.video_config = Some(event.clone());
            }
            LiveEvent::OpusConfig { .. } | LiveEvent::AudioConfig { .. } => {
                p.audio_config = Some(event.clone());
            }
            _ => {}
        }
        let is_video = matches!(
            event,
            LiveEvent::Video { .. } | LiveEvent::VideoConfig { .. } | LiveEvent::VpxConfig { .. }
        );
        if p.dropping && is_video {
            let LiveEvent::Video { keyframe: true, .. } = event else {
                p.dropped_behind += 1;
                continue;
            };
            // Configurations first, then the keyframe that ends the drop.
            let configs = [p.video_config.clone(), p.audio_config.clone()];
            if !configs
                .into_iter()
                .flatten()
                .all(|c| p.events.try_send(c).is_ok())
            {
                keyframe_needed = true;
                continue;
            }
            p.dropping = false;
        }
        match p.events.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                p.dropped_behind += 1;
                if is_video || !p.dropping {
                    p.dropping = true;
                    keyframe_needed = true;
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                p.peer.close(EndReason::ConsumerGone);
                return;
            }
        }
    }
    if keyframe_needed {
        p.peer.request_keyframe();
    }
}
