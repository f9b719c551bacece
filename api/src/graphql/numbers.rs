//! Connecting and disconnecting business numbers (ADMIN): WhatsApp numbers with their own
//! Cloud API token, SMS numbers with their provider account. Credentials are never returned.

use async_graphql::{Context, ID, InputObject, Object, Result};
use domain::BusinessNumberId;
use persistence::sealed::Keyring;

use super::context::{db, now, parse_id, viewer};
use super::guards::RoleGuard;
use super::setup::BusinessNumber;
use crate::setup::numbers::{self, SmsNumber, WhatsappNumber};

/// A WhatsApp number to connect.
#[derive(InputObject)]
pub struct ConnectWhatsAppNumberInput {
    /// Meta's `phone_number_id`.
    pub phone_number_id: String,
    /// The number customers see, E.164.
    pub display_phone_number: String,
    /// The WhatsApp Business Account id.
    pub waba_id: String,
    /// The business portfolio id.
    pub portfolio_id: String,
    /// The business's name (username suggestions start from it).
    pub business_name: Option<String>,
    /// The number's own Cloud API token (sealed at rest, never returned). Required: the Cloud
    /// API must show the number to it, in the WABA given (`BAD_USER_INPUT` naming the check
    /// otherwise); the operator's token serves only numbers connected from the command line.
    pub access_token: Option<String>,
}

/// An SMS number to connect.
#[derive(InputObject)]
pub struct ConnectSmsNumberInput {
    /// The number, E.164 (customers text it; the provider posts its messages to
    /// `/webhooks/sms`).
    pub phone_number: String,
    /// The provider account that owns it.
    pub account_sid: String,
    /// The account's primary auth token: it signs the provider's posts and authenticates
    /// sends (sealed at rest, never returned).
    pub auth_token: String,
}

/// Business numbers (ADMIN).
#[derive(Default)]
pub struct NumberMutation;

#[Object]
impl NumberMutation {
    /// Connects a WhatsApp number to the workspace, proven with the Cloud API: the given
    /// `accessToken` must see the number and Meta must list it in `wabaId` (`BAD_USER_INPUT`
    /// naming the check otherwise, `UNAVAILABLE` when Meta cannot be asked; `CONFLICT` when it is
    /// connected to any workspace).
    #[graphql(name = "connectWhatsAppNumber", guard = "RoleGuard::admin()")]
    async fn connect_whatsapp_number(
        &self,
        ctx: &Context<'_>,
        input: ConnectWhatsAppNumberInput,
    ) -> Result<BusinessNumber> {
        let number = WhatsappNumber {
            phone_number_id: &input.phone_number_id,
            display_phone_number: &input.display_phone_number,
            waba_id: &input.waba_id,
            portfolio_id: &input.portfolio_id,
            business_name: input.business_name.as_deref(),
            access_token: input.access_token.as_deref(),
        };
        let keyring = ctx.data::<Keyring>()?;
        let whatsapp = ctx.data::<crate::providers::meta::WhatsappGateway>()?;
        Ok(BusinessNumber(
            numbers::connect_whatsapp(db(ctx)?, keyring, whatsapp, viewer(ctx)?, &number, now(ctx)).await?,
        ))
    }

    /// Connects an SMS number to the workspace, proven with the SMS provider: the account must
    /// list the number among its own (`BAD_USER_INPUT` otherwise; `CONFLICT` when it is connected
    /// to any workspace).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn connect_sms_number(
        &self,
        ctx: &Context<'_>,
        input: ConnectSmsNumberInput,
    ) -> Result<BusinessNumber> {
        let number = SmsNumber {
            phone_number: &input.phone_number,
            account_sid: &input.account_sid,
            auth_token: &input.auth_token,
        };
        let keyring = ctx.data::<Keyring>()?;
        let sms = ctx.data::<crate::providers::sms::SmsGateway>()?;
        Ok(BusinessNumber(
            numbers::connect_sms(db(ctx)?, keyring, sms, viewer(ctx)?, &number, now(ctx)).await?,
        ))
    }

    /// Disconnects a number: its conversations stay readable, every action on them is denied
    /// (`This business number is disconnected.`).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn disconnect_business_number(&self, ctx: &Context<'_>, id: ID) -> Result<BusinessNumber> {
        let id = parse_id::<BusinessNumberId>(&id, "id")?;
        Ok(BusinessNumber(numbers::disconnect(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?))
    }
}
