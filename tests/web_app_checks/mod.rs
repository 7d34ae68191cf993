//! What `tests/web_app.rs` asserts on the reports of its journeys for learners' ratings,
//! complaints and "my learning", the centre's queues, the security admin's sessions and
//! lockouts, and WebRTC (WHEP) playback on the live page.

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// The main journey: rating, complaint, moderation, take-down and restore, my learning, and
/// the security admin's sessions and lockouts.
pub fn feedback_learning_and_security(report: &Value) {
    let feedback = &report["feedback"];
    assert_eq!(
        feedback["ratingStatus"], "待审核",
        "a rating waits for moderation: {feedback}"
    );
    assert_eq!(feedback["complaintFiled"], true, "{feedback}");
    assert!(
        feedback["secondComplaint"]
            .as_str()
            .is_some_and(|m| m.contains("正在处理中")),
        "one open complaint per learner and resource, in the API's words: {feedback}"
    );
    assert_eq!(feedback["ratingApproved"], true, "{feedback}");
    assert_eq!(
        feedback["commentNeeded"], "请先填写处理意见。",
        "{feedback}"
    );
    assert_eq!(
        feedback["takenDown"], true,
        "taken down: out of the catalogue: {feedback}"
    );
    assert_eq!(
        feedback["restored"], true,
        "restored: back in the catalogue: {feedback}"
    );
    let learning = &report["learning"];
    assert!(
        learning["commentShown"]
            .as_str()
            .is_some_and(|c| c.contains("讲解清楚")),
        "the approved comment is shown under the player: {learning}"
    );
    assert!(
        learning["row"]
            .as_str()
            .is_some_and(|r| r.contains("全景式认识中国式现代化")),
        "{learning}"
    );
    assert!(
        learning["progress"].as_f64().is_some_and(|p| p > 0.0),
        "the progress of what was watched: {learning}"
    );
    assert_eq!(
        learning["complaintStatus"], "restored",
        "the complainant reads the outcome: {learning}"
    );
    let security = &report["security"];
    assert_eq!(
        security["lockedStatus"], 423,
        "five wrong passwords lock: {security}"
    );
    let users: BTreeSet<&str> = security["sessionUsers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        users.contains("dept-reviewer") && users.contains("sec-admin"),
        "every account's live sessions: {security}"
    );
    assert!(
        security["browser"]
            .as_str()
            .is_some_and(|b| b.contains("Chrom")),
        "the browser of the session: {security}"
    );
    assert_eq!(
        security["victimStatus"], 401,
        "the ended session is signed out: {security}"
    );
    assert_eq!(security["unlocked"], true, "{security}");
}

/// The live journey: the learner watches over WHEP, back over HLS, and is refused once the
/// channel is no longer live.
pub fn whep_on_the_live_page(report: &Value) {
    let whep = &report["whep"];
    let rules = &whep["rules"];
    assert_eq!(
        rules["links"],
        json!([
            {"urls": "turn:turn.example.org:3478?transport=tcp", "username": "1700000000:yanxiu", "credential": "c2VjcmV0"},
            {"urls": "stun:stun.example.org:3478"}
        ]),
        "ICE servers from Link headers, other links ignored: {rules}"
    );
    assert_eq!(rules["none"], json!([]), "{rules}");
    assert_eq!(
        rules["error"],
        json!({"status": 503, "code": "whep.channel_full", "message": "频道观看人数已满"}),
        "{rules}"
    );
    assert_eq!(
        rules["notJson"],
        json!({"status": 502, "code": "http_502", "message": ""}),
        "{rules}"
    );
    let webrtc = &whep["webrtc"];
    assert_eq!(webrtc["mode"], "webrtc", "{whep}");
    assert_eq!(webrtc["hls"], false, "hls.js stopped under WebRTC: {whep}");
    assert!(
        webrtc["stats"]["codec"]
            .as_str()
            .is_some_and(|c| c.eq_ignore_ascii_case("h264")),
        "the source's H.264 over WebRTC: {whep}"
    );
    assert!(
        webrtc["stats"]["framesDecoded"]
            .as_u64()
            .is_some_and(|n| n > 30),
        "{whep}"
    );
    assert_eq!(
        whep["afterLanguages"]["mode"], "webrtc",
        "the mode survives the language switch: {whep}"
    );
    let back = &whep["backToHls"];
    assert_eq!(back["mode"], "hls", "{whep}");
    assert_eq!(back["whep"], false, "the WHEP session ended: {whep}");
    assert_eq!(back["hls"], true, "{whep}");
    let refused = &report["whepRefused"];
    assert_eq!(
        refused["code"], "live.not_live",
        "a coded refusal once the channel is not live: {refused}"
    );
    assert!(
        refused["text"].as_str().is_some_and(|t| t.contains("HLS")),
        "the page says it fell back to HLS: {refused}"
    );
    assert_eq!(refused["mode"], "hls", "{refused}");
    assert_eq!(refused["hlsChecked"], true, "{refused}");
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
