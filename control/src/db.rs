//! The database handle: one sqlx `Any` pool over SQLite (default, a file in the data
//! directory) or PostgreSQL, with the same migrations and queries for both. Conventions that
//! keep them portable: `$1`-style placeholders, TEXT ids, BIGINT millisecond timestamps, BIGINT
//! flags, JSON as TEXT.

use std::path::Path;
use std::sync::Once;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions};

/// Which database engine a pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (embedded).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Connecting or migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no supported engine.
    #[error("unsupported database URL (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// Connecting failed.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

/// A connected, migrated database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

static DRIVERS: Once = Once::new();

/// The SQLite URL for a file path (created if missing).
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(DbError::UnsupportedUrl);
        };
        let options: AnyConnectOptions = url.parse().map_err(DbError::Connect)?;
        let options = options.disable_statement_logging();
        let max = if backend == Backend::Sqlite { 4 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        let db = Db { pool, backend };
        let migrator = sqlx::migrate!("./migrations");
        let owner = db.owns_schema().await?;
        // A restricted application role (PostgreSQL) may not create the migrations table;
        // the owner migrated already, so there is nothing for it to do.
        if owner || !db.migrated(&migrator).await {
            migrator.run(&db.pool).await.map_err(DbError::Migrate)?;
        }
        if owner || db.owns_schema().await? {
            crate::audit_guard::install(&db).await?;
        }
        Ok(db)
    }

    /// Whether the connected role owns the tables (always on SQLite): only the owner installs
    /// the audit log's triggers; a restricted application role on PostgreSQL finds them
    /// installed by the owner.
    async fn owns_schema(&self) -> Result<bool, sqlx::Error> {
        if self.backend == Backend::Sqlite {
            return Ok(true);
        }
        let owner: Option<i32> = sqlx::query_scalar(
            "SELECT (tableowner = current_user)::int FROM pg_tables \
             WHERE tablename = 'audit_log' AND schemaname = current_schema()",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(owner == Some(1))
    }

    /// Whether every migration of this build is applied already.
    async fn migrated(&self, migrator: &sqlx::migrate::Migrator) -> bool {
        let Ok(applied) = sqlx::query_scalar::<_, i64>(
            "SELECT version FROM _sqlx_migrations WHERE success = TRUE",
        )
        .fetch_all(&self.pool)
        .await
        else {
            return false;
        };
        migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .all(|m| applied.contains(&m.version))
    }

    /// The pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
