//! The WHEP viewers of the WebRTC driver: admission (per channel and per
//! address limits), the one feed subscription per watched channel whose
//! frames go to every viewer of that channel, and the datagrams and
//! timeouts of each viewer. The driver in [`crate::whip::server`] owns
//! one [`Viewers`] beside its publishers and shares its UDP socket.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_stream::StreamMap;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use uuid::Uuid;

use super::error::WhepError;
use super::feed::{FeedFrame, LiveFeeds};
use super::viewer::WhepViewer;
use crate::publish::EndReason;
use crate::whip::peer::{PeerState, Transmit};

/// Limits of WHEP playback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewerLimits {
    /// Viewers of one channel at once.
    pub per_channel: usize,
    /// Viewers from one address at once.
    pub per_address: usize,
    /// From the answer until ICE and DTLS are up.
    pub connect_timeout: Duration,
}

#[derive(Debug)]
struct Viewer {
    peer: WhepViewer,
    channel_id: String,
    from: SocketAddr,
}

/// Every viewer of one driver.
#[derive(Debug)]
pub struct Viewers {
    feeds: Arc<LiveFeeds>,
    limits: ViewerLimits,
    viewers: HashMap<Uuid, Viewer>,
    subscriptions: StreamMap<String, BroadcastStream<FeedFrame>>,
}

impl Viewers {
    /// No viewers yet; feeds come from `feeds`.
    pub fn new(feeds: Arc<LiveFeeds>, limits: ViewerLimits) -> Self {
        Self {
            feeds,
            limits,
            viewers: HashMap::new(),
            subscriptions: StreamMap::new(),
        }
    }

    /// Answers a player's offer for `channel_id`.
    pub fn play(
        &mut self,
        channel_id: &str,
        offer: &str,
        from: SocketAddr,
        candidates: &[SocketAddr],
        now: Instant,
    ) -> Result<(Uuid, String), WhepError> {
        let feed = self.feeds.feed(channel_id);
        let media = feed.media().ok_or(WhepError::NotLive)?;
        let open = |v: &&Viewer| !matches!(v.peer.state(), PeerState::Closed(_));
        let of_channel = self
            .viewers
            .values()
            .filter(open)
            .filter(|v| v.channel_id == channel_id)
            .count();
        let max = self.limits.per_channel.max(1);
        if of_channel >= max {
            return Err(WhepError::ChannelFull { max });
        }
        let max = self.limits.per_address.max(1);
        let of_address = self
            .viewers
            .values()
            .filter(open)
            .filter(|v| v.from.ip() == from.ip())
            .count();
        if of_address >= max {
            return Err(WhepError::TooManyFromAddress { max });
        }
        let (peer, sdp) =
            WhepViewer::answer(offer, candidates, media, self.limits.connect_timeout, now)?;
        if !self.subscriptions.contains_key(channel_id) {
            self.subscriptions.insert(
                channel_id.to_owned(),
                BroadcastStream::new(feed.subscribe()),
            );
        }
        let id = Uuid::new_v4();
        self.viewers.insert(
            id,
            Viewer {
                peer,
                channel_id: channel_id.to_owned(),
                from,
            },
        );
        tracing::info!(session = %id, channel = %channel_id, %from, codec = ?media.video, "WHEP viewer answered");
        Ok((id, sdp))
    }

    /// Ends viewer `id` (WHEP `DELETE`).
    pub fn stop(&mut self, id: Uuid) -> Result<(), WhepError> {
        let viewer = self.viewers.get_mut(&id).ok_or(WhepError::NoSession)?;
        viewer.peer.close(EndReason::Unpublished);
        Ok(())
    }

    /// Whether a viewer's datagram: then it was handled.
    pub fn try_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) -> bool {
        self.viewers
            .values_mut()
            .any(|v| v.peer.try_receive(now, source, destination, contents))
    }

    /// When the next viewer's timeout is due.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.viewers.values().map(|v| v.peer.next_timeout()).min()
    }

    /// Lets time pass for every viewer due.
    pub fn tick(&mut self, now: Instant) {
        for viewer in self.viewers.values_mut() {
            if viewer.peer.next_timeout() <= now {
                viewer.peer.tick(now);
            }
        }
    }

    /// Whether any channel is watched (then [`Self::next_frame`] waits
    /// for a frame; with none it would end at once).
    pub fn watching(&self) -> bool {
        !self.subscriptions.is_empty()
    }

    /// The next frame of a watched channel.
    pub async fn next_frame(&mut self) -> Option<(String, Result<FeedFrame, u64>)> {
        use tokio_stream::StreamExt;
        let (channel, item) = self.subscriptions.next().await?;
        Some((
            channel,
            item.map_err(|BroadcastStreamRecvError::Lagged(n)| n),
        ))
    }

    /// Sends a channel's frame to its viewers; `Err(n)`: `n` frames were
    /// lost to them all.
    pub fn frame(&mut self, channel_id: &str, frame: Result<FeedFrame, u64>, now: Instant) {
        for viewer in self.viewers.values_mut() {
            if viewer.channel_id != channel_id {
                continue;
            }
            match &frame {
                Ok(frame) => viewer.peer.send(frame, now),
                Err(_) => viewer.peer.lost(),
            }
        }
    }

    /// Sends every viewer's datagrams with `send`, forgets closed viewers
    /// (and feeds nobody watches), and returns the channels whose viewers
    /// want a keyframe.
    pub fn flush(&mut self, mut send: impl FnMut(Transmit)) -> HashSet<String> {
        let mut keyframes = HashSet::new();
        for viewer in self.viewers.values_mut() {
            for t in viewer.peer.take_transmits() {
                send(t);
            }
            if viewer.peer.take_keyframe_request() {
                keyframes.insert(viewer.channel_id.clone());
            }
        }
        let closed: Vec<Uuid> = self
            .viewers
            .iter()
            .filter(|(_, v)| matches!(v.peer.state(), PeerState::Closed(_)))
            .map(|(id, _)| *id)
            .collect();
        for id in closed {
            if let Some(v) = self.viewers.remove(&id) {
                let c = v.peer.counters();
                if let PeerState::Closed(reason) = v.peer.state() {
                    tracing::info!(
                        session = %id,
                        channel = %v.channel_id,
                        %reason,
                        video_frames = c.video_frames,
                        audio_packets = c.audio_packets,
                        skipped = c.skipped_frames,
                        keyframe_requests = c.keyframe_requests,
                        "WHEP viewer ended"
                    );
                }
                if !self.viewers.values().any(|o| o.channel_id == v.channel_id) {
                    self.subscriptions.remove(&v.channel_id);
                }
            }
        }
        keyframes
    }

    /// Ends every viewer (the server stops).
    pub fn close_all(&mut self) {
        for viewer in self.viewers.values_mut() {
            viewer.peer.close(EndReason::ServerShutdown);
        }
    }

    /// Viewers of `channel_id` connecting or watching.
    pub fn count(&self, channel_id: &str) -> usize {
        self.viewers
            .values()
            .filter(|v| v.channel_id == channel_id)
            .count()
    }
}
