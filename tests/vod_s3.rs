//! End-to-end on object storage: `yanxiu serve` with the S3 backend against
//! a real S3-compatible server (moto, started by the test). An upload is
//! processed into a ladder in the bucket; once published, playlists are
//! served by yanxiu (carrying tokens) and segments by presigned redirects
//! to the object store; ffmpeg decodes the whole ladder over HTTP.

mod common;
#[path = "../packager/tests/support/moto.rs"]
mod moto;

use std::process::Command;

use common::fixtures::fixtures_dir;
use common::server::{http, login, prepare, processed, review_and_publish, serve, upload};
use yanxiu_packager::storage::Storage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vod_flow_works_on_s3_with_presigned_segment_redirects() {
    let bucket = moto::new_bucket("vod-flow").await;
    let s3 = format!(
        "\n[storage]\nbackend = \"s3\"\ns3_delivery = \"redirect\"\n\n[storage.s3]\nendpoint = \"{}\"\nregion = \"{}\"\nbucket = \"{bucket}\"\nprefix = \"yanxiu/\"\npath_style = true\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
        moto::server().endpoint,
        moto::REGION,
        moto::ACCESS_KEY_ID,
        moto::SECRET_ACCESS_KEY
    );
    let (data, config) = prepare(&s3);
    let s = serve(data, config, 1);
    let producer = login(&s, "producer").await;
    let id = upload(&s, &producer, &fixtures_dir().join("talk_720p25.mp4"), None).await;
    let r = processed(&s, &producer, &id).await;
    assert_eq!(r["processing"]["status"], "ready", "{r}");

    // The ladder is in the bucket, under the configured prefix.
    let store = yanxiu_packager::storage::S3Storage::new(moto::config(&bucket, "yanxiu/"))
        .await
        .expect("s3 storage");
    let objects = store.list(&format!("ladders/{id}/")).await.expect("list");
    assert!(
        objects.iter().any(|o| o.key.ends_with("master.m3u8")),
        "{objects:?}"
    );
    assert!(
        objects.iter().filter(|o| o.key.ends_with(".m4s")).count() >= 6,
        "{objects:?}"
    );

    review_and_publish(&s, &producer, &id).await;

    // Segments redirect to presigned URLs on the object store.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let seg = no_redirects
        .get(format!("{}/play/{id}/360p/seg-00001.m4s", s.base))
        .send()
        .await
        .expect("segment");
    assert_eq!(seg.status().as_u16(), 302);
    let location = seg.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(location.starts_with(&moto::server().endpoint), "{location}");
    let body = http().get(&location).send().await.expect("presigned get");
    assert_eq!(body.status().as_u16(), 200);
    assert!(!body.bytes().await.expect("bytes").is_empty());

    // ffmpeg plays the whole thing through yanxiu and the redirects. Its
    // HTTP client logs (at error level) that it cannot keep one connection
    // across the two hosts before opening a new one; that line is benign,
    // any other is a failure.
    let master = format!("{}/play/{id}/master.m3u8", s.base);
    let decode = Command::new("ffmpeg")
        .args([
            "-v", "error", "-i", &master, "-map", "0:v:0", "-map", "0:a:0", "-f", "null", "-",
        ])
        .output()
        .expect("ffmpeg");
    let stderr = String::from_utf8_lossy(&decode.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("Cannot reuse HTTP connection for different host"))
        .collect();
    assert!(decode.status.success() && errors.is_empty(), "{stderr}");
}
