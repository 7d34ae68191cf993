//! Complaints about resources (投诉举报): any signed-in learner who may watch a published
//! resource reports it with a reason category; centre reviewers work the queue; "take down"
//! unpublishes it at once (watch tokens stop working for it); a re-review restores the same
//! revision (with a review record) or retires the resource; the complainant sees the outcome.
//! Every step is audited in the same transaction as the change.
//!
//! The rules are pure ([`flow`]); [`ops`] applies them to the database.

pub mod flow;
pub mod ops;

use serde::{Deserialize, Serialize};

pub use flow::{ComplaintAction, ComplaintCategory, ComplaintRefused, ComplaintStatus};

/// A complaint as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Complaint {
    /// Id.
    pub id: String,
    /// The resource complained about.
    pub resource_id: String,
    /// Its name (the revision online, else the latest).
    pub resource_name: String,
    /// Who complained.
    pub complainant_id: String,
    /// Reason category.
    pub category: ComplaintCategory,
    /// The complainant's words.
    pub detail: String,
    /// Where it is.
    pub status: ComplaintStatus,
    /// The outcome for the complainant, zh-CN.
    pub outcome_zh: String,
    /// The outcome for the complainant, English.
    pub outcome_en: String,
    /// The reviewer's words with the last step.
    pub outcome_comment: Option<String>,
    /// The revision taken down.
    pub revision_id: Option<String>,
    /// Filed (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
    /// Taken down (ms).
    pub taken_down_at: Option<i64>,
    /// Decided (ms).
    pub resolved_at: Option<i64>,
}

/// A new complaint.
#[derive(Debug, Clone, Deserialize)]
pub struct NewComplaint {
    /// Reason category.
    pub category: ComplaintCategory,
    /// What is wrong (1–2000 characters).
    pub detail: String,
}

/// A reviewer's decision on a complaint.
#[derive(Debug, Clone, Deserialize)]
pub struct ComplaintDecision {
    /// `restore`, `retire` or `dismiss` (a take-down has its own endpoint).
    pub decision: ComplaintAction,
    /// The reviewer's words (required; the complainant reads them).
    #[serde(default)]
    pub comment: String,
}
