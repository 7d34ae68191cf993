//! Import by link against local axum servers on 127.0.0.1 (and 127.0.0.2): refused by
//! default as a private address, fetched when allowed, with the size cap, timeouts and
//! redirect vetting enforced.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use yanxiu_ingest::fetch::{FetchError, FetchLimits, fetch_to_file};

const FILE_SIZE: usize = 300_000;

fn file_bytes() -> Vec<u8> {
    (0..FILE_SIZE).map(|i| (i % 251) as u8).collect()
}

#[derive(Clone)]
struct Other(String);

async fn serve(ip: &str, other: String) -> SocketAddr {
    let app = Router::new()
        .route(
            "/media/lecture.mp4",
            get(|| async { ([(header::CONTENT_TYPE, "video/mp4")], file_bytes()) }),
        )
        .route(
            "/named",
            get(|| async {
                (
                    [(
                        header::CONTENT_DISPOSITION,
                        "attachment; filename*=UTF-8''%E7%AC%AC%E4%B8%80%E8%AE%B2.mp4",
                    )],
                    file_bytes(),
                )
            }),
        )
        .route(
            "/chunked",
            get(|| async {
                let chunks =
                    (0..3).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![1u8; 100_000])));
                Body::from_stream(futures::stream::iter(chunks))
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/redirect-self",
            get(|| async { redirect("/media/lecture.mp4") }),
        )
        .route("/loop", get(|| async { redirect("/loop") }))
        .route(
            "/redirect-other",
            get(|State(Other(other)): State<Other>| async move { redirect(&other) }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .with_state(Other(other));
    let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_owned())]).into_response()
}

fn allowing_private() -> FetchLimits {
    FetchLimits {
        allow_private: true,
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(10),
        ..FetchLimits::default()
    }
}

fn leftovers(dir: &Path) -> usize {
    std::fs::read_dir(dir).expect("read dir").count()
}

#[tokio::test]
async fn a_loopback_server_is_refused_by_default() {
    let addr = serve("127.0.0.1", String::new()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("x.mp4");
    for url in [
        format!("http://{addr}/media/lecture.mp4"),
        format!("http://localhost:{}/media/lecture.mp4", addr.port()),
    ] {
        let err = fetch_to_file(&url, &dest, &FetchLimits::default())
            .await
            .expect_err("refused");
        assert_eq!(err.code(), "fetch.private_address", "{url}: {err}");
        assert_eq!(err.http_status(), 400);
    }
    assert_eq!(leftovers(dir.path()), 0);
}

#[tokio::test]
async fn with_allow_private_the_file_is_fetched_with_type_name_and_size() {
    let addr = serve("127.0.0.1", String::new()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("x.mp4");
    let url = format!("http://{addr}/media/lecture.mp4");
    let fetched = fetch_to_file(&url, &dest, &allowing_private())
        .await
        .expect("fetch");
    assert_eq!(fetched.size, FILE_SIZE as u64);
    assert_eq!(fetched.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(fetched.file_name.as_deref(), Some("lecture.mp4"));
    assert_eq!(fetched.final_url, url);
    assert_eq!(std::fs::read(&dest).expect("dest"), file_bytes());
    assert_eq!(leftovers(dir.path()), 1, "no temporary file left");

    let named = fetch_to_file(&format!("http://{addr}/named"), &dest, &allowing_private())
        .await
        .expect("fetch named");
    assert_eq!(named.file_name.as_deref(), Some("第一讲.mp4"));
}

#[tokio::test]
async fn an_explicitly_trusted_address_is_fetched_without_allow_private() {
    let addr = serve("127.0.0.1", String::new()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = FetchLimits {
        trusted_addresses: vec![addr.ip()],
        ..FetchLimits::default()
    };
    let fetched = fetch_to_file(
        &format!("http://{addr}/media/lecture.mp4"),
        &dir.path().join("x.mp4"),
        &limits,
    )
    .await
    .expect("trusted fetch");
    assert_eq!(fetched.size, FILE_SIZE as u64);
}

#[tokio::test]
async fn the_size_cap_applies_to_content_length_and_to_chunked_bodies() {
    let addr = serve("127.0.0.1", String::new()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("x.mp4");
    let limits = FetchLimits {
        max_bytes: 250_000,
        ..allowing_private()
    };
    for path in ["/media/lecture.mp4", "/chunked"] {
        let err = fetch_to_file(&format!("http://{addr}{path}"), &dest, &limits)
            .await
            .expect_err("too large");
        assert_eq!(err.code(), "fetch.too_large", "{path}: {err}");
        assert!(matches!(err, FetchError::TooLarge { max: 250_000 }));
        assert_eq!(leftovers(dir.path()), 0, "{path}: nothing left behind");
    }
    let fits = FetchLimits {
        max_bytes: 300_000,
        ..allowing_private()
    };
    let fetched = fetch_to_file(&format!("http://{addr}/chunked"), &dest, &fits)
        .await
        .expect("exactly at the cap");
    assert_eq!(fetched.size, 300_000);
}

#[tokio::test]
async fn the_total_timeout_is_enforced() {
    let addr = serve("127.0.0.1", String::new()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = FetchLimits {
        total_timeout: Duration::from_millis(500),
        ..allowing_private()
    };
    let started = std::time::Instant::now();
    let err = fetch_to_file(
        &format!("http://{addr}/slow"),
        &dir.path().join("x"),
        &limits,
    )
    .await
    .expect_err("timeout");
    assert_eq!(err.code(), "fetch.timeout");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_refused() {
    let inner = serve("127.0.0.2", String::new()).await;
    let outer = serve("127.0.0.1", format!("http://{inner}/media/lecture.mp4")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = FetchLimits {
        trusted_addresses: vec!["127.0.0.1".parse::<IpAddr>().expect("ip")],
        ..FetchLimits::default()
    };
    let url = format!("http://{outer}/redirect-other");
    let err = fetch_to_file(&url, &dir.path().join("x"), &limits)
        .await
        .expect_err("refused hop");
    assert_eq!(err.code(), "fetch.private_address");
    assert_eq!(leftovers(dir.path()), 0);
    // The same redirect is followed when private addresses are allowed.
    let fetched = fetch_to_file(&url, &dir.path().join("x"), &allowing_private())
        .await
        .expect("followed");
    assert_eq!(
        fetched.final_url,
        format!("http://{inner}/media/lecture.mp4")
    );
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let addr = serve("127.0.0.1", String::new()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let fetched = fetch_to_file(
        &format!("http://{addr}/redirect-self"),
        &dir.path().join("x"),
        &allowing_private(),
    )
    .await
    .expect("followed");
    assert_eq!(
        fetched.final_url,
        format!("http://{addr}/media/lecture.mp4")
    );
    let err = fetch_to_file(
        &format!("http://{addr}/loop"),
        &dir.path().join("y"),
        &allowing_private(),
    )
    .await
    .expect_err("loop");
    assert_eq!(err.code(), "fetch.too_many_redirects");
}

#[tokio::test]
async fn other_schemes_bad_urls_and_error_statuses_have_their_own_codes() {
    let addr = serve("127.0.0.1", String::new()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("x");
    let cases = [
        (
            "ftp://example.com/a.mp4".to_owned(),
            "fetch.unsupported_scheme",
        ),
        ("file:///etc/passwd".to_owned(), "fetch.unsupported_scheme"),
        ("not a url".to_owned(), "fetch.invalid_url"),
        (format!("http://{addr}/missing"), "fetch.http_status"),
        ("http://[::1]:9/".to_owned(), "fetch.private_address"),
        ("http://0.0.0.0:9/".to_owned(), "fetch.private_address"),
    ];
    for (url, code) in cases {
        let limits = if code == "fetch.http_status" {
            allowing_private()
        } else {
            FetchLimits::default()
        };
        let err = fetch_to_file(&url, &dest, &limits).await.expect_err(&url);
        assert_eq!(err.code(), code, "{url}: {err}");
        assert_ne!(
            err.message(yanxiu_ingest::Lang::Zh),
            err.message(yanxiu_ingest::Lang::En)
        );
    }
}
