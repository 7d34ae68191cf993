//! `yanxiu admin`: bootstrap accounts and departments, reset an account's second factor,
//! rotate the control keys, and run retention, from the machine's command line (recorded in
//! the audit log as `cli`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use yanxiu_control::accounts::NewUser;
use yanxiu_control::{Role, setup};

/// Arguments of `yanxiu admin`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AdminCommand,
}

/// Where the control plane's data lives.
#[derive(Debug, clap::Args)]
struct Store {
    /// Data directory (SQLite database, key file).
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// Database URL (`sqlite://…` or `postgres://…`); default: SQLite file DIR/yanxiu.db.
    #[arg(long, env = "YANXIU_DATABASE_URL")]
    database_url: Option<String>,
    /// TOML config file (password policy and hash cost come from its `[control]` table).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum AdminCommand {
    /// Apply the database migrations and install the audit log's append-only guard, as the
    /// owner of the schema (before `serve` and `worker` start as a restricted role); reports
    /// the guard. Every other command does the same on its way, this one does nothing else.
    Migrate {
        #[command(flatten)]
        store: Store,
    },
    /// Create an account (roles: learner, producer, event_organiser, department_reviewer,
    /// centre_reviewer, department_admin, system_admin, security_admin, audit_admin).
    CreateUser {
        #[command(flatten)]
        store: Store,
        /// Login name.
        #[arg(long)]
        username: String,
        /// Initial password (checked against the password policy).
        #[arg(long, env = "YANXIU_ADMIN_PASSWORD")]
        password: String,
        /// Role; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<Role>,
        /// Department name (created if missing).
        #[arg(long)]
        department: Option<String>,
        /// Name shown to people.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Disable an account (ends its sessions, API and playback tokens).
    DisableUser {
        #[command(flatten)]
        store: Store,
        /// Login name.
        #[arg(long)]
        username: String,
    },
    /// Re-enable an account.
    EnableUser {
        #[command(flatten)]
        store: Store,
        /// Login name.
        #[arg(long)]
        username: String,
    },
    /// Reset an account's second factor (lost authenticator): removes its TOTP authenticator
    /// and recovery codes and ends its sessions; its next sign-in enrols anew. Audited.
    ResetMfa {
        #[command(flatten)]
        store: Store,
        /// Login name.
        #[arg(long)]
        username: String,
    },
    /// Rotate the control keys file (playback-token, audit-chain and secret-encryption keys)
    /// without downtime: new keys sign from now on, running servers pick them up within
    /// seconds, the previous playback key verifies until the tokens it signed expire, old
    /// audit and secret keys are kept. Audited. Prints the new key ids, never key material.
    RotateKeys {
        #[command(flatten)]
        store: Store,
    },
    /// Retention: report what expired (premium courses and anything under review or on hold
    /// kept) and what expires soon, then retire what expired (offline, stored objects
    /// removed, metadata and audit kept); `--dry-run` only reports.
    Retention(crate::cli::retention::Args),
    /// Create a department.
    CreateDepartment {
        #[command(flatten)]
        store: Store,
        /// Department name.
        #[arg(long)]
        name: String,
    },
}

async fn open(store: &Store) -> anyhow::Result<std::sync::Arc<yanxiu_control::ControlPlane>> {
    let config = match &store.config {
        Some(path) => setup::load_config(path)?,
        None => Default::default(),
    };
    // The flag, else the config file's `database_url` (the database `serve` uses).
    let url = match (&store.database_url, &store.config) {
        (Some(url), _) => Some(url.clone()),
        (None, Some(path)) => configured_database_url(path)?,
        (None, None) => None,
    };
    Ok(setup::open(&store.data_dir, url.as_deref(), config).await?)
}

/// The top-level `database_url` of a config file, if it names one.
fn configured_database_url(path: &std::path::Path) -> anyhow::Result<Option<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(table
        .get("database_url")
        .and_then(|v| v.as_str())
        .map(str::to_owned))
}

/// Runs `yanxiu admin`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let now = yanxiu_control::now_ms();
        match args.command {
            AdminCommand::CreateUser {
                store,
                username,
                password,
                roles,
                department,
                display_name,
            } => {
                let control = open(&store).await?;
                let department_id = match department {
                    None => None,
                    Some(name) => Some(match control.department_by_name(&name).await? {
                        Some(d) => d.id,
                        None => control.create_department(None, &name, now).await?.id,
                    }),
                };
                let new = NewUser {
                    username,
                    display_name,
                    password,
                    department_id,
                    roles,
                };
                let user = control
                    .bootstrap_user(new, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{} ({})", e.message_en(), e.message_zh()))?;
                let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
                println!(
                    "created user {} (id {}), roles: {}",
                    user.username,
                    user.id,
                    roles.join(", ")
                );
                control.close().await;
            }
            AdminCommand::DisableUser { store, username } => {
                set_disabled(&store, &username, true, now).await?
            }
            AdminCommand::EnableUser { store, username } => {
                set_disabled(&store, &username, false, now).await?
            }
            AdminCommand::ResetMfa { store, username } => {
                let control = open(&store).await?;
                let user = control
                    .user_by_name(&username)
                    .await
                    .map_err(|e| anyhow::anyhow!("{} ({})", e.message_en(), e.message_zh()))?;
                control
                    .reset_mfa(None, &user.id, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{} ({})", e.message_en(), e.message_zh()))?;
                println!("reset the second factor of user {}", user.username);
                control.close().await;
            }
            AdminCommand::RotateKeys { store } => rotate_keys(&store, now).await?,
            AdminCommand::Migrate { store } => {
                let control = open(&store).await?;
                let guard = control
                    .audit_guard()
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e.message_en()))?;
                control.close().await;
                anyhow::ensure!(
                    guard.triggers,
                    "migrated, but the audit log's triggers are missing ({}): run this as the \
                     schema's owner",
                    guard.missing_triggers.join(", ")
                );
                println!("database migrated; the audit log is append-only (triggers in place)");
            }
            AdminCommand::Retention(args) => return crate::cli::retention::run(args).await,
            AdminCommand::CreateDepartment { store, name } => {
                let control = open(&store).await?;
                let dept = control
                    .create_department(None, &name, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{} ({})", e.message_en(), e.message_zh()))?;
                println!("created department {} (id {})", dept.name, dept.id);
                control.close().await;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn rotate_keys(store: &Store, now: i64) -> anyhow::Result<()> {
    let config = match &store.config {
        Some(path) => setup::load_config(path)?,
        None => Default::default(),
    };
    let grace = i64::from(config.tokens.playback_minutes) * 60_000;
    std::fs::create_dir_all(&store.data_dir)
        .with_context(|| format!("data directory {}", store.data_dir.display()))?;
    let rotation = yanxiu_control::keyring::rotate_file(&store.data_dir, now, grace)?;
    let control = open(store).await?;
    let detail = serde_json::to_value(&rotation)?;
    control
        .audit(
            &yanxiu_control::AuditCtx::cli(),
            "keys.rotate",
            "keys:control",
            yanxiu_control::audit::Outcome::Success,
            detail,
            now,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message_en()))?;
    println!(
        "rotated the control keys: playback key {}, audit key {}, secret key {}; the previous \
         playback key verifies until {} (ms since the epoch)",
        rotation.playback_key_id,
        rotation.audit_key_id,
        rotation.secret_key_id,
        rotation.previous_playback_until
    );
    control.close().await;
    Ok(())
}

async fn set_disabled(
    store: &Store,
    username: &str,
    disabled: bool,
    now: i64,
) -> anyhow::Result<()> {
    let control = open(store).await?;
    let user = control
        .user_by_name(username)
        .await
        .map_err(|e| anyhow::anyhow!("{} ({})", e.message_en(), e.message_zh()))?;
    control
        .set_user_disabled(None, &user.id, disabled, now)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message_en()))?;
    println!(
        "{} user {}",
        if disabled { "disabled" } else { "enabled" },
        user.username
    );
    control.close().await;
    Ok(())
}
