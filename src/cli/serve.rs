//! `yanxiu serve`: one process with the HTTP API (control plane, uploads,
//! playback, metrics), the processing workers and the upload sweeper.
//! SIGTERM or Ctrl-C: stop accepting, give running jobs back to the queue,
//! close the database. With `[tls]`: HTTPS and RTMPS beside (or instead of)
//! the plain listeners; SIGHUP reloads the certificate and key.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use yanxiu_control::http::AppState;
use yanxiu_control::setup;
use yanxiu_control::upload_rows::UploadRows;
use yanxiu_ingest::tus::{TusConfig, TusService};

use super::listeners::Listeners;
use crate::app::limits::RequestLimits;
use crate::app::metrics::Metrics;
use crate::app::security_headers::{MediaOrigins, SecurityHeaders};
use crate::app::upload_store::SharedUploadStore;
use crate::app::uploads::{StorageJanitor, UploadPipeline};
use crate::app::{self, AppContext};
use crate::config::{
    ConfigArgs, PlainHttp, S3Delivery, ServeConfig, UploadStoreKind, init_logging,
};
use crate::live::{LiveBoard, LiveService, LiveSettings, RtmpAddrs};
use crate::tls::{CertInfo, CertStore, RtmpsUpgrade};
use crate::worker::{self, Worker};

/// Arguments of `yanxiu serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArgs,
    /// HTTP listen address [default: 127.0.0.1:8080].
    #[arg(long)]
    http_addr: Option<String>,
    /// Jobs processed at once in this process (0: leave processing to
    /// `yanxiu worker` processes) [default: 1].
    #[arg(long)]
    workers: Option<usize>,
    /// RTMP listen address for live publishing [default: 127.0.0.1:1935].
    #[arg(long)]
    rtmp_addr: Option<String>,
    /// HTTPS listen address (with `[tls]` cert_file and key_file)
    /// [default: 127.0.0.1:8443].
    #[arg(long)]
    https_addr: Option<String>,
    /// RTMPS listen address for live publishing (with `[tls]`).
    #[arg(long)]
    rtmps_addr: Option<String>,
}

/// Runs `yanxiu serve`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut config = ServeConfig::load(&args.config)?;
    if let Some(addr) = args.http_addr {
        config.http_addr = addr;
    }
    if let Some(n) = args.workers {
        config.workers.concurrency = n;
    }
    if let Some(addr) = args.rtmp_addr {
        config.live.rtmp_addr = addr;
    }
    if let Some(addr) = args.https_addr {
        config.tls.https_addr = addr;
    }
    if let Some(addr) = args.rtmps_addr {
        config.tls.rtmps_addr = Some(addr);
    }
    default_public_urls(&mut config);
    init_logging(config.log_format);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

/// Without configured public URLs, channel and playback URLs point at the
/// addresses this process listens on (when they name a fixed port), so a
/// local `serve` on other ports still hands out working URLs.
fn default_public_urls(config: &mut ServeConfig) {
    let urls = &mut config.control.public_urls;
    if *urls != yanxiu_control::config::PublicUrls::default() {
        return;
    }
    let fixed = |addr: &str| {
        addr.parse::<std::net::SocketAddr>()
            .ok()
            .filter(|a| a.port() != 0)
            .map(|a| match a.ip().is_unspecified() {
                true => std::net::SocketAddr::from(([127, 0, 0, 1], a.port())),
                false => a,
            })
    };
    let tls = config.tls.cert_file.is_some() && config.tls.key_file.is_some();
    let https = fixed(&config.tls.https_addr).filter(|_| tls);
    let http = fixed(&config.http_addr).filter(|_| config.tls.plain_http == PlainHttp::Serve);
    if let Some(base) = https
        .map(|a| format!("https://{a}"))
        .or(http.map(|a| format!("http://{a}")))
    {
        urls.whip_base = format!("{base}/whip");
        urls.playback_base = base;
    }
    if let Some(srt) = fixed(&config.live.srt_addr) {
        urls.srt_base = format!("srt://{srt}");
    }
    let rtmps = config
        .tls
        .rtmps_addr
        .as_deref()
        .and_then(fixed)
        .filter(|_| tls);
    let rtmp = fixed(&config.live.rtmp_addr).filter(|_| config.tls.plain_rtmp);
    if let Some(base) = rtmps
        .map(|a| format!("rtmps://{a}/live"))
        .or(rtmp.map(|a| format!("rtmp://{a}/live")))
    {
        urls.rtmp_base = base;
    }
}

/// The tus service: the file store in `DATA_DIR/uploads`, or, with `[uploads] store =
/// "storage"`, the shared store (rows in the database, parts in the media storage; the
/// data directory then only holds checksummed chunks while they are verified).
fn upload_service(
    config: &ServeConfig,
    services: &Services,
    rows: Option<UploadRows>,
    pipeline: Arc<UploadPipeline>,
) -> anyhow::Result<TusService> {
    let max_size = config
        .uploads
        .max_size_bytes
        .unwrap_or(services.policy.file.max_size_bytes);
    let tus = TusConfig {
        dir: config.uploads_dir(),
        base_path: "/api/v1/uploads".to_owned(),
        max_size,
        expiration: Duration::from_secs(config.uploads.expiration_hours.max(1) * 3600),
    };
    Ok(match rows {
        Some(rows) => {
            let store =
                SharedUploadStore::new(rows, services.storage.clone(), config.uploads.part_size()?);
            TusService::with_store(tus, pipeline, Arc::new(store))
        }
        None => TusService::new(tus, pipeline)?,
    })
}

async fn serve(config: ServeConfig) -> anyhow::Result<ExitCode> {
    let certs = match config.tls.files()? {
        Some((cert, key)) => Some(CertStore::load(&cert, &key)?),
        None => None,
    };
    let services = Services::open(&config).await?;
    let cert_expiry = prometheus::IntGauge::new(
        "tls_certificate_expiry_timestamp_seconds",
        "notAfter of the TLS certificate served, Unix seconds",
    )?;
    if let Some(store) = &certs {
        services
            .metrics
            .registry()
            .register(Box::new(cert_expiry.clone()))?;
        report_certificate(&store.info(), &cert_expiry, "TLS certificate loaded");
    }
    let janitor = Arc::new(StorageJanitor {
        storage: services.storage.clone(),
        sources_dir: config.sources_dir(),
    });
    let live_settings = LiveSettings::from_section(&config.live)?;
    let board = Arc::new(LiveBoard::new(services.metrics.registry())?);
    let live = LiveService::new(
        services.control.clone(),
        services.storage.clone(),
        live_settings,
        board.clone(),
    )?;
    let control_state = AppState::new(services.control.clone())
        .with_janitor(janitor.clone())
        .with_live_status(board)
        .with_api_extensions(app::api_doc::OPERATIONS);

    let shared_uploads = config.uploads.store == UploadStoreKind::Storage;
    let rows = shared_uploads.then(|| UploadRows::new(services.control.db().clone()));
    let pipeline = Arc::new(UploadPipeline {
        control: services.control.clone(),
        sources_dir: config.sources_dir(),
        storage: services.storage.clone(),
        rows: rows.clone(),
        max_attempts: config.workers.max_attempts,
        metrics: services.metrics.clone(),
    });
    let uploads = Arc::new(upload_service(&config, &services, rows, pipeline.clone())?);
    let context = Arc::new(AppContext {
        control: services.control.clone(),
        storage: services.storage.clone(),
        s3: services.s3.clone(),
        delivery: config.storage.s3_delivery,
        metrics: services.metrics.clone(),
        hot: config.delivery.hot_objects(),
    });
    let setup_gate = Arc::new(app::web::SetupGate::open(services.control.clone()).await?);
    let router = app::router(
        context,
        control_state,
        uploads.clone(),
        pipeline,
        setup_gate.clone(),
    )
    .merge(crate::live::http::router(live.clone()));
    let router = app::guarded(
        router,
        Arc::new(RequestLimits::new(
            &config.limits,
            services.metrics.registry(),
        )?),
        Arc::new(SecurityHeaders::new(&media_origins(&config))),
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let background = Background::spawn(&config, &services, uploads, janitor, &stop_rx);
    let listeners = Listeners::bind(&config, certs.as_ref(), router).await?;
    // Who this node is among many on the database, before any publish is admitted.
    services
        .control
        .become_live_node(crate::cluster::live_node(&config, listeners.own_url())?);
    let rtmp_addrs = start_rtmp(&config, certs.as_ref(), &live).await?;
    if let Some(store) = certs {
        // Listening for SIGHUP before announcing: from then on it reloads.
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot listen for SIGHUP")?;
        tokio::spawn(reload_on_sighup(store, hangups, cert_expiry));
    }
    listeners.announce(rtmp_addrs, &setup_gate);
    let shutdown = async move {
        setup::shutdown_signal().await;
        tracing::info!("shutting down: no new requests, giving running jobs back");
        let _ = stop_tx.send(true);
    };
    listeners.serve(shutdown).await?;
    live.stop().await;
    background.finish().await;
    services.control.close().await;
    tracing::info!("shut down");
    Ok(ExitCode::SUCCESS)
}

/// Starts RTMP ingest (plain, and RTMPS with the certificate when configured) when live is
/// on; the addresses it listens on.
async fn start_rtmp(
    config: &ServeConfig,
    certs: Option<&Arc<CertStore>>,
    live: &Arc<LiveService>,
) -> anyhow::Result<RtmpAddrs> {
    if !config.live.enabled {
        return Ok(RtmpAddrs::default());
    }
    let rtmps = match (certs, &config.tls.rtmps_addr) {
        (Some(store), Some(addr)) => {
            let listen = addr
                .parse()
                .with_context(|| format!("tls.rtmps_addr {addr:?} is not an address"))?;
            let upgrade = RtmpsUpgrade {
                acceptor: store.acceptor(&[])?,
                timeout: Duration::from_secs(config.tls.handshake_timeout_seconds.max(1)),
            };
            Some((listen, upgrade))
        }
        _ => None,
    };
    let plain = certs.is_none() || config.tls.plain_rtmp;
    let addrs = live.start(plain, rtmps).await?;
    tracing::info!(rtmp = ?addrs.rtmp, rtmps = ?addrs.rtmps, srt = ?addrs.srt, "live ingest listening");
    Ok(addrs)
}

/// The tasks `serve` runs beside the listeners until shutdown: processing workers, the
/// sweeper of expired uploads, audit checkpoints and retention.
struct Background {
    workers: Vec<tokio::task::JoinHandle<()>>,
    sweeper: tokio::task::JoinHandle<()>,
    checkpoints: tokio::task::JoinHandle<()>,
    retention: tokio::task::JoinHandle<()>,
}

impl Background {
    fn spawn(
        config: &ServeConfig,
        services: &Services,
        uploads: Arc<TusService>,
        janitor: Arc<StorageJanitor>,
        stop: &watch::Receiver<bool>,
    ) -> Background {
        Background {
            workers: services.spawn_workers(config, config.workers.concurrency, stop),
            sweeper: tokio::spawn(sweep_uploads(uploads, stop.clone())),
            checkpoints: tokio::spawn(crate::audit_checkpoints::run_periodically(
                services.control.clone(),
                services.storage.clone(),
                Duration::from_secs(config.control.audit.checkpoint_minutes.max(1) * 60),
                stop.clone(),
            )),
            retention: tokio::spawn(yanxiu_control::retention::job::run_periodically(
                services.control.clone(),
                janitor,
                stop.clone(),
            )),
        }
    }

    /// Waits for the tasks that end on the stop signal (workers give their jobs back, the last
    /// checkpoint is written); the sweeper is stopped.
    async fn finish(self) {
        self.sweeper.abort();
        let named = self.workers.into_iter().map(|w| ("worker", w)).chain([
            ("retention", self.retention),
            ("audit checkpoints", self.checkpoints),
        ]);
        for (task, handle) in named {
            if let Err(e) = handle.await {
                tracing::error!(task, error = %e, "background task ended abnormally");
            }
        }
    }
}

/// Origins players are sent to for media besides this one: the public
/// playback base, and the object store when segments are redirected there.
fn media_origins(config: &ServeConfig) -> MediaOrigins {
    let mut origins = Vec::new();
    let playback = &config.control.public_urls.playback_base;
    if *playback != yanxiu_control::config::PublicUrls::default().playback_base {
        origins.extend(MediaOrigins::origin_of(playback));
    }
    if config.storage.s3_delivery == S3Delivery::Redirect {
        match config
            .storage
            .s3
            .as_ref()
            .and_then(|s| s.endpoint.as_deref())
        {
            Some(endpoint) => origins.extend(MediaOrigins::origin_of(endpoint)),
            None => origins.extend([
                "https://*.amazonaws.com".to_owned(),
                "https://*.amazonaws.com.cn".to_owned(),
            ]),
        }
    }
    origins.sort();
    origins.dedup();
    MediaOrigins(origins)
}

/// Reloads the certificate and key on every SIGHUP; a bad file keeps the
/// old certificate and says why.
async fn reload_on_sighup(
    store: Arc<CertStore>,
    mut hangups: tokio::signal::unix::Signal,
    expiry: prometheus::IntGauge,
) {
    while hangups.recv().await.is_some() {
        match store.reload() {
            Ok(info) => report_certificate(&info, &expiry, "TLS certificate reloaded"),
            Err(e) => tracing::error!(
                error = %e,
                fingerprint = %store.info().fingerprint,
                "TLS certificate reload failed: still serving the previous certificate"
            ),
        }
    }
}

/// Certificates closer to their end than this are logged as warnings.
const EXPIRY_WARNING_DAYS: i64 = 14;

/// Logs the certificate now served (fingerprint, expiry; a warning when it
/// ends within two weeks) and exports its expiry.
fn report_certificate(info: &CertInfo, expiry: &prometheus::IntGauge, what: &str) {
    let not_after = info.not_after.unwrap_or(0);
    expiry.set(not_after);
    let days_left = (not_after - yanxiu_control::now_ms() / 1000) / 86_400;
    let expires = time::OffsetDateTime::from_unix_timestamp(not_after)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "unknown".to_owned());
    if days_left < EXPIRY_WARNING_DAYS {
        tracing::warn!(fingerprint = %info.fingerprint, %expires, days_left, "{what}: it expires soon");
    } else {
        tracing::info!(fingerprint = %info.fingerprint, %expires, days_left, "{what}");
    }
}

/// Removes expired unfinished uploads every ten minutes.
async fn sweep_uploads(uploads: Arc<TusService>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match uploads.purge_expired(std::time::SystemTime::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired uploads removed"),
                    Err(e) => tracing::warn!(error = %e, "cannot purge expired uploads"),
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// The long-lived parts `serve` and `worker` share.
#[derive(Debug)]
pub struct Services {
    /// The control plane.
    pub control: Arc<yanxiu_control::ControlPlane>,
    /// Ladder storage.
    pub storage: Arc<dyn yanxiu_packager::storage::Storage>,
    /// The same storage as S3, when it is.
    pub s3: Option<Arc<yanxiu_packager::storage::S3Storage>>,
    /// Validation policy.
    pub policy: yanxiu_ingest::Policy,
    /// Ladder.
    pub ladder: yanxiu_transcode::LadderConfig,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

impl Services {
    /// Opens the database, storage, policy and ladder.
    pub async fn open(config: &ServeConfig) -> anyhow::Result<Self> {
        let control = setup::open(
            &config.data_dir,
            config.database_url.as_deref(),
            config.control.clone(),
        )
        .await?;
        let (storage, s3) = config.open_storage().await?;
        let policy = match &config.media.policy_file {
            Some(p) => yanxiu_ingest::Policy::from_file(p)?,
            None => yanxiu_ingest::Policy::lecture_default(),
        };
        let ladder = match &config.media.ladder_file {
            Some(p) => yanxiu_transcode::LadderConfig::from_file(p)?,
            None => yanxiu_transcode::LadderConfig::default(),
        };
        Ok(Self {
            control,
            storage,
            s3,
            policy,
            ladder,
            metrics: Arc::new(Metrics::new()?),
        })
    }

    /// Starts `n` worker tasks that stop when `stop` turns true.
    pub fn spawn_workers(
        &self,
        config: &ServeConfig,
        n: usize,
        stop: &watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..n)
            .map(|slot| {
                let w = Arc::new(Worker {
                    id: Worker::make_id(slot),
                    control: self.control.clone(),
                    storage: self.storage.clone(),
                    policy: self.policy.clone(),
                    ladder: self.ladder.clone(),
                    config: config.workers.clone(),
                    metrics: self.metrics.clone(),
                    imports: config.fetch_limits(self.policy.file.max_size_bytes),
                    scratch_dir: config.scratch_dir(),
                });
                tokio::spawn(worker::run(w, stop.clone()))
            })
            .collect()
    }
}
