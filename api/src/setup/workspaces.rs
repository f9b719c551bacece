//! Bootstrapping a workspace: the workspace, its first admin and, optionally, its first
//! WhatsApp business number, in one transaction.

use chrono::{DateTime, Utc};
use domain::{AgentId, BusinessNumberId, Email, PhoneNumber, Role, WorkspaceId};
use persistence::{Database, agents, business_numbers, workspaces};

use crate::error::{ApiError, ApiResult};
use crate::input::valid_name;

/// A business number to register.
#[derive(Debug, Clone)]
pub struct BusinessNumberInput {
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub waba_id: String,
    pub portfolio_id: String,
    pub business_name: Option<String>,
}

/// What `parley bootstrap` asks for.
#[derive(Debug, Clone)]
pub struct BootstrapInput {
    pub workspace_name: String,
    pub admin_email: String,
    pub admin_name: String,
    pub business_number: Option<BusinessNumberInput>,
}

/// What was created.
#[derive(Debug, Clone, Copy)]
pub struct Bootstrapped {
    pub workspace_id: WorkspaceId,
    pub admin_id: AgentId,
    pub business_number_id: Option<BusinessNumberId>,
}

pub(crate) fn meta_id(field: &str, value: &str) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() || value.len() > 64 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_input(format!("{field} must be Meta's numeric id")));
    }
    Ok(value.to_owned())
}

/// # Errors
/// `BAD_USER_INPUT` for invalid fields, `CONFLICT` when the `phone_number_id` is registered.
pub async fn bootstrap(db: &Database, input: &BootstrapInput, now: DateTime<Utc>) -> ApiResult<Bootstrapped> {
    let name = valid_name("workspace", &input.workspace_name)?;
    let email =
        Email::parse(&input.admin_email).map_err(|e| ApiError::bad_input(format!("admin-email: {e}")))?;
    let admin_name = valid_name("admin-name", &input.admin_name)?;
    let number = match &input.business_number {
        Some(n) => Some((
            meta_id("phone-number-id", &n.phone_number_id)?,
            PhoneNumber::parse(&n.display_phone_number)
                .map_err(|e| ApiError::bad_input(format!("display-phone-number: {e}")))?,
            meta_id("waba-id", &n.waba_id)?,
            meta_id("portfolio-id", &n.portfolio_id)?,
            n.business_name.clone(),
        )),
        None => None,
    };

    db.write(async |txn| {
        let workspace_id = WorkspaceId::new();
        workspaces::create(txn, workspace_id, &name, now).await?;
        let admin_id = AgentId::new();
        let admin = agents::NewAgent {
            id: admin_id,
            workspace_id,
            email: &email,
            name: &admin_name,
            role: Role::Admin,
        };
        agents::create(txn, admin, now).await?;
        let business_number_id = match &number {
            Some((phone_number_id, display, waba, portfolio, business_name)) => {
                let id = BusinessNumberId::new();
                let new = business_numbers::NewBusinessNumber {
                    id,
                    workspace_id,
                    phone_number_id,
                    display_phone_number: display,
                    waba_id: waba,
                    portfolio_id: portfolio,
                    business_name: business_name.as_deref().or(Some(name.as_str())),
                    channel: domain::Channel::Whatsapp,
                    access_token: None,
                    sms_account: None,
                    // The operator bootstraps from the command line: its token serves the number.
                    operator_connected: true,
                };
                business_numbers::create(txn, new, now).await?;
                Some(id)
            }
            None => None,
        };
        Ok(Bootstrapped { workspace_id, admin_id, business_number_id })
    })
    .await
}

/// The workspace's business numbers.
///
/// # Errors
/// Storage failures.
pub async fn business_numbers(
    db: &Database,
    viewer: &crate::auth::Viewer,
) -> ApiResult<Vec<persistence::BusinessNumber>> {
    Ok(persistence::business_numbers::list(db.conn(), viewer.workspace_id).await?)
}
