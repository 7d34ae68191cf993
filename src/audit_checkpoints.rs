//! Keeps signed checkpoints of the audit chain's head in object storage, away from the
//! database they vouch for (so that a database put back to an older copy is found out by
//! `yanxiu audit verify`), and reads them back for the check.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use tokio::sync::watch;
use yanxiu_control::ControlPlane;
use yanxiu_control::audit_checkpoint::{AuditCheckpoint, CHECKPOINT_PREFIX};
use yanxiu_packager::storage::{PutOptions, Storage};

/// Writes a checkpoint now, every `every` while the log grows, and once more at shutdown.
pub async fn run_periodically(
    control: Arc<ControlPlane>,
    storage: Arc<dyn Storage>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut written = None;
    loop {
        if let Err(e) = write_if_moved(&control, storage.as_ref(), &mut written).await {
            tracing::warn!(error = %format!("{e:#}"), "cannot write an audit checkpoint");
        }
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Writes a checkpoint of the head unless the last one written (`written`) is of the same
/// position.
async fn write_if_moved(
    control: &ControlPlane,
    storage: &dyn Storage,
    written: &mut Option<i64>,
) -> anyhow::Result<()> {
    let Some(checkpoint) = control
        .audit_checkpoint(yanxiu_control::now_ms())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    else {
        return Ok(());
    };
    if *written == Some(checkpoint.seq) {
        return Ok(());
    }
    let key = checkpoint.object_key();
    let body = serde_json::to_vec(&checkpoint)?;
    storage
        .put(&key, Bytes::from(body), &PutOptions::for_key(&key))
        .await
        .with_context(|| format!("storing {key}"))?;
    tracing::info!(seq = checkpoint.seq, "audit checkpoint written");
    *written = Some(checkpoint.seq);
    Ok(())
}

/// Every checkpoint in `storage`, oldest first. One that cannot be read as a checkpoint is
/// an error naming it: a damaged checkpoint is not silently passed over.
pub async fn read_all(storage: &dyn Storage) -> anyhow::Result<Vec<AuditCheckpoint>> {
    let mut objects = storage
        .list(CHECKPOINT_PREFIX)
        .await
        .context("listing the audit checkpoints")?;
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    let mut out = Vec::with_capacity(objects.len());
    for object in objects {
        let body = storage
            .get(&object.key)
            .await
            .with_context(|| format!("reading {}", object.key))?;
        let checkpoint: AuditCheckpoint = serde_json::from_slice(&body)
            .with_context(|| format!("{} is not an audit checkpoint", object.key))?;
        out.push(checkpoint);
    }
    Ok(out)
}
