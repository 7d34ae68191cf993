//! The three-level review through the HTTP API: rejection, rework, re-review of an update
//! while the previous revision stays published, self-approval refused, review records and
//! Table 1. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::TestEnv;
use serde_json::{Value, json};
use yanxiu_control::Role;

fn metadata(name: &str) -> Value {
    json!({"project_name": "2026 年骨干教师研修", "undertaking_unit": "教师网络研修中心", "name": name,
        "lecturer_name": "宋薇", "lecturer_unit": "北京市清华大学附属中学", "lecturer_title": "高级教师",
        "summary": "目标与要点", "credit_hours": 4, "category1": "名师课改示范课", "category2": "政治与历史",
        "display_order": 1})
}

async fn sign(
    env: &TestEnv,
    token: &str,
    id: &str,
    level: &str,
    decision: &str,
    comment: &str,
) -> (StatusCode, Value) {
    env.clock.advance_ms(1000);
    let path = format!("/api/v1/resources/{id}/reviews");
    env.call(
        "POST",
        &path,
        Some(token),
        Some(json!({"level": level, "decision": decision, "comment": comment})),
    )
    .await
}

fn state(body: &Value) -> &str {
    body["latest"]["state"].as_str().unwrap_or("?")
}

async fn a_resource_goes_through_rejection_rework_publication_and_a_reviewed_update(env: TestEnv) {
    let math = env.department("数学学科组").await;
    let other = env.department("语文学科组").await;
    let (_, producer) = env
        .login_as("producer", &[Role::Producer], Some(&math))
        .await;
    let (_, dept_rev) = env
        .login_as("head", &[Role::DepartmentReviewer], Some(&math))
        .await;
    let (_, other_rev) = env
        .login_as("otherhead", &[Role::DepartmentReviewer], Some(&other))
        .await;
    let (_, centre) = env.login_as("centre", &[Role::CentreReviewer], None).await;

    let (status, created) = env
        .call(
            "POST",
            "/api/v1/resources",
            Some(&producer),
            Some(json!({"department_id": math, "metadata": metadata("全景式认识中国式现代化")})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(state(&created), "draft");
    let media = json!({"media_ref": "vod/abc/source.mp4", "processing_status": "ready",
        "qc_report": {"video_codec": "h264", "width": 1920, "height": 1080, "passed": true}});
    let (status, _) = env
        .call(
            "PUT",
            &format!("/api/v1/resources/{id}/media"),
            Some(&producer),
            Some(media),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Levels cannot be skipped.
    assert_eq!(
        sign(&env, &dept_rev, &id, "department", "approve", "")
            .await
            .0,
        StatusCode::CONFLICT
    );
    let (status, body) = sign(&env, &producer, &id, "self", "approve", "自审通过").await;
    assert_eq!((status, state(&body)), (StatusCode::OK, "self_reviewed"));
    // Out-of-department reviewer refused; rejection needs a reason.
    assert_eq!(
        sign(&env, &other_rev, &id, "department", "approve", "")
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        sign(&env, &dept_rev, &id, "department", "reject", " ")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let (status, body) = sign(
        &env,
        &dept_rev,
        &id,
        "department",
        "reject",
        "简介缺少学习目标",
    )
    .await;
    assert_eq!((status, state(&body)), (StatusCode::OK, "rejected"));
    // Rework: the producer edits and signs again.
    let (status, body) = env
        .call(
            "PATCH",
            &format!("/api/v1/resources/{id}"),
            Some(&producer),
            Some(json!({"metadata": {"summary": "学习目标：…"}})),
        )
        .await;
    assert_eq!((status, state(&body)), (StatusCode::OK, "draft"));
    assert_eq!(body["latest"]["number"], 1);
    sign(&env, &producer, &id, "self", "approve", "已修改").await;
    let (_, body) = sign(&env, &dept_rev, &id, "department", "approve", "同意").await;
    assert_eq!(state(&body), "department_approved");
    // The centre rejects at level 3; after rework all three levels sign again.
    let (_, body) = sign(&env, &centre, &id, "technical", "reject", "音画不同步").await;
    assert_eq!(state(&body), "rejected");
    let media = json!({"media_ref": "vod/abc/fixed.mp4", "processing_status": "ready", "qc_report": {"av_sync_ms": 5, "passed": true}});
    env.call(
        "PUT",
        &format!("/api/v1/resources/{id}/media"),
        Some(&producer),
        Some(media),
    )
    .await;
    sign(&env, &producer, &id, "self", "approve", "").await;
    sign(&env, &dept_rev, &id, "department", "approve", "同意").await;
    // Only the centre publishes, and only after technical approval.
    assert_eq!(
        env.call(
            "POST",
            &format!("/api/v1/resources/{id}/publish"),
            Some(&centre),
            None
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    let (_, body) = sign(
        &env,
        &centre,
        &id,
        "technical",
        "approve",
        "格式、画质、音质合格",
    )
    .await;
    assert_eq!(state(&body), "technically_approved");
    assert_eq!(
        env.call(
            "POST",
            &format!("/api/v1/resources/{id}/publish"),
            Some(&dept_rev),
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = env
        .call(
            "POST",
            &format!("/api/v1/resources/{id}/publish"),
            Some(&centre),
            None,
        )
        .await;
    assert_eq!((status, state(&body)), (StatusCode::OK, "published"));
    let (_, cat) = env.call("GET", "/api/v1/catalogue", None, None).await;
    assert_eq!(cat["total"], 1);
    assert_eq!(cat["items"][0]["name"], "全景式认识中国式现代化");

    // An update opens revision 2; revision 1 stays published meanwhile.
    let (status, body) = env
        .call(
            "PATCH",
            &format!("/api/v1/resources/{id}"),
            Some(&producer),
            Some(json!({"metadata": {"name": "全景式认识中国式现代化（修订版）"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["latest"]["number"], 2);
    assert_eq!(state(&body), "draft");
    assert_eq!(body["published"]["number"], 1);
    assert_eq!(body["published"]["state"], "published");
    let (_, cat) = env.call("GET", "/api/v1/catalogue", None, None).await;
    assert_eq!(cat["items"][0]["name"], "全景式认识中国式现代化");
    sign(&env, &producer, &id, "self", "approve", "").await;
    // While under review the resource cannot change.
    let (status, _) = env
        .call(
            "PATCH",
            &format!("/api/v1/resources/{id}"),
            Some(&producer),
            Some(json!({"metadata": {"credit_hours": 2}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    sign(&env, &dept_rev, &id, "department", "approve", "同意").await;
    sign(&env, &centre, &id, "technical", "approve", "合格").await;
    let (_, body) = env
        .call(
            "POST",
            &format!("/api/v1/resources/{id}/publish"),
            Some(&centre),
            None,
        )
        .await;
    assert_eq!(body["published"]["number"], 2);
    let (_, cat) = env.call("GET", "/api/v1/catalogue", None, None).await;
    assert_eq!(cat["total"], 1);
    assert_eq!(cat["items"][0]["name"], "全景式认识中国式现代化（修订版）");
    assert_eq!(cat["items"][0]["revision"], 2);

    // Every step left a record; the technical ones kept the QC report they saw.
    let (_, records) = env
        .call(
            "GET",
            &format!("/api/v1/resources/{id}/reviews"),
            Some(&dept_rev),
            None,
        )
        .await;
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 11, "{records:?}");
    let technical: Vec<&Value> = records
        .iter()
        .filter(|r| r["level"] == "technical")
        .collect();
    assert_eq!(technical.len(), 3);
    assert!(
        technical
            .iter()
            .all(|r| r["reviewer_role"] == "centre_reviewer" && r["qc_report"].is_string())
    );
    assert!(
        technical[1]["qc_report"]
            .as_str()
            .unwrap()
            .contains("av_sync_ms")
    );
    // Table 1 of the current revision, as JSON and printable HTML.
    let (status, form) = env
        .call(
            "GET",
            &format!("/api/v1/resources/{id}/review-form"),
            Some(&centre),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(form["revision"], 2);
    assert_eq!(form["opinions"].as_array().unwrap().len(), 3);
    assert_eq!(form["opinions"][2]["title"], "教师网络研修中心技术审核意见");
    assert_eq!(form["lecturer_unit"], "北京市清华大学附属中学");
    let (status, content_type, html) = env
        .raw(
            "GET",
            &format!("/api/v1/resources/{id}/review-form.html"),
            Some(&centre),
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"));
    assert!(
        html.contains("内容审查表")
            && html.contains("宋薇")
            && html.contains("资源提供部门复审意见")
    );
    // And the audit log has every decision.
    let reviews = env
        .control
        .search_audit(
            &yanxiu_control::audit::AuditQuery {
                action: Some("review.".into()),
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(reviews.total, 11 + 1, "11 signed + 1 refused by the policy");
}

async fn nobody_approves_their_own_resource_at_level_two_or_three(env: TestEnv) {
    let math = env.department("数学学科组").await;
    let (_, head) = env
        .login_as(
            "head",
            &[Role::Producer, Role::DepartmentReviewer],
            Some(&math),
        )
        .await;
    let (_, centre) = env
        .login_as(
            "centre",
            &[Role::Producer, Role::CentreReviewer],
            Some(&math),
        )
        .await;
    let (_, other_head) = env
        .login_as("deputy", &[Role::DepartmentReviewer], Some(&math))
        .await;
    for (owner, level, reviewer_at_2) in [
        (&head, "department", &other_head),
        (&centre, "technical", &head),
    ] {
        let (_, created) = env
            .call(
                "POST",
                "/api/v1/resources",
                Some(owner),
                Some(json!({"department_id": math, "metadata": metadata("自己的课")})),
            )
            .await;
        let id = created["id"].as_str().unwrap().to_owned();
        sign(&env, owner, &id, "self", "approve", "").await;
        if level == "technical" {
            let (status, _) = sign(&env, reviewer_at_2, &id, "department", "approve", "同意").await;
            assert_eq!(status, StatusCode::OK);
        }
        let (status, body) = sign(&env, owner, &id, level, "approve", "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{level}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("不得审核自己"),
            "{body}"
        );
        if level == "technical" {
            assert_eq!(
                env.call(
                    "POST",
                    &format!("/api/v1/resources/{id}/publish"),
                    Some(owner),
                    None
                )
                .await
                .0,
                StatusCode::FORBIDDEN
            );
        }
    }
}

async fn unpublishing_takes_a_resource_out_of_the_catalogue(env: TestEnv) {
    let math = env.department("数学学科组").await;
    let (_, producer) = env
        .login_as("producer", &[Role::Producer], Some(&math))
        .await;
    let (_, head) = env
        .login_as("head", &[Role::DepartmentReviewer], Some(&math))
        .await;
    let (_, centre) = env.login_as("centre", &[Role::CentreReviewer], None).await;
    let (_, created) = env
        .call(
            "POST",
            "/api/v1/resources",
            Some(&producer),
            Some(json!({"department_id": math, "metadata": metadata("课")})),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    sign(&env, &producer, &id, "self", "approve", "").await;
    sign(&env, &head, &id, "department", "approve", "").await;
    sign(&env, &centre, &id, "technical", "approve", "").await;
    env.call(
        "POST",
        &format!("/api/v1/resources/{id}/publish"),
        Some(&centre),
        None,
    )
    .await;
    assert_eq!(
        env.call(
            "POST",
            &format!("/api/v1/resources/{id}/unpublish"),
            Some(&producer),
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = env
        .call(
            "POST",
            &format!("/api/v1/resources/{id}/unpublish"),
            Some(&centre),
            Some(json!({"reason": "收到投诉，复审"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["published"].is_null());
    assert_eq!(
        env.call("GET", "/api/v1/catalogue", None, None).await.1["total"],
        0
    );
    // Back online only through review again.
    let (_, body) = env
        .call(
            "PATCH",
            &format!("/api/v1/resources/{id}"),
            Some(&producer),
            Some(json!({"metadata": {"summary": "已整改"}})),
        )
        .await;
    assert_eq!(body["latest"]["number"], 2);
    assert_eq!(state(&body), "draft");
}

both_backends!(
    a_resource_goes_through_rejection_rework_publication_and_a_reviewed_update,
    nobody_approves_their_own_resource_at_level_two_or_three,
    unpublishing_takes_a_resource_out_of_the_catalogue,
);
