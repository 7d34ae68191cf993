//! Bearer secrets (session tokens, API tokens, stream keys): random generation and the one-way
//! hash stored in the database; and playback tokens: HMAC-SHA256 signed, expiring, bound to a
//! user, a session and a target, naming the key that signed them (so that keys can rotate:
//! see [`crate::keyring`]). Pure: no IO, no clock (`now` is a parameter).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh random secret: `prefix` followed by 32 random bytes in URL-safe base64.
pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A fresh random 32-byte key, hex encoded.
pub fn random_key_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The stored form of a bearer secret: SHA-256, hex. (Secrets are 256-bit random, so a fast
/// hash is enough; passwords use argon2 instead.)
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    secret_hash(secret)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// What a playback token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybackClaims {
    /// The viewer.
    pub user_id: String,
    /// The session the token was issued under: the token dies with it.
    pub session_id: String,
    /// `r:<resource id>` or `c:<channel id>`.
    pub target: String,
    /// Expiry (ms since the Unix epoch).
    pub expires_at: i64,
}

/// Why a playback token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenInvalid {
    /// Not a token of this format.
    #[error("malformed token")]
    Malformed,
    /// The signature does not match.
    #[error("bad signature")]
    BadSignature,
    /// Past its expiry.
    #[error("token expired")]
    Expired,
    /// Issued for another resource or channel.
    #[error("token issued for another target")]
    WrongTarget,
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], payload: &str) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(payload.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Signs playback claims with key `key_id`: `base64url(payload).base64url(hmac)`, the payload
/// `v2|key id|user|session|target|expiry`.
pub fn sign_playback(key_id: &str, key: &[u8], claims: &PlaybackClaims) -> String {
    let payload = format!(
        "v2|{key_id}|{}|{}|{}|{}",
        claims.user_id, claims.session_id, claims.target, claims.expires_at
    );
    let sig = mac(key, &payload);
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

/// Verifies a playback token for `target` at `now` and returns its claims. `key_of` gives
/// the key of an id while it still verifies; tokens of the first format (`v1`, no key id)
/// name the legacy key `0`.
pub fn verify_playback(
    key_of: &dyn Fn(&str) -> Option<Vec<u8>>,
    token: &str,
    target: &str,
    now: i64,
) -> Result<PlaybackClaims, TokenInvalid> {
    let (payload_b64, sig_b64) = token.split_once('.').ok_or(TokenInvalid::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| TokenInvalid::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig_b64)
        .map_err(|_| TokenInvalid::Malformed)?;
    let payload = String::from_utf8(payload).map_err(|_| TokenInvalid::Malformed)?;
    let parts: Vec<&str> = payload.split('|').collect();
    let (key_id, rest) = match parts[..] {
        ["v1", ref rest @ ..] => (crate::keyring::LEGACY_KEY_ID, rest),
        ["v2", key_id, ref rest @ ..] => (key_id, rest),
        _ => return Err(TokenInvalid::Malformed),
    };
    let [user_id, session_id, claimed_target, expires_at] = rest[..] else {
        return Err(TokenInvalid::Malformed);
    };
    let key = key_of(key_id).ok_or(TokenInvalid::BadSignature)?;
    let mut m = <HmacSha256 as Mac>::new_from_slice(&key).map_err(|_| TokenInvalid::Malformed)?;
    m.update(payload.as_bytes());
    m.verify_slice(&sig)
        .map_err(|_| TokenInvalid::BadSignature)?;
    let expires_at: i64 = expires_at.parse().map_err(|_| TokenInvalid::Malformed)?;
    if claimed_target != target {
        return Err(TokenInvalid::WrongTarget);
    }
    if now >= expires_at {
        return Err(TokenInvalid::Expired);
    }
    Ok(PlaybackClaims {
        user_id: user_id.to_owned(),
        session_id: session_id.to_owned(),
        target: claimed_target.to_owned(),
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> PlaybackClaims {
        PlaybackClaims {
            user_id: "u1".into(),
            session_id: "s1".into(),
            target: "r:abc".into(),
            expires_at: 1_000,
        }
    }

    fn only(id: &'static str, key: &'static [u8]) -> impl Fn(&str) -> Option<Vec<u8>> {
        move |asked| (asked == id).then(|| key.to_vec())
    }

    #[test]
    fn a_signed_token_verifies_until_expiry_for_its_target_only() {
        let token = sign_playback("1", b"key", &claims());
        let keys = only("1", b"key");
        assert_eq!(verify_playback(&keys, &token, "r:abc", 999), Ok(claims()));
        assert_eq!(
            verify_playback(&keys, &token, "r:abc", 1_000),
            Err(TokenInvalid::Expired)
        );
        assert_eq!(
            verify_playback(&keys, &token, "r:xyz", 0),
            Err(TokenInvalid::WrongTarget)
        );
        assert_eq!(
            verify_playback(&only("1", b"other"), &token, "r:abc", 0),
            Err(TokenInvalid::BadSignature)
        );
        assert_eq!(
            verify_playback(&only("2", b"key"), &token, "r:abc", 0),
            Err(TokenInvalid::BadSignature)
        );
        assert_eq!(
            verify_playback(&keys, "garbage", "r:abc", 0),
            Err(TokenInvalid::Malformed)
        );
    }

    #[test]
    fn a_token_of_the_first_format_verifies_with_the_legacy_key() {
        let payload = "v1|u1|s1|r:abc|1000";
        let token = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(mac(b"old", payload))
        );
        assert_eq!(
            verify_playback(&only("0", b"old"), &token, "r:abc", 0),
            Ok(claims())
        );
    }

    #[test]
    fn a_tampered_payload_fails_the_signature() {
        let token = sign_playback("1", b"key", &claims());
        let (_, sig) = token.split_once('.').expect("dot");
        let forged = format!("{}.{sig}", URL_SAFE_NO_PAD.encode("v2|1|u2|s1|r:abc|1000"));
        assert_eq!(
            verify_playback(&only("1", b"key"), &forged, "r:abc", 0),
            Err(TokenInvalid::BadSignature)
        );
    }

    #[test]
    fn secrets_are_random_and_match_only_their_hash() {
        let a = random_secret("yxs_");
        assert_ne!(a, random_secret("yxs_"));
        assert!(secret_matches(&a, &secret_hash(&a)));
        assert!(!secret_matches("yxs_other", &secret_hash(&a)));
    }
}
