//! Durable processing: a job survives the server restarting under it, and a
//! worker process that dies loses its job to another worker.

mod common;

use common::fixtures::fixtures_dir;
use common::server::{login, prepare, processed, serve, signal_process, transcoding, upload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_mid_transcode_finishes_the_job() {
    let (data, config) = prepare("");
    let mut s = serve(data, config, 1);
    let producer = login(&s, "producer").await;
    let id = upload(
        &s,
        &producer,
        &fixtures_dir().join("lecture_1080p30.mp4"),
        None,
    )
    .await;
    transcoding(&s, &producer, &id).await;

    // SIGTERM: the running job goes back to the queue.
    s.stop("TERM");
    s.relaunch(1);
    let producer = login(&s, "producer").await;
    let r = processed(&s, &producer, &id).await;
    assert_eq!(r["processing"]["status"], "ready", "{r}");
    let job = &r["processing"]["job"];
    assert_eq!(job["state"], "succeeded", "{r}");
    assert_eq!(
        job["attempts"], 1,
        "a job given back on shutdown does not use up an attempt: {r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_its_job_to_another_worker() {
    let (data, config) = prepare("");
    // The server only serves; separate worker processes transcode.
    let s = serve(data, config, 0);
    let producer = login(&s, "producer").await;
    let mut first = s.worker();
    let id = upload(
        &s,
        &producer,
        &fixtures_dir().join("lecture_1080p30.mp4"),
        None,
    )
    .await;
    transcoding(&s, &producer, &id).await;

    // The worker dies without a word; its lease (5 s here) runs out.
    signal_process(&mut first, "KILL");
    let mut second = s.worker();
    let r = processed(&s, &producer, &id).await;
    signal_process(&mut second, "TERM");
    assert_eq!(r["processing"]["status"], "ready", "{r}");
    let job = &r["processing"]["job"];
    assert_eq!(job["state"], "succeeded", "{r}");
    assert_eq!(job["attempts"], 2, "the lost attempt counts: {r}");
}
