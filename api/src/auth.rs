//! Authentication: JWTs verified once at the HTTP edge, then a typed [`Viewer`] for resolvers.
//!
//! Claims: `sub` (agent id), `ws` (workspace id), `exp`, `iat`, and `iss`/`aud` when
//! configured. A valid signature is not enough: the agent must exist, be active and belong to
//! `ws`, and its role is read from the database on every request, so demoting or deactivating
//! an agent takes effect at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{AgentId, Permission, Role, WorkspaceId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use persistence::{Database, agents};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, JwtConfig};
use crate::error::ApiError;

/// Tokens issued in the future by more than this are refused (clock skew allowance).
const IAT_LEEWAY_SECS: i64 = 60;

/// The claims Parley reads and writes.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub ws: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// Who is calling: an active agent of one workspace, with its current role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub agent_id: AgentId,
    pub workspace_id: WorkspaceId,
    pub role: Role,
}

impl Viewer {
    /// Checks the viewer's role against section 10's table.
    ///
    /// # Errors
    /// `FORBIDDEN` naming the roles that may, when the viewer's may not.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.role.allows(permission) { Ok(()) } else { Err(ApiError::Forbidden(refusal(permission))) }
    }

    /// Shorthand for [`Viewer::require`] with [`Permission::Administer`].
    ///
    /// # Errors
    /// `FORBIDDEN` unless the viewer is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        self.require(Permission::Administer)
    }
}

/// What a refused role is told.
#[must_use]
pub const fn refusal(permission: Permission) -> &'static str {
    match permission {
        Permission::Read => "Your role cannot read this workspace.",
        Permission::ReachCustomer => {
            "Reaching the customer requires the AGENT or ADMIN role (an integration sends with an agent's token)."
        }
        Permission::WorkConversations => "Working conversations requires the AGENT or ADMIN role.",
        Permission::EditContacts => "Editing contacts requires the AGENT, ADMIN or INTEGRATION role.",
        Permission::LiveEvents => "Live events require the AGENT, ADMIN or INTEGRATION role.",
        Permission::EventHistory => "The event history requires the ADMIN or INTEGRATION role.",
        Permission::Administer => "This action requires the ADMIN role.",
    }
}

/// What a valid token says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    pub agent: AgentId,
    pub workspace: WorkspaceId,
    /// The `exp` claim.
    pub expires_at: DateTime<Utc>,
}

/// Verifies and issues tokens. Keys are built once, at start-up.
pub struct Authenticator {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// # Errors
    /// When the public key cannot be read.
    pub fn new(config: &JwtConfig) -> Result<Self, ConfigError> {
        let secret = config.secret.expose_secret().as_bytes();
        let (decoding, algorithm) = match &config.public_key_pem {
            None => (DecodingKey::from_secret(secret), Algorithm::HS256),
            Some(pem) => public_key(pem.as_bytes())?,
        };
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        match &config.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                validation.required_spec_claims.insert("aud".to_owned());
            }
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &config.issuer {
            validation.set_issuer(&[iss]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        Ok(Self {
            decoding,
            encoding: EncodingKey::from_secret(secret),
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
        })
    }

    /// Issues an HS256 token for an agent.
    ///
    /// # Errors
    /// When signing fails.
    pub fn issue(
        &self,
        agent: AgentId,
        workspace: WorkspaceId,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let claims = Claims {
            sub: agent.to_string(),
            ws: workspace.to_string(),
            iat: now.timestamp(),
            exp: now.timestamp().saturating_add(ttl),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// Checks signature, algorithm, expiry, issue time, issuer and audience.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` with a generic message (the precise cause is only logged at debug).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Verified, ApiError> {
        let invalid = ApiError::Unauthenticated("The access token is invalid or expired.");
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|err| {
                tracing::debug!(reason = %err.kind_name(), "token refused");
                ApiError::Unauthenticated("The access token is invalid or expired.")
            })?;
        let claims = data.claims;
        if claims.iat > now.timestamp() + IAT_LEEWAY_SECS {
            tracing::debug!("token refused: issued in the future");
            return Err(invalid);
        }
        let agent = claims
            .sub
            .parse::<AgentId>()
            .map_err(|_| ApiError::Unauthenticated("The access token is invalid or expired."))?;
        let workspace = claims.ws.parse::<WorkspaceId>().map_err(|_| invalid)?;
        let expires_at = DateTime::<Utc>::from_timestamp(claims.exp, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
        Ok(Verified { agent, workspace, expires_at })
    }

    /// Verifies a token and loads its agent: the full check for every request.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` for a bad token or an unknown, inactive or moved agent.
    pub async fn authenticate(
        &self,
        db: &Database,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Viewer, ApiError> {
        Ok(self.authenticate_until(db, token, now).await?.0)
    }

    /// [`Authenticator::authenticate`], also saying when the token expires (a WebSocket is
    /// closed then).
    ///
    /// # Errors
    /// As [`Authenticator::authenticate`].
    pub async fn authenticate_until(
        &self,
        db: &Database,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(Viewer, DateTime<Utc>), ApiError> {
        let Verified { agent: agent_id, workspace: workspace_id, expires_at } = self.verify(token, now)?;
        let agent = agents::find(db.conn(), workspace_id, agent_id)
            .await?
            .filter(|a| a.active)
            .ok_or(ApiError::Unauthenticated("The agent of this token does not exist or is inactive."))?;
        Ok((Viewer { agent_id, workspace_id, role: agent.role }, expires_at))
    }
}

trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for jsonwebtoken::errors::Error {
    fn kind_name(&self) -> String {
        format!("{:?}", self.kind())
    }
}

fn public_key(pem: &[u8]) -> Result<(DecodingKey, Algorithm), ConfigError> {
    let text = String::from_utf8_lossy(pem);
    let bad = |e: jsonwebtoken::errors::Error| {
        ConfigError::new("PARLEY_JWT_PUBLIC_KEY", format!("cannot read the key: {e}"))
    };
    if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        return Ok((key, Algorithm::EdDSA));
    }
    if text.contains("BEGIN RSA PUBLIC KEY") || DecodingKey::from_rsa_pem(pem).is_ok() {
        return DecodingKey::from_rsa_pem(pem).map(|k| (k, Algorithm::RS256)).map_err(bad);
    }
    DecodingKey::from_ec_pem(pem).map(|k| (k, Algorithm::ES256)).map_err(bad)
}

/// Extracts the token from an `Authorization: Bearer …` value.
///
/// # Errors
/// `UNAUTHENTICATED` when the scheme is not `Bearer` or the token is empty.
pub fn bearer_token(header: &str) -> Result<&str, ApiError> {
    let header = header.trim();
    let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthenticated("Use an Authorization: Bearer <token> header."));
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn config() -> JwtConfig {
        JwtConfig {
            secret: SecretString::from("0123456789abcdef0123456789abcdef".to_owned()),
            public_key_pem: None,
            issuer: None,
            audience: None,
        }
    }

    #[test]
    fn issued_tokens_verify_and_name_the_agent_and_workspace() {
        let auth = Authenticator::new(&config()).unwrap();
        let (agent, ws) = (AgentId::new(), WorkspaceId::new());
        let now = Utc::now();
        let token = auth.issue(agent, ws, Duration::from_secs(3600), now).unwrap();
        let verified = auth.verify(&token, now).unwrap();
        assert_eq!((verified.agent, verified.workspace), (agent, ws));
        assert_eq!(verified.expires_at.timestamp(), now.timestamp() + 3600);
    }

    #[test]
    fn expired_tampered_and_future_tokens_are_refused() {
        let auth = Authenticator::new(&config()).unwrap();
        let (agent, ws) = (AgentId::new(), WorkspaceId::new());
        let now = Utc::now();
        let old = auth.issue(agent, ws, Duration::from_secs(60), now - chrono::Duration::hours(2)).unwrap();
        assert!(auth.verify(&old, now).is_err());
        let future =
            auth.issue(agent, ws, Duration::from_secs(3600), now + chrono::Duration::hours(1)).unwrap();
        assert!(auth.verify(&future, now).is_err());
        // The payload of a token for another workspace under this token's signature.
        let genuine = auth.issue(agent, ws, Duration::from_secs(3600), now).unwrap();
        let other = auth.issue(agent, WorkspaceId::new(), Duration::from_secs(3600), now).unwrap();
        let g: Vec<&str> = genuine.split('.').collect();
        let o: Vec<&str> = other.split('.').collect();
        let tampered = format!("{}.{}.{}", g[0], o[1], g[2]);
        assert!(auth.verify(&tampered, now).is_err());
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token("Bearer abc").unwrap(), "abc");
        assert_eq!(bearer_token("bearer   abc ").unwrap(), "abc");
        assert!(bearer_token("Basic abc").is_err());
        assert!(bearer_token("Bearer ").is_err());
    }
}
