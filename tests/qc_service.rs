//! End to end: `yanxiu serve` processes an upload with a known fault (the
//! picture frozen and no sound from 5 s to 25 s): the same job that makes
//! the ladder makes the QC report (from the same decode), the API returns
//! it to the centre's technical reviewer with its SVG plots, and the
//! technical review record keeps the report the reviewer signed on.

mod common;

use common::server::{api, http, login, processed, review_and_publish, start, upload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_makes_the_qc_report_and_the_api_returns_it_with_its_plots() {
    let s = start();
    let producer = login(&s, "producer").await;
    let source = common::fixtures::fixtures_dir().join("qc_frozen_silent.mp4");
    let id = upload(&s, &producer, &source, None).await;
    let resource = processed(&s, &producer, &id).await;
    assert_eq!(resource["processing"]["status"], "ready", "{resource}");

    let centre = login(&s, "centre-reviewer").await;
    let (status, body) = api(
        &s,
        reqwest::Method::GET,
        &format!("/api/v1/resources/{id}/qc"),
        Some(&centre),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let report = &body["report"];
    let freeze = &report["freeze"][0];
    assert!(
        (freeze["start"].as_f64().unwrap_or(-1.0) - 5.0).abs() <= 0.2,
        "{report}"
    );
    assert!(
        (freeze["end"].as_f64().unwrap_or(-1.0) - 25.0).abs() <= 0.2,
        "{report}"
    );
    let errors: Vec<_> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(errors[0]["code"], "av.frozen_and_silent");
    assert!(
        report["loudness"]["integrated_lufs"].is_number(),
        "{report}"
    );
    assert_eq!(
        report["loudness_series"]["short_term_lufs"]
            .as_array()
            .map(Vec::len),
        Some(30),
        "one short-term reading a second"
    );

    for (name, must_contain) in [
        ("loudness", "响度 Loudness"),
        ("timeline", "av.frozen_and_silent"),
    ] {
        let url = body["plots"][name].as_str().expect("plot url");
        let resp = http()
            .get(format!("{}{url}", s.base))
            .bearer_auth(&centre)
            .send()
            .await
            .expect("plot");
        assert_eq!(resp.status().as_u16(), 200);
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert_eq!(content_type, "image/svg+xml; charset=utf-8");
        let svg = resp.text().await.expect("svg");
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.contains(must_contain), "{name}: {svg}");
    }
    // Without credentials: nothing.
    let (status, _) = api(
        &s,
        reqwest::Method::GET,
        &format!("/api/v1/resources/{id}/qc"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 401);

    // The revision keeps the summary; the technical review record keeps
    // what the reviewer saw.
    let (_, detail) = api(
        &s,
        reqwest::Method::GET,
        &format!("/api/v1/resources/{id}"),
        Some(&producer),
        None,
    )
    .await;
    assert_eq!(
        detail["latest"]["qc_report"]["summary"]["errors"], 1,
        "{detail}"
    );
    review_and_publish(&s, &producer, &id).await;
    // One session per account: the reviews signed in again.
    let centre = login(&s, "centre-reviewer").await;
    let (_, records) = api(
        &s,
        reqwest::Method::GET,
        &format!("/api/v1/resources/{id}/reviews"),
        Some(&centre),
        None,
    )
    .await;
    let technical = records
        .as_array()
        .or_else(|| records["items"].as_array())
        .and_then(|rs| rs.iter().find(|r| r["level"] == "technical"))
        .unwrap_or_else(|| panic!("a technical review record: {records}"))
        .clone();
    let kept = technical["qc_report"].as_str().expect("qc snapshot");
    assert!(kept.contains("av.frozen_and_silent"), "{kept}");
}
