//! Feedback rules, without IO and without a clock: a rating is 1 to 5 stars, a comment at most
//! 1000 characters; new or changed feedback waits for moderation (hidden), a moderator approves
//! or rejects it once; only approved feedback counts in the average and is shown.

use serde::{Deserialize, Serialize};

/// The longest comment (characters).
pub const MAX_COMMENT_CHARS: usize = 1000;

/// Where a piece of feedback is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackStatus {
    /// Waiting for a moderator: seen only by its author and moderators.
    Pending,
    /// Shown, and counted in the average.
    Approved,
    /// Hidden for good (its author still sees it, with the moderator's note).
    Rejected,
}

impl FeedbackStatus {
    /// Identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackStatus::Pending => "pending",
            FeedbackStatus::Approved => "approved",
            FeedbackStatus::Rejected => "rejected",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<FeedbackStatus> {
        [
            FeedbackStatus::Pending,
            FeedbackStatus::Approved,
            FeedbackStatus::Rejected,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// A moderator's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moderation {
    /// Show it.
    Approve,
    /// Hide it.
    Reject,
}

/// Why feedback or a moderation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedbackRefused {
    /// Stars outside 1–5.
    #[error("stars must be 1 to 5")]
    Stars,
    /// A comment too long.
    #[error("the comment must be at most {MAX_COMMENT_CHARS} characters")]
    Comment,
    /// Already moderated.
    #[error("this feedback was already moderated")]
    AlreadyModerated,
}

impl FeedbackRefused {
    /// zh-CN.
    pub fn message_zh(&self) -> String {
        match self {
            FeedbackRefused::Stars => "评分须为 1 到 5 星".into(),
            FeedbackRefused::Comment => format!("评论不得超过 {MAX_COMMENT_CHARS} 个字符"),
            FeedbackRefused::AlreadyModerated => "该评价已审核".into(),
        }
    }
    /// English.
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}

/// Checks new feedback; returns the comment trimmed (`None` when empty).
pub fn check(stars: i64, comment: Option<&str>) -> Result<Option<String>, FeedbackRefused> {
    if !(1..=5).contains(&stars) {
        return Err(FeedbackRefused::Stars);
    }
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
        return Err(FeedbackRefused::Comment);
    }
    Ok(comment.map(str::to_owned))
}

/// The status after a moderator's `decision` on feedback in `status`.
pub fn moderate(
    status: FeedbackStatus,
    decision: Moderation,
) -> Result<FeedbackStatus, FeedbackRefused> {
    match (status, decision) {
        (FeedbackStatus::Pending, Moderation::Approve) => Ok(FeedbackStatus::Approved),
        (FeedbackStatus::Pending, Moderation::Reject) => Ok(FeedbackStatus::Rejected),
        _ => Err(FeedbackRefused::AlreadyModerated),
    }
}

/// The average of approved ratings (`None` without any) and their count.
pub fn average(approved_stars: &[i64]) -> (Option<f64>, usize) {
    if approved_stars.is_empty() {
        return (None, 0);
    }
    let sum: i64 = approved_stars.iter().sum();
    let avg = sum as f64 / approved_stars.len() as f64;
    (Some((avg * 100.0).round() / 100.0), approved_stars.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_are_one_to_five_stars_and_comments_are_bounded() {
        assert_eq!(check(0, None), Err(FeedbackRefused::Stars));
        assert_eq!(check(6, None), Err(FeedbackRefused::Stars));
        assert_eq!(check(5, Some("  ")), Ok(None));
        assert_eq!(check(4, Some(" 讲得清楚 ")), Ok(Some("讲得清楚".into())));
        let long = "字".repeat(MAX_COMMENT_CHARS + 1);
        assert_eq!(check(3, Some(&long)), Err(FeedbackRefused::Comment));
    }

    #[test]
    fn feedback_is_moderated_once() {
        assert_eq!(
            moderate(FeedbackStatus::Pending, Moderation::Approve),
            Ok(FeedbackStatus::Approved)
        );
        assert_eq!(
            moderate(FeedbackStatus::Pending, Moderation::Reject),
            Ok(FeedbackStatus::Rejected)
        );
        assert!(moderate(FeedbackStatus::Approved, Moderation::Reject).is_err());
    }

    #[test]
    fn the_average_counts_only_what_it_is_given_rounded_to_hundredths() {
        assert_eq!(average(&[]), (None, 0));
        assert_eq!(average(&[5, 4, 4]), (Some(4.33), 3));
    }
}
