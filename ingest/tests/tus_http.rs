//! The tus server over raw HTTP: discovery, checksum mismatch, size limits, termination,
//! owner scoping, expiry and purge, broken-off bodies, creation-with-upload and errors.

mod tus_support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use tokio::io::AsyncWriteExt;
use tus_support::*;

const HOUR: Duration = Duration::from_secs(3600);

async fn server_with(
    max_size: u64,
    expiration: Duration,
) -> (tempfile::TempDir, Arc<RecordingHooks>, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let hooks = Arc::new(RecordingHooks::default());
    let server = start(
        config(dir.path(), max_size, expiration),
        hooks.clone(),
        local(),
    )
    .await;
    (dir, hooks, server)
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).expect("read dir").count()
}

#[tokio::test]
async fn options_announces_the_protocol_without_authentication() {
    let (_dir, _hooks, server) = server_with(1000, HOUR).await;
    let response = http()
        .request(reqwest::Method::OPTIONS, server.url())
        .send()
        .await
        .expect("options");
    assert_eq!(response.status(), 204);
    let h = response.headers();
    assert_eq!(h["tus-version"], "1.0.0");
    assert_eq!(h["tus-max-size"], "1000");
    assert_eq!(h["tus-checksum-algorithm"], "sha1,md5,sha256");
    assert_eq!(
        h["tus-extension"],
        "creation,creation-with-upload,termination,checksum,expiration"
    );
}

#[tokio::test]
async fn browsers_can_read_the_tus_headers_through_cors() {
    let (_dir, _hooks, server) = server_with(1000, HOUR).await;
    let response = http()
        .request(reqwest::Method::OPTIONS, server.url())
        .header("origin", "https://learn.example.edu")
        .header("access-control-request-method", "PATCH")
        .header(
            "access-control-request-headers",
            "tus-resumable,upload-offset,content-type",
        )
        .send()
        .await
        .expect("preflight");
    assert!(response.status().is_success());
    let allowed = response.headers()["access-control-allow-headers"]
        .to_str()
        .expect("allow");
    assert!(allowed.contains("upload-offset"), "{allowed}");
    let url = create(&server, ALICE, 10).await;
    let response = http()
        .head(&url)
        .header("origin", "https://learn.example.edu")
        .header("tus-resumable", "1.0.0")
        .header("authorization", ALICE)
        .send()
        .await
        .expect("head");
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .expect("expose");
    for name in [
        "location",
        "upload-offset",
        "upload-length",
        "tus-resumable",
        "upload-expires",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
}

#[tokio::test]
async fn a_checksum_mismatch_is_460_and_appends_nothing() {
    let (dir, _hooks, server) = server_with(1000, HOUR).await;
    let url = create(&server, ALICE, 100).await;
    assert_eq!(patch(&url, ALICE, 0, vec![1; 40], None).await.status(), 204);
    let wrong = format!(
        "sha1 {}",
        base64::engine::general_purpose::STANDARD.encode([0u8; 20])
    );
    let response = patch(&url, ALICE, 40, vec![2; 30], Some(&wrong)).await;
    assert_eq!(response.status().as_u16(), 460);
    let body: serde_json::Value = json_of(response).await;
    assert_eq!(body["error"]["code"], "tus.checksum_mismatch");
    assert_eq!(offset_of(&head(&url, ALICE).await), 40);
    let id = url.rsplit('/').next().expect("id");
    let stored = std::fs::read(dir.path().join(format!("{id}.bin"))).expect("bin");
    assert_eq!(stored.len(), 40, "nothing appended");
    assert!(!dir.path().join(format!("{id}.chunk")).exists());

    use sha2::Digest;
    let good = format!(
        "sha256 {}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest([2u8; 30]))
    );
    let response = patch(&url, ALICE, 40, vec![2; 30], Some(&good)).await;
    assert_eq!(response.status(), 204);
    assert_eq!(offset_of(&response), 70);
}

#[tokio::test]
async fn an_upload_length_over_the_maximum_is_413() {
    let (_dir, _hooks, server) = server_with(1000, HOUR).await;
    let response = http()
        .post(server.url())
        .header("tus-resumable", "1.0.0")
        .header("authorization", ALICE)
        .header("upload-length", "1001")
        .header("accept-language", "en")
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = json_of(response).await;
    assert_eq!(body["error"]["code"], "tus.too_large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("1000 bytes")
    );
}

#[tokio::test]
async fn a_body_past_upload_length_is_413_and_nothing_past_it_is_written() {
    let (dir, _hooks, server) = server_with(1000, HOUR).await;
    let url = create(&server, ALICE, 10).await;
    assert_eq!(patch(&url, ALICE, 0, vec![7; 11], None).await.status(), 413);
    // Chunked, so the length is only known while receiving.
    let stream = futures::stream::iter(vec![
        Ok::<_, std::io::Error>(bytes::Bytes::from(vec![7u8; 6])),
        Ok(bytes::Bytes::from(vec![7u8; 6])),
    ]);
    let response = http()
        .patch(&url)
        .header("tus-resumable", "1.0.0")
        .header("authorization", ALICE)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), 413);
    let id = url.rsplit('/').next().expect("id");
    let len = std::fs::metadata(dir.path().join(format!("{id}.bin")))
        .expect("bin")
        .len();
    assert!(len <= 10, "wrote {len} bytes");
}

#[tokio::test]
async fn termination_deletes_both_files() {
    let (dir, _hooks, server) = server_with(1000, HOUR).await;
    let url = create(&server, ALICE, 100).await;
    assert_eq!(patch(&url, ALICE, 0, vec![1; 10], None).await.status(), 204);
    assert_eq!(files_in(dir.path()), 2);
    let response = http()
        .delete(&url)
        .header("tus-resumable", "1.0.0")
        .header("authorization", ALICE)
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), 204);
    assert_eq!(files_in(dir.path()), 0);
    assert_eq!(head(&url, ALICE).await.status(), 404);
}

#[tokio::test]
async fn another_owner_gets_404_for_every_method() {
    let (_dir, _hooks, server) = server_with(1000, HOUR).await;
    let url = create(&server, ALICE, 100).await;
    assert_eq!(head(&url, BOB).await.status(), 404);
    assert_eq!(patch(&url, BOB, 0, vec![1; 10], None).await.status(), 404);
    let response = http()
        .delete(&url)
        .header("tus-resumable", "1.0.0")
        .header("authorization", BOB)
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), 404);
    assert_eq!(head(&url, ALICE).await.status(), 200);
}

#[tokio::test]
async fn requests_without_credentials_get_the_hook_rejection_in_chinese_by_default() {
    let (_dir, _hooks, server) = server_with(1000, HOUR).await;
    let response = http()
        .post(server.url())
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10")
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = json_of(response).await;
    assert_eq!(body["error"]["code"], "auth.unauthenticated");
    assert_eq!(body["error"]["message"], "请先登录");
}

#[tokio::test]
async fn a_request_without_tus_resumable_is_412_with_tus_version() {
    let (_dir, _hooks, server) = server_with(1000, HOUR).await;
    let response = http()
        .post(server.url())
        .header("authorization", ALICE)
        .header("upload-length", "10")
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), 412);
    assert_eq!(response.headers()["tus-version"], "1.0.0");
}

#[tokio::test]
async fn a_stale_offset_is_409() {
    let (_dir, _hooks, server) = server_with(1000, HOUR).await;
    let url = create(&server, ALICE, 100).await;
    assert_eq!(patch(&url, ALICE, 0, vec![1; 10], None).await.status(), 204);
    let response = patch(&url, ALICE, 0, vec![1; 10], None).await;
    assert_eq!(response.status(), 409);
    assert_eq!(offset_of(&head(&url, ALICE).await), 10);
}

#[tokio::test]
async fn an_expired_upload_is_410_and_purge_removes_its_files() {
    let (dir, _hooks, server) = server_with(1000, Duration::from_secs(1)).await;
    let url = create(&server, ALICE, 100).await;
    let response = patch(&url, ALICE, 0, vec![1; 10], None).await;
    assert!(response.headers().contains_key("upload-expires"));
    let done = create(&server, ALICE, 5).await;
    assert_eq!(patch(&done, ALICE, 0, vec![1; 5], None).await.status(), 204);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(head(&url, ALICE).await.status(), 410);
    assert_eq!(
        patch(&url, ALICE, 10, vec![1; 10], None).await.status(),
        410
    );
    let purged = server
        .service
        .purge_expired(SystemTime::now())
        .await
        .expect("purge");
    assert_eq!(purged, 1, "only the unfinished upload expires");
    assert_eq!(files_in(dir.path()), 2, "the complete upload stays");
    assert_eq!(head(&url, ALICE).await.status(), 404);
    assert_eq!(head(&done, ALICE).await.status(), 200);
}

#[tokio::test]
async fn a_body_that_breaks_off_keeps_what_arrived() {
    let (_dir, _hooks, server) = server_with(10_000_000, HOUR).await;
    let url = create(&server, ALICE, 1_000_000).await;
    let socket = hanging_patch(&server, &url, 1_000_000, 300_000).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(socket);
    let mut offset = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        offset = offset_of(&head(&url, ALICE).await);
        if offset == 300_000 {
            break;
        }
    }
    assert_eq!(offset, 300_000, "the bytes that arrived are kept");
    let response = patch(&url, ALICE, offset, vec![5u8; 700_000], None).await;
    assert_eq!(response.status(), 204);
    assert_eq!(offset_of(&response), 1_000_000);
}

#[tokio::test]
async fn creation_with_upload_stores_the_body_and_completes_once() {
    let (_dir, hooks, server) = server_with(1000, HOUR).await;
    let metadata = format!(
        "filename {}",
        base64::engine::general_purpose::STANDARD.encode("课.mp4")
    );
    let response = http()
        .post(server.url())
        .header("tus-resumable", "1.0.0")
        .header("authorization", ALICE)
        .header("upload-length", "5")
        .header("upload-metadata", metadata)
        .header("content-type", "application/offset+octet-stream")
        .body(vec![1u8; 5])
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), 201);
    assert_eq!(offset_of(&response), 5);
    let id = response.headers()["location"]
        .to_str()
        .expect("location")
        .rsplit('/')
        .next()
        .expect("id")
        .to_owned();
    assert_eq!(
        response.headers()["yanxiu-resource-id"]
            .to_str()
            .expect("rid"),
        format!("res-{id}")
    );
    let completed = hooks.completed();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].metadata["filename"], "课.mp4");
    // A zero-length PATCH at the end changes nothing and does not complete again.
    let url = format!("{}/{id}", server.url());
    assert_eq!(patch(&url, ALICE, 5, Vec::new(), None).await.status(), 204);
    assert_eq!(hooks.completed().len(), 1);
}

#[tokio::test]
async fn head_reports_length_metadata_and_no_store() {
    let (_dir, _hooks, server) = server_with(1000, HOUR).await;
    let url = create(&server, ALICE, 100).await;
    let response = head(&url, ALICE).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["upload-length"], "100");
    assert_eq!(response.headers()["upload-offset"], "0");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["tus-resumable"], "1.0.0");
}

/// Opens a PATCH that announces `announced` bytes but sends only `sent`, and keeps the
/// connection open (the returned socket).
async fn hanging_patch(
    server: &Server,
    url: &str,
    announced: u64,
    sent: usize,
) -> tokio::net::TcpStream {
    let path = url
        .split_once(&server.addr.to_string())
        .expect("path")
        .1
        .to_owned();
    let mut socket = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let request = format!(
        "PATCH {path} HTTP/1.1\r\nhost: {}\r\ntus-resumable: 1.0.0\r\nauthorization: {ALICE}\r\n\
         content-type: application/offset+octet-stream\r\nupload-offset: 0\r\n\
         content-length: {announced}\r\n\r\n",
        server.addr
    );
    socket.write_all(request.as_bytes()).await.expect("head");
    socket.write_all(&vec![5u8; sent]).await.expect("part");
    socket.flush().await.expect("flush");
    socket
}

#[tokio::test]
async fn a_second_patch_while_one_is_running_waits_then_gets_409() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hooks = Arc::new(RecordingHooks::default());
    let service = yanxiu_ingest::tus::TusService::new(config(dir.path(), 1000, HOUR), hooks)
        .expect("service")
        .with_lock_wait(Duration::from_millis(300));
    let server = start_service(service, local()).await;
    let url = create(&server, ALICE, 100).await;
    let socket = hanging_patch(&server, &url, 50, 20).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let response = patch(&url, ALICE, 0, vec![1; 10], None).await;
    assert_eq!(response.status(), 409);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "it waited first"
    );
    assert_eq!(json_of(response).await["error"]["code"], "tus.upload_busy");
    drop(socket);
    let mut offset = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        offset = offset_of(&head(&url, ALICE).await);
        if offset == 20 {
            break;
        }
    }
    assert_eq!(offset, 20, "the first PATCH kept what arrived");
    assert_eq!(
        patch(&url, ALICE, 20, vec![1; 10], None).await.status(),
        204
    );
}

#[tokio::test]
async fn bytes_past_the_durable_offset_from_a_crash_are_overwritten() {
    let (dir, _hooks, server) = server_with(1000, HOUR).await;
    let url = create(&server, ALICE, 20).await;
    assert_eq!(patch(&url, ALICE, 0, vec![1; 10], None).await.status(), 204);
    let id = url.rsplit('/').next().expect("id");
    let bin = dir.path().join(format!("{id}.bin"));
    // A crash after writing but before recording the offset leaves extra bytes behind.
    let mut stale = std::fs::read(&bin).expect("bin");
    stale.extend_from_slice(&[9; 7]);
    std::fs::write(&bin, stale).expect("write");
    assert_eq!(offset_of(&head(&url, ALICE).await), 10);
    let response = patch(&url, ALICE, 10, vec![2; 10], None).await;
    assert_eq!(response.status(), 204);
    let mut expected = vec![1u8; 10];
    expected.extend_from_slice(&[2; 10]);
    assert_eq!(std::fs::read(&bin).expect("bin"), expected);
}
