//! The shared upload store against the memory storage and SQLite: parts and the trailing
//! part, durable offsets, the lease across "nodes" (two stores on one database), expiry and
//! removal.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use yanxiu_control::db::{Db, sqlite_url};
use yanxiu_control::upload_rows::UploadRows;
use yanxiu_ingest::tus::store::to_ms;
use yanxiu_ingest::tus::{ChunkStream, TusError, UploadBytes, UploadInfo, UploadStore};
use yanxiu_packager::storage::{MemoryStorage, PutOptions, Storage};

use super::SharedUploadStore;

const PART: u64 = 10;

struct Fixture {
    _dir: tempfile::TempDir,
    rows: UploadRows,
    storage: Arc<MemoryStorage>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::connect(&sqlite_url(&dir.path().join("t.db")))
        .await
        .expect("sqlite");
    Fixture {
        _dir: dir,
        rows: UploadRows::new(db),
        storage: Arc::new(MemoryStorage::new()),
    }
}

impl Fixture {
    /// A store as one `serve` node has it (several share the database and the storage).
    fn node(&self) -> SharedUploadStore {
        SharedUploadStore::new(self.rows.clone(), self.storage.clone(), PART)
    }
}

fn info(id: &str, length: u64, expires_in: Duration) -> UploadInfo {
    let now = SystemTime::now();
    UploadInfo {
        id: id.to_owned(),
        owner: "u1/d1".to_owned(),
        length,
        offset: 0,
        metadata: BTreeMap::from([("filename".to_owned(), "talk.mp4".to_owned())]),
        created_ms: to_ms(now),
        expires_ms: to_ms(now + expires_in),
        completed: false,
        completion_headers: None,
    }
}

fn id(n: u8) -> String {
    format!("{n:032x}")
}

fn chunks(pieces: &[&'static [u8]]) -> ChunkStream<'static> {
    let items: Vec<Result<Bytes, TusError>> =
        pieces.iter().map(|p| Ok(Bytes::from_static(p))).collect();
    Box::pin(futures::stream::iter(items))
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn bytes_go_into_fixed_size_parts_and_the_trailing_part_is_extended_by_the_next_patch() {
    let f = fixture().await;
    let store = f.node();
    let mut upload = info(&id(1), 25, HOUR);
    store.create(&upload).await.expect("create");
    let lease = store
        .acquire(&upload.id, SystemTime::now())
        .await
        .expect("lease");
    store
        .append(&lease, &mut upload, chunks(&[b"abcdefg", b"hijklmn"]))
        .await
        .expect("first patch");
    assert_eq!(upload.offset, 14);
    let prefix = format!("uploads/{}/parts/", upload.id);
    assert_eq!(
        f.storage.keys(),
        vec![format!("{prefix}000000"), format!("{prefix}000001")]
    );
    assert_eq!(f.storage.body(&format!("{prefix}000001")).unwrap(), "klmn");

    // Another node continues inside the trailing part.
    store.release(&lease).await.expect("release");
    let other = f.node();
    let lease = other
        .acquire(&upload.id, SystemTime::now())
        .await
        .expect("lease");
    let mut loaded = other.load(&upload.id).await.expect("load").expect("row");
    assert_eq!(loaded.offset, 14, "the offset is in the row");
    other
        .append(&lease, &mut loaded, chunks(&[b"opqrstuvwxy"]))
        .await
        .expect("second patch");
    assert_eq!(loaded.offset, 25);
    let UploadBytes::Parts(parts) = other.bytes(&loaded).await.expect("bytes") else {
        panic!("parts expected");
    };
    assert_eq!(parts.len(), 3);
    f.storage
        .concat(
            "sources/r1/source.mp4",
            &parts,
            &PutOptions::for_key("x.mp4"),
        )
        .await
        .expect("concat");
    assert_eq!(
        f.storage.body("sources/r1/source.mp4").unwrap(),
        "abcdefghijklmnopqrstuvwxy"
    );
    other.settle(&lease, &loaded).await.expect("settle");
    assert_eq!(f.storage.keys(), vec!["sources/r1/source.mp4".to_owned()]);
}

#[tokio::test]
async fn a_body_that_breaks_off_keeps_what_was_stored_and_the_offset_counts_only_durable_bytes() {
    let f = fixture().await;
    let store = f.node();
    let mut upload = info(&id(2), 100, HOUR);
    store.create(&upload).await.expect("create");
    let lease = store
        .acquire(&upload.id, SystemTime::now())
        .await
        .expect("lease");
    let body: ChunkStream<'static> = Box::pin(futures::stream::iter(vec![
        Ok(Bytes::from_static(b"0123456789abc")),
        Err(TusError::BodyInterrupted),
    ]));
    let err = store
        .append(&lease, &mut upload, body)
        .await
        .expect_err("broken body");
    assert!(matches!(err, TusError::BodyInterrupted), "{err:?}");
    assert_eq!(upload.offset, 13);
    let row = f.rows.get(&upload.id).await.expect("row").expect("some");
    assert_eq!(row.offset, 13, "the row has the durable offset");

    // A part object longer than the offset (a node died after the put) is cut back.
    f.storage
        .put(
            &format!("uploads/{}/parts/000001", upload.id),
            Bytes::from_static(b"abcGARBAGE"),
            &PutOptions::for_key("p"),
        )
        .await
        .expect("put");
    store
        .append(&lease, &mut upload, chunks(&[b"de"]))
        .await
        .expect("resume");
    assert_eq!(
        f.storage
            .body(&format!("uploads/{}/parts/000001", upload.id))
            .unwrap(),
        "abcde"
    );
}

#[tokio::test]
async fn only_one_node_holds_the_lease_until_it_gives_it_back_or_it_runs_out() {
    let f = fixture().await;
    let (a, b) = (f.node(), f.node());
    let upload = info(&id(3), 10, HOUR);
    a.create(&upload).await.expect("create");
    let now = SystemTime::now();
    let held = a.acquire(&upload.id, now).await.expect("first");
    assert!(matches!(
        b.acquire(&upload.id, now).await,
        Err(TusError::Busy)
    ));
    a.release(&held).await.expect("release");
    let taken = b.acquire(&upload.id, now).await.expect("after release");
    // A lease that ran out (its node died) is taken over.
    let later = now + super::LEASE + Duration::from_secs(1);
    let over = a.acquire(&upload.id, later).await.expect("taken over");
    assert_ne!(over.token, taken.token);
    assert!(matches!(
        a.acquire(&id(99), now).await,
        Err(TusError::NotFound)
    ));
}

#[tokio::test]
async fn a_node_that_lost_its_lease_changes_nothing() {
    let f = fixture().await;
    let a = f.node().with_lease(Duration::from_millis(1));
    let b = f.node();
    let mut upload = info(&id(4), 30, HOUR);
    a.create(&upload).await.expect("create");
    let stale = a.acquire(&upload.id, SystemTime::now()).await.expect("a");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let _fresh = b
        .acquire(&upload.id, SystemTime::now())
        .await
        .expect("b takes over");
    let err = a
        .append(&stale, &mut upload, chunks(&[b"0123456789"]))
        .await
        .expect_err("lost lease");
    assert!(matches!(err, TusError::Busy), "{err:?}");
    assert_eq!(upload.offset, 0);
    assert_eq!(f.rows.get(&upload.id).await.unwrap().unwrap().offset, 0);
    assert!(matches!(a.save(&stale, &upload).await, Err(TusError::Busy)));
    assert!(matches!(a.remove(&stale).await, Err(TusError::Busy)));
}

#[tokio::test]
async fn expired_unfinished_uploads_are_listed_and_removal_takes_row_and_parts() {
    let f = fixture().await;
    let store = f.node();
    let mut old = info(&id(5), 30, Duration::ZERO);
    old.expires_ms -= 1000;
    let fresh = info(&id(6), 30, HOUR);
    store.create(&old).await.expect("create");
    store.create(&fresh).await.expect("create");
    let lease = store
        .acquire(&old.id, SystemTime::now())
        .await
        .expect("lease");
    store
        .append(&lease, &mut old, chunks(&[b"0123456789abcdef"]))
        .await
        .expect("append");
    let expired = store.expired(SystemTime::now()).await.expect("expired");
    assert_eq!(expired, vec![old.id.clone()]);
    store.remove(&lease).await.expect("remove");
    assert!(f.storage.keys().is_empty());
    assert!(store.load(&old.id).await.expect("load").is_none());
    assert_eq!(f.rows.ids().await.expect("ids"), vec![fresh.id.clone()]);
}

#[tokio::test]
async fn completion_is_saved_on_the_row_and_a_complete_upload_never_expires() {
    let f = fixture().await;
    let store = f.node();
    let mut upload = info(&id(7), 4, Duration::ZERO);
    store.create(&upload).await.expect("create");
    let lease = store
        .acquire(&upload.id, SystemTime::now())
        .await
        .expect("lease");
    store
        .append(&lease, &mut upload, chunks(&[b"abcd"]))
        .await
        .expect("append");
    upload.completed = true;
    upload.completion_headers = Some(vec![("Yanxiu-Resource-Id".to_owned(), "r7".to_owned())]);
    store.save(&lease, &upload).await.expect("save");
    let loaded = store.load(&upload.id).await.expect("load").expect("row");
    assert_eq!(loaded, upload);
    assert!(
        store
            .expired(SystemTime::now())
            .await
            .expect("expired")
            .is_empty()
    );
    assert!(store.load("../etc/passwd").await.expect("load").is_none());
}
