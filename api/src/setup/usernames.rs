//! Business usernames (seeds/003, reference §9): adopt, change, transfer, delete, suggestions.
//!
//! In `sandbox` mode Parley applies WhatsApp's rules itself: every format rule (error 100),
//! uniqueness ignoring case with `.` and `_` significant, a username held by a number of
//! another portfolio (147001), or of the same portfolio unless `FORCE_TRANSFER` (147005);
//! the status is `RESERVED` until the workspace says usernames are live in its region. In
//! `cloud` mode the same mutation calls Meta and stores what Meta answered. Every change writes
//! `business_username.updated`.

use chrono::{DateTime, Utc};
use domain::business_username::{Claim, Holder, TransferRefusal, transfer as transfer_rule};
use domain::{BusinessNumberId, BusinessUsername, BusinessUsernameStatus, Permission, TransferAction};
use persistence::BusinessNumber;
use persistence::{ConnectionTrait, Database, business_numbers, workspaces};
use serde_json::json;

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::providers::meta::{NumberApi, UsernameError, UsernameReply, WhatsappGateway};
use persistence::sealed::Keyring;

fn whatsapp_error(whatsapp_code: i64, message: impl Into<String>) -> ApiError {
    let code = match whatsapp_code {
        100 => "BAD_USER_INPUT",
        147001 | 147005 => "CONFLICT",
        _ => "FORBIDDEN",
    };
    ApiError::WhatsApp { code, whatsapp_code, message: message.into() }
}

fn from_meta(err: UsernameError) -> ApiError {
    match err.code {
        Some(code) => whatsapp_error(code, err.message),
        None if err.retryable => ApiError::Unavailable,
        None => ApiError::internal(anyhow::anyhow!("WhatsApp username API: {}", err.message)),
    }
}

/// The state the username API answered; anything but a held username is unexpected there.
fn held_status(status: &str) -> ApiResult<BusinessUsernameStatus> {
    match domain::statuses::username_state(status) {
        Some(domain::statuses::UsernameState::Held(status)) => Ok(status),
        _ => Err(ApiError::internal(anyhow::anyhow!("unknown username status {status:?} from WhatsApp"))),
    }
}

/// The refusal of the username transfer rule, as WhatsApp words it.
fn refusal(refusal: TransferRefusal) -> ApiError {
    whatsapp_error(refusal.whatsapp_code(), refusal.to_string())
}

/// The numbers that lose the username when `number` takes it, or the refusal.
fn releases(
    number: &BusinessNumber,
    holders: &[BusinessNumber],
    claim: Claim,
) -> ApiResult<Vec<BusinessNumberId>> {
    let seen: Vec<Holder<'_>> = holders.iter().map(business_numbers::holder).collect();
    transfer_rule(&business_numbers::holder(number), &seen, claim).map_err(refusal)
}

/// The Cloud API and the keys that open each number's own token.
#[derive(Clone, Copy, Debug)]
pub struct Cloud<'a> {
    pub gateway: &'a WhatsappGateway,
    pub keyring: &'a Keyring,
}

/// The Cloud API as this number calls it (its own token); a disconnected number calls nothing.
fn api_of<'a>(cloud: Cloud<'a>, number: &'a BusinessNumber) -> ApiResult<NumberApi<'a>> {
    if !number.connected {
        return Err(ApiError::Forbidden("This business number is disconnected."));
    }
    cloud
        .gateway
        .for_number(number, cloud.keyring)
        .map_err(|err| ApiError::internal(anyhow::anyhow!(err.title)))
}

async fn load(db: &impl ConnectionTrait, viewer: &Viewer, id: BusinessNumberId) -> ApiResult<BusinessNumber> {
    business_numbers::find(db, viewer.workspace_id, id).await?.ok_or(ApiError::NotFound("business number"))
}

/// Sets (adopts, changes or takes over) the username of a business number.
///
/// # Errors
/// `FORBIDDEN` for non-admins; `BAD_USER_INPUT` + whatsappCode 100 for a format rule;
/// `CONFLICT` + 147001 (another portfolio) or 147005 (same portfolio, no force transfer).
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, business_number_id = %id))]
pub async fn set(
    db: &Database,
    cloud: Cloud<'_>,
    viewer: &Viewer,
    id: BusinessNumberId,
    username: &str,
    transfer: TransferAction,
    now: DateTime<Utc>,
) -> ApiResult<BusinessNumber> {
    viewer.require_admin()?;
    let username = BusinessUsername::parse(username)
        .map_err(|rule| whatsapp_error(100, format!("Invalid username: {rule}.")))?;
    let number = load(db.conn(), viewer, id).await?;
    // A username another workspace holds is never taken from it, whatever the transfer action
    // (and WhatsApp is not even asked to move it).
    let holders = business_numbers::holding_username(db.conn(), &username.key()).await?;
    if holders.iter().any(|h| h.workspace_id != viewer.workspace_id) {
        return Err(refusal(TransferRefusal::Unavailable));
    }
    let api = api_of(cloud, &number)?;
    let remote_status = if api.is_sandbox() {
        None
    } else {
        let transfer_action = match transfer {
            TransferAction::None => "none",
            TransferAction::ForceTransfer => "force_transfer",
        };
        let body = json!({ "username": username.as_str(), "transfer_action": transfer_action });
        match api.username_call(reqwest::Method::POST, "username", Some(body)).await {
            Ok(UsernameReply::Status(status)) => Some(held_status(&status)?),
            Ok(other) => {
                return Err(ApiError::internal(anyhow::anyhow!("unexpected username reply {other:?}")));
            }
            Err(err) => return Err(from_meta(err)),
        }
    };

    db.write(async |txn| {
        let number = load(txn, viewer, id).await?;
        let holders = business_numbers::holding_username(txn, &username.key()).await?;
        let claim =
            Claim::Asked { force: transfer == TransferAction::ForceTransfer, confirmed: remote_status.is_some() };
        let released = releases(&number, &holders, claim)?;
        for holder in holders.into_iter().filter(|h| released.contains(&h.id)) {
            // Transferred (or, in cloud mode, WhatsApp says this number holds it now).
            let released = business_numbers::set_username(txn, holder, None, None, now).await?;
            crate::events::emit(txn, crate::events::Event::BusinessUsernameUpdated(&released), now).await?;
            let details = json!({ "username": username.as_str(), "movedTo": number.id });
            crate::store::audit(
                txn,
                viewer,
                "business_username.transferred_away",
                ("business_number", released.id),
                details,
                now,
            )
            .await?;
        }
        let status = match remote_status {
            Some(status) => status,
            None => {
                let workspace =
                    workspaces::find(txn, viewer.workspace_id).await?.ok_or(ApiError::NotFound("workspace"))?;
                if workspace.usernames_live {
                    BusinessUsernameStatus::Approved
                } else {
                    BusinessUsernameStatus::Reserved
                }
            }
        };
        let unchanged = number.username.as_ref() == Some(&username) && number.username_status == Some(status);
        if unchanged {
            return Ok(number);
        }
        let saved = business_numbers::set_username(txn, number, Some(&username), Some(status), now).await?;
        crate::events::emit(txn, crate::events::Event::BusinessUsernameUpdated(&saved), now).await?;
        let details = json!({ "username": username.as_str(), "status": status.as_str(), "transferAction": transfer.as_str() });
        crate::store::audit(txn, viewer, "business_username.set", ("business_number", saved.id), details, now)
            .await?;
        Ok(saved)
    })
    .await
}

/// Deletes the username of a business number.
///
/// # Errors
/// `FORBIDDEN` for non-admins, `NOT_FOUND`, Meta's refusal in cloud mode.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, business_number_id = %id))]
pub async fn delete(
    db: &Database,
    cloud: Cloud<'_>,
    viewer: &Viewer,
    id: BusinessNumberId,
    now: DateTime<Utc>,
) -> ApiResult<BusinessNumber> {
    viewer.require_admin()?;
    let number = load(db.conn(), viewer, id).await?;
    if number.username.is_none() {
        return Ok(number);
    }
    let api = api_of(cloud, &number)?;
    if !api.is_sandbox() {
        api.username_call(reqwest::Method::DELETE, "username", None).await.map_err(from_meta)?;
    }
    db.write(async |txn| {
        let number = load(txn, viewer, id).await?;
        let previous = number.username.clone();
        let saved = business_numbers::set_username(txn, number, None, None, now).await?;
        crate::events::emit(txn, crate::events::Event::BusinessUsernameUpdated(&saved), now).await?;
        let details = json!({ "username": previous });
        crate::store::audit(
            txn,
            viewer,
            "business_username.deleted",
            ("business_number", saved.id),
            details,
            now,
        )
        .await?;
        Ok(saved)
    })
    .await
}

/// Candidate usernames derived from a business name: valid and not held by any number.
fn derive_suggestions(name: &str) -> Vec<String> {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() {
        return Vec::new();
    }
    let joined = words.concat();
    let mut candidates = vec![
        joined.clone(),
        words.join("_"),
        words.join("."),
        format!("{joined}.official"),
        format!("{joined}_support"),
        format!("{joined}.hq"),
        format!("the{joined}"),
        format!("{joined}_app"),
    ];
    if let Some(first) = words.first() {
        candidates.push(format!("{first}.shop"));
    }
    let mut seen = Vec::new();
    for c in candidates {
        let c: String = c.chars().take(35).collect();
        let c = c.trim_end_matches('.').to_owned();
        if BusinessUsername::parse(&c).is_ok() && !seen.contains(&c) {
            seen.push(c);
        }
    }
    seen
}

/// Usernames with a higher chance of approval.
///
/// # Errors
/// `NOT_FOUND`, Meta's refusal in cloud mode.
pub async fn suggestions(
    db: &Database,
    cloud: Cloud<'_>,
    viewer: &Viewer,
    id: BusinessNumberId,
) -> ApiResult<Vec<String>> {
    viewer.require(Permission::Administer)?;
    let number = load(db.conn(), viewer, id).await?;
    let api = api_of(cloud, &number)?;
    if !api.is_sandbox() {
        return match api.username_call(reqwest::Method::GET, "username_suggestions", None).await {
            Ok(UsernameReply::Suggestions(list)) => Ok(list),
            Ok(other) => Err(ApiError::internal(anyhow::anyhow!("unexpected suggestions reply {other:?}"))),
            Err(err) => Err(from_meta(err)),
        };
    }
    let name = number.business_name.clone().unwrap_or_else(|| format!("business {}", number.phone_number_id));
    let mut available = Vec::new();
    for candidate in derive_suggestions(&name) {
        let key = candidate.to_ascii_lowercase();
        if business_numbers::holding_username(db.conn(), &key).await?.is_empty() {
            available.push(candidate);
        }
    }
    Ok(available)
}

/// Sandbox: whether business usernames are live (visible) in the workspace's region, which
/// decides `APPROVED` versus `RESERVED`.
///
/// # Errors
/// `FORBIDDEN` for non-admins.
pub async fn set_live(db: &Database, viewer: &Viewer, live: bool) -> ApiResult<bool> {
    viewer.require_admin()?;
    db.write(async |txn| workspaces::set_usernames_live(txn, viewer.workspace_id, live).await).await?;
    Ok(live)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_from_a_business_name_are_all_valid() {
        let all = derive_suggestions("Jasper's Market");
        assert!(all.contains(&"jaspersmarket".to_owned()), "{all:?}");
        assert!(
            all.contains(&"jasper_s_market".to_owned()) || all.contains(&"jasper.s.market".to_owned()),
            "{all:?}"
        );
        for s in &all {
            assert!(BusinessUsername::parse(s).is_ok(), "{s}");
        }
        assert!(derive_suggestions("!!!").is_empty());
        for s in derive_suggestions("WWW Shop") {
            assert!(!s.starts_with("www"), "{s}");
        }
    }
}
