//! Message templates of a workspace, and Meta's review of each (PRODUCT.md section 19).

use chrono::{DateTime, Utc};
use domain::{BusinessNumberId, TemplateCategory, TemplateId, TemplateQuality, TemplateStatus, WorkspaceId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder,
};

use crate::entities::template::{self, Column, Entity};
use crate::error::{DbContext, Error};

/// A new template.
#[derive(Debug)]
pub struct NewTemplate<'a> {
    pub id: TemplateId,
    pub workspace_id: WorkspaceId,
    pub name: &'a str,
    pub language: &'a str,
    pub category: TemplateCategory,
    pub body: &'a str,
    /// The number it was submitted through, and its WABA (`None`: typed into Parley only).
    pub number: Option<(BusinessNumberId, &'a str)>,
    pub status: TemplateStatus,
    pub meta_id: Option<&'a str>,
}

/// # Errors
/// [`Error::Duplicate`] when the workspace has a template of that name and language in that
/// WABA.
pub async fn create(
    db: &impl ConnectionTrait,
    new: NewTemplate<'_>,
    now: DateTime<Utc>,
) -> Result<template::Model, Error> {
    let model = template::ActiveModel {
        id: Set(new.id),
        workspace_id: Set(new.workspace_id),
        name: Set(new.name.to_owned()),
        language: Set(new.language.to_owned()),
        category: Set(new.category),
        body: Set(new.body.to_owned()),
        created_at: Set(now),
        business_number_id: Set(new.number.map(|(id, _)| id)),
        waba_id: Set(new.number.map(|(_, waba)| waba.to_owned()).unwrap_or_default()),
        status: Set(new.status),
        quality: Set(TemplateQuality::Unknown),
        rejected_reason: Set(None),
        meta_id: Set(new.meta_id.map(str::to_owned)),
        updated_at: Set(Some(now)),
    };
    Entity::insert(model)
        .exec_with_returning(db)
        .await
        .map_err(|e| Error::from_db(e, "failed to create template", "a template with this name and language"))
}

/// # Errors
/// On a database failure.
pub async fn find(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: TemplateId,
) -> Result<Option<template::Model>, Error> {
    Entity::find_by_id(id)
        .filter(Column::WorkspaceId.eq(workspace))
        .one(db)
        .await
        .context("failed to load template")
}

/// The workspace's templates, by name and language.
///
/// # Errors
/// On a database failure.
pub async fn list(db: &impl ConnectionTrait, workspace: WorkspaceId) -> Result<Vec<template::Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Language)
        .order_by_asc(Column::WabaId)
        .all(db)
        .await
        .context("failed to list templates")
}

/// The templates of one WABA in a workspace.
///
/// # Errors
/// On a database failure.
pub async fn of_waba(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    waba: &str,
) -> Result<Vec<template::Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::WabaId.eq(waba))
        .all(db)
        .await
        .context("failed to list a WABA's templates")
}

/// The templates a webhook about WABA `waba` names: Meta's id, else the name and language
/// (whatever workspace holds that WABA's numbers).
///
/// # Errors
/// On a database failure.
pub async fn named_in_waba(
    db: &impl ConnectionTrait,
    waba: &str,
    meta_id: Option<&str>,
    name_language: Option<(&str, &str)>,
) -> Result<Vec<template::Model>, Error> {
    let mut by = sea_orm::Condition::any();
    if let Some(id) = meta_id {
        by = by.add(Column::MetaId.eq(id));
    }
    if let Some((name, language)) = name_language {
        by = by.add(sea_orm::Condition::all().add(Column::Name.eq(name)).add(Column::Language.eq(language)));
    }
    if by.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .filter(Column::WabaId.eq(waba))
        .filter(by)
        .all(db)
        .await
        .context("failed to find a template of a WABA")
}

/// What Meta says about one template (a listing or a webhook); `None` leaves a field as is.
#[derive(Clone, Debug, Default)]
pub struct Review {
    pub status: Option<TemplateStatus>,
    pub quality: Option<TemplateQuality>,
    pub category: Option<TemplateCategory>,
    /// `Some(None)` clears it.
    pub rejected_reason: Option<Option<String>>,
    pub meta_id: Option<String>,
    pub body: Option<String>,
}

/// Applies a review: the template as it is now, and whether anything changed.
///
/// # Errors
/// On a database failure.
pub async fn review(
    db: &impl ConnectionTrait,
    template: template::Model,
    review: Review,
    now: DateTime<Utc>,
) -> Result<(template::Model, bool), Error> {
    let unchanged = review.status.is_none_or(|s| s == template.status)
        && review.quality.is_none_or(|q| q == template.quality)
        && review.category.is_none_or(|c| c == template.category)
        && review.rejected_reason.as_ref().is_none_or(|r| *r == template.rejected_reason)
        && review.meta_id.as_ref().is_none_or(|m| Some(m) == template.meta_id.as_ref())
        && review.body.as_ref().is_none_or(|b| *b == template.body);
    if unchanged {
        return Ok((template, false));
    }
    let mut model = template.into_active_model();
    if let Some(status) = review.status {
        model.status = Set(status);
    }
    if let Some(quality) = review.quality {
        model.quality = Set(quality);
    }
    if let Some(category) = review.category {
        model.category = Set(category);
    }
    if let Some(reason) = review.rejected_reason {
        model.rejected_reason = Set(reason);
    }
    if let Some(meta_id) = review.meta_id {
        model.meta_id = Set(Some(meta_id));
    }
    if let Some(body) = review.body {
        model.body = Set(body);
    }
    model.updated_at = Set(Some(now));
    Ok((model.update(db).await.context("failed to update a template's review")?, true))
}

/// Marks the WABA's templates not in `kept` (ids) `DISABLED`: Meta no longer lists them.
/// Returns them as they are now.
///
/// # Errors
/// On a database failure.
pub async fn disable_unlisted(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    waba: &str,
    kept: &[TemplateId],
    now: DateTime<Utc>,
) -> Result<Vec<template::Model>, Error> {
    let gone: Vec<TemplateId> = of_waba(db, workspace, waba)
        .await?
        .into_iter()
        .filter(|t| t.status != TemplateStatus::Disabled && !kept.contains(&t.id))
        .map(|t| t.id)
        .collect();
    if gone.is_empty() {
        return Ok(Vec::new());
    }
    Entity::update_many()
        .col_expr(Column::Status, Expr::value(TemplateStatus::Disabled.as_str()))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.is_in(gone.iter().copied()))
        .exec(db)
        .await
        .context("failed to disable templates")?;
    Entity::find().filter(Column::Id.is_in(gone)).all(db).await.context("failed to reload templates")
}
