//! Signed checkpoints of the audit chain's head, kept outside the database (the binary puts
//! them in object storage), so that a whole database put back to an older copy is found
//! out: its head is behind a checkpoint, or its record at a checkpoint's position differs.
//! Signing and checking are pure; [`ControlPlane::audit_checkpoint`] reads the head and
//! [`ControlPlane::audit_report`] brings the chain, the checkpoints, the database guard and
//! the retention together for `yanxiu audit verify`.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sqlx::Row;

use crate::audit::AuditVerification;
use crate::audit_chain::AuditRecord;
use crate::audit_guard::AuditGuard;
use crate::error::ControlResult;
use crate::plane::ControlPlane;

/// Where checkpoints are kept in object storage.
pub const CHECKPOINT_PREFIX: &str = "audit/checkpoints/";

/// How long the rules keep audit records (at least six months).
pub const RETENTION_DAYS: i64 = 180;

const DAY_MS: i64 = 86_400_000;

/// The chain head at an instant, signed with the audit key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheckpoint {
    /// Sequence number of the head record.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// When the checkpoint was taken (ms).
    pub at: i64,
    /// The audit key that signed it (keys rotate; `None`: the first key).
    #[serde(default)]
    pub key_id: Option<String>,
    /// HMAC-SHA256 over the fields above, hex.
    pub signature: String,
}

fn mac(key: &[u8], seq: i64, hash: &str, at: i64, key_id: Option<&str>) -> Option<Hmac<Sha256>> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    m.update(b"yanxiu-audit-checkpoint\n");
    m.update(&seq.to_be_bytes());
    m.update(&at.to_be_bytes());
    m.update(key_id.unwrap_or("").as_bytes());
    m.update(b"\n");
    m.update(hash.as_bytes());
    Some(m)
}

impl AuditCheckpoint {
    /// Signs the head (`seq`, `hash`) at `at` with the audit key `key_id`.
    pub fn sign(
        key_id: Option<&str>,
        key: &[u8],
        seq: i64,
        hash: &str,
        at: i64,
    ) -> AuditCheckpoint {
        let signature = mac(key, seq, hash, at, key_id)
            .map(|m| hex::encode(m.finalize().into_bytes()))
            .unwrap_or_default();
        AuditCheckpoint {
            seq,
            hash: hash.to_owned(),
            at,
            key_id: key_id.map(str::to_owned),
            signature,
        }
    }

    /// Whether the signature is that of the audit key it names, found by `key_of` (compared
    /// in constant time). An unknown key id is not valid.
    pub fn signature_valid(&self, key_of: &dyn Fn(Option<&str>) -> Option<Vec<u8>>) -> bool {
        let Ok(given) = hex::decode(&self.signature) else {
            return false;
        };
        let Some(key) = key_of(self.key_id.as_deref()) else {
            return false;
        };
        mac(&key, self.seq, &self.hash, self.at, self.key_id.as_deref())
            .is_some_and(|m| m.verify_slice(&given).is_ok())
    }

    /// Its object key: ordered by position in the chain.
    pub fn object_key(&self) -> String {
        format!("{CHECKPOINT_PREFIX}{:020}.json", self.seq)
    }
}

/// Something a checkpoint says is wrong with the database's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckpointFinding {
    /// The checkpoint's signature is not the audit key's: it was forged or damaged.
    Forged {
        /// Its position.
        seq: i64,
    },
    /// The database's head is behind a checkpoint: the database was put back to an older copy
    /// (or records were cut off the end).
    RolledBack {
        /// The checkpoint's position.
        checkpoint_seq: i64,
        /// The database's head.
        head_seq: i64,
    },
    /// The record at the checkpoint's position is not the one signed: the chain was rewritten
    /// from there.
    Diverged {
        /// The position.
        seq: i64,
    },
}

impl std::fmt::Display for CheckpointFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointFinding::Forged { seq } => {
                write!(
                    f,
                    "checkpoint at record {seq} is not signed with the audit key"
                )
            }
            CheckpointFinding::RolledBack {
                checkpoint_seq,
                head_seq,
            } => write!(
                f,
                "the log ends at record {head_seq} but a checkpoint saw record {checkpoint_seq}: \
                 the database was rolled back"
            ),
            CheckpointFinding::Diverged { seq } => write!(
                f,
                "record {seq} differs from the checkpoint taken of it: the chain was rewritten"
            ),
        }
    }
}

/// Checks the log (`records` in order, and the head's position) against `checkpoints`, with
/// the audit keys `key_of` finds by id (pure).
pub fn check_checkpoints(
    key_of: &dyn Fn(Option<&str>) -> Option<Vec<u8>>,
    records: &[AuditRecord],
    head_seq: i64,
    checkpoints: &[AuditCheckpoint],
) -> Vec<CheckpointFinding> {
    let mut findings = Vec::new();
    for c in checkpoints {
        if !c.signature_valid(key_of) {
            findings.push(CheckpointFinding::Forged { seq: c.seq });
            continue;
        }
        if c.seq > head_seq {
            findings.push(CheckpointFinding::RolledBack {
                checkpoint_seq: c.seq,
                head_seq,
            });
            continue;
        }
        let at = records.binary_search_by_key(&c.seq, |r| r.seq);
        if at
            .ok()
            .and_then(|i| records.get(i))
            .is_none_or(|r| r.hash != c.hash)
        {
            findings.push(CheckpointFinding::Diverged { seq: c.seq });
        }
    }
    findings
}

/// How far back the log reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRetention {
    /// Days the rules require.
    pub required_days: i64,
    /// The oldest record kept (ms), if any.
    pub oldest_at: Option<i64>,
    /// Days between the oldest record and now.
    pub days_kept: i64,
    /// The log starts at its first record: nothing was ever removed from its beginning.
    pub complete_from_start: bool,
}

/// What `yanxiu audit verify` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    /// The hash chain.
    pub chain: AuditVerification,
    /// Checkpoints read.
    pub checkpoints: usize,
    /// The newest checkpoint's position.
    pub latest_checkpoint_seq: Option<i64>,
    /// What the checkpoints found.
    pub checkpoint_findings: Vec<CheckpointFinding>,
    /// The database's protection of the log.
    pub guard: AuditGuard,
    /// The retention.
    pub retention: AuditRetention,
}

impl AuditReport {
    /// True when nothing is wrong: chain intact, checkpoints agree, triggers in place,
    /// nothing cut from the beginning.
    pub fn intact(&self) -> bool {
        self.chain.findings.is_empty()
            && self.checkpoint_findings.is_empty()
            && self.guard.triggers
            && self.retention.complete_from_start
    }
}

impl ControlPlane {
    /// A signed checkpoint of the chain's head at `now`; `None` while the log is empty.
    pub async fn audit_checkpoint(&self, now: i64) -> ControlResult<Option<AuditCheckpoint>> {
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(self.db.pool())
            .await?;
        let Some(row) = head else {
            return Ok(None);
        };
        let seq: i64 = row.try_get("seq")?;
        let hash: String = row.try_get("hash")?;
        let (key_id, key) = self.keys.current().audit_signing();
        Ok(Some(AuditCheckpoint::sign(
            Some(&key_id),
            &key,
            seq,
            &hash,
            now,
        )))
    }

    /// Verifies everything about the audit log at `now`, against `checkpoints` read from
    /// object storage.
    pub async fn audit_report(
        &self,
        checkpoints: &[AuditCheckpoint],
        now: i64,
    ) -> ControlResult<AuditReport> {
        let chain = self.verify_audit().await?;
        let records: Vec<AuditRecord> = sqlx::query_as("SELECT * FROM audit_log ORDER BY seq")
            .fetch_all(self.db.pool())
            .await?;
        let head_seq: i64 = sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
            .fetch_optional(self.db.pool())
            .await?
            .unwrap_or(0);
        let keys = self.keys.current();
        let key_of = |id: Option<&str>| keys.audit_key(id);
        let checkpoint_findings = check_checkpoints(&key_of, &records, head_seq, checkpoints);
        let oldest = records.first();
        let retention = AuditRetention {
            required_days: RETENTION_DAYS,
            oldest_at: oldest.map(|r| r.at),
            days_kept: oldest.map_or(0, |r| (now - r.at).max(0) / DAY_MS),
            complete_from_start: oldest.is_none_or(|r| r.seq == 1),
        };
        Ok(AuditReport {
            chain,
            checkpoints: checkpoints.len(),
            latest_checkpoint_seq: checkpoints.iter().map(|c| c.seq).max(),
            checkpoint_findings,
            guard: self.audit_guard().await?,
            retention,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit_chain::{GENESIS_HASH, record_hash};

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn key_of(id: Option<&str>) -> Option<Vec<u8>> {
        (id.is_none() || id == Some("k2")).then(|| {
            if id.is_none() {
                KEY.to_vec()
            } else {
                b"second key".to_vec()
            }
        })
    }

    #[test]
    fn checkpoints_signed_before_and_after_a_key_rotation_both_hold() {
        let log = chain(3);
        let before = AuditCheckpoint::sign(None, KEY, 2, &log[1].hash, 10);
        let after = AuditCheckpoint::sign(Some("k2"), b"second key", 3, &log[2].hash, 20);
        assert_eq!(
            check_checkpoints(&key_of, &log, 3, &[before, after.clone()]),
            vec![]
        );
        let mut unknown = after;
        unknown.key_id = Some("k9".into());
        assert_eq!(
            check_checkpoints(&key_of, &log, 3, &[unknown]),
            vec![CheckpointFinding::Forged { seq: 3 }]
        );
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let mut r = AuditRecord {
                    seq,
                    at: seq * 1000,
                    actor_id: None,
                    actor_name: "admin".into(),
                    actor_role: "system_admin".into(),
                    action: "user.create".into(),
                    target: format!("user:{seq}"),
                    result: "success".into(),
                    source_addr: "127.0.0.1".into(),
                    detail: "{}".into(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                r.hash = record_hash(KEY, &r);
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    #[test]
    fn a_log_that_holds_every_checkpoint_passes() {
        let log = chain(5);
        let c = [
            AuditCheckpoint::sign(None, KEY, 2, &log[1].hash, 10),
            AuditCheckpoint::sign(None, KEY, 5, &log[4].hash, 20),
        ];
        assert_eq!(check_checkpoints(&key_of, &log, 5, &c), vec![]);
    }

    #[test]
    fn a_database_put_back_to_an_older_copy_is_behind_its_checkpoint() {
        let log = chain(5);
        let c = [AuditCheckpoint::sign(None, KEY, 5, &log[4].hash, 20)];
        let older = &log[..3];
        assert_eq!(
            check_checkpoints(&key_of, older, 3, &c),
            vec![CheckpointFinding::RolledBack {
                checkpoint_seq: 5,
                head_seq: 3
            }]
        );
    }

    #[test]
    fn a_rewritten_chain_differs_at_the_checkpoint() {
        let log = chain(4);
        let c = [AuditCheckpoint::sign(None, KEY, 3, &log[2].hash, 20)];
        let mut other = chain(4);
        other[2].hash = "f".repeat(64);
        assert_eq!(
            check_checkpoints(&key_of, &other, 4, &c),
            vec![CheckpointFinding::Diverged { seq: 3 }]
        );
    }

    #[test]
    fn a_checkpoint_not_signed_with_the_audit_key_is_called_forged() {
        let log = chain(3);
        let mut c = AuditCheckpoint::sign(None, KEY, 3, &log[2].hash, 20);
        c.seq = 2;
        let other_key = AuditCheckpoint::sign(None, b"another key", 3, &log[2].hash, 20);
        assert_eq!(
            check_checkpoints(&key_of, &log, 3, &[c, other_key]),
            vec![
                CheckpointFinding::Forged { seq: 2 },
                CheckpointFinding::Forged { seq: 3 }
            ]
        );
    }

    #[test]
    fn checkpoints_sort_by_their_place_in_the_chain() {
        let a = AuditCheckpoint::sign(None, KEY, 9, "x", 1).object_key();
        let b = AuditCheckpoint::sign(None, KEY, 10, "y", 1).object_key();
        assert!(a < b, "{a} {b}");
        assert!(a.starts_with(CHECKPOINT_PREFIX));
    }
}
