//! Test certificates and TLS clients: a throwaway CA made in the test
//! (rcgen), leaf certificates for `localhost` and `127.0.0.1` signed by it
//! and written as PEM files for `[tls]`, an HTTPS client trusting the CA,
//! and a raw TLS client that reports which certificate a listener serves.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, ServerName};

/// A certificate authority for one test.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, DER.
    pub der: Vec<u8>,
}

/// A leaf certificate and its key, written to files.
pub struct Leaf {
    /// The certificate, DER (what a client sees).
    pub der: Vec<u8>,
    /// PEM certificate file.
    pub cert_file: PathBuf,
    /// PEM key file.
    pub key_file: PathBuf,
}

/// PEM text of `der` under `label`.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl TestCa {
    /// A new CA.
    pub fn new() -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "yanxiu test CA");
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `localhost` and `127.0.0.1` with `serial`, written as
    /// `DIR/NAME.crt` and `DIR/NAME.key`.
    pub fn leaf(&self, serial: u64, dir: &Path, name: &str) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.serial_number = Some(SerialNumber::from(serial));
        params
            .distinguished_name
            .push(DnType::CommonName, format!("yanxiu test {serial}"));
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        let leaf = Leaf {
            der: cert.der().to_vec(),
            cert_file: dir.join(format!("{name}.crt")),
            key_file: dir.join(format!("{name}.key")),
        };
        std::fs::write(&leaf.cert_file, pem("CERTIFICATE", cert.der())).expect("write cert");
        std::fs::write(&leaf.key_file, pem("PRIVATE KEY", &key.serialize_der()))
            .expect("write key");
        leaf
    }

    /// The CA as PEM.
    pub fn pem(&self) -> String {
        pem("CERTIFICATE", &self.der)
    }

    /// An HTTPS client that trusts this CA only.
    pub fn https_client(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.pem().as_bytes()).expect("CA for reqwest");
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("https client")
    }

    /// Connects to `addr` (`127.0.0.1:PORT`) with TLS, verifying against
    /// this CA, and returns the leaf certificate the server presented.
    pub async fn served_certificate(&self, addr: &str) -> Vec<u8> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.der.clone()))
            .expect("CA into the root store");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connect to the TLS listener");
        let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
        let tls = connector
            .connect(name, tcp)
            .await
            .expect("TLS handshake with the test CA");
        let (_, conn) = tls.get_ref();
        conn.peer_certificates()
            .and_then(|c| c.first())
            .expect("a server certificate")
            .to_vec()
    }
}

/// The `[tls]` table serving `leaf` on free ports, plain listeners kept.
pub fn tls_config(leaf: &Leaf) -> String {
    format!(
        "\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nhttps_addr = \"127.0.0.1:0\"\n\
         rtmps_addr = \"127.0.0.1:0\"\nhsts_max_age_seconds = 600\n",
        leaf.cert_file.display(),
        leaf.key_file.display()
    )
}
