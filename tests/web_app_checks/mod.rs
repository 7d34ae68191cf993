//! What `tests/web_app.rs` asserts on the reports of its journeys for learners' ratings,
//! complaints and "my learning", the centre's queues, the security admin's sessions and
//! lockouts, and WebRTC (WHEP) playback on the live page; staff sign-in and the settings page
//! in [`staff`].

pub mod staff;

pub use staff::{enrolment_page_showed_everything, expire_password, staff_sign_in_and_settings};

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
