//! The fetch driver: hop by hop resolution, address vetting, streaming to a temporary file.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};
use tokio::io::AsyncWriteExt;

use super::address::classify;
use super::error::FetchError;
use super::name::suggested_file_name;

/// Limits of one fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchLimits {
    /// The largest accepted file, checked from `Content-Length` and while streaming.
    pub max_bytes: u64,
    /// Time allowed for name resolution and for each TCP/TLS connection.
    pub connect_timeout: Duration,
    /// Time allowed for the whole fetch, redirects and body included.
    pub total_timeout: Duration,
    /// Fetch from loopback / private / link-local / other non-public addresses too.
    pub allow_private: bool,
    /// How many redirects are followed.
    pub max_redirects: u32,
    /// Non-public addresses fetched from even when `allow_private` is off (e.g. the
    /// institution's own media server); every other non-public address stays refused.
    pub trusted_addresses: Vec<IpAddr>,
}

impl Default for FetchLimits {
    /// 4 GiB, 10 s to connect, 1 hour in all, public addresses only, 5 redirects.
    fn default() -> Self {
        FetchLimits {
            max_bytes: 4 * 1024 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(3600),
            allow_private: false,
            max_redirects: 5,
            trusted_addresses: Vec::new(),
        }
    }
}

/// A fetched file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedFile {
    /// Its size in bytes.
    pub size: u64,
    /// The `Content-Type` the server sent.
    pub content_type: Option<String>,
    /// The URL after redirects.
    pub final_url: String,
    /// The file name the server or the URL suggests (from `Content-Disposition`, else the
    /// last URL path segment), made safe to use as a file name.
    pub file_name: Option<String>,
}

/// Fetches `url` into `dest` within `limits`. `dest` appears only when the whole file has
/// arrived (it is written under a temporary name in the same directory and renamed).
pub async fn fetch_to_file(
    url: &str,
    dest: &Path,
    limits: &FetchLimits,
) -> Result<FetchedFile, FetchError> {
    let temp = temp_path(dest);
    let result = tokio::time::timeout(limits.total_timeout, fetch_inner(url, dest, &temp, limits))
        .await
        .unwrap_or(Err(FetchError::Timeout));
    if result.is_err() {
        match tokio::fs::remove_file(&temp).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "could not remove a partial download"),
        }
    }
    result
}

fn temp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "download".into());
    dest.with_file_name(format!(".{name}.{}.part", uuid::Uuid::new_v4().simple()))
}

async fn fetch_inner(
    url: &str,
    dest: &Path,
    temp: &Path,
    limits: &FetchLimits,
) -> Result<FetchedFile, FetchError> {
    let mut current = Url::parse(url).map_err(|_| FetchError::InvalidUrl)?;
    let mut redirects = 0;
    let response = loop {
        let response = request_hop(&current, limits).await?;
        if !response.status().is_redirection() || response.status() == StatusCode::NOT_MODIFIED {
            break response;
        }
        if redirects >= limits.max_redirects {
            return Err(FetchError::TooManyRedirects(limits.max_redirects));
        }
        redirects += 1;
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(FetchError::BadRedirect)?;
        current = current
            .join(location)
            .map_err(|_| FetchError::BadRedirect)?;
    };
    if !response.status().is_success() {
        return Err(FetchError::HttpStatus(response.status().as_u16()));
    }
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes) {
        return Err(FetchError::TooLarge {
            max: limits.max_bytes,
        });
    }
    let content_type = header_string(&response, CONTENT_TYPE);
    let disposition = header_string(&response, CONTENT_DISPOSITION);
    let final_url = response.url().clone();
    let size = stream_to(response, temp, limits.max_bytes).await?;
    tokio::fs::rename(temp, dest).await?;
    Ok(FetchedFile {
        size,
        content_type,
        file_name: suggested_file_name(disposition.as_deref(), final_url.path()),
        final_url: final_url.to_string(),
    })
}

fn header_string(
    response: &reqwest::Response,
    name: reqwest::header::HeaderName,
) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// One request without following redirects, connecting only to vetted addresses.
async fn request_hop(url: &Url, limits: &FetchLimits) -> Result<reqwest::Response, FetchError> {
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(FetchError::UnsupportedScheme(scheme.to_owned()));
    }
    let host = url.host_str().ok_or(FetchError::InvalidUrl)?.to_owned();
    let port = url.port_or_known_default().ok_or(FetchError::InvalidUrl)?;
    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    let addresses: Vec<SocketAddr> = match literal {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => resolve(&host, port, limits.connect_timeout).await?,
    };
    let refused = addresses.iter().any(|a| {
        !limits.allow_private
            && !classify(a.ip()).is_public()
            && !limits.trusted_addresses.contains(&a.ip())
    });
    if refused {
        tracing::info!(%host, "import refused: non-public address");
        return Err(FetchError::PrivateAddress { host });
    }
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(limits.connect_timeout)
        .user_agent(concat!("yanxiu-import/", env!("CARGO_PKG_VERSION")));
    if literal.is_none() {
        builder = builder.resolve_to_addrs(&host, &addresses);
    }
    let client = builder
        .build()
        .map_err(|e| FetchError::Network(e.to_string()))?;
    client.get(url.clone()).send().await.map_err(map_send_error)
}

async fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, FetchError> {
    let lookup = tokio::net::lookup_host((host, port));
    let addresses: Vec<SocketAddr> = tokio::time::timeout(timeout, lookup)
        .await
        .map_err(|_| FetchError::Timeout)?
        .map_err(|_| FetchError::Resolve(host.to_owned()))?
        .collect();
    if addresses.is_empty() {
        return Err(FetchError::Resolve(host.to_owned()));
    }
    Ok(addresses)
}

fn map_send_error(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout
    } else if e.is_connect() {
        FetchError::Connect(e.to_string())
    } else {
        FetchError::Network(e.to_string())
    }
}

/// Streams the body to `temp`, at most `max` bytes, and makes it durable.
async fn stream_to(response: reqwest::Response, temp: &Path, max: u64) -> Result<u64, FetchError> {
    let mut file = tokio::fs::File::create(temp).await?;
    let mut stream = response.bytes_stream();
    let mut size: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(map_send_error)?;
        size += chunk.len() as u64;
        if size > max {
            return Err(FetchError::TooLarge { max });
        }
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    file.sync_all().await?;
    Ok(size)
}
