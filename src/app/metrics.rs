//! Prometheus metrics at `/metrics`: uploads and bytes received, jobs by
//! state and by outcome, transcode speed, storage errors, resources by
//! processing status. Queue and resource gauges are read from the database
//! at scrape time, so every `serve` and `worker` process reports the same.

use std::time::Duration;

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use yanxiu_control::ControlPlane;
use yanxiu_transcode::TranscodeOutcome;

/// The process's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    uploads: IntCounter,
    upload_bytes: IntCounter,
    job_attempts: HistogramVec,
    transcode_speed: Gauge,
    transcoded_seconds: IntCounter,
    storage_errors: IntCounter,
    jobs: IntGaugeVec,
    resources: IntGaugeVec,
    security: IntCounterVec,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("yanxiu".to_owned()), None)?;
        let uploads = IntCounter::new("uploads_completed_total", "Uploads completed")?;
        let upload_bytes = IntCounter::new("upload_bytes_total", "Bytes of completed uploads")?;
        let job_attempts = HistogramVec::new(
            HistogramOpts::new("job_attempt_seconds", "Job attempts by outcome")
                .buckets(vec![1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 10800.0]),
            &["outcome"],
        )?;
        let transcode_speed = Gauge::new(
            "transcode_speed_ratio",
            "Speed of the last transcode as a multiple of realtime",
        )?;
        let transcoded_seconds = IntCounter::new(
            "transcoded_media_seconds_total",
            "Seconds of media transcoded",
        )?;
        let storage_errors =
            IntCounter::new("storage_errors_total", "Storage operations that failed")?;
        let jobs = IntGaugeVec::new(Opts::new("jobs", "Jobs in the queue by state"), &["state"])?;
        let resources = IntGaugeVec::new(
            Opts::new("resources", "Resources by processing status"),
            &["status"],
        )?;
        let security = IntCounterVec::new(
            Opts::new(
                "security_events_total",
                "Security alerts: account lockouts, administrator sign-ins from new addresses",
            ),
            &["event"],
        )?;
        registry.register(Box::new(security.clone()))?;
        for c in [
            &uploads,
            &upload_bytes,
            &transcoded_seconds,
            &storage_errors,
        ] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(job_attempts.clone()))?;
        registry.register(Box::new(transcode_speed.clone()))?;
        registry.register(Box::new(jobs.clone()))?;
        registry.register(Box::new(resources.clone()))?;
        Ok(Self {
            registry,
            uploads,
            upload_bytes,
            job_attempts,
            transcode_speed,
            transcoded_seconds,
            storage_errors,
            jobs,
            resources,
            security,
        })
    }

    /// The registry, for metrics registered elsewhere (live channels).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// An upload of `bytes` completed.
    pub fn upload_completed(&self, bytes: u64) {
        self.uploads.inc();
        self.upload_bytes.inc_by(bytes);
    }

    /// A job attempt ended with `outcome` after `took`.
    pub fn job_finished(&self, outcome: &str, took: Duration) {
        self.job_attempts
            .with_label_values(&[outcome])
            .observe(took.as_secs_f64());
    }

    /// A transcode finished.
    pub fn transcoded(&self, outcome: &TranscodeOutcome) {
        let media = outcome
            .ladder
            .renditions
            .first()
            .map_or(0.0, |r| r.duration_seconds);
        let secs = outcome.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.transcode_speed.set(media / secs);
        }
        self.transcoded_seconds.inc_by(media.round() as u64);
    }

    /// A storage operation failed.
    pub fn storage_error(&self) {
        self.storage_errors.inc();
    }

    /// The text exposition, with queue and resource gauges read now.
    pub async fn render(&self, control: &ControlPlane) -> String {
        if let Ok(counts) = control.job_counts_by_state().await {
            self.jobs.reset();
            for (state, n) in counts {
                self.jobs.with_label_values(&[state.as_str()]).set(n);
            }
        }
        if let Ok(counts) = control.resource_counts_by_processing_status().await {
            self.resources.reset();
            for (status, n) in counts {
                self.resources.with_label_values(&[status.as_str()]).set(n);
            }
        }
        let events = control.security_events();
        for (event, total) in [
            ("account_lockout", events.lockouts()),
            (
                "admin_sign_in_new_address",
                events.admin_new_address_sign_ins(),
            ),
        ] {
            let counter = self.security.with_label_values(&[event]);
            counter.inc_by(total.saturating_sub(counter.get()));
        }
        let mut out = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
