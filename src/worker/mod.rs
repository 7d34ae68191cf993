//! Background processing: workers claim jobs from the control plane's
//! durable queue (inside `yanxiu serve`, or as `yanxiu worker` processes
//! sharing the database and storage), keep their lease alive with
//! heartbeats that carry progress, and give the job back on shutdown. A
//! worker that dies loses its lease and another one takes the job over.

mod chunk_qc;
mod chunked;
mod failure_text;
mod lease;
mod process;
mod stage;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use yanxiu_control::ControlPlane;
use yanxiu_ingest::Policy;
use yanxiu_packager::storage::Storage;
use yanxiu_transcode::LadderConfig;

use crate::app::metrics::Metrics;
use crate::config::WorkerConfig;

use chunk_qc::QC_SOURCE;
use chunked::ENCODE_CHUNK;
pub use process::{PROCESS_UPLOAD, ProcessPayload};

/// What a worker needs; shared by every worker task of a process.
#[derive(Debug)]
pub struct Worker {
    /// Names this worker in job records (`host:pid:n`).
    pub id: String,
    /// The queue and the resources.
    pub control: Arc<ControlPlane>,
    /// Where ladders go.
    pub storage: Arc<dyn Storage>,
    /// The validation policy.
    pub policy: Policy,
    /// The ladder.
    pub ladder: LadderConfig,
    /// Leases, heartbeats, polling.
    pub config: WorkerConfig,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Limits of imports by link.
    pub imports: yanxiu_ingest::fetch::FetchLimits,
    /// Where a source kept in storage is copied while its job runs (`DATA_DIR/scratch`).
    pub scratch_dir: std::path::PathBuf,
}

impl Worker {
    /// A worker id unique on this host: `host:pid:slot`.
    pub fn make_id(slot: usize) -> String {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".to_owned());
        format!("{host}:{}:{slot}", std::process::id())
    }

    fn lease(&self) -> Duration {
        Duration::from_secs(self.config.lease_seconds.max(5))
    }
}

/// Claims and runs jobs until `shutdown` turns true; a job under way is
/// given back to the queue (not counted as an attempt).
pub async fn run(worker: Arc<Worker>, mut shutdown: watch::Receiver<bool>) {
    let poll = Duration::from_millis(worker.config.poll_ms.max(50));
    tracing::info!(worker = %worker.id, "worker started");
    while !*shutdown.borrow() {
        let claimed = worker
            .control
            .claim_job(
                &worker.id,
                &[PROCESS_UPLOAD, ENCODE_CHUNK, QC_SOURCE],
                worker.lease(),
                yanxiu_control::now_ms(),
            )
            .await;
        match claimed {
            Ok(Some(job)) if job.job.kind == ENCODE_CHUNK => {
                chunked::run(&worker, job, &mut shutdown).await;
            }
            Ok(Some(job)) if job.job.kind == QC_SOURCE => {
                chunk_qc::run(&worker, job, &mut shutdown).await;
            }
            Ok(Some(job)) => process::run(&worker, job, &mut shutdown).await,
            Ok(None) => {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(worker = %worker.id, error = %e, "cannot claim a job");
                tokio::select! {
                    _ = tokio::time::sleep(poll * 4) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
    tracing::info!(worker = %worker.id, "worker stopped");
}
