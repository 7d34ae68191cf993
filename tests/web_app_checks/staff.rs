//! What `tests/web_app.rs` asserts on the staff part of its journeys (every reviewer and
//! administrator enrols a second factor through the page and signs in with codes the test
//! computes; recovery codes, sign-in history, the security admin's reset, an expired password,
//! the system admin's settings page), and the expired password the main journey starts from.

use std::path::Path;

use serde_json::{Value, json};

/// Makes `username`'s password 100 days old (the default `max_age_days` is 90) in the data
/// directory's SQLite database, before the server starts.
pub async fn expire_password(data: &Path, username: &str) {
    use sqlx::Connection;
    let url = format!("sqlite://{}", data.join("yanxiu.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("open the database");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    let old = i64::try_from(now).expect("ms") - 100 * 86_400_000;
    let done = sqlx::query("UPDATE users SET password_changed_at = $1 WHERE username = $2")
        .bind(old)
        .bind(username)
        .execute(&mut db)
        .await
        .expect("age the password");
    assert_eq!(done.rows_affected(), 1, "{username}");
    db.close().await.expect("close");
}

/// What an enrolment page showed (`enrol` in web_support.cjs): the QR code as an image (a
/// data: URL, drawn), the secret in groups matching the otpauth URI, ten recovery codes, and
/// "continue" held until "I have saved them" is ticked.
pub fn enrolment_page_showed_everything(page: &Value) {
    let qr = &page["qr"];
    assert_eq!(qr["tag"], "IMG", "the QR code is an image: {page}");
    assert_eq!(qr["dataUrl"], true, "{page}");
    assert!(
        qr["width"].as_u64().is_some_and(|w| w > 0),
        "the QR image is drawn: {page}"
    );
    assert!(qr["alt"].as_str().is_some_and(|a| !a.is_empty()), "{page}");
    assert!(
        page["secretGroups"].as_u64().is_some_and(|n| n >= 4),
        "the secret in groups: {page}"
    );
    assert_eq!(page["uriHasSecret"], true, "{page}");
    assert_eq!(page["codes"], 10, "ten recovery codes: {page}");
    assert_eq!(
        page["continueDisabled"], true,
        "continue waits for 'I have saved them': {page}"
    );
}

/// The staff part of the main journey: every reviewer and administrator enrols through the
/// page and signs in with TOTP codes computed by the test; recovery codes shown once and
/// replaced; the sign-in history; a replayed code refused; the security admin's reset; a
/// recovery code sign-in; an expired password changed (reuse refused in both languages)
/// before the enrolment; the system admin's settings page.
pub fn staff_sign_in_and_settings(report: &Value) {
    let mfa = &report["mfa"];
    assert_eq!(
        mfa["rfcVector"], "287082",
        "the test's TOTP meets RFC 6238: {mfa}"
    );
    let enrol = &mfa["enrol"];
    assert_eq!(enrol["landed"], "/review/department", "{enrol}");
    assert_eq!(
        enrol["menu"],
        json!(["双因素认证"]),
        "a session restricted to enrolment is offered only the enrolment: {enrol}"
    );
    assert!(
        enrol["notice"]
            .as_str()
            .is_some_and(|n| n.contains("双因素认证")),
        "the page says why: {enrol}"
    );
    enrolment_page_showed_everything(&enrol["page"]);
    let account = &mfa["account"];
    assert_eq!(account["accountSays"], "true", "{account}");
    assert_eq!(
        account["codesShownAgain"], 0,
        "recovery codes are shown once: {account}"
    );
    assert_eq!(account["codesLeft"], "10", "{account}");
    assert!(
        account["historyRows"].as_u64().is_some_and(|n| n >= 1)
            && account["historyFirst"]
                .as_str()
                .is_some_and(|r| r.contains("127.0.0.1") && r.contains("Chrom")),
        "the sign-in history: time, address, browser, outcome: {account}"
    );
    assert_eq!(account["newCodes"], 10, "{account}");
    assert_eq!(account["newCodesDiffer"], true, "{account}");
    assert_eq!(account["codesAfterReload"], 0, "{account}");
    assert_eq!(mfa["systemAdminLanded"], "/admin/users", "{mfa}");
    let again = &mfa["systemAdminAgain"];
    assert_eq!(
        again["replayed"], "该验证码已使用过，请等待下一个验证码",
        "a used code is refused in the API's words: {again}"
    );
    assert_eq!(again["landed"], "/admin/users", "{again}");
    let reset = &mfa["reset"];
    assert_eq!(reset["confirmAsked"], true, "{reset}");
    assert!(
        reset["historyRows"].as_u64().is_some_and(|n| n >= 1),
        "the security admin reads the account's sign-ins: {reset}"
    );
    assert_eq!(
        reset["victimStatus"], 401,
        "a reset ends the account's sessions: {reset}"
    );
    assert_eq!(
        mfa["reEnrolLanded"], "/review/centre",
        "after a reset the next sign-in enrols again: {mfa}"
    );
    assert_eq!(mfa["reEnrol"]["codes"], 10, "{mfa}");
    let recovery = &mfa["recovery"];
    assert_eq!(recovery["landed"], "/review/department", "{recovery}");
    assert_eq!(
        recovery["codesLeft"], "9",
        "a recovery code works once: {recovery}"
    );

    let password = &report["password"];
    assert_eq!(password["state"], "expired", "{password}");
    assert!(
        password["notice"]
            .as_str()
            .is_some_and(|n| n.contains("密码已过期")),
        "{password}"
    );
    assert_eq!(password["route"], "/account", "{password}");
    assert_eq!(password["menu"], json!(["我的账户"]), "{password}");
    assert_eq!(
        password["reused"], "新密码不得与最近 5 次使用过的密码相同",
        "{password}"
    );
    assert_eq!(
        password["reusedEn"], "the new password must differ from the last 5 passwords",
        "{password}"
    );
    assert_eq!(
        password["elsewhere"],
        json!({"status": 403, "code": "password_expired"}),
        "{password}"
    );
    assert_eq!(password["thenEnrol"], true, "{password}");
    assert_eq!(password["landed"], "/admin/audit", "{password}");

    let settings = &report["settings"];
    assert_eq!(settings["inMenu"], 1, "{settings}");
    assert_eq!(
        settings["sections"],
        json!(["password", "lockout", "sessions", "retention", "uploads"]),
        "{settings}"
    );
    assert_eq!(settings["before"], "10", "{settings}");
    assert!(
        settings["boundError"]
            .as_str()
            .is_some_and(|e| e.contains("password.min_length") && e.contains("128")),
        "a value out of bounds is refused in the API's words: {settings}"
    );
    assert_eq!(settings["changedValue"], "12", "{settings}");
    assert_eq!(settings["valueAfterReload"], "12", "{settings}");
    assert!(
        settings["changedText"]
            .as_str()
            .is_some_and(|t| t.contains("sys-admin")),
        "who changed it: {settings}"
    );
    assert_eq!(settings["resetValue"], "10", "back to default: {settings}");
    assert_eq!(settings["resetDisabled"], true, "{settings}");
    let waited = report["totp"]["waits"].as_u64().unwrap_or(u64::MAX);
    assert!(
        waited <= 1,
        "sign-ins rarely wait for a new time step: {report}"
    );
}
