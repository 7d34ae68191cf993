//! WHIP (RFC 9725) at the HTTP level through `yanxiu serve`, with an offer
//! Debian's Chromium made (tests/browser/chromium-offer.sdp): the publish
//! gate's refusals, bad offers, CORS, a publisher that never connects, and
//! the per-address limit. No media flows here; tests/whip_browser.rs
//! publishes for real.

mod common;

use std::time::Duration;

use common::live::{
    LiveChannel, create_channel, events, metrics, of_kind, organiser, rotate_key, set_enabled,
    start_live, status,
};
use common::server::{Server, http};
use reqwest::header;
use serde_json::Value;

/// A sendonly VP8/H.264/VP9/AV1 + Opus offer from Chromium's fake devices.
fn chromium_offer() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/browser/chromium-offer.sdp"
    );
    std::fs::read_to_string(path).expect("the Chromium offer fixture")
}

fn whip_url(s: &Server, stream_name: &str) -> String {
    format!("{}/whip/{stream_name}", s.base)
}

/// POSTs `body` as `content_type` with `key`; status, headers and body.
async fn post(
    url: &str,
    key: Option<&str>,
    content_type: &str,
    body: String,
    lang: &str,
) -> (u16, header::HeaderMap, String) {
    let mut request = http()
        .post(url)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT_LANGUAGE, lang)
        .body(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("POST");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap_or_default())
}

/// POSTs the Chromium offer with `key`, in English.
async fn publish(url: &str, key: &str) -> (u16, header::HeaderMap, String) {
    post(url, Some(key), "application/sdp", chromium_offer(), "en").await
}

/// The error code of a JSON error body.
fn code(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON error: {body}"));
    value["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an error code: {body}"))
        .to_owned()
}

async fn setup(extra: &str) -> (Server, String, LiveChannel) {
    let s = start_live(extra);
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "区级教研 WHIP", "low_latency").await;
    (s, token, channel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whip_publishes_with_bad_keys_are_refused_with_the_rtmp_codes_before_any_media() {
    let (s, token, channel) = setup("").await;
    let url = whip_url(&s, &channel.stream_name);
    let offer = chromium_offer();

    let (st, _, body) = post(&url, None, "application/sdp", offer.clone(), "zh-CN").await;
    assert_eq!(
        (st, code(&body)),
        (401, "whip.missing_key".into()),
        "{body}"
    );
    let (st, _, body) = post(
        &url,
        Some("sk_wrong"),
        "application/sdp",
        offer.clone(),
        "en",
    )
    .await;
    assert_eq!((st, code(&body)), (403, "wrong_key".into()), "{body}");
    assert!(body.contains("key"), "English message: {body}");
    let (st, _, body) = post(
        &whip_url(&s, "ch-nope"),
        Some(&channel.stream_key),
        "application/sdp",
        offer.clone(),
        "zh-CN",
    )
    .await;
    assert_eq!((st, code(&body)), (404, "unknown_channel".into()), "{body}");

    let rotated = rotate_key(&s, &token, &channel).await;
    let (st, _, body) = post(
        &url,
        Some(&channel.stream_key),
        "application/sdp",
        offer.clone(),
        "zh-CN",
    )
    .await;
    assert_eq!((st, code(&body)), (403, "key_rotated".into()), "{body}");

    set_enabled(&s, &token, &rotated, false).await;
    let (st, _, body) = post(
        &url,
        Some(&rotated.stream_key),
        "application/sdp",
        offer,
        "zh-CN",
    )
    .await;
    assert_eq!((st, code(&body)), (403, "disabled".into()), "{body}");

    // The refusals are the channel's events and the metrics', as for RTMP;
    // nothing went live.
    let list = events(&s, &token, &rotated).await;
    let codes: Vec<&str> = of_kind(&list, "refused")
        .iter()
        .filter_map(|e| e["detail"]["code"].as_str())
        .collect();
    for wanted in ["wrong_key", "key_rotated", "disabled"] {
        assert!(codes.contains(&wanted), "{wanted} in {list:#?}");
    }
    assert!(of_kind(&list, "started").is_empty(), "{list:#?}");
    let text = metrics(&s).await;
    assert!(
        text.contains("yanxiu_live_publish_refused_total{code=\"wrong_key\"}"),
        "refusals are counted"
    );
    let log = common::live::server_log(&s);
    for key in [&channel.stream_key, &rotated.stream_key] {
        assert!(!log.contains(key.as_str()), "no stream key in the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_offers_get_a_coded_4xx_and_the_channel_stays_idle() {
    let (s, token, channel) = setup("").await;
    let url = whip_url(&s, &channel.stream_name);
    let key = Some(channel.stream_key.as_str());
    let offer = chromium_offer();
    let video_only_av1 = {
        let mut out = String::new();
        let mut keep = true;
        for line in offer.lines() {
            if line.starts_with("m=audio") {
                keep = false;
            }
            let is_rtpmap = line.starts_with("a=rtpmap:");
            if keep && (!is_rtpmap || line.contains("AV1") || line.contains("rtx")) {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
        out
    };
    let no_video = offer.replace("a=sendonly", "a=recvonly");
    let no_fingerprint: String = offer
        .lines()
        .filter(|l| !l.starts_with("a=fingerprint"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "text/plain",
            offer.clone(),
            415,
            "whip.unsupported_media_type",
        ),
        (
            "application/sdp",
            "{\"sdp\": 1}".into(),
            400,
            "whip.malformed_offer",
        ),
        (
            "application/sdp",
            String::new(),
            400,
            "whip.malformed_offer",
        ),
        ("application/sdp", no_video, 400, "whip.no_video"),
        (
            "application/sdp",
            video_only_av1,
            406,
            "whip.unsupported_codecs",
        ),
        (
            "application/sdp",
            "v=0\r\n".repeat(20_000),
            413,
            "whip.offer_too_large",
        ),
        (
            "application/sdp",
            no_fingerprint,
            400,
            "whip.negotiation_failed",
        ),
    ];
    for (content_type, body, want_status, want_code) in cases {
        let (st, _, answer) = post(&url, key, content_type, body, "en").await;
        assert_eq!(
            (st, code(&answer).as_str()),
            (want_status, want_code),
            "{answer}"
        );
    }
    let now = status(&s, &token, &channel).await;
    assert_eq!(now["status"]["live"], false, "{now}");
    assert!(
        of_kind(&events(&s, &token, &channel).await, "started").is_empty(),
        "nothing started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_the_whip_and_whep_endpoints() {
    let (s, _, _) = setup("").await;
    let doc: Value = http()
        .get(format!("{}/api/v1/openapi.json", s.base))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    let publish = &doc["paths"]["/whip/{stream_name}"]["post"];
    assert!(publish.is_object(), "POST /whip/{{stream_name}}: {doc}");
    let session = &doc["paths"]["/whip/{stream_name}/{session_id}"];
    assert!(session["delete"].is_object() && session["patch"].is_object());
    let play = &doc["paths"]["/whep/{channel_id}"]["post"];
    assert!(play.is_object(), "POST /whep/{{channel_id}}: {doc}");
    let viewing = &doc["paths"]["/whep/{channel_id}/{session_id}"];
    assert!(viewing["delete"].is_object() && viewing["patch"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_origin_may_publish_cors_preflight_and_exposed_location() {
    let (s, _, channel) = setup("").await;
    let url = whip_url(&s, &channel.stream_name);
    let preflight = http()
        .request(reqwest::Method::OPTIONS, &url)
        .header(header::ORIGIN, "http://school.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type",
        )
        .send()
        .await
        .expect("OPTIONS");
    assert!(preflight.status().is_success(), "{preflight:?}");
    let h = preflight.headers();
    let methods = h[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap();
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    let allowed = h[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    let answer = http()
        .post(&url)
        .header(header::ORIGIN, "http://school.example")
        .header(header::CONTENT_TYPE, "application/sdp")
        .bearer_auth(&channel.stream_key)
        .body(chromium_offer())
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status().as_u16(), 201);
    let exposed = answer.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("location"), "{exposed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_that_never_connects_is_dropped_and_leaves_nothing_stored() {
    let (s, token, channel) =
        setup("webrtc_connect_timeout_seconds = 1\nwebrtc_max_per_address = 1\n").await;
    let url = whip_url(&s, &channel.stream_name);
    let (st, headers, answer) = publish(&url, &channel.stream_key).await;
    assert_eq!(st, 201, "{answer}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/sdp");
    assert!(
        answer.starts_with("v=0") && answer.contains("a=ice-lite"),
        "{answer}"
    );
    assert!(answer.contains("typ host"), "a host candidate: {answer}");
    let location = headers[header::LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("/whip/{}/", channel.stream_name)),
        "{location}"
    );
    let session_url = format!("{}{location}", s.base);

    // While it is connecting: trickled candidates are taken, and a second
    // publish from the same address is over the limit.
    let patch = http()
        .patch(&session_url)
        .header(header::CONTENT_TYPE, "application/trickle-ice-sdpfrag")
        .body("a=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host\r\n")
        .send()
        .await
        .expect("PATCH");
    assert_eq!(patch.status().as_u16(), 204);
    let (st, _, body) = publish(&url, &channel.stream_key).await;
    assert_eq!(
        (st, code(&body)),
        (429, "whip.too_many_sessions".into()),
        "{body}"
    );

    // Nobody connects: after the timeout the session is gone, nothing went
    // live and nothing reached storage.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let gone = http().delete(&session_url).send().await.expect("DELETE");
    let st = gone.status().as_u16();
    assert_eq!(
        (st, code(&gone.text().await.unwrap())),
        (404, "whip.no_session".into())
    );
    let now = status(&s, &token, &channel).await;
    assert_eq!(now["status"]["live"], false, "{now}");
    assert!(of_kind(&events(&s, &token, &channel).await, "started").is_empty());
    assert!(
        !s.data.path().join("media/live").exists(),
        "nothing stored for a publish that never connected"
    );
    // The address may publish again.
    let (st, _, body) = publish(&url, &channel.stream_key).await;
    assert_eq!(st, 201, "{body}");
}
