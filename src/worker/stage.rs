//! A source kept in the media storage (the shared upload store) copied to a scratch file on
//! this worker's disk before it is probed and transcoded, in windows of [`WINDOW`] bytes with
//! heartbeats in between, and removed when the attempt ends. A missing source is a coded,
//! final failure (`source.missing`); a storage fault is retried (`source.fetch`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use yanxiu_control::jobs::{JobClaim, JobError, JobFailure, JobProgress};
use yanxiu_control::now_ms;
use yanxiu_packager::storage::StorageError;

use super::Worker;
use super::process::failure;

/// Bytes read from storage per request.
pub const WINDOW: u64 = 8 * 1024 * 1024;

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
    match worker
        .control
        .heartbeat_job(claim, progress, worker.lease(), now_ms())
        .await
    {
        Ok(_) => true,
        Err(JobError::LeaseLost) => false,
        Err(e) => {
            tracing::warn!(job = %claim.job_id, error = %e, "heartbeat failed");
            true
        }
    }
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
    fn the_scratch_copy_keeps_a_sane_extension_of_the_key() {
        assert_eq!(file_name("sources/r/source.mp4"), "source.mp4");
        assert_eq!(file_name("sources/r/source"), "source");
        assert_eq!(file_name("sources/r/source.a b"), "source");
    }
}
