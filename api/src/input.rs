//! Free text typed by agents and operators, checked once at the edge of a use case.

use crate::error::{ApiError, ApiResult};

/// Validates a display name (of an agent, a contact, a workspace): trimmed, 1–200
/// characters, no control characters.
///
/// # Errors
/// `BAD_USER_INPUT` naming the field.
pub fn valid_name(field: &str, name: &str) -> ApiResult<String> {
    let name = name.trim();
    let len = name.chars().count();
    if len == 0 || len > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_input(format!(
            "{field} must be 1 to 200 characters without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// The longest search text accepted (a search box, not a document).
pub const MAX_SEARCH: usize = 200;

/// Reads a search box: `None` for a blank one, which filters nothing.
///
/// # Errors
/// `BAD_USER_INPUT` for more than [`MAX_SEARCH`] characters.
pub fn valid_search(text: Option<&str>) -> ApiResult<Option<domain::search::SearchQuery>> {
    Ok(search_text(text)?.and_then(domain::search::SearchQuery::parse))
}

/// A search box's text, trimmed: `None` for a blank one.
///
/// # Errors
/// `BAD_USER_INPUT` for more than [`MAX_SEARCH`] characters.
pub fn search_text(text: Option<&str>) -> ApiResult<Option<&str>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    if text.chars().count() > MAX_SEARCH || text.contains('\0') {
        return Err(ApiError::bad_input(format!(
            "search must be at most {MAX_SEARCH} characters, without NUL"
        )));
    }
    Ok(Some(text))
}

/// The longest message text (WhatsApp's limit for a text body; also notes and saved answers).
pub const MAX_TEXT: usize = 4096;

/// Reads a message text: trimmed, 1 to [`MAX_TEXT`] characters, no NUL (which no database
/// column stores).
///
/// # Errors
/// `BAD_USER_INPUT` naming the field.
pub fn valid_text(field: &str, text: &str) -> ApiResult<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT || text.contains('\0') {
        return Err(ApiError::bad_input(format!("{field} must be 1 to {MAX_TEXT} characters, without NUL")));
    }
    Ok(text.to_owned())
}
