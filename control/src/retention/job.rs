//! The retention job of `yanxiu serve`: once at start, then every `run_every_hours` (daily),
//! it runs retention ([`ControlPlane::run_retention`]) with the system clock and logs what it
//! did. A thin driver: the decisions are in [`super::plan`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::plane::{AuditCtx, ControlPlane};
use crate::resources::MediaJanitor;

/// Runs retention periodically until `stop` turns true (nothing when disabled).
pub async fn run_periodically(
    control: Arc<ControlPlane>,
    janitor: Arc<dyn MediaJanitor>,
    mut stop: watch::Receiver<bool>,
) {
    let config = control.config().retention.clone();
    if !config.enabled {
        return;
    }
    let every = Duration::from_secs(u64::from(config.run_every_hours.max(1)) * 3600);
    let mut tick = tokio::time::interval(every);
    let ctx = AuditCtx::service("retention", "local");
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match control.run_retention(&ctx, janitor.as_ref(), crate::now_ms(), false).await {
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
            _ = stop.changed() => return,
        }
    }
}
