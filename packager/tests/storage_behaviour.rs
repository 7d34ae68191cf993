//! One behaviour suite for every storage backend: each behaviour is a generic
//! async fn over `&dyn Storage`, run against `MemoryStorage`,
//! `LocalDirStorage` and `S3Storage` (on a moto server the tests start, each
//! test in its own bucket under a key prefix). Backend-specific guarantees
//! follow at the end (S3 specifics are in `s3_storage.rs`).

// Test code: a panic is how a failed expectation is reported.
#![allow(clippy::unwrap_used)]

#[path = "support/moto.rs"]
mod moto;

use std::sync::Arc;

use bytes::Bytes;
use yanxiu_packager::storage::{
    InvalidKeyReason, LocalDirStorage, MIN_CONCAT_PART, MemoryStorage, PutOptions, Storage,
    StorageError,
};

async fn put(storage: &dyn Storage, key: &str, body: &'static [u8]) {
    storage
        .put(key, Bytes::from_static(body), &PutOptions::for_key(key))
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e}"));
}

fn keys(objects: &[yanxiu_packager::storage::ObjectInfo]) -> Vec<&str> {
    objects.iter().map(|o| o.key.as_str()).collect()
}

async fn put_then_get_round_trips(storage: &dyn Storage) {
    put(storage, "resources/1/720p/seg-00001.m4s", b"segment bytes").await;
    let body = storage.get("resources/1/720p/seg-00001.m4s").await.unwrap();
    assert_eq!(body.as_ref(), b"segment bytes");
}

async fn put_overwrites_an_existing_object(storage: &dyn Storage) {
    put(storage, "a/index.m3u8", b"first version, longer").await;
    put(storage, "a/index.m3u8", b"second").await;
    assert_eq!(
        storage.get("a/index.m3u8").await.unwrap().as_ref(),
        b"second"
    );
    assert_eq!(storage.list("a/").await.unwrap().len(), 1);
}

async fn get_of_a_missing_key_is_not_found(storage: &dyn Storage) {
    let err = storage.get("missing/key.m4s").await.unwrap_err();
    assert!(matches!(err, StorageError::NotFound { ref key } if key == "missing/key.m4s"));
    put(storage, "dir/file.mp4", b"x").await;
    // A "directory" is not an object.
    assert!(matches!(
        storage.get("dir").await,
        Err(StorageError::NotFound { .. })
    ));
}

async fn head_reports_size_and_content_type_or_none(storage: &dyn Storage) {
    put(storage, "x/init.mp4", b"12345").await;
    let info = storage.head("x/init.mp4").await.unwrap().unwrap();
    assert_eq!(info.key, "x/init.mp4");
    assert_eq!(info.size, 5);
    assert_eq!(info.content_type, "video/mp4");
    assert!(info.last_modified.is_some());
    assert!(storage.head("x/other.mp4").await.unwrap().is_none());
}

async fn get_range_returns_the_requested_bytes(storage: &dyn Storage) {
    put(storage, "r/seg.m4s", b"0123456789").await;
    let read = |range| storage.get_range("r/seg.m4s", range);
    assert_eq!(read(2..5).await.unwrap().as_ref(), b"234");
    assert_eq!(read(0..10).await.unwrap().as_ref(), b"0123456789");
    assert_eq!(
        read(7..100).await.unwrap().as_ref(),
        b"789",
        "end is clamped"
    );
    assert_eq!(read(4..4).await.unwrap().as_ref(), b"");
    assert!(matches!(
        read(10..12).await,
        Err(StorageError::InvalidRange { size: 10, .. })
    ));
    assert!(matches!(
        read(20..30).await,
        Err(StorageError::InvalidRange { .. })
    ));
    assert!(matches!(
        storage.get_range("r/missing.m4s", 0..1).await,
        Err(StorageError::NotFound { .. })
    ));
}

/// Collects a streamed read.
async fn streamed(
    storage: &dyn Storage,
    key: &str,
    range: Option<std::ops::Range<u64>>,
) -> Result<(u64, std::ops::Range<u64>, Vec<u8>), StorageError> {
    use futures::StreamExt;
    let mut stream = storage.get_stream(key, range).await?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.body.next().await {
        bytes.extend_from_slice(&chunk?);
    }
    Ok((stream.size, stream.range, bytes))
}

async fn get_stream_streams_the_object_or_a_range_of_it(storage: &dyn Storage) {
    // Larger than one chunk of a local streamed read, so that several chunks make it up.
    let body: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    storage
        .put(
            "s/big.m4s",
            Bytes::from(body.clone()),
            &PutOptions::for_key("s/big.m4s"),
        )
        .await
        .unwrap();
    let (size, range, whole) = streamed(storage, "s/big.m4s", None).await.unwrap();
    assert_eq!((size, range), (600_000, 0..600_000));
    assert!(whole == body, "the whole object, in order");
    let (size, range, part) = streamed(storage, "s/big.m4s", Some(300_000..700_000))
        .await
        .unwrap();
    assert_eq!((size, range), (600_000, 300_000..600_000), "end clamped");
    assert!(part[..] == body[300_000..]);
    let (_, _, empty) = streamed(storage, "s/big.m4s", Some(5..5)).await.unwrap();
    assert!(empty.is_empty());
    assert!(matches!(
        streamed(storage, "s/big.m4s", Some(600_000..600_001)).await,
        Err(StorageError::InvalidRange { size: 600_000, .. })
    ));
    assert!(matches!(
        streamed(storage, "s/missing.m4s", None).await,
        Err(StorageError::NotFound { .. })
    ));
}

async fn list_returns_keys_under_a_prefix_sorted(storage: &dyn Storage) {
    for key in [
        "res/2/720p/seg-00002.m4s",
        "res/2/720p/seg-00001.m4s",
        "res/2/audio/seg-00001.m4s",
        "res/2/master.m3u8",
        "res/20/master.m3u8",
        "other/x.json",
    ] {
        put(storage, key, b"x").await;
    }
    assert_eq!(
        keys(&storage.list("res/2/").await.unwrap()),
        vec![
            "res/2/720p/seg-00001.m4s",
            "res/2/720p/seg-00002.m4s",
            "res/2/audio/seg-00001.m4s",
            "res/2/master.m3u8",
        ]
    );
    assert_eq!(
        keys(&storage.list("res/2").await.unwrap()).len(),
        5,
        "a prefix is a plain string prefix"
    );
    assert_eq!(
        keys(&storage.list("res/2/720p/seg-0000").await.unwrap()),
        vec!["res/2/720p/seg-00001.m4s", "res/2/720p/seg-00002.m4s"]
    );
    assert_eq!(storage.list("").await.unwrap().len(), 6);
    assert!(storage.list("nothing/here/").await.unwrap().is_empty());
    let listed = storage.list("other/").await.unwrap();
    assert_eq!(listed[0].size, 1);
    assert_eq!(listed[0].content_type, "application/json");
}

async fn delete_is_idempotent(storage: &dyn Storage) {
    put(storage, "d/one.m4s", b"1").await;
    storage.delete("d/one.m4s").await.unwrap();
    assert!(storage.head("d/one.m4s").await.unwrap().is_none());
    storage.delete("d/one.m4s").await.unwrap();
    storage.delete("never/existed.m4s").await.unwrap();
}

async fn delete_prefix_removes_only_matching_objects_and_counts_them(storage: &dyn Storage) {
    for key in ["p/1/a.m4s", "p/1/b/c.m4s", "p/10/a.m4s", "q/a.m4s"] {
        put(storage, key, b"x").await;
    }
    assert_eq!(storage.delete_prefix("p/1/").await.unwrap(), 2);
    assert_eq!(
        keys(&storage.list("").await.unwrap()),
        vec!["p/10/a.m4s", "q/a.m4s"]
    );
    assert_eq!(storage.delete_prefix("p/1/").await.unwrap(), 0);
    // The key freed by a deleted "directory" is usable again.
    put(storage, "p/1/b/c.m4s", b"again").await;
    assert_eq!(storage.get("p/1/b/c.m4s").await.unwrap().as_ref(), b"again");
}

async fn delete_prefix_refuses_an_empty_prefix(storage: &dyn Storage) {
    put(storage, "keep.json", b"{}").await;
    assert!(matches!(
        storage.delete_prefix("").await,
        Err(StorageError::InvalidKey {
            reason: InvalidKeyReason::EmptyPrefix,
            ..
        })
    ));
    assert!(storage.head("keep.json").await.unwrap().is_some());
}

async fn unsafe_keys_are_rejected_by_every_operation(storage: &dyn Storage) {
    let options = PutOptions::for_key("x.m4s");
    for key in ["../x", "/abs", "a//b", "a\\b", "a/./b", "", "a/"] {
        let invalid = |result: Result<(), StorageError>| {
            assert!(
                matches!(result, Err(StorageError::InvalidKey { .. })),
                "{key:?} accepted: {result:?}"
            );
        };
        invalid(storage.put(key, Bytes::from_static(b"x"), &options).await);
        invalid(storage.get(key).await.map(drop));
        invalid(storage.get_range(key, 0..1).await.map(drop));
        invalid(storage.head(key).await.map(drop));
        invalid(storage.delete(key).await);
    }
    for prefix in ["../", "/abs/", "a//"] {
        assert!(matches!(
            storage.list(prefix).await,
            Err(StorageError::InvalidKey { .. })
        ));
        assert!(matches!(
            storage.delete_prefix(prefix).await,
            Err(StorageError::InvalidKey { .. })
        ));
    }
    assert!(
        storage.list("").await.unwrap().is_empty(),
        "nothing was written"
    );
}

async fn concat_joins_parts_in_order_and_keeps_them(storage: &dyn Storage) {
    // S3 joins parts of at least 5 MiB (but the last) server side.
    let part = |byte: u8| Bytes::from(vec![byte; MIN_CONCAT_PART as usize]);
    let options = PutOptions::for_key("p");
    storage
        .put("up/1/parts/000000", part(b'a'), &options)
        .await
        .unwrap();
    storage
        .put("up/1/parts/000001", part(b'b'), &options)
        .await
        .unwrap();
    put(storage, "up/1/parts/000002", b"tail").await;
    let parts: Vec<String> = keys(&storage.list("up/1/parts/").await.unwrap())
        .into_iter()
        .map(str::to_owned)
        .collect();
    storage
        .concat(
            "src/1/source.mp4",
            &parts,
            &PutOptions::for_key("source.mp4"),
        )
        .await
        .unwrap();
    let joined = storage.get("src/1/source.mp4").await.unwrap();
    let size = 2 * MIN_CONCAT_PART as usize + 4;
    assert_eq!(joined.len(), size);
    assert!(
        joined[..MIN_CONCAT_PART as usize]
            .iter()
            .all(|b| *b == b'a')
    );
    assert!(
        joined[MIN_CONCAT_PART as usize..size - 4]
            .iter()
            .all(|b| *b == b'b')
    );
    assert_eq!(&joined[size - 4..], b"tail");
    assert_eq!(storage.list("up/1/parts/").await.unwrap().len(), 3);
}

async fn concat_of_one_small_part_or_none_works_and_a_missing_part_is_not_found(
    storage: &dyn Storage,
) {
    put(storage, "up/2/parts/000000", b"short").await;
    let options = PutOptions::for_key("x.mp4");
    storage
        .concat("src/2/a.mp4", &["up/2/parts/000000".to_owned()], &options)
        .await
        .unwrap();
    assert_eq!(storage.get("src/2/a.mp4").await.unwrap().as_ref(), b"short");
    storage
        .concat("src/2/empty.mp4", &[], &options)
        .await
        .unwrap();
    assert_eq!(
        storage.head("src/2/empty.mp4").await.unwrap().unwrap().size,
        0
    );
    let missing = storage
        .concat("src/2/b.mp4", &["up/2/parts/000009".to_owned()], &options)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, StorageError::NotFound { .. }),
        "{missing:?}"
    );
    assert!(storage.head("src/2/b.mp4").await.unwrap().is_none());
}

macro_rules! for_every_backend {
    ($($behaviour:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $behaviour() {
                    let storage = super::MemoryStorage::new();
                    super::$behaviour(&storage).await;
                }
            )*
        }
        mod local_dir {
            $(
                #[tokio::test]
                async fn $behaviour() {
                    let dir = tempfile::tempdir().unwrap();
                    let storage = super::LocalDirStorage::new(dir.path().join("root"));
                    super::$behaviour(&storage).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $behaviour() {
                    let storage = super::moto::storage(stringify!($behaviour), "yanxiu/").await;
                    super::$behaviour(&storage).await;
                }
            )*
        }
    };
}

for_every_backend!(
    put_then_get_round_trips,
    put_overwrites_an_existing_object,
    get_of_a_missing_key_is_not_found,
    head_reports_size_and_content_type_or_none,
    get_range_returns_the_requested_bytes,
    get_stream_streams_the_object_or_a_range_of_it,
    list_returns_keys_under_a_prefix_sorted,
    delete_is_idempotent,
    delete_prefix_removes_only_matching_objects_and_counts_them,
    delete_prefix_refuses_an_empty_prefix,
    unsafe_keys_are_rejected_by_every_operation,
    concat_joins_parts_in_order_and_keeps_them,
    concat_of_one_small_part_or_none_works_and_a_missing_part_is_not_found,
);

// ---- LocalDirStorage specifics ----

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                out.push(
                    entry
                        .path()
                        .strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn local_keys_map_to_files_under_the_root_and_puts_leave_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let storage = LocalDirStorage::new(dir.path());
    for n in 0..20 {
        let key = format!("res/7/720p/seg-{n:05}.m4s");
        storage
            .put(
                &key,
                Bytes::from(vec![n as u8; 1000]),
                &PutOptions::for_key(&key),
            )
            .await
            .unwrap();
    }
    put(&storage, "res/7/720p/seg-00000.m4s", b"overwritten").await;
    let files = files_under(dir.path());
    assert_eq!(files.len(), 20);
    assert!(
        files.iter().all(|f| f.starts_with("res/7/720p/seg-")),
        "{files:?}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("res/7/720p/seg-00000.m4s")).unwrap(),
        b"overwritten"
    );
    assert_eq!(
        storage.path_for("res/7/720p/seg-00001.m4s").unwrap(),
        dir.path()
            .join("res")
            .join("7")
            .join("720p")
            .join("seg-00001.m4s")
    );
}

#[cfg(unix)]
#[tokio::test]
async fn local_files_are_readable_by_a_web_server() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let storage = LocalDirStorage::new(dir.path());
    put(&storage, "a/index.m3u8", b"#EXTM3U\n").await;
    let mode = std::fs::metadata(dir.path().join("a/index.m3u8"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[tokio::test]
async fn local_rejected_keys_never_touch_the_filesystem_outside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let storage = LocalDirStorage::new(dir.path().join("root"));
    let options = PutOptions::for_key("x");
    assert!(
        storage
            .put("../escaped", Bytes::from_static(b"x"), &options)
            .await
            .is_err()
    );
    assert!(
        storage
            .put("a/../../escaped", Bytes::from_static(b"x"), &options)
            .await
            .is_err()
    );
    assert!(files_under(dir.path()).is_empty());
}

#[tokio::test]
async fn local_delete_prunes_empty_directories_but_not_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let storage = LocalDirStorage::new(&root);
    put(&storage, "a/b/c/one.m4s", b"1").await;
    put(&storage, "a/keep.json", b"{}").await;
    storage.delete("a/b/c/one.m4s").await.unwrap();
    assert!(!root.join("a/b").exists());
    assert!(root.join("a/keep.json").exists());
    storage.delete_prefix("a/").await.unwrap();
    assert!(!root.join("a").exists());
    assert!(root.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_readers_see_the_old_or_the_new_object_never_a_partial_one() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(LocalDirStorage::new(dir.path()));
    let size = 4 << 20;
    let old = Bytes::from(vec![b'o'; size]);
    let new = Bytes::from(vec![b'n'; size]);
    let key = "atomic/seg-00001.m4s";
    let options = PutOptions::for_key(key);
    storage.put(key, old.clone(), &options).await.unwrap();

    let writer = {
        let storage = storage.clone();
        let options = options.clone();
        tokio::spawn(async move {
            for round in 0..20 {
                let body = if round % 2 == 0 {
                    new.clone()
                } else {
                    old.clone()
                };
                storage.put(key, body, &options).await.unwrap();
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() || reads < 20 {
        let body = storage.get(key).await.unwrap();
        assert_eq!(body.len(), size, "partial object observed");
        let first = body[0];
        assert!(body.iter().all(|&b| b == first), "mixed object observed");
        reads += 1;
    }
    writer.await.unwrap();
    assert_eq!(files_under(dir.path()), vec!["atomic/seg-00001.m4s"]);
}

// ---- MemoryStorage specifics ----

#[tokio::test]
async fn memory_storage_logs_puts_in_order_with_their_options() {
    let storage = MemoryStorage::new();
    put(&storage, "b/seg-00001.m4s", b"1").await;
    put(&storage, "a/index.m3u8", b"2").await;
    put(&storage, "b/seg-00001.m4s", b"3").await;
    assert_eq!(
        storage.put_log(),
        vec!["b/seg-00001.m4s", "a/index.m3u8", "b/seg-00001.m4s"]
    );
    assert_eq!(
        storage.put_options("a/index.m3u8").unwrap().content_type,
        "application/vnd.apple.mpegurl"
    );
    assert_eq!(storage.keys(), vec!["a/index.m3u8", "b/seg-00001.m4s"]);
}
