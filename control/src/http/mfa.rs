//! HTTP handlers of staff authentication: the sign-in's second step, the caller's second
//! factor (enrolment, confirmation, recovery codes, removal), sign-in histories (one's own;
//! any account's for the security administrator), the security administrator's reset of an
//! account's second factor; and their entries in the OpenAPI document.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::error::ControlError;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Authed, ClientAddr, SignedIn};
use crate::http::openapi::{Auth, Operation, op};
use crate::http::{AppState, RouteTable};
use crate::mfa_store::{MfaStatus, RecoveryCodes, TotpEnrolment};
use crate::plane::{Page, PageRequest};
use crate::sessions::{LoginGrant, SecondFactorProof};
use crate::sign_ins::{SignIn, SignInMeta};

pub(super) fn routes(table: RouteTable) -> RouteTable {
    table
        .post("/api/v1/sessions/second-factor", second_factor)
        .get("/api/v1/me/mfa", status)
        .post("/api/v1/me/mfa/totp", begin)
        .post("/api/v1/me/mfa/totp/confirm", confirm)
        .post("/api/v1/me/mfa/recovery-codes", recovery_codes)
        .post("/api/v1/me/mfa/remove", remove)
        .get("/api/v1/me/sign-ins", my_sign_ins)
        .get("/api/v1/security/users/{id}/sign-ins", sign_ins_of)
        .post("/api/v1/security/users/{id}/mfa/reset", reset)
}

/// The operations, for the OpenAPI document.
pub const OPERATIONS: &[Operation] = &[
    op(
        "POST",
        "/api/v1/sessions/second-factor",
        "accounts",
        "The second sign-in step: answer the challenge of POST /api/v1/sessions (202) with a TOTP `code` or a `recovery_code`; 201 with the session. A code is accepted once (401 second_factor_replayed), ±1 step of clock skew; wrong codes count toward the lockout; 401 challenge_invalid after 5 minutes",
        Auth::None,
        Some(&["challenge:string", "code:string?", "recovery_code:string?"]),
        201,
    ),
    op(
        "GET",
        "/api/v1/me/mfa",
        "accounts",
        "The caller's second factor: enabled, pending, required by the roles, recovery codes left",
        Auth::Bearer,
        None,
        200,
    ),
    op(
        "POST",
        "/api/v1/me/mfa/totp",
        "accounts",
        "Start TOTP enrolment: a new secret (base32), its otpauth:// URI and QR code (SVG), shown once; active only after /confirm; 409 while one is active",
        Auth::Bearer,
        None,
        201,
    ),
    op(
        "POST",
        "/api/v1/me/mfa/totp/confirm",
        "accounts",
        "Confirm TOTP enrolment with a first valid code; returns ten single-use recovery codes, shown once",
        Auth::Bearer,
        Some(&["code:string"]),
        200,
    ),
    op(
        "POST",
        "/api/v1/me/mfa/recovery-codes",
        "accounts",
        "Replace the caller's recovery codes with ten new ones (needs a current TOTP code)",
        Auth::Bearer,
        Some(&["code:string"]),
        200,
    ),
    op(
        "POST",
        "/api/v1/me/mfa/remove",
        "accounts",
        "Remove the caller's own second factor (needs a current TOTP code); 409 for reviewers and administrators, who must keep one",
        Auth::Bearer,
        Some(&["code:string"]),
        204,
    ),
    op(
        "GET",
        "/api/v1/me/sign-ins",
        "accounts",
        "The caller's sign-in history (time, address, user agent, success or failure and why), newest first (paginated)",
        Auth::Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/security/users/{id}/sign-ins",
        "security",
        "An account's sign-in history, newest first (paginated); security_admin only",
        Auth::Bearer,
        None,
        200,
    ),
    op(
        "POST",
        "/api/v1/security/users/{id}/mfa/reset",
        "security",
        "Reset an account's second factor (lost authenticator): removes it and its recovery codes and ends the account's sessions and tokens; audited as mfa.reset; security_admin only",
        Auth::Bearer,
        None,
        204,
    ),
];

/// Query parameters of the operations.
pub const QUERY_PARAMETERS: &[(&str, &str, &[&str])] = &[
    (
        "GET",
        "/api/v1/me/sign-ins",
        &["page:integer", "per_page:integer"],
    ),
    (
        "GET",
        "/api/v1/security/users/{id}/sign-ins",
        &["page:integer", "per_page:integer"],
    ),
];

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Deserialize)]
struct SecondFactorRequest {
    challenge: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
}

async fn second_factor(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<SecondFactorRequest>,
) -> ApiResult<(StatusCode, Json<LoginGrant>)> {
    let proof = match (&req.code, &req.recovery_code) {
        (Some(code), None) => SecondFactorProof::Totp(code),
        (None, Some(code)) => SecondFactorProof::RecoveryCode(code),
        _ => {
            return Err(ControlError::invalid(
                "请提供验证码（code）或恢复码（recovery_code）之一",
                "send exactly one of code and recovery_code",
            )
            .into());
        }
    };
    let meta = SignInMeta {
        source_addr: &addr,
        user_agent: super::accounts::user_agent(&headers),
    };
    let grant = state
        .control
        .login_second_factor(&req.challenge, proof, meta, state.now())
        .await?;
    Ok((StatusCode::CREATED, Json(grant)))
}

async fn status(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<MfaStatus>> {
    Ok(Json(state.control.mfa_status(&actor).await?))
}

async fn begin(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<(StatusCode, Json<TotpEnrolment>)> {
    let enrolment = state
        .control
        .begin_totp_enrolment(&actor, state.now())
        .await?;
    Ok((StatusCode::CREATED, Json(enrolment)))
}

#[derive(Debug, Deserialize)]
struct CodeRequest {
    code: String,
}

async fn confirm(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<Json<RecoveryCodes>> {
    Ok(Json(
        state
            .control
            .confirm_totp_enrolment(&actor, &req.code, state.now())
            .await?,
    ))
}

async fn recovery_codes(
    State(state): State<AppState>,
    Authed(actor): Authed,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<Json<RecoveryCodes>> {
    Ok(Json(
        state
            .control
            .regenerate_recovery_codes(&actor, &req.code, state.now())
            .await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    Authed(actor): Authed,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<StatusCode> {
    state
        .control
        .remove_own_mfa(&actor, &req.code, state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn my_sign_ins(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Query(page): Query<PageRequest>,
) -> ApiResult<Json<Page<SignIn>>> {
    Ok(Json(
        state
            .control
            .sign_in_history(&actor, &actor.user_id, page)
            .await?,
    ))
}

async fn sign_ins_of(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    Query(page): Query<PageRequest>,
) -> ApiResult<Json<Page<SignIn>>> {
    Ok(Json(
        state.control.sign_in_history(&actor, &id, page).await?,
    ))
}

async fn reset(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .control
        .reset_mfa(Some(&actor), &id, state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
