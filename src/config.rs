//! Configuration of `yanxiu serve` and `yanxiu worker`: one TOML file
//! (`--config`), every key overridable by an environment variable named
//! `YANXIU_` + the key path joined by `__` (`YANXIU_STORAGE__BACKEND=s3`,
//! `YANXIU_WORKERS__CONCURRENCY=2`), then by command-line flags. Without a
//! file: embedded defaults (SQLite and local storage in the data directory).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;
use yanxiu_control::ControlConfig;
use yanxiu_packager::storage::{LocalDirStorage, S3Config, S3Storage, Storage};

/// Everything `serve` and `worker` read.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Data directory: SQLite database, keys, uploads, local media.
    pub data_dir: PathBuf,
    /// HTTP listen address.
    pub http_addr: String,
    /// `postgres://…` for PostgreSQL; default: SQLite file in the data directory.
    pub database_url: Option<String>,
    /// `text` (default) or `json` logs on stderr.
    pub log_format: LogFormat,
    /// The control plane (passwords, lockout, sessions, tokens, public URLs).
    pub control: ControlConfig,
    /// Where ladders are stored.
    pub storage: StorageConfig,
    /// Background processing.
    pub workers: WorkerConfig,
    /// Resumable uploads.
    pub uploads: UploadConfig,
    /// Import by link.
    pub imports: ImportConfig,
    /// Validation policy and ladder files.
    pub media: MediaConfig,
    /// Live ingest, transcode and origin.
    pub live: crate::live::LiveSection,
    /// HTTPS and RTMPS, and what the plain listeners do beside them.
    pub tls: TlsConfig,
    /// Request body limits and per-address rate limits.
    pub limits: LimitsConfig,
    /// Serving ladders to players (memory cache).
    pub delivery: DeliveryConfig,
    /// This node among many on one database.
    pub cluster: ClusterConfig,
}

/// `[cluster]`: this node among many `serve` nodes on one database.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// The node's id; default: kept in `DATA_DIR/node-id` (made on first start).
    pub node_id: Option<String>,
    /// The base URL other nodes reach this one at (`http://10.0.0.11:8080`); default:
    /// `http://` and the bound plain HTTP address.
    pub advertise_url: Option<String>,
    /// How long a live channel's lease lasts unless its holder renews it (3 to 600 s): a
    /// node that dies holds its channels this long at most.
    pub live_lease_seconds: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            node_id: None,
            advertise_url: None,
            live_lease_seconds: 15,
        }
    }
}

/// `[delivery]`: how playback answers are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Memory kept for recently served objects of complete ladders (segments, init
    /// segments, posters, playlists), in MiB; 0 turns the cache off.
    pub memory_cache_mb: u64,
    /// Objects larger than this (KiB) are streamed from storage and never kept.
    pub memory_cache_max_object_kb: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            memory_cache_mb: 256,
            memory_cache_max_object_kb: 8 * 1024,
        }
    }
}

impl DeliveryConfig {
    /// The memory cache these settings describe.
    pub fn hot_objects(&self) -> crate::app::hot_objects::HotObjects {
        let bytes =
            |n: u64, unit: u64| usize::try_from(n.saturating_mul(unit)).unwrap_or(usize::MAX);
        crate::app::hot_objects::HotObjects::new(
            bytes(self.memory_cache_mb, 1024 * 1024),
            bytes(self.memory_cache_max_object_kb, 1024),
        )
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            http_addr: "127.0.0.1:8080".to_owned(),
            database_url: None,
            log_format: LogFormat::Text,
            control: ControlConfig::default(),
            storage: StorageConfig::default(),
            workers: WorkerConfig::default(),
            uploads: UploadConfig::default(),
            imports: ImportConfig::default(),
            media: MediaConfig::default(),
            live: crate::live::LiveSection::default(),
            tls: TlsConfig::default(),
            limits: LimitsConfig::default(),
            delivery: DeliveryConfig::default(),
            cluster: ClusterConfig::default(),
        }
    }
}

/// `[tls]`: HTTPS and RTMPS with one certificate, reloaded on SIGHUP.
/// TLS is on when `cert_file` and `key_file` are set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// HTTPS listen address (API, web app, playback, WHIP/WHEP).
    pub https_addr: String,
    /// RTMPS listen address for publishers; none: no RTMPS.
    pub rtmps_addr: Option<String>,
    /// What the plain HTTP listener (`http_addr`) does: `serve`, `redirect`
    /// (to HTTPS; health checks still answered) or `off`.
    pub plain_http: PlainHttp,
    /// Keep the plain RTMP listener (`live.rtmp_addr`) beside RTMPS.
    pub plain_rtmp: bool,
    /// `Strict-Transport-Security` max-age on HTTPS answers (0: no header).
    pub hsts_max_age_seconds: u64,
    /// Add `includeSubDomains` to HSTS.
    pub hsts_include_subdomains: bool,
    /// Seconds a client may take to complete the TLS handshake.
    pub handshake_timeout_seconds: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            https_addr: "127.0.0.1:8443".to_owned(),
            rtmps_addr: None,
            plain_http: PlainHttp::Serve,
            plain_rtmp: true,
            hsts_max_age_seconds: 31_536_000,
            hsts_include_subdomains: false,
            handshake_timeout_seconds: 10,
        }
    }
}

impl TlsConfig {
    /// The certificate and key files, when TLS is configured.
    pub fn files(&self) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
        match (&self.cert_file, &self.key_file) {
            (Some(c), Some(k)) => Ok(Some((c.clone(), k.clone()))),
            (None, None) => {
                anyhow::ensure!(
                    self.plain_http == PlainHttp::Serve && self.plain_rtmp,
                    "tls.plain_http and tls.plain_rtmp can only turn plain listeners off when \
                     tls.cert_file and tls.key_file are set"
                );
                Ok(None)
            }
            _ => anyhow::bail!("tls.cert_file and tls.key_file must be set together"),
        }
    }
}

/// What the plain HTTP listener does when HTTPS is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PlainHttp {
    /// Serve everything over plain HTTP too.
    #[default]
    Serve,
    /// Redirect to HTTPS (308), except `/healthz` and `/readyz`.
    Redirect,
    /// No plain HTTP listener.
    Off,
}

/// `[limits]`: request bodies and per-address rate limits (token buckets).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body of JSON and other small routes, KiB (tus uploads
    /// and WHIP/WHEP offers have their own limits).
    pub body_kib: u64,
    /// Turns the rate limits on.
    pub rate_limits: bool,
    /// Sign-in attempts (and first-run setup) per client address: burst.
    pub sign_in_burst: u32,
    /// Sign-in attempts per client address: sustained, per minute.
    pub sign_in_per_minute: u32,
    /// Requests without a credential (or with a refused one) per client
    /// address: burst.
    pub anonymous_burst: u32,
    /// Requests without a credential per client address: sustained, per minute.
    pub anonymous_per_minute: u32,
    /// Playlist and segment requests (`GET /live/…`, `/play/…`) per client
    /// address: burst. Generous: a school behind one NAT address may have
    /// hundreds of viewers, each fetching several objects a second.
    pub media_burst: u32,
    /// Playlist and segment requests per client address: per minute.
    pub media_per_minute: u32,
    /// Client addresses remembered at most (IPv6 by /64); the longest idle
    /// are forgotten first.
    pub tracked_addresses: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            body_kib: 1024,
            rate_limits: true,
            sign_in_burst: 30,
            sign_in_per_minute: 20,
            anonymous_burst: 600,
            anonymous_per_minute: 3000,
            media_burst: 5000,
            media_per_minute: 300_000,
            tracked_addresses: 100_000,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The storage backend for ladders, posters and storyboards.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `local` (default) or `s3`.
    pub backend: StorageBackend,
    /// Directory of the local backend; default `DATA_DIR/media`.
    pub local_dir: Option<PathBuf>,
    /// The S3 backend (`[storage.s3]`).
    pub s3: Option<S3Config>,
    /// How `/play` delivers objects from S3: `proxy` (default) streams
    /// them through yanxiu; `redirect` answers with presigned URLs.
    pub s3_delivery: S3Delivery,
}

/// Storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// A local directory.
    #[default]
    Local,
    /// An S3-compatible object store.
    S3,
}

/// How playback reaches objects in S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum S3Delivery {
    /// yanxiu streams the object.
    #[default]
    Proxy,
    /// yanxiu redirects to a presigned URL (media segments only; playlists
    /// are always served by yanxiu so tokens can be carried).
    Redirect,
}

/// Background workers.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Jobs processed at once inside `serve` (0: none, leave it to
    /// `yanxiu worker` processes). Each transcode uses every core.
    pub concurrency: usize,
    /// Seconds a claimed job stays ours without a heartbeat; a worker that
    /// dies loses its job to another after this.
    pub lease_seconds: u64,
    /// Seconds between heartbeats (well under the lease).
    pub heartbeat_seconds: u64,
    /// Milliseconds between polls of an empty queue.
    pub poll_ms: u64,
    /// Attempts per job before it fails for good.
    pub max_attempts: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 1,
            lease_seconds: 30,
            heartbeat_seconds: 3,
            poll_ms: 500,
            max_attempts: 3,
        }
    }
}

/// Resumable uploads.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadConfig {
    /// Largest upload in bytes; default: the policy's maximum file size.
    pub max_size_bytes: Option<u64>,
    /// Hours an unfinished upload is kept.
    pub expiration_hours: u64,
    /// Where uploads in progress live: `local` (this node's data directory, the default) or
    /// `storage` (state in the database, bytes in the media storage: any `serve` node can
    /// take any request; see docs/scale-out.md).
    pub store: UploadStoreKind,
    /// With `store = "storage"`: bytes per part object (at least 5 MiB, S3's smallest
    /// multipart part; default 8 MiB).
    pub part_size_bytes: u64,
}

/// `[uploads] store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UploadStoreKind {
    /// `DATA_DIR/uploads` on this node.
    #[default]
    Local,
    /// The database and the media storage, shared by every node.
    Storage,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            max_size_bytes: None,
            expiration_hours: 24,
            store: UploadStoreKind::Local,
            part_size_bytes: yanxiu_ingest::tus::parts::DEFAULT_PART_SIZE,
        }
    }
}

impl UploadConfig {
    /// The part size, checked: S3 refuses to join parts under 5 MiB, and one part is held in
    /// memory while it is written (at most 1 GiB).
    pub fn part_size(&self) -> anyhow::Result<u64> {
        let min = yanxiu_packager::storage::MIN_CONCAT_PART;
        anyhow::ensure!(
            (min..=1024 * 1024 * 1024).contains(&self.part_size_bytes),
            "uploads.part_size_bytes must be between {min} (5 MiB) and 1 GiB"
        );
        Ok(self.part_size_bytes)
    }
}

/// Import by link.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// Allow links to loopback and private addresses (test and intranet
    /// deployments only).
    pub allow_private: bool,
    /// Seconds an import may take.
    pub timeout_seconds: u64,
}

impl Default for ImportConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            timeout_seconds: 3600,
        }
    }
}

/// Validation policy and ladder.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Policy file; default: the built-in lecture policy.
    pub policy_file: Option<PathBuf>,
    /// Ladder file; default: the built-in lecture ladder.
    pub ladder_file: Option<PathBuf>,
}

/// Command-line values that override the file and the environment.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// TOML config file (see deploy/yanxiu.example.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./data].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Database URL (`postgres://…`); default: SQLite in the data directory.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Log format.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
}

impl ServeConfig {
    /// Loads defaults, then the file, then `YANXIU_*` variables, then flags.
    pub fn load(args: &ConfigArgs) -> anyhow::Result<Self> {
        let mut figment = Figment::new();
        if let Some(path) = &args.config {
            anyhow::ensure!(path.is_file(), "config file {} not found", path.display());
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("YANXIU_").split("__"));
        let mut config: ServeConfig = figment.extract().context("invalid configuration")?;
        if let Some(d) = &args.data_dir {
            config.data_dir = d.clone();
        }
        if let Some(u) = &args.database_url {
            config.database_url = Some(u.clone());
        }
        if let Some(f) = args.log_format {
            config.log_format = f;
        }
        let playback = config.control.playback;
        anyhow::ensure!(
            playback.cache_ms <= yanxiu_control::config::PlaybackConfig::MAX_CACHE_MS,
            "control.playback.cache_ms is {} ms; at most {} ms, so that a revoked session or a \
             take-down reaches every node within a few seconds",
            playback.cache_ms,
            yanxiu_control::config::PlaybackConfig::MAX_CACHE_MS
        );
        Ok(config)
    }

    /// Where unfinished and finished uploads live.
    pub fn uploads_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }

    /// Where accepted source files are kept for processing.
    pub fn sources_dir(&self) -> PathBuf {
        self.data_dir.join("sources")
    }

    /// Where a worker copies a source from storage while it processes it
    /// (`DATA_DIR/scratch`).
    pub fn scratch_dir(&self) -> PathBuf {
        self.data_dir.join("scratch")
    }

    /// Limits for imports by link; files up to `max_bytes`.
    pub fn fetch_limits(&self, max_bytes: u64) -> yanxiu_ingest::fetch::FetchLimits {
        yanxiu_ingest::fetch::FetchLimits {
            max_bytes,
            total_timeout: std::time::Duration::from_secs(self.imports.timeout_seconds.max(1)),
            allow_private: self.imports.allow_private,
            ..Default::default()
        }
    }

    /// Opens the configured storage backend (and, for S3, the same store as
    /// S3 for presigned redirects).
    pub async fn open_storage(&self) -> anyhow::Result<(Arc<dyn Storage>, Option<Arc<S3Storage>>)> {
        match self.storage.backend {
            StorageBackend::Local => {
                let dir = self
                    .storage
                    .local_dir
                    .clone()
                    .unwrap_or_else(|| self.data_dir.join("media"));
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                Ok((Arc::new(LocalDirStorage::new(dir)), None))
            }
            StorageBackend::S3 => {
                let s3 = self
                    .storage
                    .s3
                    .clone()
                    .context("storage.backend = \"s3\" needs a [storage.s3] table")?;
                let store = Arc::new(S3Storage::new(s3).await?);
                Ok((store.clone(), Some(store)))
            }
        }
    }
}

/// Sets up `tracing` on stderr in the configured format.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str) -> Result<ServeConfig, Box<figment::Error>> {
        Figment::new()
            .merge(Toml::string(toml))
            .extract()
            .map_err(Box::new)
    }

    #[test]
    fn the_example_config_file_is_valid() {
        let text = include_str!("../deploy/yanxiu.example.toml");
        let config = load(text).expect("deploy/yanxiu.example.toml parses");
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/yanxiu"));
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.workers.lease_seconds, 30);
        assert_eq!(
            config.control.learning,
            yanxiu_control::analytics::LearningConfig::default()
        );
        assert_eq!(
            config.control.retention,
            yanxiu_control::retention::plan::RetentionConfig::default()
        );
        assert_eq!(config.tls, TlsConfig::default());
        assert_eq!(config.limits, LimitsConfig::default());
        assert_eq!(config.delivery, DeliveryConfig::default());
        assert_eq!(config.cluster.live_lease_seconds, 15);
        assert_eq!(
            config.control.playback,
            yanxiu_control::config::PlaybackConfig::default()
        );
    }

    #[test]
    fn an_empty_file_means_embedded_defaults() {
        let config = load("").expect("empty config");
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.http_addr, "127.0.0.1:8080");
        assert_eq!(config.storage.backend, StorageBackend::Local);
        assert!(config.database_url.is_none());
    }

    #[test]
    fn turning_plain_listeners_off_needs_a_certificate() {
        let config = load("[tls]\nplain_http = \"off\"\n").expect("parses");
        assert!(config.tls.files().is_err());
        let config = load("[tls]\ncert_file = \"/c.pem\"\n").expect("parses");
        assert!(config.tls.files().is_err(), "key_file missing");
        let config = load("[tls]\ncert_file = \"/c\"\nkey_file = \"/k\"\nplain_rtmp = false\n")
            .expect("parses");
        assert!(config.tls.files().expect("valid").is_some());
    }

    #[test]
    fn uploads_stay_on_the_local_disk_unless_the_shared_store_is_chosen() {
        let config = load("").expect("empty config");
        assert_eq!(config.uploads.store, UploadStoreKind::Local);
        assert_eq!(
            config.uploads.part_size().expect("default"),
            8 * 1024 * 1024
        );
        let config =
            load("[uploads]\nstore = \"storage\"\npart_size_bytes = 1024\n").expect("parses");
        assert_eq!(config.uploads.store, UploadStoreKind::Storage);
        assert!(config.uploads.part_size().is_err(), "below S3's 5 MiB");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = load("[workers]\nconcurency = 2\n").unwrap_err().to_string();
        assert!(err.contains("concurency"), "{err}");
    }

    #[test]
    // figment's Jail fixes the closure's error type.
    #[allow(clippy::result_large_err)]
    fn environment_variables_override_nested_keys() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("YANXIU_WORKERS__CONCURRENCY", "3");
            jail.set_env("YANXIU_STORAGE__BACKEND", "s3");
            let config: ServeConfig = Figment::new()
                .merge(Toml::string("[workers]\nconcurrency = 1\n"))
                .merge(Env::prefixed("YANXIU_").split("__"))
                .extract()?;
            assert_eq!(config.workers.concurrency, 3);
            assert_eq!(config.storage.backend, StorageBackend::S3);
            Ok(())
        });
    }
}
