//! TLS termination for `yanxiu serve`: one certificate and key (PEM files
//! named in `[tls]`) for HTTPS and RTMPS, swapped in place on SIGHUP.
//!
//! - [`CertStore`] owns the current certificate; [`CertStore::reload`]
//!   reads the files again and swaps them in only when they load and the
//!   key matches the certificate, so a bad new file keeps the old
//!   certificate (the caller logs why). Handshakes already under way and
//!   open connections are not touched; the listeners never close.
//! - [`TlsListener`] is an `axum::serve` listener: it accepts TCP, runs each
//!   handshake in its own task under a deadline (a slow client holds
//!   nobody else up) and hands finished TLS streams to the server.
//! - [`RtmpsUpgrade`] runs the same handshake for the RTMP server's
//!   connections, so RTMP runs unchanged over the TLS stream.
//!
//! The crypto provider is rustls' aws-lc-rs one, named explicitly (the tree
//! builds two providers, so there is no process default to rely on).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Handshakes run at once per listener; further connections wait in the
/// kernel's backlog.
const MAX_HANDSHAKES: usize = 256;
/// Finished handshakes waiting for the HTTP server to take them.
const ACCEPTED_QUEUE: usize = 64;

/// Why a certificate or key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The certificate file holds no certificate.
    #[error("{0}: no PEM certificate found")]
    NoCertificate(PathBuf),
    /// A PEM block is malformed.
    #[error("{path}: invalid PEM: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The key is unusable or does not belong to the certificate.
    #[error("{path}: {message}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// What was loaded, for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// SHA-256 of the leaf certificate's DER, lowercase hex.
    pub fingerprint: String,
    /// The leaf's `notAfter`, seconds since the Unix epoch (none if unreadable).
    pub not_after: Option<i64>,
}

/// The current certificate and key, read from two PEM files.
#[derive(Debug)]
pub struct CertStore {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertStore {
    /// Loads the certificate chain and key; fails when either is unusable.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Arc<CertStore>, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = load_key(cert_file, key_file, &provider)?;
        Ok(Arc::new(CertStore {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            provider,
            current: RwLock::new(Arc::new(key)),
        }))
    }

    /// Reads the files again and serves the new certificate from the next
    /// handshake on; on failure the old one stays.
    pub fn reload(&self) -> Result<CertInfo, TlsError> {
        let key = load_key(&self.cert_file, &self.key_file, &self.provider)?;
        let info = info_of(&key);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(info)
    }

    /// The certificate served now.
    pub fn info(&self) -> CertInfo {
        info_of(&self.current())
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A TLS acceptor over this store, offering `alpn` protocols (none for RTMPS).
    pub fn acceptor(self: &Arc<Self>, alpn: &[&[u8]]) -> Result<TlsAcceptor, rustls::Error> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(self.clone())));
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// Hands every handshake the store's current certificate.
#[derive(Debug)]
struct Resolver(Arc<CertStore>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }
}

fn info_of(key: &CertifiedKey) -> CertInfo {
    let leaf = key.cert.first().map(|c| c.as_ref()).unwrap_or_default();
    CertInfo {
        fingerprint: hex_lower(&Sha256::digest(leaf)),
        not_after: not_after(leaf),
    }
}

/// One DER element: its tag, its contents and what follows it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The `notAfter` of an X.509 certificate (RFC 5280 4.1: Certificate ›
/// tbsCertificate › validity), seconds since the Unix epoch.
fn not_after(der: &[u8]) -> Option<i64> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, cert, _) = der_element(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = der_element(cert)? else {
        return None;
    };
    let mut fields = tbs;
    if fields.first() == Some(&0xa0) {
        fields = der_element(fields)?.2; // version
    }
    fields = der_element(fields)?.2; // serialNumber
    fields = der_element(fields)?.2; // signature
    fields = der_element(fields)?.2; // issuer
    let (SEQUENCE, validity, _) = der_element(fields)? else {
        return None;
    };
    let after = der_element(validity)?.2;
    let (tag, text, _) = der_element(after)?;
    asn1_time(tag, std::str::from_utf8(text).ok()?)
}

/// UTCTime (`YYMMDDHHMMSSZ`, tag 0x17) or GeneralizedTime
/// (`YYYYMMDDHHMMSSZ`, tag 0x18), as X.509 uses them, in Unix seconds.
fn asn1_time(tag: u8, text: &str) -> Option<i64> {
    let digits = text.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 if digits.len() == 12 => {
            let yy: i32 = digits.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        0x18 if digits.len() == 14 => (digits.get(..4)?.parse().ok()?, &digits[4..]),
        _ => return None,
    };
    let num = |i: usize| rest.get(i..i + 2)?.parse::<u8>().ok();
    let month = time::Month::try_from(num(0)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, num(2)?).ok()?;
    let at = date.with_hms(num(4)?, num(6)?, num(8)?).ok()?;
    Some(at.assume_utc().unix_timestamp())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn load_key(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let pem_err = |path: &Path, e: rustls_pki_types::pem::Error| TlsError::Pem {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let cert_pem = read(cert_file)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(cert_file, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert_file.to_owned()));
    }
    let key_pem = read(key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| pem_err(key_file, e))?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| TlsError::Key {
        path: key_file.to_owned(),
        message: e.to_string(),
    })
}

/// An HTTPS listener for `axum::serve`: TCP accept, then the TLS handshake
/// in its own task under a deadline.
#[derive(Debug)]
pub struct TlsListener {
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Binds `addr` and starts accepting; dropping the listener stops it.
    pub async fn bind(
        addr: &str,
        acceptor: TlsAcceptor,
        handshake_timeout: Duration,
    ) -> io::Result<TlsListener> {
        let tcp = TcpListener::bind(addr).await?;
        let local = tcp.local_addr()?;
        let (tx, accepted) = mpsc::channel(ACCEPTED_QUEUE);
        tokio::spawn(accept_loop(tcp, acceptor, tx, handshake_timeout));
        Ok(TlsListener { accepted, local })
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    handshake_timeout: Duration,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = tokio::select! {
            () = tx.closed() => return,
            accepted = tcp.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "HTTPS accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    drop(slot);
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(pair) => pair,
            // The accept loop only ends when this receiver is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// RTMPS: the TLS handshake on each RTMP connection, under a deadline.
#[derive(Clone)]
pub struct RtmpsUpgrade {
    /// The acceptor (no ALPN).
    pub acceptor: TlsAcceptor,
    /// How long a client may take to finish the handshake.
    pub timeout: Duration,
}

impl std::fmt::Debug for RtmpsUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtmpsUpgrade")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl yanxiu_ingest::rtmp::StreamUpgrade for RtmpsUpgrade {
    type Stream = TlsStream<TcpStream>;

    async fn upgrade(&self, tcp: TcpStream) -> io::Result<Self::Stream> {
        match tokio::time::timeout(self.timeout, self.acceptor.accept(tcp)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        }
    }
}

/// Middleware of the plain HTTP listener in `redirect` mode: `308` to the
/// same host, path and query on HTTPS (`https_port`); health probes are
/// still answered over plain HTTP.
pub async fn redirect_to_https(
    axum::extract::State(https_port): axum::extract::State<u16>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    let path = request.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return next.run(request).await;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(host_only);
    let Some(host) = host else {
        return yanxiu_control::http::error::respond(
            yanxiu_control::ControlError::invalid(
                "缺少或无效的 Host 请求头",
                "missing or invalid Host header",
            ),
            request.headers(),
        );
    };
    let location = https_location(host, https_port, request.uri());
    match HeaderValue::from_str(&location) {
        Ok(v) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, v)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// The host of a `Host` header without its port, when it is a plain name or
/// address (letters, digits, `-`, `.`, or a bracketed IPv6 address).
fn host_only(value: &str) -> Option<&str> {
    let host = if value.starts_with('[') {
        &value[..=value.find(']')?]
    } else {
        value.split(':').next()?
    };
    let ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c));
    ok.then_some(host)
}

fn https_location(host: &str, port: u16, uri: &axum::http::Uri) -> String {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    match port {
        443 => format!("https://{host}{path}"),
        _ => format!("https://{host}:{port}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
        let cert_path = dir.join(format!("{name}.crt"));
        let key_path = dir.join(format!("{name}.key"));
        std::fs::write(&cert_path, pem("CERTIFICATE", cert.der())).expect("write cert");
        std::fs::write(&key_path, pem("PRIVATE KEY", &signing_key.serialize_der()))
            .expect("write key");
        (cert_path, key_path)
    }

    fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn a_reload_swaps_in_the_new_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = write_pair(dir.path(), "a");
        let store = CertStore::load(&cert, &key).expect("load");
        let before = store.info();
        let (cert_b, key_b) = write_pair(dir.path(), "b");
        std::fs::rename(&cert_b, &cert).expect("rename cert");
        std::fs::rename(&key_b, &key).expect("rename key");
        let after = store.reload().expect("reload");
        assert_ne!(before, after);
        assert_eq!(store.info(), after);
    }

    #[test]
    fn a_bad_new_file_keeps_the_old_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = write_pair(dir.path(), "a");
        let store = CertStore::load(&cert, &key).expect("load");
        let before = store.info();
        std::fs::write(&cert, "not a certificate").expect("overwrite");
        assert!(matches!(store.reload(), Err(TlsError::NoCertificate(_))));
        assert_eq!(store.info(), before);
    }

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, _) = write_pair(dir.path(), "a");
        let (_, other_key) = write_pair(dir.path(), "b");
        let err = CertStore::load(&cert, &other_key).expect_err("mismatch");
        assert!(matches!(err, TlsError::Key { .. }), "{err}");
    }

    #[test]
    fn redirects_keep_host_path_and_query_on_the_https_port() {
        let uri: axum::http::Uri = "/play/r/master.m3u8?token=t".parse().expect("uri");
        let host = host_only("video.example.edu:8080").expect("host");
        assert_eq!(
            https_location(host, 8443, &uri),
            "https://video.example.edu:8443/play/r/master.m3u8?token=t"
        );
        assert_eq!(
            https_location("video.example.edu", 443, &uri),
            "https://video.example.edu/play/r/master.m3u8?token=t"
        );
        assert_eq!(host_only("[::1]:8080"), Some("[::1]"));
        assert_eq!(host_only("evil/path"), None);
        assert_eq!(host_only(""), None);
    }

    #[test]
    fn the_expiry_date_is_read_from_the_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("p");
        params.not_after = time::macros::datetime!(2031-07-04 12:30:15 UTC);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        assert_eq!(not_after(cert.der()), Some(1_940_934_615));
        params.not_after = time::macros::datetime!(2051-01-02 00:00:00 UTC);
        let cert = params.self_signed(&key).expect("cert");
        assert_eq!(
            not_after(cert.der()),
            Some(2_556_230_400),
            "GeneralizedTime after 2049"
        );
        assert_eq!(not_after(b"\x30\x03\x02\x01"), None, "truncated");
        assert_eq!(not_after(&[]), None);
    }

    #[test]
    fn utc_times_before_1950_and_after_2049_follow_rfc_5280() {
        assert_eq!(asn1_time(0x17, "491231235959Z"), Some(2_524_607_999));
        assert_eq!(asn1_time(0x17, "500101000000Z"), Some(-631_152_000));
        assert_eq!(asn1_time(0x17, "5001010000Z"), None);
        assert_eq!(asn1_time(0x18, "20500101000000"), None, "no Z");
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let err = CertStore::load(Path::new("/nonexistent/c.pem"), Path::new("/nonexistent/k"))
            .expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/c.pem"), "{err}");
    }
}
