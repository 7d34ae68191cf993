//! The installation's secret keys (the control keys file, `DATA_DIR/control-keys.toml`) and
//! their rotation without downtime. Three rings, each a list of keys with ids, the last one
//! current:
//! - `playback`: signs playback tokens (tokens carry the key id); a rotated-out key keeps
//!   verifying until `retire_at` (the longest a token it signed can live), then is dropped;
//! - `audit`: keys the audit hash chain (each record stores the key id); old keys are kept
//!   for ever, so the chain verifies across every rotation;
//! - `secret`: encrypts second-factor secrets at rest (each stored secret names its key);
//!   old keys are kept so that existing enrolments still open.
//!
//! A file written before rotation existed (`playback_key`, `audit_key`) is read as key id `0`
//! of each ring. [`Keys::rotated`] is pure; [`rotate_file`] is what `yanxiu admin rotate-keys`
//! runs; [`KeyStore`] is the running process's view, which re-reads the file when it changes
//! (checked at most every few seconds, and at once when a token names an unknown key), so
//! every node picks a rotation up without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The key file's name inside the data directory.
pub const KEYS_FILE: &str = "control-keys.toml";

/// The id of keys from a file written before rotation (and of audit records without a key
/// id).
pub const LEGACY_KEY_ID: &str = "0";

/// How often a running process looks for a rotated key file.
const RELOAD_CHECK: Duration = Duration::from_secs(5);

/// One key of a ring.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// Key id, carried by what the key signs or encrypts.
    pub id: String,
    /// 32 random bytes, hex.
    pub key: String,
    /// When it was made (ms; 0 for a legacy key).
    #[serde(default)]
    pub created_at: i64,
    /// After this instant (ms) it verifies nothing (playback keys rotated out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_at: Option<i64>,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyEntry {{ id: {:?}, .. }}", self.id)
    }
}

impl KeyEntry {
    fn fresh(id: String, now: i64) -> KeyEntry {
        KeyEntry {
            id,
            key: crate::secrets::random_key_hex(),
            created_at: now,
            retire_at: None,
        }
    }

    /// The key's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        hex::decode(&self.key).unwrap_or_else(|_| self.key.as_bytes().to_vec())
    }

    fn usable_at(&self, now: i64) -> bool {
        self.retire_at.is_none_or(|r| now < r)
    }
}

/// The installation's secret keys.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Keys {
    /// Legacy single playback key (read only; becomes key `0` of the ring).
    #[serde(default, skip_serializing)]
    playback_key: Option<String>,
    /// Legacy single audit key (read only; becomes key `0` of the ring).
    #[serde(default, skip_serializing)]
    audit_key: Option<String>,
    /// Playback-token signing keys, the current one last.
    #[serde(default)]
    pub playback: Vec<KeyEntry>,
    /// Audit-chain keys, the current one last.
    #[serde(default)]
    pub audit: Vec<KeyEntry>,
    /// Keys encrypting second-factor secrets, the current one last.
    #[serde(default)]
    pub secret: Vec<KeyEntry>,
    /// The file these keys came from, if any (re-read when it changes).
    #[serde(skip)]
    source: Option<PathBuf>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys { .. }")
    }
}

/// Reading or writing the key file failed.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// File system error.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("key file {path} is invalid: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn next_id(ring: &[KeyEntry]) -> String {
    let max = ring
        .iter()
        .filter_map(|k| k.id.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    (max + 1).to_string()
}

/// What a rotation did, for the operator (never key material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rotation {
    /// The new current playback key id.
    pub playback_key_id: String,
    /// The new current audit key id.
    pub audit_key_id: String,
    /// The new current secret key id.
    pub secret_key_id: String,
    /// Playback keys dropped because they are past `retire_at`.
    pub dropped_playback_keys: Vec<String>,
    /// Until when the previous playback key still verifies (ms).
    pub previous_playback_until: i64,
}

impl Keys {
    /// Fresh random keys (id `1` in each ring).
    pub fn generate() -> Keys {
        let mut keys = Keys::default();
        keys.fill_missing(crate::now_ms());
        keys
    }

    /// Turns legacy single keys into ring entries and adds a key to any empty ring; `true`
    /// when something changed (the file should be written back).
    fn fill_missing(&mut self, now: i64) -> bool {
        let mut changed = false;
        if let Some(key) = self.playback_key.take() {
            if !self.playback.iter().any(|k| k.id == LEGACY_KEY_ID) {
                self.playback.insert(0, legacy(key));
            }
            changed = true;
        }
        if let Some(key) = self.audit_key.take() {
            if !self.audit.iter().any(|k| k.id == LEGACY_KEY_ID) {
                self.audit.insert(0, legacy(key));
            }
            changed = true;
        }
        for ring in [&mut self.playback, &mut self.audit, &mut self.secret] {
            if ring.is_empty() {
                ring.push(KeyEntry::fresh(next_id(ring), now));
                changed = true;
            }
        }
        changed
    }

    /// The keys after a rotation at `now`: a new current key in every ring; the playback keys
    /// in use until now verify for `playback_grace_ms` more (the longest a playback token
    /// lives); playback keys already past their grace are dropped.
    pub fn rotated(&self, now: i64, playback_grace_ms: i64) -> (Keys, Rotation) {
        let mut keys = self.clone();
        keys.fill_missing(now);
        let until = now + playback_grace_ms.max(0);
        let mut dropped = Vec::new();
        keys.playback.retain(|k| {
            let keep = k.usable_at(now);
            if !keep {
                dropped.push(k.id.clone());
            }
            keep
        });
        for k in &mut keys.playback {
            k.retire_at = Some(k.retire_at.map_or(until, |r| r.min(until)));
        }
        for ring in [&mut keys.playback, &mut keys.audit, &mut keys.secret] {
            let id = next_id(ring);
            ring.push(KeyEntry::fresh(id, now));
        }
        let rotation = Rotation {
            playback_key_id: current(&keys.playback).id.clone(),
            audit_key_id: current(&keys.audit).id.clone(),
            secret_key_id: current(&keys.secret).id.clone(),
            dropped_playback_keys: dropped,
            previous_playback_until: until,
        };
        (keys, rotation)
    }

    /// Loads `DIR/control-keys.toml`, creating it (mode 0600) with fresh keys if missing, and
    /// upgrading a legacy file in place. Nodes sharing one PostgreSQL database must share this
    /// file.
    pub fn load_or_create(data_dir: &Path) -> Result<Keys, KeysError> {
        let path = data_dir.join(KEYS_FILE);
        let mut keys = match std::fs::read_to_string(&path) {
            Ok(text) => parse(&path, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(io_err(&path))?;
                Keys::default()
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        if keys.fill_missing(crate::now_ms()) {
            write_keys(&path, &keys)?;
        }
        keys.source = Some(path);
        Ok(keys)
    }

    /// The current playback key: `(id, bytes)`.
    pub fn playback_signing(&self) -> (String, Vec<u8>) {
        let k = current(&self.playback);
        (k.id.clone(), k.bytes())
    }

    /// The playback key `id` if it still verifies at `now`.
    pub fn playback_verifying(&self, id: &str, now: i64) -> Option<Vec<u8>> {
        self.playback
            .iter()
            .find(|k| k.id == id && k.usable_at(now))
            .map(KeyEntry::bytes)
    }

    /// The current audit key: `(id, bytes)`.
    pub fn audit_signing(&self) -> (String, Vec<u8>) {
        let k = current(&self.audit);
        (k.id.clone(), k.bytes())
    }

    /// The audit key `id` (`None` names the legacy key `0`).
    pub fn audit_key(&self, id: Option<&str>) -> Option<Vec<u8>> {
        let id = id.unwrap_or(LEGACY_KEY_ID);
        self.audit.iter().find(|k| k.id == id).map(KeyEntry::bytes)
    }

    /// The current secret-encryption key: `(id, bytes)`.
    pub fn secret_sealing(&self) -> (String, Vec<u8>) {
        let k = current(&self.secret);
        (k.id.clone(), k.bytes())
    }

    /// The secret-encryption key `id`.
    pub fn secret_key(&self, id: &str) -> Option<Vec<u8>> {
        self.secret.iter().find(|k| k.id == id).map(KeyEntry::bytes)
    }

    /// The current playback key bytes.
    pub fn playback_key_bytes(&self) -> Vec<u8> {
        self.playback_signing().1
    }

    /// The current audit key bytes.
    pub fn audit_key_bytes(&self) -> Vec<u8> {
        self.audit_signing().1
    }
}

fn legacy(key: String) -> KeyEntry {
    KeyEntry {
        id: LEGACY_KEY_ID.into(),
        key,
        created_at: 0,
        retire_at: None,
    }
}

/// The current (last) key of a ring. Rings are never empty once loaded ([`Keys::fill_missing`]
/// runs on every path that makes a [`Keys`]); an empty one yields an empty key that verifies
/// nothing it did not sign.
fn current(ring: &[KeyEntry]) -> &KeyEntry {
    static EMPTY: std::sync::OnceLock<KeyEntry> = std::sync::OnceLock::new();
    ring.last().unwrap_or_else(|| {
        EMPTY.get_or_init(|| KeyEntry {
            id: String::new(),
            key: String::new(),
            created_at: 0,
            retire_at: Some(0),
        })
    })
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> KeysError + '_ {
    move |source| KeysError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn parse(path: &Path, text: &str) -> Result<Keys, KeysError> {
    toml::from_str(text).map_err(|e| KeysError::Invalid {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Writes the key file atomically (a private temporary file renamed over it).
fn write_keys(path: &Path, keys: &Keys) -> Result<(), KeysError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text = toml::to_string(keys).map_err(|e| KeysError::Invalid {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let io = io_err(path);
    let tmp = path.with_extension(format!("toml.tmp-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(&io)?;
    file.write_all(text.as_bytes()).map_err(&io)?;
    file.sync_all().map_err(&io)?;
    std::fs::rename(&tmp, path).map_err(&io)?;
    Ok(())
}

/// Rotates the key file of `data_dir` at `now` (see [`Keys::rotated`]); running processes
/// pick the new keys up by themselves.
pub fn rotate_file(
    data_dir: &Path,
    now: i64,
    playback_grace_ms: i64,
) -> Result<Rotation, KeysError> {
    let keys = Keys::load_or_create(data_dir)?;
    let (mut rotated, rotation) = keys.rotated(now, playback_grace_ms);
    rotated.source = None;
    write_keys(&data_dir.join(KEYS_FILE), &rotated)?;
    Ok(rotation)
}

/// The running process's keys: re-read from their file when it changes.
#[derive(Debug)]
pub struct KeyStore {
    keys: RwLock<Arc<Keys>>,
    checked: Mutex<(Instant, Option<Digest>)>,
}

/// What tells one version of the key file from another: the SHA-256 of its
/// bytes. Not its modification time: a rewrite within the file system's
/// clock tick (a few ms) keeps the same time, and the file is small.
type Digest = [u8; 32];

fn digest(bytes: &[u8]) -> Digest {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

impl KeyStore {
    /// A store over `keys` (watching their file, if they came from one).
    pub fn new(mut keys: Keys) -> KeyStore {
        keys.fill_missing(crate::now_ms());
        let stamp = keys
            .source
            .as_deref()
            .and_then(|path| std::fs::read(path).ok())
            .map(|bytes| digest(&bytes));
        KeyStore {
            keys: RwLock::new(Arc::new(keys)),
            checked: Mutex::new((Instant::now(), stamp)),
        }
    }

    fn snapshot(&self) -> Arc<Keys> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The keys now, re-read first if the file changed since the last look (at most every
    /// few seconds).
    pub fn current(&self) -> Arc<Keys> {
        let due = match self.checked.lock() {
            Ok(c) => c.0.elapsed() >= RELOAD_CHECK,
            Err(_) => true,
        };
        if due {
            self.reload_if_changed();
        }
        self.snapshot()
    }

    /// Re-reads the file now if it changed; `true` when new keys were loaded. A file that
    /// cannot be read keeps the keys in use (and is logged).
    pub fn reload_if_changed(&self) -> bool {
        let keys = self.snapshot();
        let Some(path) = keys.source.clone() else {
            return false;
        };
        let bytes = std::fs::read(&path);
        let stamp = bytes.as_deref().ok().map(digest);
        let mut checked = match self.checked.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        let changed = stamp != checked.1;
        *checked = (Instant::now(), stamp);
        drop(checked);
        if !changed {
            return false;
        }
        let loaded = bytes.map_err(io_err(&path)).and_then(|bytes| {
            let text = String::from_utf8(bytes).map_err(|e| KeysError::Invalid {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            parse(&path, &text)
        });
        match loaded {
            Ok(mut fresh) => {
                fresh.fill_missing(crate::now_ms());
                fresh.source = Some(path);
                if let Ok(mut k) = self.keys.write() {
                    *k = Arc::new(fresh);
                }
                tracing::info!(target: "yanxiu::security", "control keys reloaded");
                true
            }
            Err(e) => {
                tracing::error!(target: "yanxiu::security", error = %e, "control keys not reloaded");
                false
            }
        }
    }

    /// The current playback key bytes.
    pub fn playback_key_bytes(&self) -> Vec<u8> {
        self.current().playback_key_bytes()
    }

    /// The current audit key bytes.
    pub fn audit_key_bytes(&self) -> Vec<u8> {
        self.current().audit_key_bytes()
    }

    /// The playback key `id` at `now`, re-reading the file once if the id is unknown (another
    /// node rotated first).
    pub fn playback_verifying(&self, id: &str, now: i64) -> Option<Vec<u8>> {
        let keys = self.current();
        if let Some(k) = keys.playback_verifying(id, now) {
            return Some(k);
        }
        if !keys.playback.iter().any(|k| k.id == id) && self.reload_if_changed() {
            return self.snapshot().playback_verifying(id, now);
        }
        None
    }
}

impl crate::plane::ControlPlane {
    /// Signs playback claims with the current playback key (the token names the key).
    pub fn sign_playback_token(&self, claims: &crate::secrets::PlaybackClaims) -> String {
        let (id, key) = self.keys.current().playback_signing();
        crate::secrets::sign_playback(&id, &key, claims)
    }

    /// Verifies a playback token for `target` at `now` with the key it names.
    pub fn verify_playback_token(
        &self,
        token: &str,
        target: &str,
        now: i64,
    ) -> Result<crate::secrets::PlaybackClaims, crate::secrets::TokenInvalid> {
        crate::secrets::verify_playback(
            &|id| self.keys.playback_verifying(id, now),
            token,
            target,
            now,
        )
    }

    /// Re-reads the control keys file now if it changed (a rotation); `true` when new keys
    /// were loaded. Processes also notice by themselves within seconds.
    pub fn reload_keys(&self) -> bool {
        self.keys.reload_if_changed()
    }

    /// The id of the current playback-signing key.
    pub fn playback_key_id(&self) -> String {
        self.keys.current().playback_signing().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_legacy_file_becomes_key_zero_of_each_ring() {
        let mut keys: Keys =
            toml::from_str("playback_key = \"aa\"\naudit_key = \"bb\"\n").expect("legacy");
        assert!(keys.fill_missing(5));
        assert_eq!(keys.playback_signing(), ("0".into(), vec![0xaa]));
        assert_eq!(keys.audit_key(None), Some(vec![0xbb]));
        assert_eq!(keys.secret_sealing().0, "1");
        let text = toml::to_string(&keys).expect("toml");
        assert!(!text.contains("playback_key"), "{text}");
    }

    #[test]
    fn a_store_notices_a_rewrite_made_within_the_same_clock_tick_and_nothing_else() {
        let dir = tempfile::tempdir().expect("dir");
        let store = KeyStore::new(Keys::load_or_create(dir.path()).expect("keys"));
        assert!(!store.reload_if_changed(), "nothing changed yet");
        // At once: the file's modification time may well be the same.
        rotate_file(dir.path(), 1_000, 500).expect("rotate");
        assert!(store.reload_if_changed(), "the rotation was missed");
        assert_eq!(store.current().playback_signing().0, "2");
        assert!(!store.reload_if_changed(), "read once");
        rotate_file(dir.path(), 2_000, 500).expect("rotate again");
        assert!(store.reload_if_changed());
        assert_eq!(store.current().playback_signing().0, "3");
    }

    #[test]
    fn rotation_adds_current_keys_and_retires_old_playback_keys_after_the_grace() {
        let keys = Keys::generate();
        let (r1, rot) = keys.rotated(1_000, 500);
        assert_eq!(rot.playback_key_id, "2");
        assert_eq!(rot.audit_key_id, "2");
        assert_eq!(r1.playback_signing().0, "2");
        assert!(r1.playback_verifying("1", 1_499).is_some());
        assert!(r1.playback_verifying("1", 1_500).is_none());
        assert!(r1.audit_key(Some("1")).is_some());
        let (r2, rot) = r1.rotated(2_000, 500);
        assert_eq!(rot.dropped_playback_keys, vec!["1".to_owned()]);
        assert_eq!(r2.playback.len(), 2);
        assert_eq!(r2.audit.len(), 3);
        assert!(r2.secret_key("1").is_some());
    }
}
