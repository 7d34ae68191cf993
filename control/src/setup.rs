//! Wiring for the binary: the default database location, the `[control]` table of the
//! `--config` TOML file, opening a [`ControlPlane`] for a data directory, and serving an
//! `axum::Router` with graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{ControlConfig, Keys, KeysError};
use crate::db::{self, DbError};
use crate::plane::ControlPlane;

/// Setting up the control plane failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The data directory cannot be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The config file cannot be read or parsed.
    #[error("config file {path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The key file failed.
    #[error(transparent)]
    Keys(#[from] KeysError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The listener failed.
    #[error("HTTP server on {addr}: {source}")]
    Http {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The database file name inside the data directory.
pub const DATABASE_FILE: &str = "yanxiu.db";

/// `database_url` if given, else the SQLite file `DIR/yanxiu.db`.
pub fn database_url(data_dir: &Path, database_url: Option<&str>) -> String {
    match database_url {
        Some(url) => url.to_owned(),
        None => db::sqlite_url(&data_dir.join(DATABASE_FILE)),
    }
}

/// Reads the `[control]` table of a TOML config file (other tables belong to other parts of
/// the product and are ignored). A missing table gives the defaults.
pub fn load_config(path: &Path) -> Result<ControlConfig, SetupError> {
    let err = |message: String| SetupError::Config {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
    match table.remove("control") {
        Some(value) => value
            .try_into()
            .map_err(|e: toml::de::Error| err(e.to_string())),
        None => Ok(ControlConfig::default()),
    }
}

/// Opens the control plane of a data directory: creates the directory, loads or creates the
/// key file, connects and migrates the database.
pub async fn open(
    data_dir: &Path,
    url: Option<&str>,
    config: ControlConfig,
) -> Result<Arc<ControlPlane>, SetupError> {
    std::fs::create_dir_all(data_dir).map_err(|source| SetupError::DataDir {
        path: data_dir.to_owned(),
        source,
    })?;
    let keys = Keys::load_or_create(data_dir)?;
    let url = database_url(data_dir, url);
    Ok(Arc::new(ControlPlane::open(&url, config, keys).await?))
}

/// Serves `app` on `addr` (with client addresses for the audit log) until `shutdown`
/// resolves, then finishes in-flight requests. `on_bound` gets the bound address (useful with
/// port 0).
pub async fn serve(
    addr: &str,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), SetupError> {
    let http_err = |source| SetupError::Http {
        addr: addr.to_owned(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(http_err)?;
    on_bound(listener.local_addr().map_err(http_err)?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(http_err)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
