//! Business phone numbers owned by workspaces: WhatsApp numbers (Meta's `phone_number_id`)
//! and SMS numbers (their E.164 number in `phone_number_id`), each with its own credentials
//! (sealed). A `phone_number_id` belongs to at most one workspace (unique index).

use chrono::{DateTime, Utc};
use domain::{BusinessNumberId, BusinessUsername, BusinessUsernameStatus, Channel, PhoneNumber, WorkspaceId};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::business_number::{self, Column, Entity};
use crate::error::{DbContext, Error};
use crate::sealed::Sealed;

/// A new business number.
#[derive(Debug)]
pub struct NewBusinessNumber<'a> {
    pub id: BusinessNumberId,
    pub workspace_id: WorkspaceId,
    pub phone_number_id: &'a str,
    pub display_phone_number: &'a PhoneNumber,
    pub waba_id: &'a str,
    pub portfolio_id: &'a str,
    pub business_name: Option<&'a str>,
    pub channel: Channel,
    /// A WhatsApp number's own Cloud API token.
    pub access_token: Option<Sealed>,
    /// An SMS number's provider account SID and auth token.
    pub sms_account: Option<(&'a str, Sealed)>,
    /// Connected by the operator (command line): it may use the operator's token.
    pub operator_connected: bool,
}

/// # Errors
/// [`Error::Duplicate`] when the `phone_number_id` is already registered (by any workspace).
pub async fn create(
    db: &impl ConnectionTrait,
    new: NewBusinessNumber<'_>,
    now: DateTime<Utc>,
) -> Result<business_number::Model, Error> {
    let model = business_number::ActiveModel {
        id: Set(new.id),
        workspace_id: Set(new.workspace_id),
        phone_number_id: Set(new.phone_number_id.to_owned()),
        display_phone_number: Set(new.display_phone_number.clone()),
        waba_id: Set(new.waba_id.to_owned()),
        portfolio_id: Set(new.portfolio_id.to_owned()),
        business_name: Set(new.business_name.map(str::to_owned)),
        username: Set(None),
        username_key: Set(None),
        username_status: Set(None),
        channel: Set(new.channel),
        connected: Set(true),
        access_token_sealed: Set(new.access_token),
        operator_connected: Set(new.operator_connected),
        sms_account_sid: Set(new.sms_account.as_ref().map(|(sid, _)| (*sid).to_owned())),
        sms_auth_token_sealed: Set(new.sms_account.map(|(_, token)| token)),
        default_team_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Entity::insert(model).exec_with_returning(db).await.map_err(|e| {
        Error::from_db(e, "failed to create business number", "a business number with this phone_number_id")
    })
}

/// The number a webhook is for. Not scoped by workspace: this is how a webhook finds its
/// workspace in the first place.
///
/// # Errors
/// On a database failure.
pub async fn find_by_phone_number_id(
    db: &impl ConnectionTrait,
    phone_number_id: &str,
) -> Result<Option<business_number::Model>, Error> {
    Entity::find()
        .filter(Column::PhoneNumberId.eq(phone_number_id))
        .one(db)
        .await
        .context("failed to load business number by phone_number_id")
}

/// The numbers with these `phone_number_id`s (a group of webhooks looks its numbers up at once).
///
/// # Errors
/// On a database failure.
pub async fn find_by_phone_number_ids(
    db: &impl ConnectionTrait,
    phone_number_ids: &[String],
) -> Result<Vec<business_number::Model>, Error> {
    if phone_number_ids.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .filter(Column::PhoneNumberId.is_in(phone_number_ids.iter().map(String::as_str)))
        .all(db)
        .await
        .context("failed to load business numbers by phone_number_id")
}

/// # Errors
/// On a database failure.
pub async fn find(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: BusinessNumberId,
) -> Result<Option<business_number::Model>, Error> {
    Entity::find_by_id(id)
        .filter(Column::WorkspaceId.eq(workspace))
        .one(db)
        .await
        .context("failed to load business number")
}

/// # Errors
/// On a database failure.
pub async fn find_by_ids(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    ids: &[BusinessNumberId],
) -> Result<Vec<business_number::Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
        .context("failed to load business numbers")
}

/// Numbers by id, of any workspace (the numbers of a batch of claimed sends, each checked
/// against its own message's workspace after).
///
/// # Errors
/// On a database failure.
pub async fn find_any_of(
    db: &impl ConnectionTrait,
    ids: &[BusinessNumberId],
) -> Result<Vec<business_number::Model>, Error> {
    crate::lookup::any_of::<Entity, _>(db, Column::Id, ids, "failed to load business numbers").await
}

/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
) -> Result<Vec<business_number::Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await
        .context("failed to list business numbers")
}

/// The workspace owning the WABA: the one that proved a number in it first (numbers are
/// proven with the provider before they are stored, so a second workspace can only join a
/// WABA it can see, and never takes the first one's dead letters away). `None` when no
/// workspace has a number in it.
///
/// # Errors
/// On a database failure.
pub async fn owner_of_waba(db: &impl ConnectionTrait, waba_id: &str) -> Result<Option<WorkspaceId>, Error> {
    Entity::find()
        .select_only()
        .column(Column::WorkspaceId)
        .filter(Column::WabaId.eq(waba_id))
        .filter(Column::Channel.eq(Channel::Whatsapp))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .limit(1)
        .into_tuple()
        .one(db)
        .await
        .context("failed to load the owner of a WABA")
}

/// The number of a WABA with this display number (business username webhooks name no
/// `phone_number_id`), when exactly one number matches.
///
/// # Errors
/// On a database failure.
pub async fn find_by_waba_and_display(
    db: &impl ConnectionTrait,
    waba_id: &str,
    display: &PhoneNumber,
) -> Result<Option<business_number::Model>, Error> {
    let mut found = Entity::find()
        .filter(Column::WabaId.eq(waba_id))
        .filter(Column::DisplayPhoneNumber.eq(display.as_str()))
        .limit(2)
        .all(db)
        .await
        .context("failed to load business number by display number")?;
    Ok(if found.len() == 1 { found.pop() } else { None })
}

/// The connected SMS number with this E.164 number (an inbound SMS's `To`, a status
/// callback's `From`). Not scoped by workspace: this is how a webhook finds its workspace.
///
/// # Errors
/// On a database failure.
pub async fn find_sms(
    db: &impl ConnectionTrait,
    phone: &PhoneNumber,
) -> Result<Option<business_number::Model>, Error> {
    Entity::find()
        .filter(Column::Channel.eq(Channel::Sms))
        .filter(Column::PhoneNumberId.eq(phone.as_str()))
        .one(db)
        .await
        .context("failed to load an SMS number")
}

/// Whether any workspace has a connected SMS number with its own account (one that really
/// sends, so its statuses come back only by status callbacks), other than `except_account`
/// (the demo's, whose sends stay in the process).
///
/// # Errors
/// On a database failure.
pub async fn any_sms_sender(db: &impl ConnectionTrait, except_account: Option<&str>) -> Result<bool, Error> {
    let mut query = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Channel.eq(Channel::Sms))
        .filter(Column::Connected.eq(true))
        .filter(Column::SmsAccountSid.is_not_null());
    if let Some(sandbox) = except_account {
        query = query.filter(Column::SmsAccountSid.ne(sandbox));
    }
    let found =
        query.into_tuple::<BusinessNumberId>().one(db).await.context("failed to look for SMS numbers")?;
    Ok(found.is_some())
}

/// The workspace's connected SMS number that texts for conversations moved to SMS (the oldest).
///
/// # Errors
/// On a database failure.
pub async fn sms_sender_of(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
) -> Result<Option<business_number::Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::Channel.eq(Channel::Sms))
        .filter(Column::Connected.eq(true))
        .order_by_asc(Column::CreatedAt)
        .one(db)
        .await
        .context("failed to load the workspace's SMS number")
}

/// Connects a number again with new credentials (a WhatsApp number's token, or `None` for the
/// process's default; an SMS number's account).
///
/// # Errors
/// On a database failure.
pub async fn reconnect(
    db: &impl ConnectionTrait,
    number: business_number::Model,
    access_token: Option<Sealed>,
    sms_account: Option<(&str, Sealed)>,
    operator_connected: bool,
    now: DateTime<Utc>,
) -> Result<business_number::Model, Error> {
    let mut update: business_number::ActiveModel = number.into();
    update.connected = Set(true);
    update.operator_connected = Set(operator_connected);
    update.access_token_sealed = Set(access_token);
    update.sms_account_sid = Set(sms_account.as_ref().map(|(sid, _)| (*sid).to_owned()));
    update.sms_auth_token_sealed = Set(sms_account.map(|(_, token)| token));
    update.updated_at = Set(now);
    update.update(db).await.context("failed to reconnect a business number")
}

/// Connects or disconnects a number.
///
/// # Errors
/// On a database failure.
pub async fn set_connected(
    db: &impl ConnectionTrait,
    number: business_number::Model,
    connected: bool,
    now: DateTime<Utc>,
) -> Result<business_number::Model, Error> {
    let mut update: business_number::ActiveModel = number.into();
    update.connected = Set(connected);
    update.updated_at = Set(now);
    update.update(db).await.context("failed to update a business number")
}

/// Sets the team a new conversation on the number joins (`None`: none).
///
/// # Errors
/// On a database failure.
pub async fn set_default_team(
    db: &impl ConnectionTrait,
    number: business_number::Model,
    team: Option<domain::TeamId>,
    now: DateTime<Utc>,
) -> Result<business_number::Model, Error> {
    let mut update: business_number::ActiveModel = number.into();
    update.default_team_id = Set(team);
    update.updated_at = Set(now);
    update.update(db).await.context("failed to update a business number")
}

/// Numbers holding a username (by its case-folded key): at most one, by the unique index.
///
/// # Errors
/// On a database failure.
pub async fn holding_username(
    db: &impl ConnectionTrait,
    username_key: &str,
) -> Result<Vec<business_number::Model>, Error> {
    Entity::find()
        .filter(Column::UsernameKey.eq(username_key))
        .all(db)
        .await
        .context("failed to look up username holder")
}

/// Sets (or clears, with `None`) a number's username and status.
///
/// # Errors
/// [`Error::Duplicate`] when another number holds the username.
pub async fn set_username(
    db: &impl ConnectionTrait,
    number: business_number::Model,
    username: Option<&BusinessUsername>,
    status: Option<BusinessUsernameStatus>,
    now: DateTime<Utc>,
) -> Result<business_number::Model, Error> {
    let mut update: business_number::ActiveModel = number.into();
    update.username = Set(username.cloned());
    update.username_key = Set(username.map(BusinessUsername::key));
    update.username_status = Set(status);
    update.updated_at = Set(now);
    update
        .update(db)
        .await
        .map_err(|e| Error::from_db(e, "failed to set business username", "this username on another number"))
}

/// A business number as the username transfer rule sees it.
#[must_use]
pub fn holder(number: &business_number::Model) -> domain::business_username::Holder<'_> {
    domain::business_username::Holder {
        number: number.id,
        workspace: number.workspace_id,
        portfolio: &number.portfolio_id,
    }
}
