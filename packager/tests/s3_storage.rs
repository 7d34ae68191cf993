//! `S3Storage` specifics against a real S3-compatible server (moto, started
//! by `support::moto`): multipart uploads, object metadata as the SDK sees
//! it, presigned URLs, the key prefix inside the bucket, pagination and
//! batched deletes. Retries and the abort of a failed multipart upload are
//! checked against a scripted fake endpoint, since a healthy server never
//! fails. The shared behaviour suite runs against S3 in `storage_behaviour.rs`.

// Test code: a panic is how a failed expectation is reported.
#![allow(clippy::unwrap_used)]

#[path = "support/moto.rs"]
mod moto;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use yanxiu_packager::storage::{PutOptions, S3Config, S3Storage, Storage, StorageError};

const MIB: usize = 1024 * 1024;

/// Deterministic bytes that no compression or deduplication can shortcut.
fn pseudo_random(length: usize, seed: u64) -> Bytes {
    let mut state = seed | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

#[tokio::test]
async fn a_body_over_the_threshold_goes_up_as_multipart_and_reads_back_identical() {
    let storage = moto::storage_with("multipart", |config| {
        config.multipart_threshold = MIB as u64;
        config.part_size = 5 * MIB as u64;
        config.prefix = "media/".into();
    })
    .await;
    let body = pseudo_random(12 * MIB + 123, 7);
    let key = "resources/1/source.mp4";
    let options = PutOptions::for_key(key).with_cache_control(Some("private, max-age=60".into()));
    storage.put(key, body.clone(), &options).await.unwrap();

    let read = storage.get(key).await.unwrap();
    assert_eq!(read.len(), body.len());
    assert!(read == body, "multipart object differs from what was put");
    let middle = storage
        .get_range(key, 5 * MIB as u64 - 10..5 * MIB as u64 + 10)
        .await
        .unwrap();
    assert_eq!(
        middle,
        body.slice(5 * MIB - 10..5 * MIB + 10),
        "range across a part boundary"
    );

    let head = storage
        .client()
        .head_object()
        .bucket(storage.bucket())
        .key("media/resources/1/source.mp4")
        .send()
        .await
        .unwrap();
    // A multipart object's ETag ends in "-<number of parts>".
    assert!(
        head.e_tag().unwrap().ends_with("-3\""),
        "{:?}",
        head.e_tag()
    );
    assert_eq!(head.content_type(), Some("video/mp4"));
    assert_eq!(head.cache_control(), Some("private, max-age=60"));
    assert_eq!(head.content_length(), Some(body.len() as i64));
    let uploads = storage
        .client()
        .list_multipart_uploads()
        .bucket(storage.bucket())
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "no upload left open");
}

#[tokio::test]
async fn a_body_at_the_threshold_is_a_single_put() {
    let storage = moto::storage_with("single", |config| config.multipart_threshold = 1000).await;
    let body = pseudo_random(1000, 3);
    storage
        .put(
            "a/seg-00001.m4s",
            body.clone(),
            &PutOptions::for_key("a/seg-00001.m4s"),
        )
        .await
        .unwrap();
    let head = storage
        .client()
        .head_object()
        .bucket(storage.bucket())
        .key("a/seg-00001.m4s")
        .send()
        .await
        .unwrap();
    assert!(!head.e_tag().unwrap().contains('-'), "{:?}", head.e_tag());
    assert_eq!(storage.get("a/seg-00001.m4s").await.unwrap(), body);
}

#[tokio::test]
async fn content_type_and_cache_control_are_stored_with_each_object() {
    let storage = moto::storage("metadata", "").await;
    for (key, cache_control, content_type) in [
        (
            "r/720p/index.m3u8",
            Some("no-cache"),
            "application/vnd.apple.mpegurl",
        ),
        (
            "r/720p/seg-00001.m4s",
            Some("public, max-age=86400"),
            "video/iso.segment",
        ),
        ("r/720p/init.mp4", None, "video/mp4"),
    ] {
        let options = PutOptions::for_key(key).with_cache_control(cache_control.map(String::from));
        storage
            .put(key, Bytes::from_static(b"x"), &options)
            .await
            .unwrap();
        let head = storage
            .client()
            .head_object()
            .bucket(storage.bucket())
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_type(), Some(content_type), "{key}");
        assert_eq!(head.cache_control(), cache_control, "{key}");
        let info = storage.head(key).await.unwrap().unwrap();
        assert_eq!(info.content_type, content_type);
    }
}

/// A plain HTTP/1.1 GET of an `http://` URL; returns status and body.
async fn http_get(url: &str) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = TcpStream::connect(authority).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..head_end]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = response[head_end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
}

#[tokio::test]
async fn a_presigned_url_is_fetchable_with_a_plain_http_get() {
    let storage = moto::storage("presign", "vod/").await;
    let body = pseudo_random(70_000, 11);
    let key = "resources/5/720p/seg-00001.m4s";
    storage
        .put(key, body.clone(), &PutOptions::for_key(key))
        .await
        .unwrap();
    let url = storage
        .presigned_get(key, Duration::from_secs(300))
        .await
        .unwrap();
    assert!(
        url.contains("/vod/resources/5/720p/seg-00001.m4s?"),
        "{url}"
    );
    assert!(url.contains("X-Amz-Expires=300"), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(!url.contains(moto::SECRET_ACCESS_KEY));
    let (status, fetched) = http_get(&url).await;
    assert_eq!(status, 200);
    assert!(
        fetched == body.as_ref(),
        "presigned GET returned other bytes"
    );

    let missing = storage
        .presigned_get("resources/5/missing.m4s", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(http_get(&missing).await.0, 404);

    let too_long = storage
        .presigned_get(key, Duration::from_secs(8 * 24 * 3600))
        .await;
    assert!(matches!(too_long, Err(StorageError::Io { .. })));
    assert!(matches!(
        storage.presigned_get("../x", Duration::from_secs(60)).await,
        Err(StorageError::InvalidKey { .. })
    ));
}

#[tokio::test]
async fn objects_outside_the_prefix_are_invisible_and_untouched() {
    let storage = moto::storage("prefix", "tenant-a/").await;
    let foreign = S3Storage::new(moto::config(storage.bucket(), "tenant-b/"))
        .await
        .unwrap();
    let options = PutOptions::for_key("x.json");
    for store in [&storage, &foreign] {
        store
            .put("res/1/x.json", Bytes::from_static(b"{}"), &options)
            .await
            .unwrap();
    }
    assert_eq!(storage.object_key("res/1/x.json"), "tenant-a/res/1/x.json");
    let debug = format!("{storage:?}");
    assert!(
        debug.contains("tenant-a/") && !debug.contains(moto::SECRET_ACCESS_KEY),
        "{debug}"
    );
    let listed: Vec<_> = storage
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(listed, vec!["res/1/x.json"]);
    assert_eq!(storage.delete_prefix("res/").await.unwrap(), 1);
    assert!(foreign.head("res/1/x.json").await.unwrap().is_some());
    let raw = storage
        .client()
        .list_objects_v2()
        .bucket(storage.bucket())
        .send()
        .await
        .unwrap();
    let raw_keys: Vec<_> = raw.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(raw_keys, vec!["tenant-b/res/1/x.json"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_follows_pages_and_delete_prefix_batches_over_a_thousand_keys() {
    let storage = Arc::new(moto::storage("paging", "p/").await);
    // One more than a page (and a DeleteObjects batch) holds.
    let count = 1_001;
    let mut puts = tokio::task::JoinSet::new();
    for n in 0..count {
        let storage = storage.clone();
        puts.spawn(async move {
            let key = format!("res/9/720p/seg-{n:05}.m4s");
            storage
                .put(&key, Bytes::from_static(b"s"), &PutOptions::for_key(&key))
                .await
        });
        if puts.len() >= 16 {
            puts.join_next().await.unwrap().unwrap().unwrap();
        }
    }
    while let Some(done) = puts.join_next().await {
        done.unwrap().unwrap();
    }
    let listed = storage.list("res/9/").await.unwrap();
    assert_eq!(listed.len(), count);
    assert!(listed.windows(2).all(|w| w[0].key < w[1].key));
    assert_eq!(listed[1_000].key, "res/9/720p/seg-01000.m4s");
    assert_eq!(storage.delete_prefix("res/9/").await.unwrap(), count as u64);
    assert!(storage.list("").await.unwrap().is_empty());
}

/// A fake S3 endpoint on a loopback port: reads each request (head and
/// body), records its request line and answers with what `respond` returns
/// for it. Returns the endpoint URL and the recorded request lines.
async fn fake_s3(respond: fn(&str) -> &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let recorded = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let recorded = recorded.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = vec![0u8; 64 * 1024];
                let head_end = loop {
                    if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break end + 4;
                    }
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&request[..head_end]).to_string();
                let body_length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                let mut received = request.len() - head_end;
                while received < body_length {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => received += n,
                    }
                }
                let request_line = head.lines().next().unwrap_or("").to_string();
                let response = respond(&request_line);
                recorded.lock().unwrap().push(request_line);
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (endpoint, requests)
}

fn fake_config(endpoint: String) -> S3Config {
    S3Config {
        endpoint: Some(endpoint),
        path_style: true,
        access_key_id: Some("k".into()),
        secret_access_key: Some("s".into()),
        ..S3Config::new("us-east-1", "fake")
    }
}

#[tokio::test]
async fn transient_failures_are_retried_up_to_max_attempts() {
    let (endpoint, requests) =
        fake_s3(|_| "HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
    let storage = S3Storage::new(S3Config {
        max_attempts: 3,
        ..fake_config(endpoint)
    })
    .await
    .unwrap();
    let error = storage.get("a/b.m4s").await.unwrap_err();
    assert!(matches!(error, StorageError::Io { .. }), "{error}");
    assert!(error.to_string().contains("GetObject"), "{error}");
    assert_eq!(requests.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_multipart_upload_whose_part_fails_is_aborted() {
    let (endpoint, requests) = fake_s3(|request_line| {
        if request_line.starts_with("POST") && request_line.contains("uploads") {
            concat!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 131\r\nConnection: close\r\n\r\n",
                "<InitiateMultipartUploadResult><Bucket>fake</Bucket><Key>big.mp4</Key><UploadId>upload-1</UploadId></InitiateMultipartUploadResult>"
            )
        } else if request_line.starts_with("DELETE") {
            "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
        } else {
            concat!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: 73\r\nConnection: close\r\n\r\n",
                "<Error><Code>InvalidRequest</Code><Message>part refused</Message></Error>"
            )
        }
    })
    .await;
    let storage = S3Storage::new(S3Config {
        max_attempts: 1,
        multipart_threshold: 1024,
        part_size: 5 * MIB as u64,
        ..fake_config(endpoint)
    })
    .await
    .unwrap();
    let error = storage
        .put(
            "big.mp4",
            pseudo_random(6 * MIB, 5),
            &PutOptions::for_key("big.mp4"),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("UploadPart"), "{error}");
    let requests = requests.lock().unwrap().clone();
    assert!(
        requests[0].starts_with("POST /fake/big.mp4?uploads"),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("DELETE /fake/big.mp4?") && r.contains("uploadId=upload-1")),
        "no AbortMultipartUpload in {requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.starts_with("POST") && r.contains("uploadId=")),
        "completed: {requests:?}"
    );
}

#[tokio::test]
async fn an_invalid_config_is_refused_before_any_request() {
    let error = S3Storage::new(S3Config {
        part_size: 1,
        ..S3Config::new("us-east-1", "videos")
    })
    .await
    .unwrap_err();
    assert!(error.to_string().contains("part_size"), "{error}");
}
