//! SMS opt-outs: a customer who replied STOP to an SMS number is not texted from it again until
//! they reply START (per sender number, PRODUCT.md section 12).

use chrono::{DateTime, Utc};
use domain::PhoneNumber;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::entities::business_number;
use crate::entities::sms_opt_out::{ActiveModel, Column, Entity};
use crate::error::{DbContext, Error};

/// Records that `phone` opted out of `number` (idempotent).
///
/// # Errors
/// On a database failure.
pub async fn opt_out(
    db: &impl ConnectionTrait,
    number: &business_number::Model,
    phone: &PhoneNumber,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let row = ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        workspace_id: Set(number.workspace_id),
        business_number_id: Set(number.id),
        phone: Set(phone.clone()),
        opted_out_at: Set(now),
    };
    Entity::insert(row)
        .on_conflict(OnConflict::columns([Column::BusinessNumberId, Column::Phone]).do_nothing().to_owned())
        .exec_without_returning(db)
        .await
        .context("failed to record an SMS opt-out")?;
    Ok(())
}

/// Records that `phone` opted back in to `number`.
///
/// # Errors
/// On a database failure.
pub async fn opt_in(
    db: &impl ConnectionTrait,
    number: &business_number::Model,
    phone: &PhoneNumber,
) -> Result<(), Error> {
    Entity::delete_many()
        .filter(Column::BusinessNumberId.eq(number.id))
        .filter(Column::Phone.eq(phone.as_str()))
        .exec(db)
        .await
        .context("failed to record an SMS opt-in")?;
    Ok(())
}

/// Whether `phone` opted out of `number`.
///
/// # Errors
/// On a database failure.
pub async fn is_opted_out(
    db: &impl ConnectionTrait,
    number: &business_number::Model,
    phone: &PhoneNumber,
) -> Result<bool, Error> {
    let found = Entity::find()
        .filter(Column::BusinessNumberId.eq(number.id))
        .filter(Column::Phone.eq(phone.as_str()))
        .count(db)
        .await
        .context("failed to read SMS opt-outs")?;
    Ok(found > 0)
}

/// The numbers each of `phones` opted out of, as `(number, phone)` pairs (what a send checks).
///
/// # Errors
/// On a database failure.
pub async fn of_phones(
    db: &impl ConnectionTrait,
    phones: &[&PhoneNumber],
) -> Result<Vec<(domain::BusinessNumberId, PhoneNumber)>, Error> {
    if phones.is_empty() {
        return Ok(Vec::new());
    }
    let rows = Entity::find()
        .filter(Column::Phone.is_in(phones.iter().map(|p| p.as_str())))
        .all(db)
        .await
        .context("failed to read SMS opt-outs")?;
    Ok(rows.into_iter().map(|row| (row.business_number_id, row.phone)).collect())
}
