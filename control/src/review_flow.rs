//! The three-level review state machine of one resource revision:
//! draft → self_reviewed → department_approved → technically_approved → published, with
//! rejection at any level returning the revision to its producer (`rejected`, editable like a
//! draft). Pure: no IO, no clock.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The review state of a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevisionState {
    /// Being prepared by its producer.
    Draft,
    /// Level 1 signed by the producer.
    SelfReviewed,
    /// Level 2 signed by the department reviewer.
    DepartmentApproved,
    /// Level 3 signed by the centre technical reviewer.
    TechnicallyApproved,
    /// Online.
    Published,
    /// Returned to the producer with reasons; editable like a draft.
    Rejected,
    /// Was published, replaced by a newer published revision.
    Superseded,
    /// Was published, taken offline.
    Withdrawn,
}

impl RevisionState {
    /// The identifier used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RevisionState::Draft => "draft",
            RevisionState::SelfReviewed => "self_reviewed",
            RevisionState::DepartmentApproved => "department_approved",
            RevisionState::TechnicallyApproved => "technically_approved",
            RevisionState::Published => "published",
            RevisionState::Rejected => "rejected",
            RevisionState::Superseded => "superseded",
            RevisionState::Withdrawn => "withdrawn",
        }
    }

    /// Whether the producer may still change the revision's metadata and media.
    pub fn is_editable(self) -> bool {
        matches!(self, RevisionState::Draft | RevisionState::Rejected)
    }

    /// Whether the revision is somewhere between submission and publication.
    pub fn is_in_review(self) -> bool {
        matches!(
            self,
            RevisionState::SelfReviewed
                | RevisionState::DepartmentApproved
                | RevisionState::TechnicallyApproved
        )
    }
}

impl fmt::Display for RevisionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown state identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown revision state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for RevisionState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use RevisionState as S;
        [
            S::Draft,
            S::SelfReviewed,
            S::DepartmentApproved,
            S::TechnicallyApproved,
            S::Published,
            S::Rejected,
            S::Superseded,
            S::Withdrawn,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// The three review levels (plus publication, the centre's last step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewLevel {
    /// Level 1: 资源生产者自审.
    #[serde(rename = "self")]
    SelfReview,
    /// Level 2: 资源提供部门复审.
    Department,
    /// Level 3: 教师网络研修中心技术审核.
    Technical,
}

impl ReviewLevel {
    /// The identifier used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewLevel::SelfReview => "self",
            ReviewLevel::Department => "department",
            ReviewLevel::Technical => "technical",
        }
    }
    /// The state a revision must be in for this level to act.
    pub fn acts_on(self) -> RevisionState {
        match self {
            ReviewLevel::SelfReview => RevisionState::Draft,
            ReviewLevel::Department => RevisionState::SelfReviewed,
            ReviewLevel::Technical => RevisionState::DepartmentApproved,
        }
    }
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// Sign and pass on.
    Approve,
    /// Return to the producer with reasons.
    Reject,
}

impl ReviewDecision {
    /// The identifier used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Approve => "approve",
            ReviewDecision::Reject => "reject",
        }
    }
}

/// Why a review step is not possible now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionRefused {
    /// The revision is not at this level's step.
    #[error("a {level} review cannot act on a revision in state {state}")]
    WrongState {
        /// The level attempted.
        level: &'static str,
        /// The revision's state.
        state: RevisionState,
    },
    /// A rejection needs a reason.
    #[error("a rejection needs a comment")]
    ReasonRequired,
    /// Only a technically approved revision can be published.
    #[error("only a technically approved revision can be published (state {0})")]
    NotApproved(RevisionState),
    /// Only a published revision can be withdrawn.
    #[error("only a published revision can be withdrawn (state {0})")]
    NotPublished(RevisionState),
}

/// The state after a review decision at `level` on a revision in `state`.
///
/// A self-review may be signed on a draft or on a rejected revision (rework after a rejection).
pub fn review(
    state: RevisionState,
    level: ReviewLevel,
    decision: ReviewDecision,
    comment: &str,
) -> Result<RevisionState, TransitionRefused> {
    let acts = state == level.acts_on()
        || (level == ReviewLevel::SelfReview && state == RevisionState::Rejected);
    if !acts {
        return Err(TransitionRefused::WrongState {
            level: level.as_str(),
            state,
        });
    }
    match decision {
        ReviewDecision::Reject if comment.trim().is_empty() => {
            Err(TransitionRefused::ReasonRequired)
        }
        ReviewDecision::Reject => Ok(RevisionState::Rejected),
        ReviewDecision::Approve => Ok(match level {
            ReviewLevel::SelfReview => RevisionState::SelfReviewed,
            ReviewLevel::Department => RevisionState::DepartmentApproved,
            ReviewLevel::Technical => RevisionState::TechnicallyApproved,
        }),
    }
}

/// The state after publication (only from technically approved).
pub fn publish(state: RevisionState) -> Result<RevisionState, TransitionRefused> {
    if state == RevisionState::TechnicallyApproved {
        Ok(RevisionState::Published)
    } else {
        Err(TransitionRefused::NotApproved(state))
    }
}

/// The state after taking a published revision offline.
pub fn withdraw(state: RevisionState) -> Result<RevisionState, TransitionRefused> {
    if state == RevisionState::Published {
        Ok(RevisionState::Withdrawn)
    } else {
        Err(TransitionRefused::NotPublished(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReviewDecision::*;
    use ReviewLevel::*;
    use RevisionState as S;

    #[test]
    fn approvals_walk_the_three_levels_in_order() {
        let s = review(S::Draft, SelfReview, Approve, "").expect("self");
        assert_eq!(s, S::SelfReviewed);
        let s = review(s, Department, Approve, "ok").expect("dept");
        assert_eq!(s, S::DepartmentApproved);
        let s = review(s, Technical, Approve, "").expect("tech");
        assert_eq!(publish(s), Ok(S::Published));
    }

    #[test]
    fn levels_cannot_be_skipped_or_repeated() {
        assert!(review(S::Draft, Department, Approve, "").is_err());
        assert!(review(S::SelfReviewed, Technical, Approve, "").is_err());
        assert!(review(S::DepartmentApproved, Department, Approve, "").is_err());
        assert_eq!(
            publish(S::DepartmentApproved),
            Err(TransitionRefused::NotApproved(S::DepartmentApproved))
        );
    }

    #[test]
    fn rejection_needs_a_reason_and_returns_to_the_producer() {
        assert_eq!(
            review(S::SelfReviewed, Department, Reject, " "),
            Err(TransitionRefused::ReasonRequired)
        );
        let s = review(S::DepartmentApproved, Technical, Reject, "音画不同步").expect("reject");
        assert_eq!(s, S::Rejected);
        assert!(s.is_editable());
        assert_eq!(review(s, SelfReview, Approve, ""), Ok(S::SelfReviewed));
    }

    #[test]
    fn only_published_revisions_can_be_withdrawn() {
        assert_eq!(withdraw(S::Published), Ok(S::Withdrawn));
        assert!(withdraw(S::Draft).is_err());
    }
}
