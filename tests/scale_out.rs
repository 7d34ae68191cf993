//! Scale-out without a shared disk (issue 12): two `yanxiu serve` nodes without workers and
//! three `yanxiu worker` processes, each with its own data directory, sharing one throwaway
//! PostgreSQL database and one moto S3 bucket (`[uploads] store = "storage"`). Ten uploads go
//! to both nodes, one of them `PATCH`ed alternately on the two (and once on both at the same
//! offset: one wins, the other gets 409). While the workers process, workers that hold a job
//! are SIGKILLed and restarted, and one `serve` node is SIGKILLed. Then every resource is ready
//! exactly once (one succeeded job, one "ready" audit record each), and the bucket and the
//! database agree: no part objects left, every source and every ladder object present.

mod common;
#[path = "../packager/tests/support/moto.rs"]
mod moto;
#[allow(dead_code)]
#[path = "../control/tests/common/pg.rs"]
mod pg;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::fixtures::fixtures_dir;
use common::server::{
    Server, TEST_CONFIG, http, login, prepare_config, resource, serve, signal_process, upload,
    yanxiu,
};
use rand::seq::SliceRandom;
use sqlx::{Connection, Row};
use yanxiu_packager::storage::{S3Storage, Storage};

/// Bytes per part object: S3's smallest multipart part, so the large upload has two parts.
const PART_SIZE: u64 = 5 * 1024 * 1024;
/// The accepted fixtures uploaded with tuspy (checksummed 256 KiB `PATCH`es).
const FIXTURES: [&str; 9] = [
    "sd_4x3.mp4",
    "mono_44k.mp4",
    "ntsc_29_97.mp4",
    "anamorphic_sar.mp4",
    "vfr.mp4",
    "qc_black_start.mp4",
    "qc_late_audio.mp4",
    "still_slide_bframes.mp4",
    "talk_720p25.mp4",
];

/// The config every process reads (its own copy in its own data directory).
fn config_text(database: &str, bucket: &str) -> String {
    let base = TEST_CONFIG.replace("[workers]\n", "[workers]\nmax_attempts = 10\n");
    format!(
        "database_url = \"{database}\"\n{base}\n[uploads]\nstore = \"storage\"\npart_size_bytes = {PART_SIZE}\n\n\
         [storage]\nbackend = \"s3\"\n\n[storage.s3]\nendpoint = \"{}\"\nregion = \"{}\"\nbucket = \"{bucket}\"\n\
         prefix = \"yanxiu/\"\npath_style = true\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
        moto::server().endpoint,
        moto::REGION,
        moto::ACCESS_KEY_ID,
        moto::SECRET_ACCESS_KEY
    )
}

/// A fresh data directory for another node or worker: the same config and the control keys
/// file every node of one database shares (nothing else).
fn node_dir(first: &Path, config: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("yanxiu.toml");
    std::fs::write(&path, config).expect("write config");
    std::fs::copy(
        first.join("control-keys.toml"),
        dir.path().join("control-keys.toml"),
    )
    .expect("copy the control keys");
    (dir, path)
}

/// A `yanxiu worker` process over its own data directory.
struct WorkerProcess {
    dir: tempfile::TempDir,
    child: Child,
}

impl WorkerProcess {
    fn start(first: &Path, config: &str) -> WorkerProcess {
        let (dir, path) = node_dir(first, config);
        let child = spawn_worker(dir.path(), &path);
        WorkerProcess { dir, child }
    }

    fn restart(&mut self) {
        self.child = spawn_worker(self.dir.path(), &self.dir.path().join("yanxiu.toml"));
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_worker(dir: &Path, config: &Path) -> Child {
    yanxiu()
        .args(["worker", "--data-dir"])
        .arg(dir)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn yanxiu worker")
}

/// A file larger than one part: 3 s of noisy 640x360 video (~8 MiB).
fn large_source(dir: &Path) -> PathBuf {
    let path = dir.join("large.mp4");
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=s=640x360:r=25,noise=alls=30:allf=t")
        .args(["-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", "3"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-qp", "28"])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2"])
        .args(["-movflags", "+faststart"])
        .arg(&path)
        .output()
        .expect("ffmpeg must be installed (scripts/install-deps.sh)");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let size = std::fs::metadata(&path).expect("large source").len();
    assert!(
        size > PART_SIZE + 1024 * 1024,
        "{size} bytes: not over one part"
    );
    path
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// tus creation on `node`; the upload's path (the same on every node).
async fn tus_create(node: &Server, token: &str, length: u64) -> String {
    let response = http()
        .post(format!("{}/api/v1/uploads", node.base))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", length.to_string())
        .header(
            "Upload-Metadata",
            format!("filename {},title {}", b64("large.mp4"), b64("两节点上传")),
        )
        .send()
        .await
        .expect("create");
    assert_eq!(response.status().as_u16(), 201, "create");
    response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned()
}

async fn tus_patch(
    node: &Server,
    token: &str,
    path: &str,
    offset: u64,
    body: Vec<u8>,
) -> reqwest::Response {
    http()
        .patch(format!("{}{path}", node.base))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", offset.to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .body(body)
        .send()
        .await
        .expect("patch")
}

async fn tus_offset(node: &Server, token: &str, path: &str) -> u64 {
    let response = http()
        .head(format!("{}{path}", node.base))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .expect("head");
    assert_eq!(response.status().as_u16(), 200, "head");
    response.headers()["upload-offset"]
        .to_str()
        .expect("offset")
        .parse()
        .expect("number")
}

/// Uploads `file` in 1 MiB `PATCH`es alternating between the two nodes, with one `PATCH`
/// sent to both at once. Returns the resource id.
async fn alternating_upload(nodes: [&Server; 2], token: &str, file: &Path) -> String {
    const CHUNK: usize = 1024 * 1024;
    let bytes = std::fs::read(file).expect("read");
    let path = tus_create(nodes[0], token, bytes.len() as u64).await;
    let mut offset = 0usize;
    let mut turn = 1;
    let mut resource = None;
    while offset < bytes.len() {
        let end = (offset + CHUNK).min(bytes.len());
        let node = nodes[turn % 2];
        assert_eq!(tus_offset(node, token, &path).await, offset as u64);
        if turn == 3 && end < bytes.len() {
            // The same chunk on both nodes at once: one wins, the other gets 409.
            let chunk = bytes[offset..end].to_vec();
            let (a, b) = tokio::join!(
                tus_patch(nodes[0], token, &path, offset as u64, chunk.clone()),
                tus_patch(nodes[1], token, &path, offset as u64, chunk),
            );
            let mut statuses = [a.status().as_u16(), b.status().as_u16()];
            statuses.sort();
            assert_eq!(statuses, [204, 409], "one PATCH wins, the other conflicts");
        } else {
            let response = tus_patch(
                node,
                token,
                &path,
                offset as u64,
                bytes[offset..end].to_vec(),
            )
            .await;
            assert_eq!(response.status().as_u16(), 204, "patch at {offset}");
            resource = response
                .headers()
                .get("yanxiu-resource-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
        }
        offset = end;
        turn += 1;
    }
    resource.expect("the last PATCH names the resource")
}

/// The ids of the workers' processes that hold a running job (from `jobs.worker_id`,
/// `host:pid:slot`).
async fn busy_worker_pids(db: &mut sqlx::PgConnection) -> BTreeSet<u32> {
    sqlx::query("SELECT worker_id FROM jobs WHERE state = 'running'")
        .fetch_all(db)
        .await
        .expect("running jobs")
        .iter()
        .filter_map(|r| r.try_get::<Option<String>, _>("worker_id").ok().flatten())
        .filter_map(|w| w.split(':').nth(1).and_then(|p| p.parse().ok()))
        .collect()
}

/// Polls until every resource is ready, SIGKILLing (and restarting) up to `kills` workers
/// that hold a job, and SIGKILLing `spare` after the first.
async fn process_under_fire(
    watcher: &Server,
    token: &str,
    ids: &[String],
    workers: &mut [WorkerProcess],
    spare: &mut Server,
    db: &mut sqlx::PgConnection,
) -> usize {
    let deadline = Instant::now() + Duration::from_secs(420);
    let mut killed = 0;
    let mut spare_alive = true;
    let mut next_kill = Instant::now() + Duration::from_secs(1);
    loop {
        let mut ready = 0;
        for id in ids {
            let body = resource(watcher, token, id).await;
            match body["processing"]["status"].as_str().unwrap_or_default() {
                "ready" => ready += 1,
                "rejected" | "failed" => panic!("{id} did not become ready: {body}"),
                _ => {}
            }
        }
        if ready == ids.len() {
            return killed;
        }
        assert!(
            Instant::now() < deadline,
            "{ready} of {} ready after 420 s",
            ids.len()
        );
        if killed < 4 && Instant::now() >= next_kill {
            let busy = busy_worker_pids(db).await;
            let candidates: Vec<usize> = (0..workers.len())
                .filter(|i| busy.contains(&workers[*i].child.id()))
                .collect();
            let pick = candidates.choose(&mut rand::thread_rng()).copied();
            if let Some(i) = pick {
                signal_process(&mut workers[i].child, "KILL");
                workers[i].restart();
                killed += 1;
                next_kill = Instant::now() + Duration::from_secs(2);
                if spare_alive {
                    spare.stop("KILL");
                    spare_alive = false;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every key in the bucket (under the storage prefix).
async fn bucket_keys(store: &S3Storage, prefix: &str) -> Vec<(String, u64)> {
    store
        .list(prefix)
        .await
        .expect("list")
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect()
}

/// Reads a playlist from the bucket and returns the URIs it names.
async fn playlist_uris(store: &S3Storage, key: &str) -> Vec<String> {
    let text = store
        .get(key)
        .await
        .unwrap_or_else(|e| panic!("{key}: {e}"));
    let text = String::from_utf8(text.to_vec()).expect("utf-8 playlist");
    let mut uris: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    // The init segment and other URI attributes.
    for line in text.lines().filter(|l| l.starts_with("#EXT-X-MAP")) {
        if let Some(uri) = line
            .split("URI=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        {
            uris.push(uri.to_owned());
        }
    }
    uris
}

/// Every object a ladder's master playlist leads to exists.
async fn ladder_complete(store: &S3Storage, master: &str) {
    let dir = |key: &str| {
        key.rsplit_once('/')
            .map(|(d, _)| d.to_owned())
            .unwrap_or_default()
    };
    for variant in playlist_uris(store, master).await {
        let variant_key = format!("{}/{variant}", dir(master));
        for object in playlist_uris(store, &variant_key).await {
            let key = format!("{}/{object}", dir(&variant_key));
            assert!(
                store.head(&key).await.expect("head").is_some(),
                "{key} is named by {variant_key} but missing"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_and_processing_survive_killed_nodes_without_a_shared_disk() {
    let database = pg::fresh_database().await;
    let bucket = moto::new_bucket("scale-out").await;
    let config = config_text(&database, &bucket);
    let (data_a, config_a) = prepare_config(&config);
    let first = data_a.path().to_path_buf();
    let (data_b, config_b) = node_dir(&first, &config);
    let node_a = serve(data_a, config_a, 0);
    let mut node_b = serve(data_b, config_b, 0);
    let token = login(&node_a, "producer").await;

    // Nine uploads with tuspy, spread over both nodes; one large upload alternating.
    let mut sizes = BTreeMap::new();
    for (n, name) in FIXTURES.iter().enumerate() {
        let file = fixtures_dir().join(name);
        let node = if n % 2 == 0 { &node_a } else { &node_b };
        let id = upload(node, &token, &file, None).await;
        sizes.insert(id, std::fs::metadata(&file).expect("fixture").len());
    }
    let work = tempfile::tempdir().expect("tempdir");
    let large = large_source(work.path());
    let id = alternating_upload([&node_a, &node_b], &token, &large).await;
    sizes.insert(id, std::fs::metadata(&large).expect("large").len());
    let ids: Vec<String> = sizes.keys().cloned().collect();
    assert_eq!(ids.len(), 10, "ten distinct resources");

    // The workers start once every upload is queued, so that there is work to be killed in.
    let mut workers: Vec<WorkerProcess> = (0..3)
        .map(|_| WorkerProcess::start(&first, &config))
        .collect();
    let mut db = sqlx::PgConnection::connect(&database).await.expect("pg");
    let killed =
        process_under_fire(&node_a, &token, &ids, &mut workers, &mut node_b, &mut db).await;
    assert!(killed >= 1, "no worker was killed while holding a job");

    // Ready exactly once: one succeeded job and one "ready" audit record per resource.
    for id in &ids {
        let jobs = sqlx::query("SELECT state FROM jobs WHERE resource_id = $1")
            .bind(id)
            .fetch_all(&mut db)
            .await
            .expect("jobs");
        let states: Vec<String> = jobs.iter().map(|r| r.get("state")).collect();
        assert_eq!(states, ["succeeded"], "{id}: one processing job, succeeded");
        let details: Vec<String> = sqlx::query(
            "SELECT detail FROM audit_log WHERE action = 'resource.processing' AND target = $1",
        )
        .bind(format!("resource:{id}"))
        .fetch_all(&mut db)
        .await
        .expect("audit")
        .iter()
        .map(|r| r.get("detail"))
        .collect();
        let ready = details
            .iter()
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .filter(|d| d["processing_status"] == "ready")
            .count();
        assert_eq!(ready, 1, "{id}: one ready record in {details:?}");
    }

    // The bucket and the database agree.
    let store = S3Storage::new(moto::config(&bucket, "yanxiu/"))
        .await
        .expect("s3");
    assert_eq!(
        bucket_keys(&store, "uploads/").await,
        [],
        "no part objects are left"
    );
    let rows = sqlx::query("SELECT id, completed, resource_id FROM tus_uploads")
        .fetch_all(&mut db)
        .await
        .expect("upload rows");
    let row_resources: BTreeSet<String> = rows
        .iter()
        .inspect(|r| assert_eq!(r.get::<i64, _>("completed"), 1))
        .filter_map(|r| r.get::<Option<String>, _>("resource_id"))
        .collect();
    assert_eq!(
        row_resources,
        ids.iter().cloned().collect(),
        "one upload row per resource"
    );
    let sources = bucket_keys(&store, "sources/").await;
    assert_eq!(sources.len(), ids.len(), "{sources:?}");
    for (id, size) in &sizes {
        let key = format!("sources/{id}/source.mp4");
        assert!(
            sources.contains(&(key.clone(), *size)),
            "{key} of {size} bytes in {sources:?}"
        );
    }
    let large_key = format!(
        "sources/{}/source.mp4",
        ids.iter().find(|i| sizes[*i] > PART_SIZE).expect("large")
    );
    let stored = store.get(&large_key).await.expect("large source");
    assert!(
        stored.as_ref() == std::fs::read(&large).expect("read").as_slice(),
        "the joined parts are the file"
    );
    let ladder_keys = bucket_keys(&store, "ladders/").await;
    let ladders: BTreeSet<String> = ladder_keys
        .iter()
        .filter_map(|(k, _)| k.split('/').nth(1).map(str::to_owned))
        .collect();
    assert_eq!(
        ladders,
        ids.iter().cloned().collect(),
        "ladders only of these resources"
    );
    for id in &ids {
        let prefix = sqlx::query(
            "SELECT ladder_prefix FROM resource_revisions WHERE resource_id = $1 AND ladder_prefix IS NOT NULL",
        )
        .bind(id)
        .fetch_one(&mut db)
        .await
        .expect("ladder prefix")
        .get::<String, _>("ladder_prefix");
        ladder_complete(&store, &format!("{prefix}master.m3u8")).await;
        // Nothing of a killed attempt is left beside the published ladder.
        let strays: Vec<&String> = ladder_keys
            .iter()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with(&format!("ladders/{id}/")) && !k.starts_with(&prefix))
            .collect();
        assert_eq!(
            strays,
            Vec::<&String>::new(),
            "{id}: objects outside {prefix}"
        );
    }
    drop(workers);
}
