//! Password policy (length, character classes, maximum age, no reuse of recent passwords) and
//! argon2id hashing with configurable cost. Pure: no IO, no clock (`now` is a parameter).
//! Salts come from the operating system's random source.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// What a password must contain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min_length: usize,
    /// How many of the four classes (lower case, upper case, digit, other) must appear.
    pub min_classes: usize,
    /// Days a password stays valid; an expired one signs in only to be changed. 0: never
    /// expires.
    pub max_age_days: u32,
    /// How many of the account's most recent passwords (the current one included) a new one
    /// may not repeat. 0 or 1: only the current one.
    pub history: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 10,
            min_classes: 3,
            max_age_days: 90,
            history: 5,
        }
    }
}

/// Why a password was refused by the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    /// Shorter than the minimum.
    #[error("password shorter than {min} characters")]
    TooShort {
        /// The minimum length.
        min: usize,
    },
    /// Too few character classes.
    #[error("password uses {found} character classes, {min} required")]
    TooFewClasses {
        /// Classes found.
        found: usize,
        /// Classes required.
        min: usize,
    },
    /// The password contains the username.
    #[error("password contains the username")]
    ContainsUsername,
}

impl PasswordRejected {
    /// The zh-CN text.
    pub fn zh(&self) -> String {
        match self {
            PasswordRejected::TooShort { min } => format!("密码长度不得少于 {min} 个字符"),
            PasswordRejected::TooFewClasses { min, .. } => {
                format!("密码须包含大写字母、小写字母、数字、符号中的至少 {min} 类")
            }
            PasswordRejected::ContainsUsername => "密码不得包含用户名".to_owned(),
        }
    }
}

impl PasswordPolicy {
    /// Whether a password set at `set_at` has expired at `now` (both ms).
    pub fn expired(&self, set_at: i64, now: i64) -> bool {
        self.max_age_days > 0 && now >= set_at + i64::from(self.max_age_days) * 86_400_000
    }

    /// How many recent passwords are compared with a new one (at least the current one, at
    /// most 24).
    pub fn history_checked(&self) -> u32 {
        self.history.clamp(1, 24)
    }

    /// Checks a candidate password for an account.
    pub fn check(&self, username: &str, password: &str) -> Result<(), PasswordRejected> {
        if password.chars().count() < self.min_length {
            return Err(PasswordRejected::TooShort {
                min: self.min_length,
            });
        }
        let classes = [
            password.chars().any(|c| c.is_lowercase()),
            password.chars().any(|c| c.is_uppercase()),
            password.chars().any(|c| c.is_ascii_digit()),
            password.chars().any(|c| !c.is_alphanumeric()),
        ]
        .into_iter()
        .filter(|present| *present)
        .count();
        if classes < self.min_classes {
            return Err(PasswordRejected::TooFewClasses {
                found: classes,
                min: self.min_classes,
            });
        }
        if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
            return Err(PasswordRejected::ContainsUsername);
        }
        Ok(())
    }
}

/// argon2id cost parameters. Production defaults follow OWASP (19 MiB, 2 passes); tests use
/// [`HashCost::cheap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl HashCost {
    /// The smallest cost argon2 accepts: for tests only.
    pub fn cheap() -> HashCost {
        HashCost {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }
}

/// Hashing failed (bad parameters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

fn hasher(cost: HashCost) -> Result<Argon2<'static>, HashError> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|e| HashError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into a PHC string (`$argon2id$...`), with a fresh random salt.
pub fn hash_password(password: &str, cost: HashCost) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    let hash = hasher(cost)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| HashError(e.to_string()))?;
    Ok(hash.to_string())
}

/// Checks a password against a stored PHC string. The cost is read from the string itself.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_requires_length_and_classes() {
        let policy = PasswordPolicy::default();
        assert_eq!(
            policy.check("wang", "Ab1!"),
            Err(PasswordRejected::TooShort { min: 10 })
        );
        assert_eq!(
            policy.check("wang", "abcdefghijkl"),
            Err(PasswordRejected::TooFewClasses { found: 1, min: 3 })
        );
        assert_eq!(
            policy.check("wang", "Wang-2024-xyz"),
            Err(PasswordRejected::ContainsUsername)
        );
        assert_eq!(policy.check("wang", "Correct-Horse-9"), Ok(()));
    }

    #[test]
    fn a_password_expires_after_max_age_days_unless_the_age_is_zero() {
        let mut policy = PasswordPolicy {
            max_age_days: 2,
            ..Default::default()
        };
        assert!(!policy.expired(0, 2 * 86_400_000 - 1));
        assert!(policy.expired(0, 2 * 86_400_000));
        policy.max_age_days = 0;
        assert!(!policy.expired(0, i64::MAX / 2));
        assert_eq!(policy.history_checked(), 5);
    }

    #[test]
    fn hash_verifies_only_the_same_password() {
        let phc = hash_password("Correct-Horse-9", HashCost::cheap()).expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("Correct-Horse-9", &phc));
        assert!(!verify_password("correct-horse-9", &phc));
        assert!(!verify_password("x", "not a hash"));
    }
}
