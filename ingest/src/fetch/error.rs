//! Why an import by link failed: a stable code and zh-CN / English messages per reason.

use crate::messages::Lang;

/// A failed fetch. [`FetchError::code`] is stable; [`FetchError::message`] is for people.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The text is not an absolute URL with a host.
    #[error("invalid URL")]
    InvalidUrl,
    /// Only `http` and `https` are fetched.
    #[error("unsupported URL scheme {0}")]
    UnsupportedScheme(String),
    /// The host is (or resolves to) a loopback, private, link-local, unspecified, multicast or
    /// other special-purpose address, and private addresses are not allowed.
    #[error("{host} resolves to a non-public address")]
    PrivateAddress {
        /// The host as written in the URL.
        host: String,
    },
    /// The host name could not be resolved.
    #[error("could not resolve {0}")]
    Resolve(String),
    /// No connection could be made.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The connection or the whole transfer took too long.
    #[error("timed out")]
    Timeout,
    /// The file is larger than the limit (from `Content-Length` or while streaming).
    #[error("file larger than {max} bytes")]
    TooLarge {
        /// The limit in bytes.
        max: u64,
    },
    /// More redirects than allowed.
    #[error("more than {0} redirects")]
    TooManyRedirects(u32),
    /// A redirect without a usable `Location`.
    #[error("redirect without a valid Location")]
    BadRedirect,
    /// The server answered with a non-success status.
    #[error("server answered HTTP {0}")]
    HttpStatus(u16),
    /// The transfer broke off or the HTTP exchange failed.
    #[error("transfer failed: {0}")]
    Network(String),
    /// The destination file could not be written.
    #[error("could not write the file: {0}")]
    Storage(#[from] std::io::Error),
}

impl FetchError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::InvalidUrl => "fetch.invalid_url",
            FetchError::UnsupportedScheme(_) => "fetch.unsupported_scheme",
            FetchError::PrivateAddress { .. } => "fetch.private_address",
            FetchError::Resolve(_) => "fetch.dns_failed",
            FetchError::Connect(_) => "fetch.connect_failed",
            FetchError::Timeout => "fetch.timeout",
            FetchError::TooLarge { .. } => "fetch.too_large",
            FetchError::TooManyRedirects(_) => "fetch.too_many_redirects",
            FetchError::BadRedirect => "fetch.bad_redirect",
            FetchError::HttpStatus(_) => "fetch.http_status",
            FetchError::Network(_) => "fetch.network",
            FetchError::Storage(_) => "fetch.storage_failed",
        }
    }

    /// An HTTP status fitting for an API that reports this failure.
    pub fn http_status(&self) -> u16 {
        match self {
            FetchError::InvalidUrl
            | FetchError::UnsupportedScheme(_)
            | FetchError::PrivateAddress { .. } => 400,
            FetchError::TooLarge { .. } => 413,
            FetchError::Storage(_) => 500,
            FetchError::Timeout => 504,
            _ => 502,
        }
    }

    /// The message for people, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        match self {
            FetchError::InvalidUrl => {
                if zh {
                    "链接格式不正确".into()
                } else {
                    "The link is not a valid URL".into()
                }
            }
            FetchError::UnsupportedScheme(s) => {
                if zh {
                    format!("只支持 http 和 https 链接，不支持 {s}")
                } else {
                    format!("Only http and https links are supported, not {s}")
                }
            }
            FetchError::PrivateAddress { host } => {
                if zh {
                    format!("不允许从内网或本机地址导入：{host}")
                } else {
                    format!("Importing from internal or local addresses is not allowed: {host}")
                }
            }
            FetchError::Resolve(host) => {
                if zh {
                    format!("无法解析域名 {host}")
                } else {
                    format!("Could not resolve the host name {host}")
                }
            }
            FetchError::Connect(_) => {
                if zh {
                    "无法连接到链接所在的服务器".into()
                } else {
                    "Could not connect to the server of the link".into()
                }
            }
            FetchError::Timeout => {
                if zh {
                    "下载超时".into()
                } else {
                    "The download timed out".into()
                }
            }
            FetchError::TooLarge { max } => {
                if zh {
                    format!("文件超过大小上限 {max} 字节")
                } else {
                    format!("The file exceeds the size limit of {max} bytes")
                }
            }
            FetchError::TooManyRedirects(n) => {
                if zh {
                    format!("重定向次数超过 {n} 次")
                } else {
                    format!("More than {n} redirects")
                }
            }
            FetchError::BadRedirect => {
                if zh {
                    "服务器返回了无效的重定向".into()
                } else {
                    "The server sent an invalid redirect".into()
                }
            }
            FetchError::HttpStatus(code) => {
                if zh {
                    format!("服务器返回错误状态 HTTP {code}")
                } else {
                    format!("The server answered with HTTP {code}")
                }
            }
            FetchError::Network(_) => {
                if zh {
                    "下载中断，请稍后重试".into()
                } else {
                    "The download broke off; retry later".into()
                }
            }
            FetchError::Storage(_) => {
                if zh {
                    "服务器保存文件失败".into()
                } else {
                    "The server failed to store the file".into()
                }
            }
        }
    }
}
