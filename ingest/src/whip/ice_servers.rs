//! The ICE servers handed to WebRTC clients (publishers and players) for
//! networks that block UDP: a TURN server reached over TCP or TLS relays
//! their media to yanxiu's UDP port. Credentials are minted per request
//! for the TURN REST API scheme (coturn `use-auth-secret`): the username
//! is the expiry time, the credential an HMAC-SHA1 of it with the secret
//! shared with the TURN server, so no long-lived TURN password ever
//! reaches a browser. Pure: the time is an argument.

use std::fmt;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha1::Sha1;

/// The TURN server's shared secret (`static-auth-secret`); never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnSecret(String);

impl TurnSecret {
    /// A secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
}

impl fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TurnSecret([redacted])")
    }
}

/// Where clients find STUN/TURN servers, and how TURN credentials are made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceServerConfig {
    /// `stun:`, `turn:` and `turns:` URLs (e.g.
    /// `turn:turn.example.edu:3478?transport=tcp`).
    pub urls: Vec<String>,
    /// The secret shared with the TURN server; without it TURN URLs are
    /// handed out without credentials.
    pub turn_secret: Option<TurnSecret>,
    /// How long minted credentials last, in seconds.
    pub credential_ttl_seconds: u64,
}

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IceServer {
    /// The server's URLs.
    pub urls: Vec<String>,
    /// The TURN username (`{expiry}:yanxiu`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The TURN credential.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// The ICE servers for a client at `now_unix`, and when their credentials
/// expire (none when there is nothing to expire).
pub fn ice_servers(config: &IceServerConfig, now_unix: u64) -> (Vec<IceServer>, Option<u64>) {
    let is_turn = |url: &String| url.starts_with("turn:") || url.starts_with("turns:");
    let (turn, stun): (Vec<String>, Vec<String>) = config.urls.iter().cloned().partition(is_turn);
    let mut servers = Vec::new();
    if !stun.is_empty() {
        servers.push(IceServer {
            urls: stun,
            username: None,
            credential: None,
        });
    }
    if turn.is_empty() {
        return (servers, None);
    }
    let Some(TurnSecret(secret)) = &config.turn_secret else {
        servers.push(IceServer {
            urls: turn,
            username: None,
            credential: None,
        });
        return (servers, None);
    };
    let expires = now_unix.saturating_add(config.credential_ttl_seconds.max(60));
    let username = format!("{expires}:yanxiu");
    // HMAC takes a key of any length.
    let mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()).map(|mut mac| {
        mac.update(username.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    });
    servers.push(IceServer {
        urls: turn,
        username: Some(username),
        credential: mac.ok(),
    });
    (servers, Some(expires))
}

/// The servers as `Link` header values (RFC 9725 §4.6), one per URL.
pub fn link_headers(servers: &[IceServer]) -> Vec<String> {
    let quote = |s: &str| s.replace(['"', '\\'], "");
    servers
        .iter()
        .flat_map(|server| {
            server.urls.iter().map(move |url| {
                let mut value = format!("<{}>; rel=\"ice-server\"", quote(url));
                if let (Some(user), Some(credential)) = (&server.username, &server.credential) {
                    value.push_str(&format!(
                        "; username=\"{}\"; credential=\"{}\"; credential-type=\"password\"",
                        quote(user),
                        quote(credential)
                    ));
                }
                value
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(secret: Option<&str>) -> IceServerConfig {
        IceServerConfig {
            urls: vec![
                "stun:stun.example.edu:3478".into(),
                "turn:turn.example.edu:3478?transport=tcp".into(),
                "turns:turn.example.edu:5349?transport=tcp".into(),
            ],
            turn_secret: secret.map(TurnSecret::new),
            credential_ttl_seconds: 3600,
        }
    }

    #[test]
    fn turn_credentials_follow_the_turn_rest_api_scheme_and_expire() {
        let (servers, expires) = ice_servers(&config(Some("north-school")), 1_700_000_000);
        assert_eq!(expires, Some(1_700_003_600));
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].urls, ["stun:stun.example.edu:3478"]);
        assert_eq!(servers[0].username, None);
        let turn = &servers[1];
        assert_eq!(turn.urls.len(), 2);
        assert_eq!(turn.username.as_deref(), Some("1700003600:yanxiu"));
        // base64(HMAC-SHA1("north-school", "1700003600:yanxiu")), as coturn computes it.
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(b"north-school").unwrap();
        mac.update(b"1700003600:yanxiu");
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(turn.credential.as_deref(), Some(expected.as_str()));
        assert_eq!(expected.len(), 28, "20 bytes of SHA-1 in base64");
    }

    #[test]
    fn without_a_secret_turn_urls_go_out_without_credentials_and_nothing_expires() {
        let (servers, expires) = ice_servers(&config(None), 5);
        assert_eq!(expires, None);
        assert!(
            servers
                .iter()
                .all(|s| s.username.is_none() && s.credential.is_none())
        );
        assert_eq!(
            ice_servers(&IceServerConfig::default(), 5),
            (Vec::new(), None)
        );
    }

    #[test]
    fn link_headers_name_each_url_with_its_credentials() {
        let (servers, _) = ice_servers(&config(Some("s")), 0);
        let links = link_headers(&servers);
        assert_eq!(links.len(), 3);
        assert_eq!(links[0], "<stun:stun.example.edu:3478>; rel=\"ice-server\"");
        assert!(links[1].starts_with(
            "<turn:turn.example.edu:3478?transport=tcp>; rel=\"ice-server\"; username=\"3600:yanxiu\"; credential=\""
        ));
        assert!(links[1].ends_with("; credential-type=\"password\""));
    }

    #[test]
    fn the_secret_is_never_printed() {
        let text = format!("{:?}", config(Some("north-school")));
        assert!(!text.contains("north-school"), "{text}");
    }
}
