//! Every way a WHIP request can fail, with a stable code, the HTTP status
//! RFC 9725 asks for, and zh-CN / English messages. The HTTP layer that
//! serves WHIP turns these into the API's error shape.

use axum::http::StatusCode;

use super::offer::OfferError;
use crate::publish::PublishRefusal;

/// A failed WHIP request.
#[derive(Debug, thiserror::Error)]
pub enum WhipError {
    /// The body is not of the media type the request takes (named).
    #[error("Content-Type must be {0}")]
    UnsupportedMediaType(&'static str),
    /// No `Authorization: Bearer <stream key>`.
    #[error("missing stream key")]
    MissingKey,
    /// The offer cannot make a live stream.
    #[error(transparent)]
    Offer(#[from] OfferError),
    /// The WebRTC stack did not accept the offer.
    #[error("the offer could not be negotiated: {0}")]
    Negotiation(String),
    /// The publish gate refused the key (or the server is full).
    #[error("publish refused: {}", .0.code)]
    Refused(PublishRefusal),
    /// Too many publishers from one address.
    #[error("too many WHIP sessions from one address (at most {max})")]
    TooManyFromAddress {
        /// The limit.
        max: usize,
    },
    /// No such WHIP session.
    #[error("no such WHIP session")]
    NoSession,
    /// The WHIP server is not running (stopping, or it failed).
    #[error("the WHIP server is not running")]
    Stopped,
}

impl WhipError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MissingKey => StatusCode::UNAUTHORIZED,
            Self::Offer(OfferError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Offer(OfferError::UnsupportedCodecs { .. }) => StatusCode::NOT_ACCEPTABLE,
            Self::Offer(_) | Self::Negotiation(_) => StatusCode::BAD_REQUEST,
            Self::Refused(refusal) => match refusal.code.as_str() {
                "unknown_channel" => StatusCode::NOT_FOUND,
                PublishRefusal::SERVER_BUSY | PublishRefusal::GATE_TIMEOUT | "unavailable" => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::FORBIDDEN,
            },
            Self::TooManyFromAddress { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NoSession => StatusCode::NOT_FOUND,
            Self::Stopped => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Stable code (a refusal keeps the gate's code, as RTMP does).
    pub fn code(&self) -> String {
        match self {
            Self::UnsupportedMediaType(_) => "whip.unsupported_media_type".to_owned(),
            Self::MissingKey => "whip.missing_key".to_owned(),
            Self::Offer(e) => e.code().to_owned(),
            Self::Negotiation(_) => "whip.negotiation_failed".to_owned(),
            Self::Refused(refusal) => refusal.code.clone(),
            Self::TooManyFromAddress { .. } => "whip.too_many_sessions".to_owned(),
            Self::NoSession => "whip.no_session".to_owned(),
            Self::Stopped => "whip.unavailable".to_owned(),
        }
    }

    /// Message in Simplified Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            Self::UnsupportedMediaType(wanted) => format!("请求类型必须是 {wanted}"),
            Self::MissingKey => "缺少推流密钥（Authorization: Bearer）".to_owned(),
            Self::Offer(e) => e.message_zh(),
            Self::Negotiation(_) => "无法协商该 WebRTC 推流请求".to_owned(),
            Self::Refused(refusal) => refusal.message_zh.clone(),
            Self::TooManyFromAddress { max } => {
                format!("同一地址最多同时进行 {max} 路 WebRTC 推流")
            }
            Self::NoSession => "该推流会话不存在或已结束".to_owned(),
            Self::Stopped => "WebRTC 推流服务暂不可用".to_owned(),
        }
    }

    /// Message in English.
    pub fn message_en(&self) -> String {
        match self {
            Self::UnsupportedMediaType(wanted) => format!("Content-Type must be {wanted}"),
            Self::MissingKey => {
                "The stream key is missing (Authorization: Bearer <key>)".to_owned()
            }
            Self::Offer(e) => e.message_en(),
            Self::Negotiation(_) => "The WebRTC offer could not be negotiated".to_owned(),
            Self::Refused(refusal) => refusal.message_en.clone(),
            Self::TooManyFromAddress { max } => {
                format!("At most {max} WebRTC publishes at once from one address")
            }
            Self::NoSession => "No such publish session, or it has ended".to_owned(),
            Self::Stopped => "The WebRTC ingest is not available".to_owned(),
        }
    }
}
