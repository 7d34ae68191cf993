//! Every way a WHEP (playback) request can fail, with a stable code, its
//! HTTP status and zh-CN / English messages. The HTTP layer turns these
//! into the API's error shape.

use axum::http::StatusCode;

/// A failed WHEP request.
#[derive(Debug, thiserror::Error)]
pub enum WhepError {
    /// The body is not an SDP offer.
    #[error("Content-Type must be application/sdp")]
    UnsupportedMediaType,
    /// The offer is larger than allowed.
    #[error("the offer has {bytes} bytes, more than {max}")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The channel is not live (or its video is not known yet).
    #[error("the channel is not live")]
    NotLive,
    /// The WebRTC stack did not accept the offer.
    #[error("the offer could not be negotiated: {0}")]
    Negotiation(String),
    /// The player cannot receive the channel's video codec.
    #[error("the player cannot receive {codec}")]
    ViewerCodec {
        /// The channel's codec.
        codec: &'static str,
    },
    /// The channel has as many WHEP viewers as configured.
    #[error("the channel has {max} WHEP viewers already")]
    ChannelFull {
        /// The limit.
        max: usize,
    },
    /// Too many viewers from one address.
    #[error("too many WHEP sessions from one address (at most {max})")]
    TooManyFromAddress {
        /// The limit.
        max: usize,
    },
    /// No such WHEP session.
    #[error("no such WHEP session")]
    NoSession,
    /// The WebRTC server is not running.
    #[error("the WebRTC server is not running")]
    Stopped,
}

impl WhepError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotLive | Self::NoSession => StatusCode::NOT_FOUND,
            Self::Negotiation(_) => StatusCode::BAD_REQUEST,
            Self::ViewerCodec { .. } => StatusCode::NOT_ACCEPTABLE,
            Self::ChannelFull { .. } | Self::Stopped => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyFromAddress { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedMediaType => "whep.unsupported_media_type",
            Self::TooLarge { .. } => "whep.offer_too_large",
            Self::NotLive => "live.not_live",
            Self::Negotiation(_) => "whep.negotiation_failed",
            Self::ViewerCodec { .. } => "whep.codec_unsupported",
            Self::ChannelFull { .. } => "whep.channel_full",
            Self::TooManyFromAddress { .. } => "whep.too_many_sessions",
            Self::NoSession => "whep.no_session",
            Self::Stopped => "whep.unavailable",
        }
    }

    /// Message in Simplified Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            Self::UnsupportedMediaType => "请求类型必须是 application/sdp".to_owned(),
            Self::TooLarge { bytes, max } => {
                format!("SDP 请求过大（{bytes} 字节，上限 {max} 字节）")
            }
            Self::NotLive => "该频道当前没有直播".to_owned(),
            Self::Negotiation(_) => "无法协商该 WebRTC 播放请求".to_owned(),
            Self::ViewerCodec { codec } => {
                format!("播放端无法接收本频道的视频编码（{codec}），请改用普通直播播放")
            }
            Self::ChannelFull { max } => {
                format!("本频道的低延迟观看人数已满（{max} 人），请改用普通直播播放")
            }
            Self::TooManyFromAddress { max } => {
                format!("同一地址最多同时进行 {max} 路低延迟播放")
            }
            Self::NoSession => "该播放会话不存在或已结束".to_owned(),
            Self::Stopped => "低延迟播放服务暂不可用".to_owned(),
        }
    }

    /// Message in English.
    pub fn message_en(&self) -> String {
        match self {
            Self::UnsupportedMediaType => "Content-Type must be application/sdp".to_owned(),
            Self::TooLarge { bytes, max } => {
                format!("The SDP offer has {bytes} bytes; at most {max} are accepted")
            }
            Self::NotLive => "The channel is not live".to_owned(),
            Self::Negotiation(_) => "The WebRTC offer could not be negotiated".to_owned(),
            Self::ViewerCodec { codec } => format!(
                "The player cannot receive the channel's video ({codec}); use the regular live player"
            ),
            Self::ChannelFull { max } => format!(
                "The channel's low-latency viewers are full ({max}); use the regular live player"
            ),
            Self::TooManyFromAddress { max } => {
                format!("At most {max} low-latency playbacks at once from one address")
            }
            Self::NoSession => "No such playback session, or it has ended".to_owned(),
            Self::Stopped => "Low-latency playback is not available".to_owned(),
        }
    }
}
