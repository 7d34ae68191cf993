//! The second factor's rules, pure (no IO, no clock: `now` is a parameter): TOTP secrets and
//! their `otpauth://` URI (RFC 6238 through the `totp-rs` crate: SHA-1, 6 digits, 30 s steps),
//! checking a code with ±1 step of clock skew and never the same step twice, recovery codes
//! (generation and normalisation), encryption of secrets at rest (ChaCha20-Poly1305 under the
//! installation's secret key, tagged with the key id), and the enrolment QR code as SVG.
//!
//! Which accounts must have a second factor is [`requires_second_factor`]: reviewers and
//! every administrator role.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::policy::Role;

/// Seconds per TOTP step.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: u8 = 6;
/// Steps of clock skew accepted either side of now.
pub const SKEW_STEPS: u64 = 1;
/// The issuer shown by authenticator apps.
pub const ISSUER: &str = "yanxiu";
/// Recovery codes issued at once.
pub const RECOVERY_CODES: usize = 10;
/// Bytes of a TOTP secret (160 bits, as RFC 4226 recommends).
const SECRET_BYTES: usize = 20;
/// Recovery codes use lower-case letters and digits without look-alikes (no 0/o, 1/l/i).
const RECOVERY_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// Characters per recovery code (printed as two groups of five).
const RECOVERY_CHARS: usize = 10;

/// Whether an account holding `roles` must sign in with a second factor: reviewers and every
/// administrator role.
pub fn requires_second_factor(roles: &[Role]) -> bool {
    roles.iter().any(|r| {
        matches!(
            r,
            Role::DepartmentReviewer
                | Role::CentreReviewer
                | Role::DepartmentAdmin
                | Role::SystemAdmin
                | Role::SecurityAdmin
                | Role::AuditAdmin
        )
    })
}

/// Whether `roles` include an administrator role (sign-ins from new addresses raise an alert).
pub fn is_admin(roles: &[Role]) -> bool {
    roles.iter().any(|r| {
        matches!(
            r,
            Role::DepartmentAdmin | Role::SystemAdmin | Role::SecurityAdmin | Role::AuditAdmin
        )
    })
}

/// Why a second-factor operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MfaError {
    /// The code is not valid now (wrong, too old or too new).
    #[error("the code is not valid")]
    WrongCode,
    /// The code's time step was already used: a replay.
    #[error("the code was already used")]
    Replayed,
    /// A stored secret could not be decrypted (unknown key id or damaged).
    #[error("stored secret unreadable: {0}")]
    Unreadable(&'static str),
    /// The TOTP parameters were refused by the crate.
    #[error("totp: {0}")]
    Totp(String),
}

/// A fresh random TOTP secret (raw bytes).
pub fn new_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

fn totp(secret: &[u8], account: &str) -> Result<Totp, MfaError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW_STEPS as u16)
        .with_step_duration(STEP_SECONDS)
        .with_secret(Secret::from(secret.to_vec()))
        .with_issuer(Some(ISSUER))
        .with_account_name(account.replace(':', "_"))
        .build()
        .map_err(|e| MfaError::Totp(e.to_string()))
}

/// The secret in base32 (what a person types into an authenticator app), in groups of four.
pub fn secret_base32_grouped(secret: &[u8]) -> String {
    let plain = Secret::from(secret.to_vec()).to_base32();
    plain
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `otpauth://totp/...` URI for an authenticator app.
pub fn otpauth_uri(secret: &[u8], account: &str) -> Result<String, MfaError> {
    totp(secret, account)?
        .to_url()
        .map_err(|e| MfaError::Totp(e.to_string()))
}

/// The time step of `now_ms`.
pub fn step_of(now_ms: i64) -> u64 {
    u64::try_from(now_ms.max(0)).unwrap_or(0) / 1000 / STEP_SECONDS
}

/// Checks `code` at `now_ms` with ±1 step of skew; `last_step` is the last accepted step of
/// the account, and no step at or before it is accepted again. Returns the matched step,
/// which the caller stores as the new `last_step`.
pub fn check_code(
    secret: &[u8],
    code: &str,
    now_ms: i64,
    last_step: Option<u64>,
) -> Result<u64, MfaError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MfaError::WrongCode);
    }
    let t = totp(secret, "-")?;
    let origin = step_of(now_ms);
    let mut replayed = false;
    for step in origin.saturating_sub(SKEW_STEPS)..=origin + SKEW_STEPS {
        let expected = t.generate(step * STEP_SECONDS).to_string();
        if subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()).into() {
            if last_step.is_some_and(|last| step <= last) {
                replayed = true;
                continue;
            }
            return Ok(step);
        }
    }
    Err(if replayed {
        MfaError::Replayed
    } else {
        MfaError::WrongCode
    })
}

/// Ten fresh recovery codes, each `xxxxx-xxxxx`.
pub fn new_recovery_codes() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..RECOVERY_CHARS)
                .map(|_| {
                    let i = (rng.next_u32() as usize) % RECOVERY_ALPHABET.len();
                    char::from(RECOVERY_ALPHABET[i])
                })
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// A recovery code as typed, normalised for hashing: lower case, without spaces and dashes.
/// `None` when it cannot be a recovery code.
pub fn normalize_recovery_code(typed: &str) -> Option<String> {
    let kept: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (kept.len() == RECOVERY_CHARS && kept.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)))
        .then_some(kept)
}

fn aead_key(key: &[u8]) -> Result<LessSafeKey, MfaError> {
    let bytes: [u8; 32] = key
        .get(..32)
        .and_then(|k| k.try_into().ok())
        .ok_or(MfaError::Unreadable("key shorter than 32 bytes"))?;
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
        .map_err(|_| MfaError::Unreadable("key refused"))?;
    Ok(LessSafeKey::new(unbound))
}

/// Encrypts a secret for storage: `<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`; the account
/// id is bound as associated data, so a secret copied to another account does not decrypt.
pub fn seal_secret(
    key_id: &str,
    key: &[u8],
    user_id: &str,
    secret: &[u8],
) -> Result<String, MfaError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut data = secret.to_vec();
    aead_key(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(user_id.as_bytes()),
            &mut data,
        )
        .map_err(|_| MfaError::Unreadable("seal failed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    Ok(format!("{key_id}:{}", STANDARD.encode(out)))
}

/// The key id a stored secret was sealed with.
pub fn sealed_key_id(stored: &str) -> Option<&str> {
    stored.split_once(':').map(|(id, _)| id)
}

/// Decrypts a stored secret with the key it names (`key` must be that key).
pub fn open_secret(key: &[u8], user_id: &str, stored: &str) -> Result<Vec<u8>, MfaError> {
    let (_, body) = stored
        .split_once(':')
        .ok_or(MfaError::Unreadable("no key id"))?;
    let raw = STANDARD
        .decode(body)
        .map_err(|_| MfaError::Unreadable("not base64"))?;
    if raw.len() < NONCE_LEN {
        return Err(MfaError::Unreadable("too short"));
    }
    let (nonce, sealed) = raw.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| MfaError::Unreadable("nonce"))?;
    let mut sealed = sealed.to_vec();
    let plain = aead_key(key)?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(user_id.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| MfaError::Unreadable("authentication failed"))?;
    Ok(plain.to_vec())
}

/// The QR code of `text` as a standalone SVG (black modules on white, four modules of quiet
/// zone), for the enrolment page.
pub fn qr_svg(text: &str) -> Option<String> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).ok()?;
    let border = 4;
    let size = qr.size();
    let dim = size + border * 2;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" \
         shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\
         <path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, truncated to 6 digits.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        // T = 59 s gives 94287082 (8 digits): 287082 with 6.
        assert_eq!(check_code(RFC_SECRET, "287082", 59_000, None), Ok(1));
        // T = 1111111109 s gives 07081804: 081804.
        assert_eq!(
            check_code(RFC_SECRET, "081804", 1_111_111_109_000, None),
            Ok(1_111_111_109 / 30)
        );
    }

    #[test]
    fn one_step_of_skew_is_accepted_either_side_and_no_more() {
        let at = 1_111_111_109_000;
        let step = 1_111_111_109 / 30;
        assert_eq!(
            check_code(RFC_SECRET, "081804", at + 30_000, None),
            Ok(step)
        );
        assert_eq!(
            check_code(RFC_SECRET, "081804", at - 30_000, None),
            Ok(step)
        );
        assert_eq!(
            check_code(RFC_SECRET, "081804", at + 61_000, None),
            Err(MfaError::WrongCode)
        );
    }

    #[test]
    fn a_used_step_is_refused_as_a_replay() {
        assert_eq!(
            check_code(RFC_SECRET, "287082", 59_000, Some(1)),
            Err(MfaError::Replayed)
        );
        assert_eq!(
            check_code(RFC_SECRET, "28708", 59_000, None),
            Err(MfaError::WrongCode)
        );
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_account() {
        let key = [7u8; 32];
        let sealed = seal_secret("3", &key, "u1", b"secret bytes").expect("seal");
        assert_eq!(sealed_key_id(&sealed), Some("3"));
        assert_eq!(
            open_secret(&key, "u1", &sealed).expect("open"),
            b"secret bytes"
        );
        assert!(open_secret(&key, "u2", &sealed).is_err());
        assert!(open_secret(&[8u8; 32], "u1", &sealed).is_err());
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_normalise_as_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        let typed = format!(" {} ", codes[0].to_uppercase().replace('-', " "));
        assert_eq!(
            normalize_recovery_code(&typed),
            Some(codes[0].replace('-', ""))
        );
        assert_eq!(normalize_recovery_code("123456"), None);
    }

    #[test]
    fn the_uri_names_issuer_account_and_secret() {
        let uri = otpauth_uri(RFC_SECRET, "wang.li").expect("uri");
        assert!(uri.starts_with("otpauth://totp/yanxiu:wang.li?"), "{uri}");
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        assert!(qr_svg(&uri).is_some_and(|s| s.starts_with("<svg")));
    }

    #[test]
    fn reviewers_and_administrators_need_a_second_factor() {
        assert!(requires_second_factor(&[Role::DepartmentReviewer]));
        assert!(requires_second_factor(&[Role::Producer, Role::SystemAdmin]));
        assert!(!requires_second_factor(&[Role::Learner, Role::Producer]));
        assert!(is_admin(&[Role::AuditAdmin]));
        assert!(!is_admin(&[Role::CentreReviewer]));
    }
}
