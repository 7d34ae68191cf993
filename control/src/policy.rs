//! The permission policy: pure functions deciding role × action × scope → allow/deny with a
//! reason. Every permission decision of the control plane goes through [`decide`] or
//! [`decide_any`]; nothing here does IO or reads a clock.
//!
//! Also owns the separation of duties ([`conflicting_roles`]): the three platform
//! administrator duties (system, security, audit) never sit on one account with any other role,
//! and one person cannot hold both the department and the centre review signatures.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A role an account can hold. The identifiers (`as_str`) are used by the API and the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 学员: watches what their audiences allow.
    Learner,
    /// 资源生产者 / 授课教师: uploads resources and self-reviews them.
    Producer,
    /// 活动主办/承办部门: runs live channels.
    EventOrganiser,
    /// 资源提供部门负责人: second-level (department) review.
    DepartmentReviewer,
    /// 教师网络研修中心: third-level technical review and publication.
    CentreReviewer,
    /// Manages one department's people, channels and resources.
    DepartmentAdmin,
    /// Platform duty: accounts and configuration.
    SystemAdmin,
    /// Platform duty: roles and permissions.
    SecurityAdmin,
    /// Platform duty: reads the audit log, changes nothing.
    AuditAdmin,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 9] = [
        Role::Learner,
        Role::Producer,
        Role::EventOrganiser,
        Role::DepartmentReviewer,
        Role::CentreReviewer,
        Role::DepartmentAdmin,
        Role::SystemAdmin,
        Role::SecurityAdmin,
        Role::AuditAdmin,
    ];

    /// The identifier used by the API, the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Learner => "learner",
            Role::Producer => "producer",
            Role::EventOrganiser => "event_organiser",
            Role::DepartmentReviewer => "department_reviewer",
            Role::CentreReviewer => "centre_reviewer",
            Role::DepartmentAdmin => "department_admin",
            Role::SystemAdmin => "system_admin",
            Role::SecurityAdmin => "security_admin",
            Role::AuditAdmin => "audit_admin",
        }
    }

    /// True for the separated platform duties (system, security, audit administrator).
    pub fn is_platform_duty(self) -> bool {
        matches!(
            self,
            Role::SystemAdmin | Role::SecurityAdmin | Role::AuditAdmin
        )
    }

    /// True for roles whose permissions are limited to the account's own department.
    pub fn is_department_scoped(self) -> bool {
        matches!(
            self,
            Role::Producer
                | Role::EventOrganiser
                | Role::DepartmentReviewer
                | Role::DepartmentAdmin
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown role identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// Something an account may try to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Create, disable, enable and list accounts.
    ManageUsers,
    /// Grant or revoke the given role.
    AssignRole(Role),
    /// Change platform configuration.
    ManageConfig,
    /// Read, search, export and verify the audit log.
    ReadAudit,
    /// Create departments.
    ManageDepartments,
    /// Create training projects.
    ManageProjects,
    /// Create audiences and change their members.
    ManageAudiences,
    /// Create, update, delete channels and rotate their stream keys.
    ManageChannels,
    /// See a channel's settings (not its key).
    ReadChannel,
    /// Create a draft resource.
    CreateResource,
    /// Change a resource's metadata or media.
    EditResource,
    /// See a resource in any review state, its reviews and its review form.
    ReadResource,
    /// Delete a resource.
    DeleteResource,
    /// Level 1: producer self-review (自审).
    ReviewSelf,
    /// Level 2: department review (复审).
    ReviewDepartment,
    /// Level 3: centre technical review (技术审核) and publication.
    ReviewTechnical,
    /// Take a published resource offline.
    Unpublish,
    /// Import catalogue rows (Table 2) as draft resources.
    ImportCatalogue,
    /// Watch a published resource or a live channel.
    Watch,
    /// Read viewing figures (views, watch time, completion, peaks) of resources and channels.
    ReadAnalytics,
    /// Read and export learners' credit hours (学时) of a department.
    ReadLearningRecords,
    /// Work the complaint queue: take down, restore, retire, dismiss.
    HandleComplaints,
    /// Retention: mark premium courses, hold or renew resources, run and read the retention
    /// plan, retire little-used resources.
    ManageRetention,
    /// Approve or reject learners' ratings and comments before they are shown.
    ModerateFeedback,
    /// See every account's live sessions and locked accounts; end sessions, lift locks.
    ManageSessions,
}

impl Action {
    /// Every action, in a stable order (each role for [`Action::AssignRole`]).
    pub fn all() -> Vec<Action> {
        let mut all = vec![Action::ManageUsers];
        all.extend(Role::ALL.into_iter().map(Action::AssignRole));
        all.extend([
            Action::ManageConfig,
            Action::ReadAudit,
            Action::ManageDepartments,
            Action::ManageProjects,
            Action::ManageAudiences,
            Action::ManageChannels,
            Action::ReadChannel,
            Action::CreateResource,
            Action::EditResource,
            Action::ReadResource,
            Action::DeleteResource,
            Action::ReviewSelf,
            Action::ReviewDepartment,
            Action::ReviewTechnical,
            Action::Unpublish,
            Action::ImportCatalogue,
            Action::Watch,
            Action::ReadAnalytics,
            Action::ReadLearningRecords,
            Action::HandleComplaints,
            Action::ManageRetention,
            Action::ModerateFeedback,
            Action::ManageSessions,
        ]);
        all
    }
}

/// Where the target of an action sits relative to the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scope {
    /// The target belongs to the actor's department (always false for an actor without one).
    pub same_department: bool,
    /// The actor owns the target (the producer of a resource, the organiser of a channel).
    pub is_owner: bool,
    /// The target is open to everyone (public resource or channel).
    pub public: bool,
    /// The actor belongs to the target's audience.
    pub in_audience: bool,
}

impl Scope {
    /// Everything in the actor's reach: same department, owned, in the audience (not public).
    pub fn in_scope() -> Scope {
        Scope {
            same_department: true,
            is_owner: true,
            public: false,
            in_audience: true,
        }
    }
    /// Nothing in the actor's reach: another department, not owned, not in the audience.
    pub fn out_of_scope() -> Scope {
        Scope::default()
    }
}

/// Why a decision came out the way it did. Each reason has a zh-CN and an English text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The role grants this action everywhere.
    GlobalRole,
    /// The role grants this action inside the actor's department.
    DepartmentRole,
    /// The actor owns the target.
    Owner,
    /// The target is public.
    PublicTarget,
    /// The actor is in the target's audience.
    AudienceMember,
    /// The role never grants this action.
    RoleLacksPermission,
    /// The role grants this action only inside the actor's own department.
    OutsideDepartment,
    /// The action is reserved to the owner of the target.
    NotOwner,
    /// Reviewers may not approve their own resource at level 2 or 3.
    SelfApproval,
    /// The target is restricted to an audience the actor is not in.
    NotInAudience,
    /// A department administrator may only grant department-level roles.
    RoleBeyondDepartment,
    /// The account holds no role at all.
    NoRole,
}

impl Reason {
    /// The zh-CN text.
    pub fn zh(self) -> &'static str {
        match self {
            Reason::GlobalRole => "角色在全平台具有此权限",
            Reason::DepartmentRole => "角色在本部门范围内具有此权限",
            Reason::Owner => "操作者是该对象的所有者",
            Reason::PublicTarget => "对象面向全网公开",
            Reason::AudienceMember => "操作者属于该对象的受众",
            Reason::RoleLacksPermission => "角色不具有此权限",
            Reason::OutsideDepartment => "只能在本部门范围内执行此操作",
            Reason::NotOwner => "只有所有者可以执行此操作",
            Reason::SelfApproval => "不得审核自己提交的资源",
            Reason::NotInAudience => "该内容仅对指定受众开放",
            Reason::RoleBeyondDepartment => "部门管理员只能授予部门级角色",
            Reason::NoRole => "账号未被授予任何角色",
        }
    }
    /// The English text.
    pub fn en(self) -> &'static str {
        match self {
            Reason::GlobalRole => "the role grants this action platform-wide",
            Reason::DepartmentRole => "the role grants this action within the department",
            Reason::Owner => "the actor owns the target",
            Reason::PublicTarget => "the target is public",
            Reason::AudienceMember => "the actor belongs to the target's audience",
            Reason::RoleLacksPermission => "the role does not grant this action",
            Reason::OutsideDepartment => "this action is only allowed within your own department",
            Reason::NotOwner => "only the owner may do this",
            Reason::SelfApproval => "nobody may review their own resource",
            Reason::NotInAudience => "this content is restricted to its audience",
            Reason::RoleBeyondDepartment => "a department admin may only grant department roles",
            Reason::NoRole => "the account holds no role",
        }
    }
}

/// The outcome of a permission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// Why.
    pub reason: Reason,
}

impl Decision {
    fn allow(reason: Reason) -> Decision {
        Decision {
            allowed: true,
            reason,
        }
    }
    fn deny(reason: Reason) -> Decision {
        Decision {
            allowed: false,
            reason,
        }
    }
}

fn in_department(scope: &Scope) -> Decision {
    if scope.same_department {
        Decision::allow(Reason::DepartmentRole)
    } else {
        Decision::deny(Reason::OutsideDepartment)
    }
}

fn watch(scope: &Scope) -> Decision {
    if scope.public {
        Decision::allow(Reason::PublicTarget)
    } else if scope.in_audience {
        Decision::allow(Reason::AudienceMember)
    } else {
        Decision::deny(Reason::NotInAudience)
    }
}

/// Decides whether one role may perform `action` on a target in `scope`.
pub fn decide(role: Role, action: Action, scope: &Scope) -> Decision {
    use Action as A;
    use Role as R;
    let lacks = Decision::deny(Reason::RoleLacksPermission);
    let global = Decision::allow(Reason::GlobalRole);
    match (role, action) {
        // Platform duties: separated, each limited to its own area.
        (R::SystemAdmin, A::ManageUsers | A::ManageConfig | A::ManageDepartments) => global,
        (R::SystemAdmin, A::ManageProjects) => global,
        (R::SecurityAdmin, A::AssignRole(_) | A::ManageSessions) => global,
        (R::AuditAdmin, A::ReadAudit) => global,
        (R::SystemAdmin | R::SecurityAdmin | R::AuditAdmin, _) => lacks,

        // Department administrator: people, projects, audiences, channels and resources of
        // their own department.
        (R::DepartmentAdmin, A::AssignRole(granted)) => {
            if !granted.is_department_scoped() && granted != R::Learner
                || granted == R::DepartmentAdmin
            {
                Decision::deny(Reason::RoleBeyondDepartment)
            } else {
                in_department(scope)
            }
        }
        (
            R::DepartmentAdmin,
            A::ManageUsers
            | A::ManageProjects
            | A::ManageAudiences
            | A::ManageChannels
            | A::ReadChannel
            | A::ReadResource
            | A::DeleteResource
            | A::Unpublish
            | A::ImportCatalogue,
        ) => in_department(scope),

        // Event organiser: channels and audiences of their department; recordings become
        // resources they own.
        (R::EventOrganiser, A::ManageChannels | A::ReadChannel | A::ManageAudiences) => {
            in_department(scope)
        }
        (R::EventOrganiser | R::Producer, A::CreateResource) => in_department(scope),
        (R::EventOrganiser | R::Producer, A::EditResource | A::ReadResource | A::ReviewSelf) => {
            if !scope.is_owner {
                Decision::deny(Reason::NotOwner)
            } else {
                in_department(scope).reason_if_allowed(Reason::Owner)
            }
        }
        (R::Producer, A::DeleteResource) => {
            if scope.is_owner {
                in_department(scope).reason_if_allowed(Reason::Owner)
            } else {
                Decision::deny(Reason::NotOwner)
            }
        }

        // Department reviewer: level 2 for their own department, never their own resource.
        (R::DepartmentReviewer, A::ReviewDepartment) => {
            if scope.is_owner {
                Decision::deny(Reason::SelfApproval)
            } else {
                in_department(scope)
            }
        }
        (R::DepartmentReviewer, A::ReadResource | A::ReadChannel) => in_department(scope),

        // Centre technical reviewer: level 3 and publication platform-wide, never their own.
        (R::CentreReviewer, A::ReviewTechnical) => {
            if scope.is_owner {
                Decision::deny(Reason::SelfApproval)
            } else {
                global
            }
        }
        (R::CentreReviewer, A::ReadResource | A::ReadChannel | A::Unpublish) => global,
        (R::CentreReviewer, A::ImportCatalogue) => global,

        // Viewing figures: the centre everywhere, department reviewers and admins in their
        // department, producers and organisers for what they own.
        (R::CentreReviewer, A::ReadAnalytics) => global,
        (R::DepartmentAdmin | R::DepartmentReviewer, A::ReadAnalytics) => in_department(scope),
        (R::Producer | R::EventOrganiser, A::ReadAnalytics) => {
            if scope.is_owner {
                in_department(scope).reason_if_allowed(Reason::Owner)
            } else {
                Decision::deny(Reason::NotOwner)
            }
        }

        // Learners' credit hours: the centre everywhere, a department admin for their people.
        (R::CentreReviewer, A::ReadLearningRecords) => global,
        (R::DepartmentAdmin, A::ReadLearningRecords) => in_department(scope),

        // Complaints: the centre's reviewers handle them, platform-wide.
        (R::CentreReviewer, A::HandleComplaints) => global,

        // Retention and the catalogue's life cycle: the centre, platform-wide.
        (R::CentreReviewer, A::ManageRetention) => global,

        // Ratings and comments: moderated by the centre, or a department admin for their own.
        (R::CentreReviewer, A::ModerateFeedback) => global,
        (R::DepartmentAdmin, A::ModerateFeedback) => in_department(scope),

        // Everybody who is not a platform administrator may watch what is open to them.
        (_, A::Watch) => watch(scope),
        _ => lacks,
    }
}

impl Decision {
    fn reason_if_allowed(self, reason: Reason) -> Decision {
        if self.allowed {
            Decision::allow(reason)
        } else {
            self
        }
    }
}

/// Decides for an account holding several roles: allowed if any role allows. When all deny,
/// the reason is the most specific denial (scope-related reasons before "role lacks it").
pub fn decide_any(roles: &[Role], action: Action, scope: &Scope) -> Decision {
    let mut best: Option<Decision> = None;
    for role in roles {
        let decision = decide(*role, action, scope);
        if decision.allowed {
            return decision;
        }
        let replace = match best {
            None => true,
            Some(previous) => previous.reason == Reason::RoleLacksPermission,
        };
        if replace {
            best = Some(decision);
        }
    }
    best.unwrap_or(Decision::deny(Reason::NoRole))
}

/// Two roles that may not sit on one account, as a pair, or `None` when the set is allowed.
///
/// Rules: a platform duty (system, security, audit administrator) excludes every other role;
/// department reviewer and centre reviewer exclude each other (one person would otherwise sign
/// two of the three review levels).
pub fn conflicting_roles(roles: &[Role]) -> Option<(Role, Role)> {
    for (i, a) in roles.iter().enumerate() {
        for b in &roles[i + 1..] {
            if a == b {
                continue;
            }
            let review_pair = matches!(
                (a, b),
                (Role::DepartmentReviewer, Role::CentreReviewer)
                    | (Role::CentreReviewer, Role::DepartmentReviewer)
            );
            if a.is_platform_duty() || b.is_platform_duty() || review_pair {
                return Some((*a, *b));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_identifiers_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn platform_duties_cannot_be_combined() {
        assert_eq!(
            conflicting_roles(&[Role::SystemAdmin, Role::AuditAdmin]),
            Some((Role::SystemAdmin, Role::AuditAdmin))
        );
        assert!(conflicting_roles(&[Role::SecurityAdmin, Role::Learner]).is_some());
        assert!(conflicting_roles(&[Role::DepartmentReviewer, Role::CentreReviewer]).is_some());
        assert_eq!(
            conflicting_roles(&[Role::Producer, Role::DepartmentReviewer]),
            None
        );
        assert_eq!(conflicting_roles(&[Role::AuditAdmin]), None);
    }

    #[test]
    fn multi_role_account_is_allowed_when_any_role_allows() {
        let roles = [Role::Learner, Role::Producer];
        assert!(decide_any(&roles, Action::CreateResource, &Scope::in_scope()).allowed);
        let denied = decide_any(&roles, Action::ReviewTechnical, &Scope::in_scope());
        assert_eq!(denied, Decision::deny(Reason::RoleLacksPermission));
        assert_eq!(
            decide_any(&[], Action::Watch, &Scope::in_scope()).reason,
            Reason::NoRole
        );
    }

    #[test]
    fn reviewers_cannot_approve_their_own_resource() {
        let own = Scope {
            is_owner: true,
            ..Scope::in_scope()
        };
        let d = decide(Role::DepartmentReviewer, Action::ReviewDepartment, &own);
        assert_eq!(d, Decision::deny(Reason::SelfApproval));
        let d = decide(Role::CentreReviewer, Action::ReviewTechnical, &own);
        assert_eq!(d, Decision::deny(Reason::SelfApproval));
    }

    #[test]
    fn public_targets_are_watchable_by_everyone_but_platform_admins() {
        let public = Scope {
            public: true,
            ..Scope::out_of_scope()
        };
        assert!(decide(Role::Learner, Action::Watch, &public).allowed);
        assert!(!decide(Role::AuditAdmin, Action::Watch, &public).allowed);
    }

    #[test]
    fn department_admin_cannot_grant_platform_or_admin_roles() {
        for granted in [
            Role::SystemAdmin,
            Role::CentreReviewer,
            Role::DepartmentAdmin,
        ] {
            let d = decide(
                Role::DepartmentAdmin,
                Action::AssignRole(granted),
                &Scope::in_scope(),
            );
            assert_eq!(d, Decision::deny(Reason::RoleBeyondDepartment));
        }
        let d = decide(
            Role::DepartmentAdmin,
            Action::AssignRole(Role::Producer),
            &Scope::in_scope(),
        );
        assert!(d.allowed);
    }
}
