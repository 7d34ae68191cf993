//! The technical QC report stored with a revision's media, on SQLite and PostgreSQL: recorded
//! by the job that processed the file, served by `GET /api/v1/resources/{id}/qc` with its SVG
//! plots to whoever may read the resource (and to nobody else), replaced by a retry of the
//! same job, hidden once a newer file replaces the media, and audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::TestEnv;
use serde_json::json;
use yanxiu_control::jobs::NewJob;
use yanxiu_control::qc_reports::QcRecord;
use yanxiu_control::resources::ResourceMetadata;
use yanxiu_control::{ControlError, Role};

fn record(errors: u64) -> QcRecord {
    QcRecord {
        report: json!({
            "loudness": {"integrated_lufs": -20.0, "range_lu": 0.0, "true_peak_dbtp": -19.1},
            "black": [{"start": 0.0, "end": 3.0}], "silence": [], "freeze": [],
            "summary": {"errors": errors, "warnings": 1, "infos": 0},
            "findings": [{"code": "video.black", "severity": "warning", "start": 0.0, "end": 3.0,
                          "message_zh": "黑场 3.0 秒", "message_en": "black picture for 3.0 s"}]
        }),
        loudness_svg:
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><title>响度 Loudness</title></svg>".into(),
        timeline_svg:
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><title>时间线 Timeline</title></svg>".into(),
    }
}

fn job() -> NewJob {
    NewJob {
        kind: "process_upload".into(),
        resource_id: None,
        payload: json!({}),
        max_attempts: 3,
    }
}

async fn a_jobs_report_is_served_with_its_plots_to_readers_of_the_resource(env: TestEnv) {
    let dept = env.department("数学学科组").await;
    let other = env.department("语文学科组").await;
    let (_, token) = env
        .login_as("producer", &[Role::Producer], Some(&dept))
        .await;
    let (_, stranger) = env
        .login_as("stranger", &[Role::Producer], Some(&other))
        .await;
    let (_, centre) = env.login_as("centre", &[Role::CentreReviewer], None).await;
    let uploader = env
        .control
        .authorize_upload(&token, "127.0.0.1", env.now())
        .await
        .unwrap();
    let resource = env
        .control
        .create_resource_for(
            &uploader.user_id,
            &uploader.department_id,
            ResourceMetadata {
                name: "全景式认识中国式现代化".into(),
                lecturer_name: "宋薇".into(),
                lecturer_unit: "北京市清华大学附属中学".into(),
                credit_hours: 4.0,
                display_order: 1,
                ..Default::default()
            },
            env.now(),
        )
        .await
        .unwrap();
    let id = resource.id;
    let (_, job_id) = env
        .control
        .start_processing(&id, "uploads/a/source.mp4", job(), env.now())
        .await
        .unwrap();
    let qc_path = format!("/api/v1/resources/{id}/qc");

    // Nothing before the job made a report: a clear 404 in both languages.
    let (status, body) = env.call("GET", &qc_path, Some(&token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");

    env.control
        .record_qc_report(&id, &job_id, record(1), env.now())
        .await
        .unwrap();
    for reader in [&token, &centre] {
        let (status, body) = env.call("GET", &qc_path, Some(reader), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["job_id"], job_id.as_str());
        assert_eq!(body["revision"], 1);
        assert_eq!(body["report"]["loudness"]["integrated_lufs"], -20.0);
        assert_eq!(body["report"]["findings"][0]["code"], "video.black");
        assert_eq!(body["plots"]["loudness"], format!("{qc_path}/loudness.svg"));
        for plot in ["loudness", "timeline"] {
            let url = body["plots"][plot].as_str().unwrap();
            let (status, content_type, svg) = env.raw("GET", url, Some(reader), None, &[]).await;
            assert_eq!(status, StatusCode::OK, "{svg}");
            assert_eq!(content_type, "image/svg+xml; charset=utf-8");
            assert!(svg.starts_with("<svg"), "{svg}");
        }
    }
    let (status, _) = env
        .call("GET", &format!("{qc_path}/report.json"), Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Same authorization as the resource: another department's producer and anonymous callers
    // get nothing.
    let (status, _) = env.call("GET", &qc_path, Some(&stranger), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = env
        .call(
            "GET",
            &format!("{qc_path}/timeline.svg"),
            Some(&stranger),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = env.call("GET", &qc_path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A retry of the same job replaces its report.
    env.control
        .record_qc_report(&id, &job_id, record(0), env.now())
        .await
        .unwrap();
    let (_, body) = env.call("GET", &qc_path, Some(&token), None).await;
    assert_eq!(body["report"]["summary"]["errors"], 0);
    let count: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM qc_reports")
        .fetch_one(env.control.db().pool())
        .await
        .unwrap();
    assert_eq!(count.0, 1);

    // A new file: the old report no longer describes the media, and the old job may not
    // record one.
    env.control
        .start_processing(&id, "uploads/a/second.mp4", job(), env.now())
        .await
        .unwrap();
    let (status, _) = env.call("GET", &qc_path, Some(&token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let e = env
        .control
        .record_qc_report(&id, &job_id, record(0), env.now())
        .await
        .unwrap_err();
    assert!(matches!(e, ControlError::Conflict { .. }), "{e:?}");

    // Every recorded report left an audit trace with its counts.
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT target, detail FROM audit_log WHERE action = 'resource.qc' ORDER BY seq",
    )
    .fetch_all(env.control.db().pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, format!("resource:{id}"));
    assert!(rows[0].1.contains("\"errors\":1"), "{}", rows[0].1);
}

async fn the_openapi_document_lists_the_qc_report_and_its_plots(env: TestEnv) {
    let (status, doc) = env.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let qc = &doc["paths"]["/api/v1/resources/{id}/qc"]["get"];
    assert_eq!(
        qc["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/QcReportView"
    );
    assert!(doc["paths"]["/api/v1/resources/{id}/qc/{plot}"]["get"].is_object());
    let report = &doc["components"]["schemas"]["QcReport"];
    for key in ["loudness", "black", "silence", "freeze", "findings"] {
        assert!(report["properties"][key].is_object(), "{key}");
    }
}

both_backends!(
    a_jobs_report_is_served_with_its_plots_to_readers_of_the_resource,
    the_openapi_document_lists_the_qc_report_and_its_plots,
);
