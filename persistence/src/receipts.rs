//! Digests of Meta webhook changes that must be applied once only (a replayed
//! `business_username_update` changes nothing).

use chrono::{DateTime, Utc};
use domain::BusinessNumberId;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::entities::webhook_receipt::{ActiveModel, Column, Entity};
use crate::error::{DbContext, Error};

/// The digest of a change's body: SHA-256 of its JSON with object keys sorted, so the same
/// body digests the same however Meta ordered it.
#[must_use]
pub fn digest(value: &serde_json::Value) -> String {
    // serde_json's `Value` keeps object keys sorted (no `preserve_order`): canonical text.
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

/// Records that a change of `kind` with `digest` was applied to `number`; `false` when it was
/// already (a replay), in which case the caller applies nothing.
///
/// # Errors
/// On a database failure.
pub async fn first_time(
    db: &impl ConnectionTrait,
    number: BusinessNumberId,
    kind: &str,
    digest: &str,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let row = ActiveModel {
        id: Set(Uuid::now_v7()),
        business_number_id: Set(number),
        kind: Set(kind.to_owned()),
        digest: Set(digest.to_owned()),
        received_at: Set(now),
    };
    let inserted = Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::BusinessNumberId, Column::Kind, Column::Digest])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .context("failed to record a webhook receipt")?;
    Ok(inserted > 0)
}
