//! Message templates (PRODUCT.md section 19): the WABA's templates synced from Meta with their
//! review (status, quality, category), templates submitted to Meta for review, Meta's webhooks
//! about them, and the templates an admin types into Parley without a number.
//!
//! A template submitted through a number with a Cloud API token is stored `PENDING` until
//! Meta's webhook (or a sync) says otherwise. A template typed without a number, or for a
//! sandbox number (no token: nothing goes over the network, as with its sends), has no reviewer
//! and is `APPROVED`. Every change of a review writes `template.updated`.

use chrono::{DateTime, Utc};
use domain::{BusinessNumberId, Channel, TemplateCategory, TemplateId, TemplateStatus};
use persistence::templates::{self, Review};
use persistence::{BusinessNumber, Database, Template, business_numbers};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::events::{Event, emit};
use crate::providers::GatewayError;
use crate::providers::meta::ListedTemplate;
use crate::setup::usernames::Cloud;

/// A template as an admin submits it.
#[derive(Debug)]
pub struct TemplateInput<'a> {
    pub name: &'a str,
    pub language: &'a str,
    pub category: TemplateCategory,
    pub body: &'a str,
    /// The WhatsApp number whose WABA it is submitted to (`None`: typed into Parley only).
    pub business_number: Option<BusinessNumberId>,
}

/// WhatsApp's rules: name of lower-case letters, digits and `_` (1–512); language like `en`
/// or `en_US`; body 1–1024 characters.
fn validate(input: &TemplateInput<'_>) -> ApiResult<()> {
    let name_ok = !input.name.is_empty()
        && input.name.len() <= 512
        && input.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        return Err(ApiError::bad_input("name must be 1 to 512 lower-case letters, digits or underscores"));
    }
    let (lang, region) = input.language.split_once('_').unwrap_or((input.language, ""));
    let lang_ok = (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase());
    let region_ok =
        region.is_empty() || (region.len() == 2 && region.bytes().all(|b| b.is_ascii_uppercase()));
    if !lang_ok || !region_ok {
        return Err(ApiError::bad_input("language must be a code like en or en_US"));
    }
    let body_len = input.body.trim().chars().count();
    if body_len == 0 || body_len > 1024 {
        return Err(ApiError::bad_input("body must be 1 to 1024 characters"));
    }
    Ok(())
}

/// Meta's refusal of a template call, as the API answers it (Meta's code and text).
fn refused(err: GatewayError) -> ApiError {
    match err.code {
        Some(code) => ApiError::WhatsApp {
            code: if code == 100 { "BAD_USER_INPUT" } else { "FORBIDDEN" },
            whatsapp_code: code,
            message: err.title,
        },
        None if err.retryable => ApiError::Unavailable,
        None => ApiError::internal(anyhow::anyhow!("WhatsApp template API: {}", err.title)),
    }
}

/// The workspace's connected WhatsApp number `id`.
async fn whatsapp_number(db: &Database, viewer: &Viewer, id: BusinessNumberId) -> ApiResult<BusinessNumber> {
    let number = business_numbers::find(db.conn(), viewer.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("business number"))?;
    if number.channel != Channel::Whatsapp {
        return Err(ApiError::bad_input("businessNumberId: templates belong to a WhatsApp number"));
    }
    if !number.connected {
        return Err(ApiError::Forbidden("This business number is disconnected."));
    }
    Ok(number)
}

/// Creates a template: submitted to Meta and stored `PENDING` when it names a number with a
/// Cloud API token, else stored `APPROVED` (no reviewer: typed into Parley, or a sandbox
/// number). Audited; `template.updated` for a submitted one.
///
/// # Errors
/// `FORBIDDEN` for non-admins, `BAD_USER_INPUT` for invalid fields or a non-WhatsApp number,
/// `NOT_FOUND` for another workspace's number, `CONFLICT` when the WABA (or the workspace's
/// own templates) has one of this name and language, Meta's refusal with its code.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn create(
    db: &Database,
    cloud: Cloud<'_>,
    viewer: &Viewer,
    input: TemplateInput<'_>,
    now: DateTime<Utc>,
) -> ApiResult<Template> {
    viewer.require_admin()?;
    validate(&input)?;
    let body = input.body.trim();
    let number = match input.business_number {
        Some(id) => Some(whatsapp_number(db, viewer, id).await?),
        None => None,
    };
    let mut submitted = None;
    if let Some(number) = &number {
        let api = cloud.gateway.for_number(number, cloud.keyring).map_err(refused)?;
        let clash = templates::of_waba(db.conn(), viewer.workspace_id, &number.waba_id)
            .await?
            .into_iter()
            .any(|t| t.name == input.name && t.language == input.language);
        if clash {
            return Err(ApiError::Conflict("a template with this name and language already exists".into()));
        }
        if !api.is_sandbox() {
            let (id, status) = api
                .submit_template(&number.waba_id, input.name, input.language, input.category, body)
                .await
                .map_err(refused)?;
            submitted = Some((id, status.unwrap_or(TemplateStatus::Pending)));
        }
    }
    let new = templates::NewTemplate {
        id: TemplateId::new(),
        workspace_id: viewer.workspace_id,
        name: input.name,
        language: input.language,
        category: input.category,
        body,
        number: number.as_ref().map(|n| (n.id, n.waba_id.as_str())),
        status: submitted.as_ref().map_or(TemplateStatus::Approved, |(_, status)| *status),
        meta_id: submitted.as_ref().map(|(id, _)| id.as_str()),
    };
    db.write(async |txn| {
        let saved = templates::create(txn, new, now).await?;
        let details = serde_json::json!({
            "name": saved.name, "language": saved.language, "category": saved.category.as_str(),
            "status": saved.status.as_str(), "businessNumberId": saved.business_number_id,
        });
        crate::store::audit(txn, viewer, "template.created", ("template", saved.id), details, now).await?;
        if submitted.is_some() {
            emit(txn, Event::TemplateUpdated { template: &saved, previous: TemplateStatus::Pending }, now)
                .await?;
        }
        Ok(saved)
    })
    .await
}

/// The review a listing gives a template.
fn review_of(listed: &ListedTemplate) -> Review {
    Review {
        status: listed.status,
        quality: Some(listed.quality),
        category: listed.category,
        rejected_reason: Some(listed.rejected_reason.clone()),
        meta_id: Some(listed.meta_id.clone()),
        body: listed.body.clone(),
    }
}

/// Reads the number's WABA's templates from Meta (every page, with the number's token) and
/// stores them: new ones are added, known ones (by WABA, name and language) take Meta's
/// review, and the WABA's templates Meta no longer lists become `DISABLED`. Audited; each
/// changed review writes `template.updated`. Returns the WABA's templates.
///
/// # Errors
/// `FORBIDDEN` for non-admins or a disconnected number, `NOT_FOUND`, `BAD_USER_INPUT` for an
/// SMS number or a sandbox number (no Cloud API to read), Meta's refusal with its code.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, business_number_id = %id))]
pub async fn sync(
    db: &Database,
    cloud: Cloud<'_>,
    viewer: &Viewer,
    id: BusinessNumberId,
    now: DateTime<Utc>,
) -> ApiResult<Vec<Template>> {
    viewer.require_admin()?;
    let number = whatsapp_number(db, viewer, id).await?;
    let api = cloud.gateway.for_number(&number, cloud.keyring).map_err(refused)?;
    if api.is_sandbox() {
        return Err(ApiError::bad_input(
            "businessNumberId: this number has no Cloud API token (sandbox): there is no WABA to read",
        ));
    }
    let listed = api.list_templates(&number.waba_id).await.map_err(refused)?;
    let waba = number.waba_id.clone();
    db.write(async |txn| {
        let known = templates::of_waba(txn, viewer.workspace_id, &waba).await?;
        let mut kept = Vec::with_capacity(listed.len());
        let (mut added, mut changed) = (0, 0);
        for item in &listed {
            let found = known.iter().find(|t| t.name == item.name && t.language == item.language);
            let saved = match found {
                Some(template) => {
                    let previous = template.status;
                    let (saved, moved) =
                        templates::review(txn, template.clone(), review_of(item), now).await?;
                    if moved {
                        changed += 1;
                        emit(txn, Event::TemplateUpdated { template: &saved, previous }, now).await?;
                    }
                    saved
                }
                None => {
                    let Some(category) = item.category else { continue };
                    let new = templates::NewTemplate {
                        id: TemplateId::new(),
                        workspace_id: viewer.workspace_id,
                        name: &item.name,
                        language: &item.language,
                        category,
                        body: item.body.as_deref().unwrap_or_default(),
                        number: Some((number.id, &waba)),
                        status: item.status.unwrap_or(TemplateStatus::Pending),
                        meta_id: Some(&item.meta_id),
                    };
                    let created = templates::create(txn, new, now).await?;
                    let (saved, _) = templates::review(txn, created, review_of(item), now).await?;
                    added += 1;
                    saved
                }
            };
            kept.push(saved.id);
        }
        let disabled = templates::disable_unlisted(txn, viewer.workspace_id, &waba, &kept, now).await?;
        for template in &disabled {
            let previous =
                known.iter().find(|t| t.id == template.id).map_or(TemplateStatus::Approved, |t| t.status);
            emit(txn, Event::TemplateUpdated { template, previous }, now).await?;
        }
        let details = serde_json::json!({
            "businessNumberId": number.id, "listed": listed.len(), "added": added,
            "changed": changed, "disabled": disabled.len(),
        });
        crate::store::audit(txn, viewer, "templates.synced", ("business_number", number.id), details, now)
            .await?;
        Ok(templates::of_waba(txn, viewer.workspace_id, &waba).await?)
    })
    .await
    .map(|mut all: Vec<Template>| {
        all.sort_by(|a, b| (&a.name, &a.language).cmp(&(&b.name, &b.language)));
        all
    })
}

/// The workspace's templates, by name and language.
///
/// # Errors
/// Storage failures.
pub async fn list(db: &Database, viewer: &Viewer) -> ApiResult<Vec<Template>> {
    Ok(templates::list(db.conn(), viewer.workspace_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(name: &'a str, language: &'a str, body: &'a str) -> TemplateInput<'a> {
        TemplateInput { name, language, category: TemplateCategory::Utility, body, business_number: None }
    }

    #[test]
    fn template_fields_follow_whatsapp_rules() {
        assert!(validate(&input("order_update_2", "en_US", "Your order {{1}} shipped")).is_ok());
        assert!(validate(&input("pt", "pt", "Olá")).is_ok());
        assert!(validate(&input("Order Update", "en", "x")).is_err());
        assert!(validate(&input("", "en", "x")).is_err());
        assert!(validate(&input("a", "english", "x")).is_err());
        assert!(validate(&input("a", "en_us", "x")).is_err());
        assert!(validate(&input("a", "en", "   ")).is_err());
        assert!(validate(&input("a", "en", &"x".repeat(1025))).is_err());
    }
}
