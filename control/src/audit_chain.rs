//! The audit log's hash chain: each record's hash is an HMAC-SHA256 (keyed with the
//! installation's audit key) over the previous record's hash and the record's own fields.
//! [`verify_chain`] names every altered, inserted or deleted record. Pure: no IO, no clock.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

/// The hash that the first record links to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When (ms since the Unix epoch, UTC).
    pub at: i64,
    /// The acting account, if any (`None` for anonymous attempts and the CLI).
    pub actor_id: Option<String>,
    /// The acting account's username, `cli` or `anonymous`.
    pub actor_name: String,
    /// The role the actor acted in (comma-separated roles, or `none`).
    pub actor_role: String,
    /// What was done, e.g. `login.failure`, `review.department`.
    pub action: String,
    /// What it was done to, e.g. `user:<id>`.
    pub target: String,
    /// `success`, `failure` or `denied`.
    pub result: String,
    /// The client's address, or `cli`.
    pub source_addr: String,
    /// Extra detail (JSON text). Never holds secrets.
    pub detail: String,
    /// The previous record's hash.
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

/// Computes a record's hash from its fields (the `hash` field itself is ignored).
pub fn record_hash(key: &[u8], r: &AuditRecord) -> String {
    // Length-prefixed fields: no separator ambiguity.
    let fields: [&str; 10] = [
        &r.prev_hash,
        &r.actor_name,
        r.actor_id.as_deref().unwrap_or("\u{0}"),
        &r.actor_role,
        &r.action,
        &r.target,
        &r.result,
        &r.source_addr,
        &r.detail,
        "",
    ];
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(&r.seq.to_be_bytes());
    m.update(&r.at.to_be_bytes());
    for f in fields {
        m.update(&(f.len() as u64).to_be_bytes());
        m.update(f.as_bytes());
    }
    hex::encode(m.finalize().into_bytes())
}

/// Something wrong in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditFinding {
    /// The record's content no longer matches its hash.
    Altered {
        /// The record.
        seq: i64,
    },
    /// Records are missing from the chain.
    Deleted {
        /// First missing position.
        from_seq: i64,
        /// Last missing position.
        to_seq: i64,
    },
    /// The record was not appended by the control plane (it is not part of the chain).
    Inserted {
        /// The record.
        seq: i64,
    },
}

impl std::fmt::Display for AuditFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditFinding::Altered { seq } => write!(f, "record {seq} was altered"),
            AuditFinding::Deleted { from_seq, to_seq } if from_seq == to_seq => {
                write!(f, "record {from_seq} was deleted")
            }
            AuditFinding::Deleted { from_seq, to_seq } => {
                write!(f, "records {from_seq}..={to_seq} were deleted")
            }
            AuditFinding::Inserted { seq } => write!(f, "record {seq} was inserted"),
        }
    }
}

/// The chain head as recorded at the last append: `(seq, hash)`.
pub type ChainHead = (i64, String);

/// Verifies records (sorted by `seq`) against the key and the recorded head.
///
/// - a record whose hash does not match its content is *altered*, unless it also does not
///   link into the chain (see *inserted*);
/// - a gap in `seq` (or records missing after the last one, up to the head) is *deleted*;
/// - a record beyond the head, or one whose hash is wrong and that nothing links to while the
///   next record links to its predecessor, is *inserted*.
pub fn verify_chain(
    key: &[u8],
    records: &[AuditRecord],
    head: Option<&ChainHead>,
) -> Vec<AuditFinding> {
    verify_chain_keyed(&|_| Some(key.to_vec()), records, head)
}

/// [`verify_chain`] across key rotations: `key_of(seq)` gives the key that hashed record
/// `seq` (the record names its key id); a record whose key is unknown cannot be verified and
/// is reported like an altered one.
pub fn verify_chain_keyed(
    key_of: &dyn Fn(i64) -> Option<Vec<u8>>,
    records: &[AuditRecord],
    head: Option<&ChainHead>,
) -> Vec<AuditFinding> {
    let mut findings = Vec::new();
    let head_seq = head.map(|h| h.0).unwrap_or(0);
    let mut expected_seq = 1;
    let mut prev: Option<&AuditRecord> = None;
    for (i, r) in records.iter().enumerate() {
        if r.seq > head_seq {
            findings.push(AuditFinding::Inserted { seq: r.seq });
            continue;
        }
        if r.seq > expected_seq {
            findings.push(AuditFinding::Deleted {
                from_seq: expected_seq,
                to_seq: r.seq - 1,
            });
        }
        expected_seq = r.seq + 1;
        let content_ok = key_of(r.seq).is_some_and(|key| record_hash(&key, r) == r.hash);
        if !content_ok {
            let next = records.get(i + 1);
            let skipped_over = match (next, prev) {
                (Some(n), Some(p)) => n.prev_hash == p.hash,
                (Some(n), None) => n.prev_hash == GENESIS_HASH,
                _ => false,
            };
            if skipped_over {
                findings.push(AuditFinding::Inserted { seq: r.seq });
                continue;
            }
            findings.push(AuditFinding::Altered { seq: r.seq });
        }
        prev = Some(r);
    }
    if head_seq >= expected_seq {
        findings.push(AuditFinding::Deleted {
            from_seq: expected_seq,
            to_seq: head_seq,
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for seq in 1..=n {
            let prev_hash = out
                .last()
                .map(|r| r.hash.clone())
                .unwrap_or(GENESIS_HASH.into());
            let mut r = AuditRecord {
                seq,
                at: seq * 1000,
                actor_id: Some("u".into()),
                actor_name: "wang".into(),
                actor_role: "system_admin".into(),
                action: "user.create".into(),
                target: format!("user:{seq}"),
                result: "success".into(),
                source_addr: "127.0.0.1".into(),
                detail: "{}".into(),
                prev_hash,
                hash: String::new(),
            };
            r.hash = record_hash(b"k", &r);
            out.push(r);
        }
        out
    }

    fn head(records: &[AuditRecord]) -> ChainHead {
        let last = records.last().expect("records");
        (last.seq, last.hash.clone())
    }

    #[test]
    fn an_intact_chain_has_no_findings() {
        let c = chain(5);
        assert!(verify_chain(b"k", &c, Some(&head(&c))).is_empty());
        assert!(verify_chain(b"k", &[], None).is_empty());
    }

    #[test]
    fn a_chain_hashed_under_two_keys_verifies_with_each_records_key() {
        let mut c = chain(4);
        // Records 3 and 4 were appended after a rotation to key "k2".
        for i in 2..4 {
            c[i].prev_hash = c[i - 1].hash.clone();
            c[i].hash = record_hash(b"k2", &c[i]);
        }
        let h = head(&c);
        let key_of = |seq: i64| {
            Some(if seq <= 2 {
                b"k".to_vec()
            } else {
                b"k2".to_vec()
            })
        };
        assert!(verify_chain_keyed(&key_of, &c, Some(&h)).is_empty());
        assert_eq!(
            verify_chain(b"k", &c, Some(&h)),
            vec![
                AuditFinding::Altered { seq: 3 },
                AuditFinding::Altered { seq: 4 }
            ]
        );
    }

    #[test]
    fn an_edited_record_is_named_altered() {
        let mut c = chain(5);
        let h = head(&c);
        c[2].result = "failure".into();
        assert_eq!(
            verify_chain(b"k", &c, Some(&h)),
            vec![AuditFinding::Altered { seq: 3 }]
        );
    }

    #[test]
    fn a_removed_record_is_named_deleted_even_the_last() {
        let mut c = chain(5);
        let h = head(&c);
        c.remove(1);
        assert_eq!(
            verify_chain(b"k", &c, Some(&h)),
            vec![AuditFinding::Deleted {
                from_seq: 2,
                to_seq: 2
            }]
        );
        c.pop();
        assert_eq!(
            verify_chain(b"k", &c, Some(&h)),
            vec![
                AuditFinding::Deleted {
                    from_seq: 2,
                    to_seq: 2
                },
                AuditFinding::Deleted {
                    from_seq: 5,
                    to_seq: 5
                }
            ]
        );
    }

    #[test]
    fn a_record_appended_behind_the_control_planes_back_is_named_inserted() {
        let mut c = chain(3);
        let h = head(&c);
        let mut forged = c[2].clone();
        forged.seq = 4;
        forged.prev_hash = c[2].hash.clone();
        forged.hash = record_hash(b"wrong key", &forged);
        c.push(forged);
        assert_eq!(
            verify_chain(b"k", &c, Some(&h)),
            vec![AuditFinding::Inserted { seq: 4 }]
        );
    }

    #[test]
    fn a_record_slipped_into_the_middle_is_named_inserted() {
        let mut c = chain(4);
        let h = head(&c);
        // Renumber 3 and 4 up and slip a forged record in at 3.
        let mut forged = c[1].clone();
        forged.target = "user:forged".into();
        c[2].seq = 4;
        c[3].seq = 5;
        forged.seq = 3;
        c.insert(2, forged);
        let h5 = (5, h.1.clone());
        let findings = verify_chain(b"k", &c, Some(&h5));
        assert!(
            findings.contains(&AuditFinding::Inserted { seq: 3 }),
            "{findings:?}"
        );
    }
}
