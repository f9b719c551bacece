//! A workspace's business hours (PRODUCT.md section 18), stored as one JSON value on its row:
//! `{"timeZone": "Europe/Madrid", "weekly": [{"day": "MONDAY", "opens": "09:00", "closes":
//! "17:30"}], "closedDates": ["2026-12-25"], "awayMessage": "…"}`.

use std::collections::HashMap;

use chrono::{NaiveDate, Weekday};
use domain::WorkspaceId;
use domain::hours::{BusinessHours, Opening, parse_time, parse_time_zone};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
};
use serde_json::{Value, json};

use crate::entities::workspace::{Column, Entity};
use crate::error::{DbContext, Error};

/// The weekday names of the API and of the stored JSON, Monday first.
pub const DAYS: [(Weekday, &str); 7] = [
    (Weekday::Mon, "MONDAY"),
    (Weekday::Tue, "TUESDAY"),
    (Weekday::Wed, "WEDNESDAY"),
    (Weekday::Thu, "THURSDAY"),
    (Weekday::Fri, "FRIDAY"),
    (Weekday::Sat, "SATURDAY"),
    (Weekday::Sun, "SUNDAY"),
];

/// The stored form of `hours`.
#[must_use]
pub fn to_json(hours: &BusinessHours) -> Value {
    let day = |d: Weekday| DAYS.iter().find(|(w, _)| *w == d).map_or("MONDAY", |(_, n)| n);
    json!({
        "timeZone": hours.time_zone.name(),
        "weekly": hours.weekly.iter().map(|o| json!({
            "day": day(o.day),
            "opens": o.opens.format("%H:%M").to_string(),
            "closes": o.closes.format("%H:%M").to_string(),
        })).collect::<Vec<_>>(),
        "closedDates": hours.closed_dates.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        "awayMessage": hours.away_message,
    })
}

/// Reads the stored form (`None` when it is not one: never written by this crate).
#[must_use]
pub fn from_json(value: &Value) -> Option<BusinessHours> {
    let tz = parse_time_zone(value.get("timeZone")?.as_str()?).ok()?;
    let mut weekly = Vec::new();
    for o in value.get("weekly")?.as_array()? {
        let name = o.get("day")?.as_str()?;
        let day = DAYS.iter().find(|(_, n)| *n == name)?.0;
        let opens = parse_time("opens", o.get("opens")?.as_str()?).ok()?;
        let closes = parse_time("closes", o.get("closes")?.as_str()?).ok()?;
        weekly.push(Opening { day, opens, closes });
    }
    let mut closed = Vec::new();
    for d in value.get("closedDates")?.as_array()? {
        closed.push(d.as_str()?.parse::<NaiveDate>().ok()?);
    }
    let away = value.get("awayMessage").and_then(Value::as_str).map(str::to_owned);
    BusinessHours::new(tz, weekly, closed, away).ok()
}

/// The workspace's business hours (`None`: none set, always open).
///
/// # Errors
/// On a database failure.
pub async fn of(db: &impl ConnectionTrait, workspace: WorkspaceId) -> Result<Option<BusinessHours>, Error> {
    Ok(of_many(db, &[workspace]).await?.remove(&workspace))
}

/// The business hours of each of `workspaces` that has them (one statement).
///
/// # Errors
/// On a database failure.
pub async fn of_many(
    db: &impl ConnectionTrait,
    workspaces: &[WorkspaceId],
) -> Result<HashMap<WorkspaceId, BusinessHours>, Error> {
    if workspaces.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(WorkspaceId, Option<Value>)> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::BusinessHours)
        .filter(Column::Id.is_in(workspaces.iter().copied()))
        .filter(Column::BusinessHours.is_not_null())
        .into_tuple()
        .all(db)
        .await
        .context("failed to load business hours")?;
    Ok(rows.into_iter().filter_map(|(id, v)| Some((id, from_json(&v?)?))).collect())
}

/// Replaces the workspace's business hours (`None`: always open); returns those it had
/// (`Err(NotFound)`-free: `None` for an unknown workspace is the caller's check).
///
/// # Errors
/// On a database failure.
pub async fn set(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    hours: Option<&BusinessHours>,
) -> Result<Option<BusinessHours>, Error> {
    let Some(row) = crate::workspaces::lock(db, workspace).await? else {
        return Ok(None);
    };
    let before = row.business_hours.as_ref().and_then(from_json);
    let mut model = row.into_active_model();
    model.business_hours = Set(hours.map(to_json));
    model.update(db).await.context("failed to update business hours")?;
    Ok(before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_form_reads_back() {
        let value = json!({
            "timeZone": "America/New_York",
            "weekly": [{"day": "FRIDAY", "opens": "22:00", "closes": "02:00"}],
            "closedDates": ["2026-12-25"],
            "awayMessage": "We are closed",
        });
        let hours = from_json(&value).unwrap();
        assert_eq!(to_json(&hours), value);
    }
}
