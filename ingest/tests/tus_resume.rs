//! A real tus client (tuspy, in separate processes) uploads a few-MB file, stops halfway and
//! a second client process resumes it — across a dropped client and across a server restart.

mod tus_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tus_support::*;

const SIZE: usize = 5 * 1024 * 1024 + 12_345;
const CHUNK: usize = 512 * 1024;

async fn resume_scenario(restart_server: bool, checksum: bool) {
    let python = tus_support::tuspy_python();
    let work = tempfile::tempdir().expect("tempdir");
    let uploads = work.path().join("uploads");
    let source = work.path().join("lecture.mp4");
    let bytes = random_bytes(SIZE, 7);
    std::fs::write(&source, &bytes).expect("write source");
    let hooks = Arc::new(RecordingHooks::default());
    let cfg = config(&uploads, 64 * 1024 * 1024, Duration::from_secs(3600));
    let started = Instant::now();

    let mut server = start(cfg.clone(), hooks.clone(), local()).await;
    let half = (SIZE / 2) as u64;
    let first = run_tuspy(
        &python,
        work.path(),
        &server.url(),
        &source,
        CHUNK,
        Some(half),
        checksum,
    )
    .await;
    assert_eq!(first.start_offset, 0);
    assert!(
        first.offset >= half && first.offset < SIZE as u64,
        "stopped halfway: {}",
        first.offset
    );
    assert!(
        hooks.completed().is_empty(),
        "not complete after the first half"
    );

    if restart_server {
        let addr = server.addr;
        server.stop().await;
        server = start(cfg.clone(), hooks.clone(), addr).await;
    }

    let second = run_tuspy(
        &python,
        work.path(),
        &server.url(),
        &source,
        CHUNK,
        None,
        checksum,
    )
    .await;
    assert_eq!(
        second.url, first.url,
        "the second client resumed the stored URL"
    );
    assert_eq!(
        second.start_offset, first.offset,
        "resumed from the stored offset"
    );
    assert_eq!(second.offset, SIZE as u64);

    let completed = hooks.completed();
    assert_eq!(completed.len(), 1, "completed exactly once");
    let done = &completed[0];
    assert_eq!(done.owner, "alice");
    assert_eq!(done.size, SIZE as u64);
    assert_eq!(done.metadata["filename"], "第一讲 lecture.mp4");
    assert_eq!(done.metadata["title"], "Lecture 1 第一讲");
    assert!(second.url.ends_with(&done.id));
    let yanxiu_ingest::tus::UploadBytes::File(path) = &done.bytes else {
        panic!(
            "the file store keeps an upload as one file: {:?}",
            done.bytes
        );
    };
    let stored = std::fs::read(path).expect("stored file");
    assert_eq!(sha256_hex(&stored), sha256_hex(&bytes));

    let after = head(&second.url, ALICE).await;
    assert_eq!(after.status(), 200);
    assert_eq!(offset_of(&after), SIZE as u64);
    assert_eq!(
        after.headers()["yanxiu-resource-id"]
            .to_str()
            .expect("resource id"),
        format!("res-{}", done.id),
        "HEAD repeats the completion headers"
    );
    assert_eq!(hooks.completed().len(), 1, "HEAD does not complete again");
    eprintln!(
        "tus resume (restart: {restart_server}, checksum: {checksum}): {} bytes in {:?}",
        SIZE,
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cut_off_halfway_is_resumed_by_a_second_client_process() {
    resume_scenario(false, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_resumes_after_the_server_is_recreated_on_the_same_directory() {
    resume_scenario(true, false).await;
}
