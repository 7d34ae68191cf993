//! Which `serve` node holds each live channel, so that many nodes on one database never run
//! two sessions of one channel: a lease row per channel naming the holder (its id and the
//! URL other nodes reach it at) and an expiry. The holder renews it while the channel's
//! session runs and releases it when the session ends; a node that dies stops renewing and
//! its lease runs out, after which any node may take the channel. Taking and renewing are one
//! conditional upsert, atomic on SQLite and PostgreSQL alike.

use sqlx::Row;

use crate::error::{ControlError, ControlResult};
use crate::plane::ControlPlane;

/// A `serve` node as other nodes see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    /// Stable id of the node (kept in its data directory across restarts).
    pub id: String,
    /// The base URL other nodes reach its HTTP listener at (`http://10.0.0.11:8080`).
    pub url: String,
}

/// The node this process is, as the publish gate uses it: a publish it admits takes the
/// channel's lease for `lease_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveNode {
    /// Who this node is.
    pub identity: NodeIdentity,
    /// How long a lease lasts unless renewed, in milliseconds.
    pub lease_ms: i64,
}

/// The holder of a channel's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    /// The holding node's id.
    pub node_id: String,
    /// Its base URL.
    pub node_url: String,
    /// When the lease runs out unless renewed (ms since the epoch).
    pub expires_at: i64,
}

/// The answer to taking (or renewing) a channel's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// This node holds the channel until the given time.
    Held,
    /// Another node holds it.
    HeldElsewhere(LeaseHolder),
}

impl ControlPlane {
    /// Makes this process a live node: from now on a granted publish takes the channel's
    /// lease, and one held by another node is refused (`held_elsewhere`). Set once, at start.
    pub fn become_live_node(&self, node: LiveNode) {
        if self.live_node.set(node).is_err() {
            tracing::warn!("the live node identity was set already; kept the first");
        }
    }

    /// This process as a live node, once [`Self::become_live_node`] was called.
    pub fn live_node(&self) -> Option<&LiveNode> {
        self.live_node.get()
    }

    /// Takes the lease of `channel_id` for `node` until `now + ttl_ms`: granted when nobody
    /// holds it, when `node` holds it already (a renewal), or when the holder's lease ran out.
    pub async fn take_live_lease(
        &self,
        channel_id: &str,
        node: &NodeIdentity,
        ttl_ms: i64,
        now: i64,
    ) -> ControlResult<LeaseOutcome> {
        // A lease released or run out between the upsert and the read is taken on the next
        // turn; two turns settle any race but a pathological one.
        for _ in 0..3 {
            let taken = sqlx::query(
                "INSERT INTO live_leases (channel_id, node_id, node_url, acquired_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (channel_id) DO UPDATE SET \
                   node_id = excluded.node_id, node_url = excluded.node_url, \
                   acquired_at = CASE WHEN live_leases.node_id = excluded.node_id \
                     THEN live_leases.acquired_at ELSE excluded.acquired_at END, \
                   expires_at = excluded.expires_at \
                 WHERE live_leases.node_id = excluded.node_id OR live_leases.expires_at <= $4",
            )
            .bind(channel_id.to_owned())
            .bind(node.id.clone())
            .bind(node.url.clone())
            .bind(now)
            .bind(now.saturating_add(ttl_ms))
            .execute(self.db.pool())
            .await?
            .rows_affected();
            if taken > 0 {
                return Ok(LeaseOutcome::Held);
            }
            if let Some(holder) = self.live_lease_holder(channel_id, now).await?
                && holder.node_id != node.id
            {
                return Ok(LeaseOutcome::HeldElsewhere(holder));
            }
        }
        Err(ControlError::Internal(
            "the live lease changed hands under every attempt".into(),
        ))
    }

    /// Gives the lease of `channel_id` up, if `node_id` holds it.
    pub async fn release_live_lease(&self, channel_id: &str, node_id: &str) -> ControlResult<()> {
        sqlx::query("DELETE FROM live_leases WHERE channel_id = $1 AND node_id = $2")
            .bind(channel_id.to_owned())
            .bind(node_id.to_owned())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The node holding `channel_id` at `now`, if any (a lease that ran out holds nothing).
    pub async fn live_lease_holder(
        &self,
        channel_id: &str,
        now: i64,
    ) -> ControlResult<Option<LeaseHolder>> {
        let row = sqlx::query(
            "SELECT node_id, node_url, expires_at FROM live_leases \
             WHERE channel_id = $1 AND expires_at > $2",
        )
        .bind(channel_id.to_owned())
        .bind(now)
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|r| {
            Ok(LeaseHolder {
                node_id: r.try_get("node_id")?,
                node_url: r.try_get("node_url")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }
}
