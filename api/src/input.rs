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
