//! `yanxiu audit verify` on a real installation: the server leaves signed checkpoints of the
//! audit chain in storage; the intact installation verifies; the same installation with its
//! database put back to an older copy is reported as rolled back (exit status 1).

mod common;

use std::path::Path;

use common::server::{login, prepare, serve, yanxiu};

fn verify(data: &Path, config: &Path) -> (bool, String) {
    let out = yanxiu()
        .args(["audit", "verify", "--data-dir"])
        .arg(data)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run yanxiu audit verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Copies the SQLite database (with its write-ahead log) of a stopped server.
fn copy_database(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("backup dir");
    for name in ["yanxiu.db", "yanxiu.db-wal", "yanxiu.db-shm"] {
        let source = from.join(name);
        let target = to.join(name);
        let _ = std::fs::remove_file(&target);
        if source.exists() {
            std::fs::copy(&source, &target).expect("copy database");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restored_from_an_older_copy_fails_verification_against_the_checkpoints() {
    let (data, config) = prepare("");
    let mut s = serve(data, config.clone(), 0);
    login(&s, "producer").await;
    s.stop("TERM");
    let dir = s.data.path().to_owned();
    let backup = tempfile::tempdir().expect("tempdir");
    copy_database(&dir, backup.path());

    s.relaunch(0);
    login(&s, "dept-reviewer").await;
    login(&s, "centre-reviewer").await;
    s.stop("TERM");

    // The local storage of the test config lives in DATA/media.
    let checkpoints = std::fs::read_dir(dir.join("media/audit/checkpoints"))
        .expect("the server wrote checkpoints")
        .count();
    assert!(checkpoints >= 2, "{checkpoints} checkpoint(s)");
    let (ok, report) = verify(&dir, &config);
    assert!(ok, "{report}");
    assert!(report.contains("hash chain intact"), "{report}");
    assert!(report.contains("agree with the database"), "{report}");
    assert!(report.contains("append-only triggers in place"), "{report}");
    assert!(
        report.contains("retention: nothing ever removed"),
        "{report}"
    );

    // The database of the first run put back: whole in itself, but behind its checkpoints.
    copy_database(backup.path(), &dir);
    let (ok, report) = verify(&dir, &config);
    assert!(!ok, "a rolled-back database must fail: {report}");
    assert!(report.contains("hash chain intact"), "{report}");
    assert!(report.contains("the database was rolled back"), "{report}");
}
