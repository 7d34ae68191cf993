//! Which published resources expire, without IO and without a clock (`now` is an argument).
//!
//! The operating rules (Art. 15) keep resources of training projects six months; those
//! selected as premium courses (精品课程) are kept in the premium collection. A resource
//! expires `months` after its (latest) publication, unless an administrator set another date
//! (a renewal). Expired resources are retired, except anything under review (a newer revision
//! is between submission and publication) or on hold (an unresolved complaint, or a hold an
//! administrator set): those are kept and listed with the reason. Retired resources whose
//! stored objects could not be removed are listed for another try.

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, UtcOffset};

/// Settings (table `[control.retention]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Months a published resource is kept (the rules say six).
    pub months: u32,
    /// How far ahead the report lists resources that expire soon (days).
    pub warn_days: u32,
    /// Whether `yanxiu serve` runs the retention job.
    pub enabled: bool,
    /// Hours between two runs of the job (daily by default).
    pub run_every_hours: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            months: 6,
            warn_days: 30,
            enabled: true,
            run_every_hours: 24,
        }
    }
}

/// What the plan needs to know about one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionFacts {
    /// The resource.
    pub resource_id: String,
    /// Its name.
    pub name: String,
    /// Its department.
    pub department_id: String,
    /// Its online revision, if any.
    pub published_revision_id: Option<String>,
    /// When that revision was published (ms).
    pub published_at: Option<i64>,
    /// An expiry an administrator set (ms), overriding the computed one.
    pub expires_override: Option<i64>,
    /// Selected as a premium course (精品课程): kept.
    pub premium: bool,
    /// An administrator's hold: kept.
    pub hold: bool,
    /// A newer revision is under review.
    pub under_review: bool,
    /// An unresolved complaint (open or taken down).
    pub complaint: bool,
    /// Retired already.
    pub retired: bool,
    /// Its stored objects are gone (retired resources).
    pub objects_removed: bool,
}

/// Why an expired or expiring resource is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepReason {
    /// A premium course.
    Premium,
    /// Under review.
    UnderReview,
    /// On hold (complaint or administrator).
    OnHold,
}

impl KeepReason {
    /// zh-CN.
    pub fn zh(self) -> &'static str {
        match self {
            KeepReason::Premium => "精品课程，长期保留",
            KeepReason::UnderReview => "有修订正在审核中",
            KeepReason::OnHold => "处于冻结状态（投诉处理中或管理员冻结）",
        }
    }
    /// English.
    pub fn en(self) -> &'static str {
        match self {
            KeepReason::Premium => "premium course, kept",
            KeepReason::UnderReview => "a revision is under review",
            KeepReason::OnHold => "on hold (a complaint or an administrator's hold)",
        }
    }
}

/// One resource in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanItem {
    /// The resource.
    pub resource_id: String,
    /// Its name.
    pub name: String,
    /// Its department.
    pub department_id: String,
    /// When it expires or expired (ms); none for premium courses.
    pub expires_at: Option<i64>,
    /// Why it is kept, if it is.
    pub kept_because: Option<KeepReason>,
}

/// What a run would do at `now`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionPlan {
    /// When the plan was made (ms).
    pub at: i64,
    /// Expired: to retire now.
    pub retire: Vec<PlanItem>,
    /// Expired or premium, but kept (with the reason).
    pub kept: Vec<PlanItem>,
    /// Expiring within the warning window (not yet due).
    pub expiring_soon: Vec<PlanItem>,
    /// Retired earlier, stored objects still to remove.
    pub cleanup: Vec<PlanItem>,
}

/// `ms` moved by `months` calendar months in Beijing time (UTC+8), the day clamped to the
/// month's length (31 August + 6 months = 28 or 29 February).
pub fn add_months(ms: i64, months: u32) -> i64 {
    shift_months(ms, i64::from(months))
}

/// `ms` moved back by `months` calendar months (Beijing time, day clamped).
pub fn months_before(ms: i64, months: u32) -> i64 {
    shift_months(ms, -i64::from(months))
}

fn shift_months(ms: i64, months: i64) -> i64 {
    let offset = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    let Ok(t) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms;
    };
    let t = t.to_offset(offset);
    let total = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + months;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let Ok(month) = Month::try_from(month0 as u8 + 1) else {
        return ms;
    };
    let year = year as i32;
    let day = t.day().min(month.length(year));
    match Date::from_calendar_date(year, month, day) {
        Ok(date) => {
            let moved = t.replace_date(date);
            (moved.unix_timestamp_nanos() / 1_000_000) as i64
        }
        Err(_) => ms,
    }
}

/// When a published resource expires: the administrator's date, else `months` after
/// publication; `None` for premium courses and resources not online.
pub fn expiry(f: &RetentionFacts, months: u32) -> Option<i64> {
    if f.premium || f.published_revision_id.is_none() {
        return None;
    }
    f.expires_override
        .or_else(|| f.published_at.map(|p| add_months(p, months)))
}

fn item(f: &RetentionFacts, expires_at: Option<i64>, kept: Option<KeepReason>) -> PlanItem {
    PlanItem {
        resource_id: f.resource_id.clone(),
        name: f.name.clone(),
        department_id: f.department_id.clone(),
        expires_at,
        kept_because: kept,
    }
}

/// The plan at `now` for `facts` under `config`.
pub fn plan(facts: &[RetentionFacts], now: i64, config: &RetentionConfig) -> RetentionPlan {
    let warn_until = now + i64::from(config.warn_days) * 86_400_000;
    let mut out = RetentionPlan {
        at: now,
        ..Default::default()
    };
    for f in facts {
        if f.retired {
            if !f.objects_removed {
                out.cleanup.push(item(f, None, None));
            }
            continue;
        }
        if f.published_revision_id.is_none() {
            continue;
        }
        if f.premium {
            out.kept.push(item(f, None, Some(KeepReason::Premium)));
            continue;
        }
        let Some(expires_at) = expiry(f, config.months) else {
            continue;
        };
        let held = if f.under_review {
            Some(KeepReason::UnderReview)
        } else if f.hold || f.complaint {
            Some(KeepReason::OnHold)
        } else {
            None
        };
        if expires_at <= now {
            match held {
                Some(reason) => out.kept.push(item(f, Some(expires_at), Some(reason))),
                None => out.retire.push(item(f, Some(expires_at), None)),
            }
        } else if expires_at <= warn_until {
            out.expiring_soon.push(item(f, Some(expires_at), held));
        }
    }
    for list in [
        &mut out.retire,
        &mut out.kept,
        &mut out.expiring_soon,
        &mut out.cleanup,
    ] {
        list.sort_by(|a, b| {
            a.expires_at
                .cmp(&b.expires_at)
                .then_with(|| a.resource_id.cmp(&b.resource_id))
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-01T00:00:00Z (08:00 in Beijing).
    const T0: i64 = 1_767_225_600_000;
    const DAY: i64 = 86_400_000;

    fn facts(id: &str, published_at: i64) -> RetentionFacts {
        RetentionFacts {
            resource_id: id.into(),
            name: format!("课程 {id}"),
            department_id: "d".into(),
            published_revision_id: Some(format!("rev-{id}")),
            published_at: Some(published_at),
            expires_override: None,
            premium: false,
            hold: false,
            under_review: false,
            complaint: false,
            retired: false,
            objects_removed: false,
        }
    }

    #[test]
    fn months_are_calendar_months_in_beijing_time_with_the_day_clamped() {
        // 2026-01-01 08:00 Beijing + 6 months = 2026-07-01 08:00 Beijing.
        assert_eq!(add_months(T0, 6), T0 + 181 * DAY);
        // 2025-08-31 Beijing + 6 months = 2026-02-28.
        let aug31 = T0 - 123 * DAY; // 2025-08-31T00:00Z
        assert_eq!(add_months(aug31, 6), aug31 + 181 * DAY);
        // 23:30 UTC on 31 Dec is already 1 January in Beijing.
        let late = T0 - 30 * 60_000;
        assert_eq!(add_months(late, 1), late + 31 * DAY);
        assert_eq!(months_before(add_months(T0, 6), 6), T0);
    }

    #[test]
    fn expired_resources_are_retired_and_premium_ones_kept() {
        let config = RetentionConfig::default();
        let now = add_months(T0, 6) + 1;
        let mut premium = facts("b", T0);
        premium.premium = true;
        let p = plan(&[facts("a", T0), premium], now, &config);
        assert_eq!(p.retire.len(), 1);
        assert_eq!(p.retire[0].resource_id, "a");
        assert_eq!(p.retire[0].expires_at, Some(add_months(T0, 6)));
        assert_eq!(p.kept[0].kept_because, Some(KeepReason::Premium));
        // One millisecond earlier nothing is due yet, and it expires soon.
        let p = plan(&[facts("a", T0)], now - 2, &config);
        assert!(p.retire.is_empty());
        assert_eq!(p.expiring_soon.len(), 1);
    }

    #[test]
    fn nothing_under_review_or_on_hold_is_retired() {
        let now = add_months(T0, 7);
        let mut review = facts("r", T0);
        review.under_review = true;
        let mut complaint = facts("c", T0);
        complaint.complaint = true;
        let mut hold = facts("h", T0);
        hold.hold = true;
        let p = plan(&[review, complaint, hold], now, &RetentionConfig::default());
        assert!(p.retire.is_empty(), "{p:?}");
        let reasons: Vec<_> = p
            .kept
            .iter()
            .map(|k| (k.resource_id.as_str(), k.kept_because))
            .collect();
        assert!(reasons.contains(&("r", Some(KeepReason::UnderReview))));
        assert!(reasons.contains(&("c", Some(KeepReason::OnHold))));
        assert!(reasons.contains(&("h", Some(KeepReason::OnHold))));
    }

    #[test]
    fn a_renewal_moves_the_expiry_and_unpublished_resources_do_not_expire() {
        let now = add_months(T0, 7);
        let mut renewed = facts("n", T0);
        renewed.expires_override = Some(now + 10 * DAY);
        let mut offline = facts("o", T0);
        offline.published_revision_id = None;
        let p = plan(&[renewed, offline], now, &RetentionConfig::default());
        assert!(p.retire.is_empty());
        assert_eq!(p.expiring_soon[0].resource_id, "n");
        assert!(p.kept.is_empty());
    }

    #[test]
    fn retired_resources_with_objects_left_are_cleaned_up_again() {
        let mut left = facts("l", T0);
        left.retired = true;
        left.published_revision_id = None;
        let mut done = left.clone();
        done.resource_id = "d".into();
        done.objects_removed = true;
        let p = plan(&[left, done], T0, &RetentionConfig::default());
        assert_eq!(p.cleanup.len(), 1);
        assert_eq!(p.cleanup[0].resource_id, "l");
    }
}
