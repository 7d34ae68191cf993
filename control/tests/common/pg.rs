//! A throwaway PostgreSQL cluster per test binary (see the module above).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sqlx::Connection;

/// A running cluster.
pub struct PgCluster {
    pub port: u16,
    pub dir: PathBuf,
}

static CLUSTER: OnceLock<Result<PgCluster, String>> = OnceLock::new();

const INSTALL_HINT: &str = "PostgreSQL server binaries are required for the control-plane tests. \
Install them with `apt-get install postgresql` (Debian 12 puts them in /usr/lib/postgresql/15/bin), \
or set YANXIU_PG_BIN to a directory holding initdb and pg_ctl.";

fn bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("YANXIU_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let preferred = PathBuf::from("/usr/lib/postgresql/15/bin");
    if preferred.join("initdb").exists() {
        return Ok(preferred);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| INSTALL_HINT.to_owned())?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().ok_or_else(|| INSTALL_HINT.to_owned())
}

fn output_of(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn running_as_root() -> bool {
    output_of("id", &["-u"]).as_deref() == Some("0")
}

/// A command for a PostgreSQL binary, run as `postgres` when we are root (initdb refuses root).
fn pg_command(bin: &Path, program: &str, as_root: bool) -> Command {
    if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

fn run(mut command: Command, what: &str, log: Option<&Path>) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}. {INSTALL_HINT}"))?;
    if out.status.success() {
        return Ok(());
    }
    let log_text = log
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    Err(format!(
        "{what} failed ({}): {}{}\n{log_text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn start() -> Result<PgCluster, String> {
    let bin = bin_dir()?;
    if !bin.join("initdb").exists() || !bin.join("pg_ctl").exists() {
        return Err(format!(
            "no initdb/pg_ctl in {}. {INSTALL_HINT}",
            bin.display()
        ));
    }
    let as_root = running_as_root();
    let dir = tempfile::Builder::new()
        .prefix("yanxiu-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    if as_root {
        let uid: u32 = output_of("id", &["-u", "postgres"])
            .and_then(|s| s.parse().ok())
            .ok_or("running as root but there is no `postgres` system user (apt-get install postgresql)")?;
        let gid: u32 = output_of("id", &["-g", "postgres"])
            .and_then(|s| s.parse().ok())
            .ok_or("no postgres group")?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| format!("chown: {e}"))?;
    }
    let data = dir.join("data");
    let log = dir.join("postgres.log");
    let mut initdb = pg_command(&bin, "initdb", as_root);
    initdb.arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "-A",
        "trust",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C",
    ]);
    run(initdb, "initdb", None)?;
    let port = free_port()?;
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=200",
        dir.display()
    );
    let mut pg_ctl = pg_command(&bin, "pg_ctl", as_root);
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(&log)
        .args(["-w", "-t", "60", "-o", &options, "start"]);
    run(pg_ctl, "pg_ctl start", Some(&log))?;
    // Stop the cluster and remove its files once this test binary exits, however it exits.
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runas}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        runas = if as_root {
            "runuser -u postgres -- "
        } else {
            ""
        },
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot spawn the cluster watcher: {e}"))?;
    Ok(PgCluster { port, dir })
}

/// The shared cluster, started on first use. Panics (fails the test) if it cannot start.
pub fn cluster() -> &'static PgCluster {
    match CLUSTER.get_or_init(start) {
        Ok(c) => c,
        Err(e) => panic!("cannot start the throwaway PostgreSQL cluster: {e}"),
    }
}

/// Creates a fresh, empty database in the shared cluster and returns its URL.
pub async fn fresh_database() -> String {
    let port = tokio::task::spawn_blocking(|| cluster().port)
        .await
        .expect("cluster thread");
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let mut conn = sqlx::postgres::PgConnection::connect(&admin)
        .await
        .expect("connect to cluster");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create database");
    conn.close().await.ok();
    format!("postgres://postgres@127.0.0.1:{port}/{name}")
}
