//! The retention job of `yanxiu serve`: once at start, then every `run_every_hours` (daily;
//! the settings in force, changed at run time or not),
//! it runs retention ([`ControlPlane::run_retention`]) with the system clock and logs what it
//! did. A thin driver: the decisions are in [`super::plan`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::plane::{AuditCtx, ControlPlane};
use crate::resources::MediaJanitor;

/// How often the job looks at the settings (whether it is enabled, how often it runs).
const RECHECK: Duration = Duration::from_secs(60);

/// Runs retention periodically until `stop` turns true (nothing while disabled).
pub async fn run_periodically(
    control: Arc<ControlPlane>,
    janitor: Arc<dyn MediaJanitor>,
    mut stop: watch::Receiver<bool>,
) {
    let ctx = AuditCtx::service("retention", "local");
    let mut last_run: Option<tokio::time::Instant> = None;
    loop {
        // The settings may change at run time: read them before every decision.
        let config = match control.settings().await {
            Ok(s) => s.retention,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the retention settings");
                control.config().retention.clone()
            }
        };
        let every = Duration::from_secs(u64::from(config.run_every_hours.max(1)) * 3600);
        let due = last_run.is_none_or(|at| at.elapsed() >= every);
        if config.enabled && due {
            last_run = Some(tokio::time::Instant::now());
            match control
                .run_retention(&ctx, janitor.as_ref(), crate::now_ms(), false)
                .await
            {
                Ok(run) => tracing::info!(
                    retired = run.retired.len(),
                    cleaned = run.cleaned.len(),
                    kept = run.plan.kept.len(),
                    expiring_soon = run.plan.expiring_soon.len(),
                    failed = run.failed.len(),
                    "retention run"
                ),
                Err(e) => tracing::warn!(error = %e, "retention run failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RECHECK) => {}
            _ = stop.changed() => return,
        }
    }
}
