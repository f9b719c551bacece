//! The SMS gateway: `sandbox` or a Twilio-compatible REST API
//! (`POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form-encoded, basic auth).

use std::time::Duration;

use domain::PhoneNumber;
use secrecy::ExposeSecret;
use serde_json::Value;

use super::{Accepted, GatewayError};
use crate::config::SmsConfig;

/// The SMS gateway chosen by configuration.
#[derive(Clone)]
pub enum SmsGateway {
    Sandbox,
    Twilio { client: reqwest::Client, config: SmsConfig },
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmsGateway::Sandbox => f.write_str("SmsGateway::Sandbox"),
            SmsGateway::Twilio { config, .. } => write!(f, "SmsGateway::Twilio({})", config.api_base),
        }
    }
}

impl SmsGateway {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(config: Option<&SmsConfig>) -> anyhow::Result<Self> {
        Ok(match config {
            None => SmsGateway::Sandbox,
            Some(config) => SmsGateway::Twilio {
                client: reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?,
                config: config.clone(),
            },
        })
    }

    /// Sends one SMS.
    ///
    /// # Errors
    /// The provider's refusal, or a transport failure (retryable).
    pub async fn send(&self, to: &PhoneNumber, body: &str) -> Result<Accepted, GatewayError> {
        let (client, config) = match self {
            SmsGateway::Sandbox => {
                return Ok(Accepted { provider_id: format!("SMSANDBOX{}", uuid::Uuid::new_v4().simple()) });
            }
            SmsGateway::Twilio { client, config } => (client, config),
        };
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            config.api_base.trim_end_matches('/'),
            config.account_sid
        );
        let response = client
            .post(url)
            .basic_auth(&config.account_sid, Some(config.auth_token.expose_secret()))
            .form(&[("To", to.as_str()), ("From", config.from.as_str()), ("Body", body)])
            .send()
            .await
            .map_err(|e| GatewayError::transport(&e))?;
        let status = response.status().as_u16();
        let json: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return match json["sid"].as_str() {
                Some(sid) => Ok(Accepted { provider_id: sid.to_owned() }),
                None => Err(GatewayError {
                    retryable: false,
                    code: None,
                    title: "response without a sid".to_owned(),
                }),
            };
        }
        Err(GatewayError {
            retryable: status >= 500 || status == 429,
            code: json["code"].as_i64(),
            title: json["message"]
                .as_str()
                .map_or_else(|| format!("SMS provider answered HTTP {status}"), str::to_owned),
        })
    }
}
