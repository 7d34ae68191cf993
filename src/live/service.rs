//! The live service of `yanxiu serve`: runs the RTMP server and the WHIP
//! (WebRTC) server with the control plane as their publish gate, routes
//! each accepted publish, whichever protocol it came by, to its channel's
//! runner, and holds what the live HTTP handlers read (running
//! sessions, the origin, the status board).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use yanxiu_control::ControlPlane;
use yanxiu_ingest::rtmp::{LiveSession, Plain, RtmpIngest, RtmpNotice};
use yanxiu_ingest::whep::LiveFeeds;
use yanxiu_ingest::whip::WhipServer;
use yanxiu_packager::live::LiveOrigin;
use yanxiu_packager::storage::Storage;

use super::gate::ControlGate;
use super::pipeline::SessionView;
use super::runner::ChannelRunner;
use super::settings::LiveSettings;
use super::status::LiveBoard;

/// Publishes waiting for a channel's runner.
const RUNNER_QUEUE: usize = 4;
/// Notices waiting for the router.
const NOTICE_QUEUE: usize = 64;

/// The addresses the RTMP listeners are bound to.
#[derive(Debug, Clone, Copy, Default)]
pub struct RtmpAddrs {
    /// Plain RTMP, when listening.
    pub rtmp: Option<SocketAddr>,
    /// RTMPS, when listening.
    pub rtmps: Option<SocketAddr>,
    /// SRT (UDP), when listening.
    pub srt: Option<SocketAddr>,
}

/// The live side of one `serve` process.
#[derive(Debug)]
pub struct LiveService {
    pub(super) control: Arc<ControlPlane>,
    pub(super) storage: Arc<dyn Storage>,
    pub(super) origin: Arc<LiveOrigin>,
    pub(super) settings: Arc<LiveSettings>,
    pub(super) board: Arc<LiveBoard>,
    /// The WHIP server (which serves WHEP viewers too), once started.
    pub(super) whip: OnceLock<WhipServer>,
    /// Every channel's source feed for WHEP viewers.
    pub(super) feeds: Arc<LiveFeeds>,
    sessions: Mutex<HashMap<String, Arc<SessionView>>>,
    runners: Mutex<HashMap<String, mpsc::Sender<LiveSession>>>,
    tasks: Mutex<JoinSet<()>>,
    pub(super) shutdown: CancellationToken,
    /// Requests for channels another node holds are forwarded with it.
    pub(super) proxy_client: reqwest::Client,
    /// The holders of channels not live here, as last read (see [`HOLDER_MEMORY`]).
    holders: Mutex<HashMap<String, (Option<String>, std::time::Instant)>>,
}

/// How long the holder of a channel not live on this node is remembered: viewers' requests
/// then cost no database read; a channel that moves is followed within this time.
const HOLDER_MEMORY: Duration = Duration::from_secs(1);
/// Channels whose holder is remembered at most (all are forgotten when full).
const HOLDERS_KEPT: usize = 10_000;

impl LiveService {
    /// A service that is not listening yet.
    pub fn new(
        control: Arc<ControlPlane>,
        storage: Arc<dyn Storage>,
        settings: LiveSettings,
        board: Arc<LiveBoard>,
    ) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            control,
            storage,
            origin: Arc::new(LiveOrigin::new(settings.origin)),
            settings: Arc::new(settings),
            board,
            whip: OnceLock::new(),
            feeds: Arc::new(LiveFeeds::new()),
            sessions: Mutex::new(HashMap::new()),
            runners: Mutex::new(HashMap::new()),
            tasks: Mutex::new(JoinSet::new()),
            shutdown: CancellationToken::new(),
            proxy_client: super::proxy::client()?,
            holders: Mutex::new(HashMap::new()),
        }))
    }

    /// The base URL of the node holding `channel_id`, when that is another node (and this
    /// request was not forwarded to us by one already).
    pub(super) async fn holder_elsewhere(
        &self,
        channel_id: &str,
        headers: &axum::http::HeaderMap,
    ) -> Option<String> {
        let node = self.control.live_node()?;
        if super::proxy::was_forwarded(headers) {
            return None;
        }
        let now = std::time::Instant::now();
        if let Some((url, read_at)) = self
            .holders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(channel_id)
            && now.duration_since(*read_at) < HOLDER_MEMORY
        {
            return url.clone();
        }
        let url = match self
            .control
            .live_lease_holder(channel_id, yanxiu_control::now_ms())
            .await
        {
            Ok(Some(holder)) if holder.node_id != node.identity.id => Some(holder.node_url),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(channel = %channel_id, error = %e, "reading a live lease failed");
                return None;
            }
        };
        let mut holders = self.holders.lock().unwrap_or_else(PoisonError::into_inner);
        if holders.len() >= HOLDERS_KEPT {
            holders.clear();
        }
        holders.insert(channel_id.to_owned(), (url.clone(), now));
        url
    }

    /// Binds the plain RTMP listener (when `plain`), the RTMPS one (when
    /// given its address and TLS upgrade) and the WHIP UDP socket, and starts
    /// serving them. Both RTMP listeners share one publisher registry.
    pub async fn start(
        self: &Arc<Self>,
        plain: bool,
        rtmps: Option<(SocketAddr, crate::tls::RtmpsUpgrade)>,
    ) -> anyhow::Result<RtmpAddrs> {
        self.start_whip().await?;
        let (notices_tx, mut notices) = mpsc::channel(NOTICE_QUEUE);
        let gate = Arc::new(ControlGate::new(self.control.clone()));
        let mut addrs = RtmpAddrs {
            srt: self.start_srt(gate.clone(), notices_tx.clone()).await?,
            ..RtmpAddrs::default()
        };
        let ingest = RtmpIngest::new(self.settings.rtmp.clone(), gate, notices_tx)?;
        if plain {
            let (server, addr) = ingest.listen(self.settings.rtmp.listen, Plain).await?;
            self.spawn(server.run(self.shutdown.child_token()));
            addrs.rtmp = Some(addr);
        }
        if let Some((listen, upgrade)) = rtmps {
            let (server, addr) = ingest.listen(listen, upgrade).await?;
            self.spawn(server.run(self.shutdown.child_token()));
            addrs.rtmps = Some(addr);
        }
        drop(ingest);
        self.spawn(super::recovery::recover(self.clone()));
        if self.control.live_node().is_some() {
            self.spawn(self.clone().renew_leases());
        }
        let service = self.clone();
        self.spawn(async move {
            while let Some(notice) = notices.recv().await {
                match notice {
                    RtmpNotice::Published(session) => service.route(session),
                    RtmpNotice::Refused(refused) => {
                        tracing::info!(
                            peer = %refused.peer,
                            key = %refused.key_fingerprint,
                            code = %refused.refusal.code,
                            reason = %refused.refusal.message_en,
                            "live publish refused"
                        );
                        service.board.refused(&refused.refusal.code);
                    }
                }
            }
        });
        Ok(addrs)
    }

    /// Binds the WHIP UDP socket; connected WHIP publishes are routed like
    /// RTMP ones.
    async fn start_whip(self: &Arc<Self>) -> anyhow::Result<()> {
        let (sessions_tx, mut sessions) = mpsc::channel(NOTICE_QUEUE);
        let (server, driver) =
            WhipServer::bind(self.settings.whip.clone(), sessions_tx, self.feeds.clone())
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "WebRTC UDP socket on {}: {e}",
                        self.settings.whip.udp_listen
                    )
                })?;
        tracing::info!(addr = %server.local_addr(), "WHIP (WebRTC) media listening");
        if self.whip.set(server).is_err() {
            anyhow::bail!("the WHIP server is already running");
        }
        self.spawn(driver.run(self.shutdown.child_token()));
        let service = self.clone();
        self.spawn(async move {
            while let Some(session) = sessions.recv().await {
                service.route(session);
            }
        });
        Ok(())
    }

    /// The WHIP server, once started.
    pub fn whip(&self) -> Option<&WhipServer> {
        self.whip.get()
    }

    /// Stops accepting publishes and ends every session (recordings are
    /// made), then returns.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        // Ending sessions spawn their retirement; wait for those too.
        loop {
            let mut tasks =
                std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
            if tasks.is_empty() {
                break;
            }
            while tasks.join_next().await.is_some() {}
        }
    }

    /// The running session of a channel, for the HTTP handlers.
    pub fn session(&self, channel_id: &str) -> Option<Arc<SessionView>> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(channel_id)
            .cloned()
    }

    pub(super) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        // Reap finished tasks so the set stays small.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    pub(super) fn show_session(&self, view: Arc<SessionView>) {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(view.channel_id.clone(), view);
    }

    /// Stops serving `view` after `grace` (players get the ended playlist
    /// meanwhile), then frees its origin memory.
    /// With `delete_stored` (a channel that does not record), the session's
    /// stored segments are deleted then too: they only served the DVR window.
    pub(super) fn retire_session(
        self: &Arc<Self>,
        view: Arc<SessionView>,
        grace: Duration,
        delete_stored: bool,
    ) {
        let service = self.clone();
        self.spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(grace) => {}
                () = service.shutdown.cancelled() => {}
            }
            if delete_stored {
                match service.storage.delete_prefix(&view.storage_prefix).await {
                    Ok(n) => tracing::debug!(channel = %view.channel_id, objects = n, "unrecorded live session removed from storage"),
                    Err(e) => tracing::warn!(channel = %view.channel_id, error = %e, "unrecorded live session not removed from storage"),
                }
            }
            {
                let mut sessions = service
                    .sessions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if sessions
                    .get(&view.channel_id)
                    .is_some_and(|current| Arc::ptr_eq(current, &view))
                {
                    sessions.remove(&view.channel_id);
                }
            }
            for rendition in view.renditions() {
                service.origin.close(&view.key(&rendition.name));
            }
        });
    }

    /// Hands a publish to its channel's runner, starting one if needed.
    pub(super) fn route(self: &Arc<Self>, session: LiveSession) {
        let channel_id = session.channel_id.clone();
        let mut runners = self.runners.lock().unwrap_or_else(PoisonError::into_inner);
        let session = match runners.get(&channel_id) {
            Some(tx) => match tx.try_send(session) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(session)) => {
                    let tx = tx.clone();
                    self.spawn(async move {
                        let _ = tx.send(session).await;
                    });
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(session)) => session,
            },
            None => session,
        };
        let (tx, rx) = mpsc::channel(RUNNER_QUEUE);
        if tx.try_send(session).is_err() {
            return;
        }
        runners.insert(channel_id.clone(), tx.clone());
        let runner = ChannelRunner::new(self.clone(), channel_id, rx, tx);
        self.spawn(runner.run());
    }

    /// Keeps this node's leases of the channels it runs (publishing, or waiting out a
    /// reconnect window) from running out: renewed three times per lease time.
    async fn renew_leases(self: Arc<Self>) {
        let Some(node) = self.control.live_node().cloned() else {
            return;
        };
        let period =
            Duration::from_millis(u64::try_from(node.lease_ms / 3).unwrap_or(1000).max(100));
        loop {
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                () = self.shutdown.cancelled() => return,
            }
            let channels: Vec<String> = self
                .runners
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .keys()
                .cloned()
                .collect();
            for channel in channels {
                let now = yanxiu_control::now_ms();
                match self
                    .control
                    .take_live_lease(&channel, &node.identity, node.lease_ms, now)
                    .await
                {
                    Ok(yanxiu_control::live_leases::LeaseOutcome::Held) => {}
                    Ok(yanxiu_control::live_leases::LeaseOutcome::HeldElsewhere(holder)) => {
                        tracing::error!(channel = %channel, holder = %holder.node_id, "lost the live lease of a running channel to another node");
                    }
                    Err(e) => {
                        tracing::warn!(channel = %channel, error = %e, "renewing a live lease failed")
                    }
                }
            }
        }
    }

    /// Gives up this node's lease of `channel_id` (its session has ended), so that another
    /// node may take the channel at once.
    fn release_lease(self: &Arc<Self>, channel_id: &str) {
        let Some(node) = self.control.live_node().cloned() else {
            return;
        };
        let service = self.clone();
        let channel_id = channel_id.to_owned();
        self.spawn(async move {
            if let Err(e) = service
                .control
                .release_live_lease(&channel_id, &node.identity.id)
                .await
            {
                tracing::warn!(channel = %channel_id, error = %e, "releasing a live lease failed; it runs out by itself");
            }
        });
    }

    /// A runner is done: forget it (unless replaced) and re-route the
    /// publishes that reached it too late.
    pub(super) fn runner_done(
        self: &Arc<Self>,
        channel_id: &str,
        sender: &mpsc::Sender<LiveSession>,
        mut leftover: mpsc::Receiver<LiveSession>,
    ) {
        let released = {
            let mut runners = self.runners.lock().unwrap_or_else(PoisonError::into_inner);
            let ours = runners
                .get(channel_id)
                .is_some_and(|current| current.same_channel(sender));
            if ours {
                runners.remove(channel_id);
            }
            ours
        };
        leftover.close();
        let rerouted = !self.shutdown.is_cancelled() && !leftover.is_empty();
        if released && !rerouted {
            self.release_lease(channel_id);
        }
        while let Ok(session) = leftover.try_recv() {
            // While stopping, late publishes are dropped (their connections close).
            if !self.shutdown.is_cancelled() {
                self.route(session);
            }
        }
    }
}
