//! A source kept in the media storage (the shared upload store) copied to a scratch file on
//! this worker's disk before it is probed and transcoded, in windows of [`WINDOW`] bytes with
//! heartbeats in between, and removed when the attempt ends. A missing source is a coded,
//! final failure (`source.missing`); a storage fault is retried (`source.fetch`).
//!
//! The chunks of a long source ([`keep_source`]) share one copy per host: it is kept under
//! `DATA_DIR/scratch/sources/` for the next chunk of the same source, and removed by a later
//! chunk job once unused for [`KEPT_FOR`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use yanxiu_control::jobs::{JobClaim, JobFailure, JobProgress};
use yanxiu_packager::storage::StorageError;

use super::Worker;
use super::process::failure;

/// Bytes read from storage per request.
pub const WINDOW: u64 = 8 * 1024 * 1024;

/// How long a source kept for chunk jobs stays on a host after its last use.
pub const KEPT_FOR: Duration = Duration::from_secs(6 * 3600);

/// How the copy ended.
#[derive(Debug)]
pub enum Staged {
    /// The source is complete at this path.
    Ready(PathBuf),
    /// Another worker owns the job now.
    LeaseLost,
}

fn read_failed(key: &str, e: StorageError) -> JobFailure {
    match e {
        StorageError::NotFound { .. } => failure(false, "source.missing", key),
        e => failure(true, "source.fetch", e),
    }
}

/// The scratch file's name: `source` with the key's extension, if it has a sane one.
fn file_name(key: &str) -> String {
    let extension = Path::new(key)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .filter(|e| e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()));
    match extension {
        Some(e) if !e.is_empty() => format!("source.{e}"),
        _ => "source".to_owned(),
    }
}

/// Copies the object `key` into `dir` (created; the caller removes it with [`remove`]).
pub async fn copy_source(
    worker: &Worker,
    claim: &JobClaim,
    key: &str,
    dir: &Path,
) -> Result<Staged, JobFailure> {
    let size = match worker.storage.head(key).await {
        Ok(Some(info)) => info.size,
        Ok(None) => return Err(failure(false, "source.missing", key)),
        Err(e) => return Err(read_failed(key, e)),
    };
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| failure(true, "source.scratch", e))?;
    let path = dir.join(file_name(key));
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| failure(true, "source.scratch", e))?;
    let every = Duration::from_secs(worker.config.heartbeat_seconds.max(1));
    let mut beat = Instant::now();
    let mut offset = 0;
    while offset < size {
        let end = offset.saturating_add(WINDOW).min(size);
        let bytes = worker
            .storage
            .get_range(key, offset..end)
            .await
            .map_err(|e| read_failed(key, e))?;
        if bytes.is_empty() {
            return Err(failure(
                true,
                "source.fetch",
                "the source object got shorter",
            ));
        }
        file.write_all(&bytes)
            .await
            .map_err(|e| failure(true, "source.scratch", e))?;
        offset += bytes.len() as u64;
        if beat.elapsed() >= every {
            beat = Instant::now();
            if !keep_lease(worker, claim, offset, size).await {
                return Ok(Staged::LeaseLost);
            }
        }
    }
    file.flush()
        .await
        .map_err(|e| failure(true, "source.scratch", e))?;
    tracing::info!(job = %claim.job_id, bytes = size, "source copied from storage");
    Ok(Staged::Ready(path))
}

/// The source object `key` on this host's disk for a chunk job: the copy another chunk job of
/// this host made, or a new one (made under a name of this worker's, then renamed into place,
/// so a half-made copy is never used). The copy is not removed when the job ends.
pub async fn keep_source(
    worker: &Worker,
    claim: &JobClaim,
    key: &str,
) -> Result<Staged, JobFailure> {
    let root = worker.scratch_dir.join("sources");
    let name = kept_name(key);
    let dir = root.join(&name);
    let path = dir.join(file_name(key));
    if let Ok(file) = std::fs::File::open(&path) {
        // in use again: not swept for another KEPT_FOR
        if let Err(e) = file.set_modified(std::time::SystemTime::now()) {
            tracing::warn!(error = %e, "cannot mark a kept source as used");
        }
        return Ok(Staged::Ready(path));
    }
    sweep(&root).await;
    let making = root.join(format!("{name}.{}", worker.id.replace([':', '/'], "-")));
    remove(&making).await;
    match copy_source(worker, claim, key, &making).await {
        Ok(Staged::Ready(_)) => {}
        other => {
            remove(&making).await;
            return other;
        }
    }
    match tokio::fs::rename(&making, &dir).await {
        Ok(()) => Ok(Staged::Ready(path)),
        // another worker of this host renamed its copy into place first
        Err(_) if path.exists() => {
            remove(&making).await;
            Ok(Staged::Ready(path))
        }
        Err(e) => {
            remove(&making).await;
            Err(failure(true, "source.scratch", e))
        }
    }
}

/// The directory name of a kept source: 16 hex digits of the SHA-256 of its key.
fn kept_name(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// Removes the kept sources (and abandoned copies) not used for [`KEPT_FOR`].
async fn sweep(root: &Path) {
    let Ok(mut entries) = tokio::fs::read_dir(root).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let stale = newest_change(&entry.path())
            .await
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > KEPT_FOR);
        if stale {
            remove(&entry.path()).await;
        }
    }
}

/// The newest modification time of a directory and the files in it.
async fn newest_change(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = tokio::fs::metadata(dir).await.ok()?.modified().ok()?;
    let mut entries = tokio::fs::read_dir(dir).await.ok()?;
    while let Ok(Some(entry)) = entries.next_entry().await {
        if let Some(t) = entry.metadata().await.ok().and_then(|m| m.modified().ok()) {
            newest = newest.max(t);
        }
    }
    Some(newest)
}

/// Renews the job's lease with the copy's progress; `false` when the lease is lost.
async fn keep_lease(worker: &Worker, claim: &JobClaim, done: u64, size: u64) -> bool {
    let progress = JobProgress {
        stage: "fetch".to_owned(),
        percent: if size == 0 {
            100.0
        } else {
            (done as f64 / size as f64 * 100.0).clamp(0.0, 100.0)
        },
        speed: None,
        detail: None,
    };
    super::lease::beat(worker, claim, progress).await == super::lease::Beat::Kept
}

/// Removes the scratch directory (a missing one is fine; a failure is logged).
pub async fn remove(dir: &Path) {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, "cannot remove a scratch copy"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_source_is_named_by_its_key_alone() {
        assert_eq!(
            kept_name("sources/r1/source.mp4"),
            kept_name("sources/r1/source.mp4")
        );
        assert_ne!(
            kept_name("sources/r1/source.mp4"),
            kept_name("sources/r2/source.mp4")
        );
        assert_eq!(kept_name("k").len(), 16);
    }

    #[test]
    fn the_scratch_copy_keeps_a_sane_extension_of_the_key() {
        assert_eq!(file_name("sources/r/source.mp4"), "source.mp4");
        assert_eq!(file_name("sources/r/source"), "source");
        assert_eq!(file_name("sources/r/source.a b"), "source");
    }
}
