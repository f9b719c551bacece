//! Message templates (admins create them; every agent lists them).

use chrono::{DateTime, Utc};
use domain::{TemplateCategory, TemplateId};
use persistence::Template;
use persistence::{Database, templates};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};

/// A template as an admin submits it.
#[derive(Debug)]
pub struct TemplateInput<'a> {
    pub name: &'a str,
    pub language: &'a str,
    pub category: TemplateCategory,
    pub body: &'a str,
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

/// # Errors
/// `FORBIDDEN` for non-admins, `BAD_USER_INPUT` for invalid fields, `CONFLICT` when the
/// workspace has a template of this name and language.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn create(
    db: &Database,
    viewer: &Viewer,
    input: TemplateInput<'_>,
    now: DateTime<Utc>,
) -> ApiResult<Template> {
    viewer.require_admin()?;
    validate(&input)?;
    let new = templates::NewTemplate {
        id: TemplateId::new(),
        workspace_id: viewer.workspace_id,
        name: input.name,
        language: input.language,
        category: input.category,
        body: input.body.trim(),
    };
    Ok(db.write(async |txn| templates::create(txn, new, now).await).await?)
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
        TemplateInput { name, language, category: TemplateCategory::Utility, body }
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
