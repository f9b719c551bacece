//! The one error edge of the API. Use cases return [`ApiError`]; the single conversion
//! `From<ApiError> for async_graphql::Error` sets `extensions.code` (and, for denied
//! capabilities, `capability` and `reason`). Internal failures get a fixed message and are
//! logged once with their cause chain.
//!
//! `ApiError` deliberately does not implement `Display`: async-graphql's blanket
//! `From<impl Display>` would otherwise turn it (or any `DbErr`) into an error whose text
//! reaches the client.

use async_graphql::ErrorExtensions;
use domain::capabilities::Denial;

/// A failure a client may see.
#[derive(Debug)]
pub enum ApiError {
    /// No valid token, or the agent is unknown or inactive.
    Unauthenticated(&'static str),
    /// The agent's role does not allow this.
    Forbidden(&'static str),
    /// No such record in the agent's workspace (also for other workspaces' ids).
    NotFound(&'static str),
    /// The input is invalid; the message says how.
    BadUserInput(String),
    /// A capability of the conversation denies the action.
    CapabilityDenied { capability: &'static str, denial: Denial },
    /// The change conflicts with stored data.
    Conflict(String),
    /// WhatsApp (or Parley applying WhatsApp's rules) refused a business-username change;
    /// `whatsapp_code` is Meta's error code (100, 147001, 147005…).
    WhatsApp { code: &'static str, whatsapp_code: i64, message: String },
    /// The database cannot be reached right now.
    Unavailable,
    /// A provider (the Cloud API, the SMS provider) could not be asked what the action needs;
    /// the message says which and that a retry may succeed.
    ProviderUnavailable(&'static str),
    /// Anything else; logged, never shown.
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        ApiError::BadUserInput(message.into())
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }

    /// The denial of capability `capability`.
    #[must_use]
    pub fn denied(capability: &'static str, denial: Denial) -> Self {
        ApiError::CapabilityDenied { capability, denial }
    }

    /// The `extensions.code` value.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadUserInput(_) => "BAD_USER_INPUT",
            ApiError::CapabilityDenied { .. } => "CAPABILITY_DENIED",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::WhatsApp { code, .. } => code,
            ApiError::Unavailable | ApiError::ProviderUnavailable(_) => "UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The message shown to the client.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated(m) | ApiError::Forbidden(m) | ApiError::ProviderUnavailable(m) => {
                (*m).to_owned()
            }
            ApiError::NotFound(what) => format!("{what} not found"),
            ApiError::BadUserInput(m) | ApiError::Conflict(m) | ApiError::WhatsApp { message: m, .. } => {
                m.clone()
            }
            ApiError::CapabilityDenied { denial, .. } => denial.reason().to_owned(),
            ApiError::Unavailable => "The service is temporarily unavailable; retry shortly.".to_owned(),
            ApiError::Internal(_) => "Internal server error".to_owned(),
        }
    }

    /// Logs what must be logged (internal causes) exactly once.
    fn log(&self) {
        match self {
            ApiError::Internal(err) => tracing::error!(error = ?err, "internal error"),
            ApiError::Unavailable => tracing::warn!("database unavailable"),
            ApiError::ProviderUnavailable(what) => tracing::warn!(what, "a provider could not be reached"),
            _ => {}
        }
    }
}

impl From<persistence::Error> for ApiError {
    fn from(err: persistence::Error) -> Self {
        if err.is_unavailable() {
            return ApiError::Unavailable;
        }
        match err {
            persistence::Error::Duplicate { what } => ApiError::Conflict(format!("{what} already exists")),
            persistence::Error::MissingReference { what } => ApiError::NotFound(what),
            corrupt @ persistence::Error::Corrupt { .. } => ApiError::Internal(anyhow::Error::new(corrupt)),
            persistence::Error::Unexpected(err) => ApiError::Internal(err),
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        err.log();
        let code = err.code();
        let extra = match &err {
            ApiError::CapabilityDenied { capability, denial } => Some((*capability, *denial)),
            _ => None,
        };
        let whatsapp_code = match &err {
            ApiError::WhatsApp { whatsapp_code, .. } => Some(*whatsapp_code),
            _ => None,
        };
        async_graphql::Error::new(err.message()).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some((capability, denial)) = extra {
                ext.set("capability", capability);
                ext.set("reason", denial.reason());
                ext.set("reasonCode", denial.code().as_str());
            }
            if let Some(whatsapp_code) = whatsapp_code {
                ext.set("whatsappCode", whatsapp_code);
            }
        })
    }
}

/// `Result` of the use cases.
pub type ApiResult<T> = Result<T, ApiError>;
