//! Message templates of a workspace.

use chrono::{DateTime, Utc};
use domain::{TemplateCategory, TemplateId, WorkspaceId};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

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
}

/// # Errors
/// [`Error::Duplicate`] when the workspace has a template of that name and language.
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

/// # Errors
/// On a database failure.
pub async fn list(db: &impl ConnectionTrait, workspace: WorkspaceId) -> Result<Vec<template::Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Language)
        .all(db)
        .await
        .context("failed to list templates")
}
