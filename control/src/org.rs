//! Organisation: departments (资源提供部门), training projects owned by departments, and
//! audiences (named groups of learners, e.g. a project's enrolled learners).

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::AuditAppend;
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, AuditCtx, ControlPlane, new_id};
use crate::policy::{Action, Scope};

/// A department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Department {
    /// Id.
    pub id: String,
    /// Name (unique).
    pub name: String,
    /// Creation (ms).
    pub created_at: i64,
}

/// A training project owned by a department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Project {
    /// Id.
    pub id: String,
    /// Owning department.
    pub department_id: String,
    /// Name (unique within the department).
    pub name: String,
    /// Creation (ms).
    pub created_at: i64,
}

/// A named group of learners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Audience {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning department, if any.
    pub department_id: Option<String>,
    /// Project whose learners this is, if any.
    pub project_id: Option<String>,
    /// Creation (ms).
    pub created_at: i64,
}

/// A new audience.
#[derive(Debug, Clone, Deserialize)]
pub struct NewAudience {
    /// Name.
    pub name: String,
    /// Owning department.
    pub department_id: String,
    /// Project, if the audience is a project's learners.
    #[serde(default)]
    pub project_id: Option<String>,
}

fn non_empty(value: &str, what_zh: &str, what_en: &str) -> ControlResult<()> {
    if value.trim().is_empty() {
        Err(ControlError::invalid(
            format!("{what_zh}不能为空"),
            format!("{what_en} must not be empty"),
        ))
    } else {
        Ok(())
    }
}

impl ControlPlane {
    /// Reads a department.
    pub async fn department(&self, id: &str) -> ControlResult<Department> {
        sqlx::query_as("SELECT id, name, created_at FROM departments WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(ControlError::NotFound("department"))
    }

    /// Finds a department by name.
    pub async fn department_by_name(&self, name: &str) -> ControlResult<Option<Department>> {
        Ok(
            sqlx::query_as("SELECT id, name, created_at FROM departments WHERE name = $1")
                .bind(name.to_owned())
                .fetch_optional(self.db.pool())
                .await?,
        )
    }

    /// All departments, by name.
    pub async fn departments(&self) -> ControlResult<Vec<Department>> {
        Ok(
            sqlx::query_as("SELECT id, name, created_at FROM departments ORDER BY name")
                .fetch_all(self.db.pool())
                .await?,
        )
    }

    /// Creates a department (`actor = None`: the local CLI).
    pub async fn create_department(
        &self,
        actor: Option<&Actor>,
        name: &str,
        now: i64,
    ) -> ControlResult<Department> {
        non_empty(name, "部门名称", "department name")?;
        if let Some(actor) = actor {
            actor.require(Action::ManageDepartments, &Scope::out_of_scope())?;
        }
        if self.department_by_name(name).await?.is_some() {
            return Err(ControlError::conflict(
                "部门名称已存在",
                "department name already exists",
            ));
        }
        let dept = Department {
            id: new_id(),
            name: name.trim().to_owned(),
            created_at: now,
        };
        let mut tx = self.begin_audited().await?;
        sqlx::query("INSERT INTO departments (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(dept.id.clone())
            .bind(dept.name.clone())
            .bind(now)
            .execute(tx.conn())
            .await?;
        let ctx = actor.map(Actor::audit_ctx).unwrap_or_else(AuditCtx::cli);
        let record = AuditAppend::success(
            "department.create",
            format!("department:{}", dept.id),
            json!({"name": dept.name}),
        );
        self.commit_audited(tx, &ctx, &[record], now).await?;
        Ok(dept)
    }

    /// Reads a project.
    pub async fn project(&self, id: &str) -> ControlResult<Project> {
        sqlx::query_as("SELECT id, department_id, name, created_at FROM projects WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(ControlError::NotFound("project"))
    }

    /// Projects, optionally of one department.
    pub async fn projects(&self, department_id: Option<&str>) -> ControlResult<Vec<Project>> {
        Ok(sqlx::query_as(
            "SELECT id, department_id, name, created_at FROM projects \
             WHERE ($1 IS NULL OR department_id = $1) ORDER BY name",
        )
        .bind(department_id.map(str::to_owned))
        .fetch_all(self.db.pool())
        .await?)
    }

    /// Creates a training project in a department.
    pub async fn create_project(
        &self,
        actor: &Actor,
        department_id: &str,
        name: &str,
        now: i64,
    ) -> ControlResult<Project> {
        non_empty(name, "项目名称", "project name")?;
        self.department(department_id).await?;
        actor.require(
            Action::ManageProjects,
            &actor.scope_of(Some(department_id), None),
        )?;
        let project = Project {
            id: new_id(),
            department_id: department_id.to_owned(),
            name: name.trim().to_owned(),
            created_at: now,
        };
        let mut tx = self.begin_audited().await?;
        let inserted = sqlx::query(
            "INSERT INTO projects (id, department_id, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(project.id.clone())
        .bind(project.department_id.clone())
        .bind(project.name.clone())
        .bind(now)
        .execute(tx.conn())
        .await;
        if let Err(sqlx::Error::Database(e)) = &inserted
            && e.is_unique_violation()
        {
            return Err(ControlError::conflict(
                "该部门已有同名项目",
                "the department already has a project of that name",
            ));
        }
        inserted?;
        let record = AuditAppend::success(
            "project.create",
            format!("project:{}", project.id),
            json!({"name": project.name}),
        );
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await?;
        Ok(project)
    }

    /// Reads an audience.
    pub async fn audience(&self, id: &str) -> ControlResult<Audience> {
        sqlx::query_as(
            "SELECT id, name, department_id, project_id, created_at FROM audiences WHERE id = $1",
        )
        .bind(id.to_owned())
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(ControlError::NotFound("audience"))
    }

    /// Audiences, optionally of one department.
    pub async fn audiences(&self, department_id: Option<&str>) -> ControlResult<Vec<Audience>> {
        Ok(sqlx::query_as(
            "SELECT id, name, department_id, project_id, created_at FROM audiences \
             WHERE ($1 IS NULL OR department_id = $1) ORDER BY name",
        )
        .bind(department_id.map(str::to_owned))
        .fetch_all(self.db.pool())
        .await?)
    }

    /// Creates an audience.
    pub async fn create_audience(
        &self,
        actor: &Actor,
        new: NewAudience,
        now: i64,
    ) -> ControlResult<Audience> {
        non_empty(&new.name, "受众名称", "audience name")?;
        self.department(&new.department_id).await?;
        if let Some(p) = &new.project_id
            && self.project(p).await?.department_id != new.department_id
        {
            return Err(ControlError::invalid(
                "项目不属于该部门",
                "the project belongs to another department",
            ));
        }
        actor.require(
            Action::ManageAudiences,
            &actor.scope_of(Some(&new.department_id), None),
        )?;
        let audience = Audience {
            id: new_id(),
            name: new.name.trim().to_owned(),
            department_id: Some(new.department_id),
            project_id: new.project_id,
            created_at: now,
        };
        let mut tx = self.begin_audited().await?;
        sqlx::query(
            "INSERT INTO audiences (id, name, department_id, project_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(audience.id.clone())
        .bind(audience.name.clone())
        .bind(audience.department_id.clone())
        .bind(audience.project_id.clone())
        .bind(now)
        .execute(tx.conn())
        .await?;
        let record = AuditAppend::success(
            "audience.create",
            format!("audience:{}", audience.id),
            json!({"name": audience.name}),
        );
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await?;
        Ok(audience)
    }

    /// Adds (`member = true`) or removes a user from an audience.
    pub async fn set_audience_member(
        &self,
        actor: &Actor,
        audience_id: &str,
        user_id: &str,
        member: bool,
        now: i64,
    ) -> ControlResult<()> {
        let audience = self.audience(audience_id).await?;
        self.user(user_id).await?;
        actor.require(
            Action::ManageAudiences,
            &actor.scope_of(audience.department_id.as_deref(), None),
        )?;
        let mut tx = self.begin_audited().await?;
        if member {
            let exists: Option<String> = sqlx::query_scalar(
                "SELECT user_id FROM audience_members WHERE audience_id = $1 AND user_id = $2",
            )
            .bind(audience_id.to_owned())
            .bind(user_id.to_owned())
            .fetch_optional(tx.conn())
            .await?;
            if exists.is_none() {
                sqlx::query("INSERT INTO audience_members (audience_id, user_id, added_at) VALUES ($1, $2, $3)")
                    .bind(audience_id.to_owned())
                    .bind(user_id.to_owned())
                    .bind(now)
                    .execute(tx.conn())
                    .await?;
            }
        } else {
            sqlx::query("DELETE FROM audience_members WHERE audience_id = $1 AND user_id = $2")
                .bind(audience_id.to_owned())
                .bind(user_id.to_owned())
                .execute(tx.conn())
                .await?;
        }
        let action = if member {
            "audience.add_member"
        } else {
            "audience.remove_member"
        };
        let record = AuditAppend::success(
            action,
            format!("audience:{audience_id}"),
            json!({"user_id": user_id}),
        );
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await
    }

    /// Members of an audience (user ids).
    pub async fn audience_members(&self, audience_id: &str) -> ControlResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT user_id FROM audience_members WHERE audience_id = $1 ORDER BY user_id",
        )
        .bind(audience_id.to_owned())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get("user_id")?)).collect()
    }

    /// Whether a user belongs to an audience.
    pub async fn is_audience_member(
        &self,
        audience_id: &str,
        user_id: &str,
    ) -> ControlResult<bool> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT user_id FROM audience_members WHERE audience_id = $1 AND user_id = $2",
        )
        .bind(audience_id.to_owned())
        .bind(user_id.to_owned())
        .fetch_optional(self.db.pool())
        .await?;
        Ok(found.is_some())
    }
}
