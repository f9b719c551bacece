//! Connecting business numbers (PRODUCT.md sections 12 and 17): numbers are proven, not
//! claimed. A tenant connects a WhatsApp number with a Cloud API token of its own that Meta
//! shows the number to, in the WABA given; an SMS number with a provider account that lists it.
//! The operator's `PARLEY_WHATSAPP_ACCESS_TOKEN` serves only numbers the operator connected from
//! the command line ([`connect_as_operator`]). Disconnecting either. Credentials are sealed at rest
//! (`PARLEY_SECRET_KEY`) and never returned. A number belongs to at most one workspace: one
//! connected elsewhere is a `CONFLICT` that names nothing of the other workspace; one this
//! workspace disconnected is connected again with the new credentials. All audited.

use chrono::{DateTime, Utc};
use domain::{BusinessNumberId, Channel, PhoneNumber, WorkspaceId};
use persistence::BusinessNumber;
use persistence::business_numbers::{self, NewBusinessNumber};
use persistence::sealed::{Keyring, Purpose, Sealed};
use persistence::{ConnectionTrait, Database};
use serde_json::json;

use super::workspaces::meta_id;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::providers::meta::{NumberProof, WhatsappGateway};
use crate::providers::sms::{NumberProof as SmsProof, SmsGateway};
use crate::store::audit;

/// A WhatsApp number to connect.
#[derive(Clone, Debug)]
pub struct WhatsappNumber<'a> {
    pub phone_number_id: &'a str,
    pub display_phone_number: &'a str,
    pub waba_id: &'a str,
    pub portfolio_id: &'a str,
    pub business_name: Option<&'a str>,
    pub access_token: Option<&'a str>,
}

/// An SMS number to connect, with the provider account that owns it.
#[derive(Clone, Debug)]
pub struct SmsNumber<'a> {
    pub phone_number: &'a str,
    pub account_sid: &'a str,
    pub auth_token: &'a str,
}

/// A credential as given: visible ASCII, no spaces, of a sensible length.
fn credential(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() || value.len() > max || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_input(format!("{field} must be 1 to {max} visible ASCII characters")));
    }
    Ok(value.to_owned())
}

fn phone(field: &str, value: &str) -> ApiResult<PhoneNumber> {
    PhoneNumber::parse(value.trim())
        .map_err(|_| ApiError::bad_input(format!("{field} must be an E.164 phone number")))
}

/// The refusal for a number another workspace holds (or this one, connected).
fn taken() -> ApiError {
    ApiError::Conflict("this number is already connected to a workspace".into())
}

/// Connects a WhatsApp number (ADMIN).
///
/// # Errors
/// `FORBIDDEN`; `BAD_USER_INPUT` for malformed ids or phone, a missing token, or a number the
/// Cloud API does not show to the token in that WABA (naming the check); `UNAVAILABLE` when the
/// Cloud API cannot be asked; `CONFLICT` when the `phoneNumberId` is connected in any
/// workspace.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn connect_whatsapp(
    db: &Database,
    keyring: &Keyring,
    whatsapp: &WhatsappGateway,
    viewer: &Viewer,
    input: &WhatsappNumber<'_>,
    now: DateTime<Utc>,
) -> ApiResult<BusinessNumber> {
    viewer.require_admin()?;
    let phone_number_id = meta_id("phoneNumberId", input.phone_number_id)?;
    let waba_id = meta_id("wabaId", input.waba_id)?;
    let portfolio_id = meta_id("portfolioId", input.portfolio_id)?;
    let display = phone("displayPhoneNumber", input.display_phone_number)?;
    let business_name =
        input.business_name.map(|n| crate::input::valid_name("businessName", n)).transpose()?;
    let Some(token) = input.access_token.filter(|t| !t.trim().is_empty()) else {
        return Err(ApiError::bad_input(
            "accessToken is required: a workspace connects a number with a Cloud API token of its own",
        ));
    };
    let token = credential("accessToken", token, 4096)?;
    // Asked before the transaction: a network call never holds the database's write lock.
    whatsapp.prove_number(&token, &phone_number_id, &waba_id).await.map_err(|refusal| match refusal {
        NumberProof::Unreachable => {
            ApiError::ProviderUnavailable("the Cloud API could not be reached to check the number; try again")
        }
        refused => ApiError::bad_input(refused.to_string()),
    })?;
    let token = Some(keyring.seal(Purpose::AccessToken, &token));
    db.write(async |txn| {
        let saved = match reusable(txn, viewer.workspace_id, &phone_number_id, Channel::Whatsapp).await? {
            Some(number) => {
                let was = number.connected;
                let saved = business_numbers::reconnect(txn, number, token, None, false, now).await?;
                connection_changed(txn, was, &saved, now).await?;
                saved
            }
            None => {
                let new = NewBusinessNumber {
                    id: BusinessNumberId::new(),
                    workspace_id: viewer.workspace_id,
                    phone_number_id: &phone_number_id,
                    display_phone_number: &display,
                    waba_id: &waba_id,
                    portfolio_id: &portfolio_id,
                    business_name: business_name.as_deref(),
                    channel: Channel::Whatsapp,
                    access_token: token,
                    sms_account: None,
                    operator_connected: false,
                };
                create(txn, new, now).await?
            }
        };
        let details = json!({ "channel": Channel::Whatsapp, "phoneNumberId": saved.phone_number_id, "ownToken": saved.access_token_sealed.is_some() });
        audit(txn, viewer, "business_number.connected", ("business_number", saved.id), details, now).await?;
        Ok(saved)
    })
    .await
}

/// Connects a WhatsApp number as the operator (`parley connect-number`): it uses the
/// operator's `PARLEY_WHATSAPP_ACCESS_TOKEN`, and when that is set the Cloud API must show the
/// number to it in the WABA given. Audited without an agent.
///
/// # Errors
/// `BAD_USER_INPUT` for malformed ids, an unknown workspace, or a number the operator's token
/// cannot see in that WABA; `UNAVAILABLE` when the Cloud API cannot be asked; `CONFLICT` when
/// the number is connected in any workspace.
pub async fn connect_as_operator(
    db: &Database,
    whatsapp: &WhatsappGateway,
    operator_token: Option<&secrecy::SecretString>,
    workspace: WorkspaceId,
    input: &WhatsappNumber<'_>,
    now: DateTime<Utc>,
) -> ApiResult<BusinessNumber> {
    use secrecy::ExposeSecret;
    let phone_number_id = meta_id("phone-number-id", input.phone_number_id)?;
    let waba_id = meta_id("waba-id", input.waba_id)?;
    let portfolio_id = meta_id("portfolio-id", input.portfolio_id)?;
    let display = phone("display-phone-number", input.display_phone_number)?;
    if let Some(token) = operator_token {
        whatsapp.prove_number(token.expose_secret(), &phone_number_id, &waba_id).await.map_err(
            |refusal| match refusal {
                NumberProof::Unreachable => ApiError::ProviderUnavailable(
                    "the Cloud API could not be reached to check the number; try again",
                ),
                refused => ApiError::bad_input(refused.to_string()),
            },
        )?;
    }
    db.write(async |txn| {
        if persistence::workspaces::find(txn, workspace).await?.is_none() {
            return Err(ApiError::bad_input("workspace-id: no such workspace"));
        }
        let saved = match reusable(txn, workspace, &phone_number_id, Channel::Whatsapp).await? {
            Some(number) => {
                let was = number.connected;
                let saved = business_numbers::reconnect(txn, number, None, None, true, now).await?;
                connection_changed(txn, was, &saved, now).await?;
                saved
            }
            None => {
                let new = NewBusinessNumber {
                    id: BusinessNumberId::new(),
                    workspace_id: workspace,
                    phone_number_id: &phone_number_id,
                    display_phone_number: &display,
                    waba_id: &waba_id,
                    portfolio_id: &portfolio_id,
                    business_name: None,
                    channel: Channel::Whatsapp,
                    access_token: None,
                    sms_account: None,
                    operator_connected: true,
                };
                create(txn, new, now).await?
            }
        };
        let entry = persistence::audit::Entry {
            agent: None,
            action: "business_number.connected",
            subject_type: "business_number",
            subject_id: saved.id.into(),
            details: Some(
                json!({ "channel": Channel::Whatsapp, "phoneNumberId": saved.phone_number_id, "by": "operator" }),
            ),
        };
        persistence::audit::record(txn, workspace, entry, now).await?;
        Ok(saved)
    })
    .await
}

/// Connects an SMS number (ADMIN).
///
/// # Errors
/// `FORBIDDEN`; `BAD_USER_INPUT` for a malformed phone, SID or token, or a number the
/// provider does not list for that account; `UNAVAILABLE` when the provider cannot be asked;
/// `CONFLICT` when the number is connected in any workspace.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn connect_sms(
    db: &Database,
    keyring: &Keyring,
    sms: &SmsGateway,
    viewer: &Viewer,
    input: &SmsNumber<'_>,
    now: DateTime<Utc>,
) -> ApiResult<BusinessNumber> {
    viewer.require_admin()?;
    let number = phone("phoneNumber", input.phone_number)?;
    let sid = credential("accountSid", input.account_sid, 64)?;
    if !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::bad_input("accountSid must be letters and digits"));
    }
    let auth_token = credential("authToken", input.auth_token, 256)?;
    sms.prove_number(&sid, &auth_token, number.as_str()).await.map_err(|refusal| match refusal {
        SmsProof::Unreachable => ApiError::ProviderUnavailable(
            "the SMS provider could not be reached to check the number; try again",
        ),
        refused => ApiError::bad_input(refused.to_string()),
    })?;
    let token: Sealed = keyring.seal(Purpose::SmsAuthToken, &auth_token);
    db.write(async |txn| {
        let saved = match reusable(txn, viewer.workspace_id, number.as_str(), Channel::Sms).await? {
            Some(existing) => {
                let was = existing.connected;
                let saved =
                    business_numbers::reconnect(txn, existing, None, Some((&sid, token)), false, now).await?;
                connection_changed(txn, was, &saved, now).await?;
                saved
            }
            None => {
                let new = NewBusinessNumber {
                    id: BusinessNumberId::new(),
                    workspace_id: viewer.workspace_id,
                    phone_number_id: number.as_str(),
                    display_phone_number: &number,
                    waba_id: "",
                    portfolio_id: "",
                    business_name: None,
                    channel: Channel::Sms,
                    access_token: None,
                    sms_account: Some((&sid, token)),
                    operator_connected: false,
                };
                create(txn, new, now).await?
            }
        };
        let details = json!({ "channel": Channel::Sms, "phoneNumber": number.as_str(), "accountSid": sid });
        audit(txn, viewer, "business_number.connected", ("business_number", saved.id), details, now).await?;
        Ok(saved)
    })
    .await
    .inspect(|_| {
        if let Some(warning) = sms.status_callback_warning() {
            tracing::warn!("an SMS number was connected, but {warning}");
        }
    })
}

/// The workspace's own disconnected number with this id (connected again rather than
/// duplicated); `CONFLICT` when it is connected, here or elsewhere.
async fn reusable(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    phone_number_id: &str,
    channel: Channel,
) -> ApiResult<Option<BusinessNumber>> {
    match business_numbers::find_by_phone_number_id(db, phone_number_id).await? {
        None => Ok(None),
        Some(n) if n.workspace_id == workspace && !n.connected && n.channel == channel => Ok(Some(n)),
        Some(_) => Err(taken()),
    }
}

async fn create(
    db: &impl ConnectionTrait,
    new: NewBusinessNumber<'_>,
    now: DateTime<Utc>,
) -> ApiResult<BusinessNumber> {
    match business_numbers::create(db, new, now).await {
        Ok(created) => Ok(created),
        Err(persistence::Error::Duplicate { .. }) => Err(taken()),
        Err(err) => Err(err.into()),
    }
}

/// Disconnects a number (ADMIN): its conversations stay readable, every action on them is
/// denied (`This business number is disconnected.`), nothing more is sent from it.
///
/// # Errors
/// `FORBIDDEN`, `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, business_number_id = %id))]
pub async fn disconnect(
    db: &Database,
    viewer: &Viewer,
    id: BusinessNumberId,
    now: DateTime<Utc>,
) -> ApiResult<BusinessNumber> {
    viewer.require_admin()?;
    db.write(async |txn| {
        let number = business_numbers::find(txn, viewer.workspace_id, id)
            .await?
            .ok_or(ApiError::NotFound("business number"))?;
        if !number.connected {
            return Ok(number);
        }
        let saved = business_numbers::set_connected(txn, number, false, now).await?;
        connection_changed(txn, true, &saved, now).await?;
        let details = json!({ "channel": saved.channel });
        audit(txn, viewer, "business_number.disconnected", ("business_number", saved.id), details, now)
            .await?;
        Ok(saved)
    })
    .await
}

/// `conversation.capabilities_changed` (cause `number_disconnected` or `number_connected`) for
/// each open or snoozed conversation of `number` whose capabilities the change of its
/// connection flips, in the caller's transaction; nothing when it stayed as it was.
async fn connection_changed(
    db: &impl persistence::Announce,
    was_connected: bool,
    number: &BusinessNumber,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    use crate::workflow::conversations::{Around, capabilities_changed, capabilities_of};
    if was_connected == number.connected {
        return Ok(());
    }
    let cause = if number.connected { "number_connected" } else { "number_disconnected" };
    let conversations =
        persistence::conversations::unresolved_on_number(db, number.workspace_id, number.id).await?;
    let linked: Vec<domain::ContactId> = conversations.iter().filter_map(|c| c.contact_id).collect();
    let with_phone: std::collections::HashSet<domain::ContactId> =
        persistence::contacts::find_by_ids(db, number.workspace_id, &linked)
            .await?
            .into_iter()
            .filter(|k| k.phone.is_some())
            .map(|k| k.id)
            .collect();
    for c in &conversations {
        let contact_phone_known = c.contact_id.is_some_and(|k| with_phone.contains(&k));
        let around = |number_connected| Around { contact_phone_known, number_connected };
        let before = capabilities_of(c, around(was_connected), now);
        let after = capabilities_of(c, around(number.connected), now);
        capabilities_changed(db, c, cause, &before, &after, now).await?;
    }
    Ok(())
}
