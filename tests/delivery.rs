//! End-to-end: how `yanxiu serve` hands a ladder to players and to caches in front of it.
//! Playlists stamp every URI with the ladder's version; an object named by the current
//! version is immutable for a year (`private` while only a preview token may see it,
//! `public` once published), with an entity tag answered by 304; an object without the
//! version is kept briefly. Small objects come from the memory cache, larger ones are
//! streamed from storage, both with byte ranges and identical bytes. Playback authorization
//! is cached, yet an unpublish on this node stops playback at the next request.

mod common;

use common::server::{api, http, login, prepare, processed, review_and_publish, serve, upload};
use reqwest::header::HeaderMap;
use serde_json::json;

/// Objects above 16 KiB are streamed (the fixture's segments), smaller ones (init
/// segments, playlists) are kept in memory.
const DELIVERY: &str = "\n[delivery]\nmemory_cache_mb = 4\nmemory_cache_max_object_kb = 16\n";

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// `(status, headers, body)` of a GET with extra request headers.
async fn get(url: &str, extra: &[(&str, &str)]) -> (u16, HeaderMap, Vec<u8>) {
    let mut request = http().get(url);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("get");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("body").to_vec();
    (status, headers, body)
}

/// The first line of `playlist` naming `what`, a URI relative to the playlist.
fn uri_line<'a>(playlist: &'a str, what: &str) -> &'a str {
    playlist
        .lines()
        .find(|l| !l.starts_with('#') && l.contains(what))
        .unwrap_or_else(|| panic!("no {what} in {playlist}"))
}

/// The value of `name` in a URI's query.
fn query_value<'a>(uri: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = uri.split_once('?')?;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ladder_reaches_players_and_caches_with_versions_tags_and_ranges() {
    let (data, config) = prepare(DELIVERY);
    let s = serve(data, config, 1);
    let producer = login(&s, "producer").await;
    let source = common::fixtures::fixtures_dir().join("lecture_1080p30.mp4");
    let id = upload(&s, &producer, &source, None).await;
    assert_eq!(
        processed(&s, &producer, &id).await["processing"]["status"],
        "ready"
    );

    // A preview (not yet published): every URI names the version and the token.
    let (st, grant) = api(
        &s,
        reqwest::Method::POST,
        "/api/v1/playback-tokens",
        Some(&producer),
        Some(json!({ "resource_id": id })),
    )
    .await;
    assert!(st < 300, "{grant}");
    let token = grant["token"].as_str().expect("token").to_owned();
    let play = format!("{}/play/{id}", s.base);
    let (st, h, master) = get(&format!("{play}/master.m3u8?token={token}"), &[]).await;
    assert_eq!(st, 200);
    assert_eq!(header(&h, "cache-control"), "private, no-cache");
    let master = String::from_utf8(master).expect("utf-8");
    let variant = uri_line(&master, "360p/index.m3u8");
    let version = query_value(variant, "v").expect("a version").to_owned();
    assert_eq!(version.len(), 12, "{variant}");
    assert!(query_value(variant, "token").is_some(), "{variant}");
    let (_, _, media) = get(&format!("{play}/{variant}"), &[]).await;
    let media = String::from_utf8(media).expect("utf-8");
    let segment = uri_line(&media, "seg-").to_owned();
    assert_eq!(
        query_value(&segment, "v"),
        Some(version.as_str()),
        "{media}"
    );

    let segment_url = format!("{play}/360p/{segment}");
    let (st, h, whole) = get(&segment_url, &[]).await;
    assert_eq!(st, 200);
    assert!(
        whole.len() > 16 * 1024,
        "a streamed segment: {} bytes",
        whole.len()
    );
    assert_eq!(
        header(&h, "cache-control"),
        "private, max-age=31536000, immutable"
    );
    let etag = header(&h, "etag").to_owned();
    assert!(etag.starts_with(&format!("\"{version}-")), "{etag}");
    let (st, h, body) = get(&segment_url, &[("if-none-match", &etag)]).await;
    assert_eq!(st, 304, "a cache holding it revalidates without the bytes");
    assert!(body.is_empty());
    assert_eq!(header(&h, "etag"), etag);
    let (st, h, part) = get(&segment_url, &[("range", "bytes=100-4195")]).await;
    assert_eq!(st, 206);
    assert_eq!(
        header(&h, "content-range"),
        format!("bytes 100-4195/{}", whole.len())
    );
    assert!(part[..] == whole[100..4196], "a streamed range");
    let (st, _, beyond) = get(
        &segment_url,
        &[("range", &format!("bytes={}-", whole.len()))],
    )
    .await;
    assert_eq!(st, 416, "{}", String::from_utf8_lossy(&beyond));

    // The init segment is small: read once, then served from memory, the same bytes.
    let init_url = format!("{play}/360p/init.mp4?token={token}&v={version}");
    let (_, _, first) = get(&init_url, &[]).await;
    let (st, h, again) = get(&init_url, &[("range", "bytes=0-7")]).await;
    assert_eq!(st, 206);
    assert_eq!(
        header(&h, "content-range"),
        format!("bytes 0-7/{}", first.len())
    );
    assert!(again[..] == first[..8]);
    assert_eq!(&first[4..8], b"ftyp");

    review_and_publish(&s, &producer, &id).await;

    // Published and public: shared caches may keep it.
    let (st, h, _) = get(&format!("{play}/master.m3u8"), &[]).await;
    assert_eq!(st, 200);
    assert_eq!(header(&h, "cache-control"), "public, max-age=10");
    let (st, h, _) = get(&format!("{play}/360p/{segment}"), &[]).await;
    assert_eq!(st, 200);
    assert_eq!(
        header(&h, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let unversioned = segment.split('?').next().expect("name");
    let (st, h, same) = get(&format!("{play}/360p/{unversioned}"), &[]).await;
    assert_eq!(st, 200);
    assert_eq!(header(&h, "cache-control"), "public, max-age=10");
    assert!(same == whole, "the same bytes under every URL");

    // ffmpeg plays the version-stamped playlists.
    let decode = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-i",
            &format!("{play}/master.m3u8"),
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(
        decode.status.success() && decode.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&decode.stderr)
    );

    // The authorization cache does not outlive a change made on this node.
    let centre = login(&s, "centre-reviewer").await;
    let (st, b) = api(
        &s,
        reqwest::Method::POST,
        &format!("/api/v1/resources/{id}/unpublish"),
        Some(&centre),
        Some(json!({ "reason": "测试下架" })),
    )
    .await;
    assert!(st < 300, "unpublish: {b}");
    let (st, _, body) = get(&format!("{play}/360p/{unversioned}"), &[]).await;
    assert_eq!(st, 404, "{}", String::from_utf8_lossy(&body));
    let (st, _, _) = get(&format!("{play}/master.m3u8"), &[]).await;
    assert_eq!(st, 404);
}
