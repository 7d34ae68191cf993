//! The control plane's service error: every failure of an operation, with a stable code and
//! a message in zh-CN and English. The HTTP layer maps it to `{"error":{"code","message"}}`
//! in one place (`http::error`). Database and other internal failures carry their cause for the
//! log only; their public message is generic.

use crate::policy::Reason;

/// An operation of the control plane failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No or unknown credentials.
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong username or password (never says which).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The account is locked after repeated failures.
    #[error("account locked until {until}")]
    AccountLocked {
        /// End of the lock (ms).
        until: i64,
    },
    /// The account is disabled.
    #[error("account disabled")]
    AccountDisabled,
    /// The session ended (idle, expired, logged out, evicted).
    #[error("session ended")]
    SessionEnded,
    /// The concurrent-session limit refuses a new login.
    #[error("too many concurrent sessions")]
    SessionLimit,
    /// The session may only set up a second factor (a reviewer or administrator without one).
    #[error("second factor required")]
    SecondFactorRequired,
    /// The session may only change the expired password.
    #[error("password expired")]
    PasswordExpired,
    /// The second-factor code (TOTP or recovery code) is wrong.
    #[error("invalid second-factor code")]
    InvalidSecondFactor,
    /// The TOTP code was already used (a replay).
    #[error("second-factor code already used")]
    SecondFactorReplayed,
    /// The sign-in challenge is unknown, used or expired.
    #[error("sign-in challenge invalid or expired")]
    ChallengeInvalid,
    /// The new password is one of the account's recent passwords.
    #[error("password reused (one of the last {count})")]
    PasswordReused {
        /// How many recent passwords may not be reused.
        count: u32,
    },
    /// The policy denies the action.
    #[error("forbidden: {}", .0.en())]
    Forbidden(Reason),
    /// No such object (or not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state.
    #[error("conflict: {en}")]
    Conflict {
        /// zh-CN text.
        zh: String,
        /// English text.
        en: String,
    },
    /// A platform rule refuses the request in the state it finds (`captions.required`…):
    /// answered as a conflict with the rule's own code.
    #[error("refused by rule {code}: {en}")]
    Rule {
        /// The rule's stable code.
        code: &'static str,
        /// zh-CN text.
        zh: String,
        /// English text.
        en: String,
    },
    /// The request is invalid.
    #[error("invalid request: {en}")]
    Invalid {
        /// zh-CN text.
        zh: String,
        /// English text.
        en: String,
    },
    /// Too many requests from one caller (playback events); try again after `retry_after_ms`.
    #[error("rate limited, retry after {retry_after_ms} ms")]
    RateLimited {
        /// When a request will be accepted again (ms from now).
        retry_after_ms: i64,
    },
    /// The server cannot take more work now (a queue is full); try again shortly.
    #[error("busy")]
    Busy,
    /// The request body is larger than the route accepts.
    #[error("request body over {max_bytes} bytes")]
    PayloadTooLarge {
        /// The route's limit.
        max_bytes: u64,
    },
    /// A playback token or target was refused (playback events).
    #[error("playback refused: {0:?}")]
    Playback(crate::playback::PlaybackDenied),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Something else internal failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ControlError {
    /// An invalid-request error with both texts.
    pub fn invalid(zh: impl Into<String>, en: impl Into<String>) -> ControlError {
        ControlError::Invalid {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// A conflict error with both texts.
    pub fn conflict(zh: impl Into<String>, en: impl Into<String>) -> ControlError {
        ControlError::Conflict {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ControlError::Unauthenticated => "unauthenticated",
            ControlError::InvalidCredentials => "invalid_credentials",
            ControlError::AccountLocked { .. } => "account_locked",
            ControlError::AccountDisabled => "account_disabled",
            ControlError::SessionEnded => "session_ended",
            ControlError::SessionLimit => "session_limit",
            ControlError::SecondFactorRequired => "second_factor_required",
            ControlError::PasswordExpired => "password_expired",
            ControlError::InvalidSecondFactor => "invalid_second_factor",
            ControlError::SecondFactorReplayed => "second_factor_replayed",
            ControlError::ChallengeInvalid => "challenge_invalid",
            ControlError::PasswordReused { .. } => "password_reused",
            ControlError::Forbidden(_) => "forbidden",
            ControlError::NotFound(_) => "not_found",
            ControlError::Conflict { .. } => "conflict",
            ControlError::Rule { code, .. } => code,
            ControlError::Invalid { .. } => "invalid_request",
            ControlError::RateLimited { .. } => "rate_limited",
            ControlError::Busy => "busy",
            ControlError::PayloadTooLarge { .. } => "payload_too_large",
            ControlError::Playback(d) => d.code(),
            ControlError::Database(_) | ControlError::Internal(_) => "internal",
        }
    }

    /// True for failures of the server rather than of the request.
    pub fn is_internal(&self) -> bool {
        matches!(self, ControlError::Database(_) | ControlError::Internal(_))
    }

    /// The message in zh-CN.
    pub fn message_zh(&self) -> String {
        match self {
            ControlError::Unauthenticated => "需要登录".into(),
            ControlError::InvalidCredentials => "用户名或密码错误".into(),
            ControlError::AccountLocked { .. } => "登录失败次数过多，账号已被临时锁定".into(),
            ControlError::AccountDisabled => "账号已停用".into(),
            ControlError::SessionEnded => "会话已结束，请重新登录".into(),
            ControlError::SessionLimit => "该账号的同时在线会话已达上限".into(),
            ControlError::SecondFactorRequired => {
                "审核员和管理员账号须先启用双因素认证（TOTP），在此之前只能进行设置".into()
            }
            ControlError::PasswordExpired => "密码已过期，请先修改密码".into(),
            ControlError::InvalidSecondFactor => "验证码或恢复码错误".into(),
            ControlError::SecondFactorReplayed => "该验证码已使用过，请等待下一个验证码".into(),
            ControlError::ChallengeInvalid => "登录验证已失效，请重新输入用户名和密码".into(),
            ControlError::PasswordReused { count } => {
                format!("新密码不得与最近 {count} 次使用过的密码相同")
            }
            ControlError::Forbidden(reason) => format!("无权执行此操作：{}", reason.zh()),
            ControlError::NotFound(what) => format!("未找到{}", noun_zh(what)),
            ControlError::Conflict { zh, .. }
            | ControlError::Rule { zh, .. }
            | ControlError::Invalid { zh, .. } => zh.clone(),
            ControlError::RateLimited { .. } => "请求过于频繁，请稍后再试".into(),
            ControlError::Busy => "服务器繁忙，请稍后再试".into(),
            ControlError::PayloadTooLarge { max_bytes } => {
                format!("请求体过大（上限 {} KiB）", max_bytes.div_ceil(1024))
            }
            ControlError::Playback(d) => d.message_zh().into(),
            ControlError::Database(_) | ControlError::Internal(_) => "服务器内部错误".into(),
        }
    }

    /// The message in English.
    pub fn message_en(&self) -> String {
        match self {
            ControlError::Unauthenticated => "authentication required".into(),
            ControlError::InvalidCredentials => "invalid username or password".into(),
            ControlError::AccountLocked { .. } => {
                "too many failed logins: the account is temporarily locked".into()
            }
            ControlError::AccountDisabled => "the account is disabled".into(),
            ControlError::SessionEnded => "the session has ended, please log in again".into(),
            ControlError::SessionLimit => {
                "the account has reached its limit of concurrent sessions".into()
            }
            ControlError::SecondFactorRequired => {
                "reviewer and administrator accounts must set up two-factor authentication (TOTP) first; until then this session can only do that".into()
            }
            ControlError::PasswordExpired => {
                "the password has expired: change it first".into()
            }
            ControlError::InvalidSecondFactor => "wrong verification code or recovery code".into(),
            ControlError::SecondFactorReplayed => {
                "this code was already used: wait for the next one".into()
            }
            ControlError::ChallengeInvalid => {
                "the sign-in step has expired: enter your username and password again".into()
            }
            ControlError::PasswordReused { count } => {
                format!("the new password must differ from the last {count} passwords")
            }
            ControlError::Forbidden(reason) => format!("not allowed: {}", reason.en()),
            ControlError::NotFound(what) => format!("{what} not found"),
            ControlError::Conflict { en, .. }
            | ControlError::Rule { en, .. }
            | ControlError::Invalid { en, .. } => en.clone(),
            ControlError::RateLimited { .. } => "too many requests, try again later".into(),
            ControlError::Busy => "the server is busy, try again shortly".into(),
            ControlError::PayloadTooLarge { max_bytes } => {
                format!(
                    "the request body is too large (limit {} KiB)",
                    max_bytes.div_ceil(1024)
                )
            }
            ControlError::Playback(d) => d.message_en().into(),
            ControlError::Database(_) | ControlError::Internal(_) => "internal server error".into(),
        }
    }
}

fn noun_zh(what: &str) -> &'static str {
    match what {
        "user" => "用户",
        "department" => "部门",
        "project" => "培训项目",
        "audience" => "受众",
        "channel" => "频道",
        "resource" => "资源",
        "qc report" => "技术质检报告（尚未生成）",
        "plot" => "图表",
        "api token" => "API 令牌",
        "complaint" => "投诉",
        "feedback" => "评价",
        "session" => "会话",
        "settings section" => "设置分组",
        _ => "对象",
    }
}

/// A shorthand for results of control-plane operations.
pub type ControlResult<T> = Result<T, ControlError>;
