//! The life of a complaint about a resource, without IO and without a clock:
//!
//! ```text
//! open ──take_down──▶ taken_down ──restore──▶ restored
//!   │                     └──────retire──────▶ retired
//!   ├──retire─────────────────────────────────▶ retired
//!   └──dismiss────────────────────────────────▶ dismissed
//! ```
//!
//! Taking down unpublishes the resource at once; a re-review then restores it (the same
//! revision goes back online, with a review record) or retires it. Every step needs the
//! reviewer's words, which the complainant reads with the outcome.

use serde::{Deserialize, Serialize};

use crate::review_flow::RevisionState;

/// The longest complaint text accepted (characters).
pub const MAX_DETAIL_CHARS: usize = 2000;

/// What a complaint is about (the review's aspects, 审核细则).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintCategory {
    /// 政治导向问题.
    Political,
    /// 科学性错误.
    Scientific,
    /// 内容不适宜.
    Inappropriate,
    /// 侵犯知识产权.
    Copyright,
    /// 泄露个人隐私.
    Privacy,
    /// 含有广告.
    Advertising,
    /// 技术故障（无法播放、音画问题）.
    Technical,
    /// 其他.
    #[default]
    Other,
}

impl ComplaintCategory {
    /// Identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintCategory::Political => "political",
            ComplaintCategory::Scientific => "scientific",
            ComplaintCategory::Inappropriate => "inappropriate",
            ComplaintCategory::Copyright => "copyright",
            ComplaintCategory::Privacy => "privacy",
            ComplaintCategory::Advertising => "advertising",
            ComplaintCategory::Technical => "technical",
            ComplaintCategory::Other => "other",
        }
    }
}

/// Where a complaint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintStatus {
    /// Waiting for a centre reviewer.
    Open,
    /// The resource was taken offline pending a re-review.
    TakenDown,
    /// Re-reviewed: the resource is back online.
    Restored,
    /// Re-reviewed: the resource is retired (offline for good, files removed).
    Retired,
    /// Looked at and found unfounded; the resource stayed online.
    Dismissed,
}

impl ComplaintStatus {
    /// Every status.
    pub const ALL: [ComplaintStatus; 5] = [
        ComplaintStatus::Open,
        ComplaintStatus::TakenDown,
        ComplaintStatus::Restored,
        ComplaintStatus::Retired,
        ComplaintStatus::Dismissed,
    ];

    /// Identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintStatus::Open => "open",
            ComplaintStatus::TakenDown => "taken_down",
            ComplaintStatus::Restored => "restored",
            ComplaintStatus::Retired => "retired",
            ComplaintStatus::Dismissed => "dismissed",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<ComplaintStatus> {
        ComplaintStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// True while a decision is still to come (the resource is on hold).
    pub fn is_unresolved(self) -> bool {
        matches!(self, ComplaintStatus::Open | ComplaintStatus::TakenDown)
    }

    /// What the complainant reads, zh-CN.
    pub fn outcome_zh(self) -> &'static str {
        match self {
            ComplaintStatus::Open => "已受理，等待审核",
            ComplaintStatus::TakenDown => "资源已下线，正在复审",
            ComplaintStatus::Restored => "经复审，资源已恢复上线",
            ComplaintStatus::Retired => "经复审，资源已永久下线",
            ComplaintStatus::Dismissed => "经审核，投诉不成立，资源保持上线",
        }
    }

    /// What the complainant reads, English.
    pub fn outcome_en(self) -> &'static str {
        match self {
            ComplaintStatus::Open => "received, waiting for a reviewer",
            ComplaintStatus::TakenDown => "the resource is offline while it is reviewed again",
            ComplaintStatus::Restored => "re-reviewed: the resource is back online",
            ComplaintStatus::Retired => "re-reviewed: the resource is retired",
            ComplaintStatus::Dismissed => "reviewed: the complaint was not upheld",
        }
    }
}

/// A reviewer's step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintAction {
    /// Unpublish at once, pending a re-review.
    TakeDown,
    /// Re-review passed: back online.
    Restore,
    /// Re-review failed: retire.
    Retire,
    /// Unfounded: nothing changes.
    Dismiss,
}

impl ComplaintAction {
    /// Identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintAction::TakeDown => "take_down",
            ComplaintAction::Restore => "restore",
            ComplaintAction::Retire => "retire",
            ComplaintAction::Dismiss => "dismiss",
        }
    }
}

/// Why a complaint step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComplaintRefused {
    /// The step does not apply to the complaint's status.
    #[error("a complaint that is {status} cannot be {action}")]
    WrongStatus {
        /// Current status.
        status: &'static str,
        /// The step.
        action: &'static str,
    },
    /// The reviewer must say why.
    #[error("a reason is required")]
    CommentRequired,
    /// The complaint needs text, within the limit.
    #[error("the complaint text must be 1 to {MAX_DETAIL_CHARS} characters")]
    Detail,
    /// Only the taken-down revision can come back, and only while it is offline.
    #[error("the resource cannot be restored: {0}")]
    NotRestorable(&'static str),
}

impl ComplaintRefused {
    /// zh-CN message.
    pub fn message_zh(&self) -> String {
        match self {
            ComplaintRefused::WrongStatus { status, action } => {
                format!("投诉当前状态（{status}）下不能执行该操作（{action}）")
            }
            ComplaintRefused::CommentRequired => "须填写处理意见".into(),
            ComplaintRefused::Detail => format!("投诉内容须为 1 到 {MAX_DETAIL_CHARS} 个字符"),
            ComplaintRefused::NotRestorable(_) => {
                "资源无法恢复上线：下线的修订已被替换、资源已退役或已重新上线".into()
            }
        }
    }

    /// English message.
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}

/// The status after `action` on a complaint in `status`.
pub fn next(
    status: ComplaintStatus,
    action: ComplaintAction,
) -> Result<ComplaintStatus, ComplaintRefused> {
    use ComplaintAction as A;
    use ComplaintStatus as S;
    match (status, action) {
        (S::Open, A::TakeDown) => Ok(S::TakenDown),
        (S::Open, A::Dismiss) => Ok(S::Dismissed),
        (S::Open | S::TakenDown, A::Retire) => Ok(S::Retired),
        (S::TakenDown, A::Restore) => Ok(S::Restored),
        _ => Err(ComplaintRefused::WrongStatus {
            status: status.as_str(),
            action: action.as_str(),
        }),
    }
}

/// Checks a reviewer's words.
pub fn check_comment(comment: &str) -> Result<(), ComplaintRefused> {
    if comment.trim().is_empty() {
        Err(ComplaintRefused::CommentRequired)
    } else {
        Ok(())
    }
}

/// Checks a complaint's text.
pub fn check_detail(detail: &str) -> Result<(), ComplaintRefused> {
    let n = detail.trim().chars().count();
    if n == 0 || n > MAX_DETAIL_CHARS {
        Err(ComplaintRefused::Detail)
    } else {
        Ok(())
    }
}

/// Whether the taken-down revision can go back online: it must still be withdrawn, the
/// resource must have nothing else online and must not be retired.
pub fn restorable(
    revision: RevisionState,
    something_published: bool,
    retired: bool,
) -> Result<(), ComplaintRefused> {
    if retired {
        Err(ComplaintRefused::NotRestorable("it is retired"))
    } else if something_published {
        Err(ComplaintRefused::NotRestorable(
            "another revision is online",
        ))
    } else if revision != RevisionState::Withdrawn {
        Err(ComplaintRefused::NotRestorable(
            "the taken-down revision is no longer withdrawn",
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComplaintAction as A;
    use ComplaintStatus as S;

    #[test]
    fn a_complaint_goes_down_then_back_or_away() {
        assert_eq!(next(S::Open, A::TakeDown), Ok(S::TakenDown));
        assert_eq!(next(S::TakenDown, A::Restore), Ok(S::Restored));
        assert_eq!(next(S::TakenDown, A::Retire), Ok(S::Retired));
        assert_eq!(next(S::Open, A::Retire), Ok(S::Retired));
        assert_eq!(next(S::Open, A::Dismiss), Ok(S::Dismissed));
    }

    #[test]
    fn resolved_complaints_stay_resolved_and_steps_cannot_be_skipped() {
        assert!(next(S::Open, A::Restore).is_err(), "nothing to restore");
        assert!(
            next(S::TakenDown, A::Dismiss).is_err(),
            "a re-review decides"
        );
        assert!(next(S::TakenDown, A::TakeDown).is_err());
        for done in [S::Restored, S::Retired, S::Dismissed] {
            assert!(!done.is_unresolved());
            for a in [A::TakeDown, A::Restore, A::Retire, A::Dismiss] {
                assert!(next(done, a).is_err(), "{done:?} {a:?}");
            }
        }
    }

    #[test]
    fn steps_need_words_and_complaints_need_bounded_text() {
        assert_eq!(check_comment("  "), Err(ComplaintRefused::CommentRequired));
        assert!(check_comment("经复核，内容无误").is_ok());
        assert!(check_detail("").is_err());
        assert!(check_detail(&"字".repeat(MAX_DETAIL_CHARS)).is_ok());
        assert!(check_detail(&"字".repeat(MAX_DETAIL_CHARS + 1)).is_err());
    }

    #[test]
    fn only_the_withdrawn_revision_of_an_offline_resource_comes_back() {
        assert!(restorable(RevisionState::Withdrawn, false, false).is_ok());
        assert!(restorable(RevisionState::Withdrawn, true, false).is_err());
        assert!(restorable(RevisionState::Withdrawn, false, true).is_err());
        assert!(restorable(RevisionState::Superseded, false, false).is_err());
    }

    #[test]
    fn every_status_and_refusal_reads_in_both_languages() {
        for s in S::ALL {
            assert!(!s.outcome_zh().is_empty() && !s.outcome_en().is_empty());
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
        let e = next(S::Retired, A::Restore).unwrap_err();
        assert!(e.message_zh().contains("retired") && e.message_en().contains("retired"));
    }
}
