//! Proving that a token may use a number before it is connected (PRODUCT.md section 17).

use serde_json::Value;

use super::{CALL_TIMEOUT, WhatsappGateway};
use crate::traces::SendTraced;

/// Most pages of a WABA's numbers read while proving a number.
const MAX_PAGES: usize = 20;

/// Why a number could not be proven to belong to the token that claims it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumberProof {
    #[error("the Cloud API does not show this phoneNumberId to the given accessToken")]
    NotVisible,
    #[error("the Cloud API does not list this phoneNumberId among the numbers of wabaId")]
    NotInWaba,
    #[error("the Cloud API could not be reached to check the number; try again")]
    Unreachable,
}

impl WhatsappGateway {
    /// Proves that `token` may use the number: Meta shows the number to the token
    /// (`GET /{phone-number-id}?fields=display_phone_number,verified_name`) and lists it among
    /// the WABA's numbers (`GET /{waba-id}/phone_numbers`, page by page through `paging.next`,
    /// on the same host). The token travels in the `Authorization` header only.
    ///
    /// # Errors
    /// [`NumberProof`] naming the check that failed.
    pub async fn prove_number(
        &self,
        token: &str,
        phone_number_id: &str,
        waba_id: &str,
    ) -> Result<(), NumberProof> {
        let base = &self.base;
        let seen = self
            .client
            .get(format!("{base}/{phone_number_id}"))
            .timeout(CALL_TIMEOUT)
            .query(&[("fields", "display_phone_number,verified_name")])
            .bearer_auth(token)
            .send_traced()
            .await
            .map_err(|_| NumberProof::Unreachable)?;
        if !seen.status().is_success() {
            return Err(NumberProof::NotVisible);
        }
        let mut page = format!("{base}/{waba_id}/phone_numbers");
        for _ in 0..MAX_PAGES {
            let answer = self
                .client
                .get(&page)
                .timeout(CALL_TIMEOUT)
                .bearer_auth(token)
                .send_traced()
                .await
                .map_err(|_| NumberProof::Unreachable)?;
            if !answer.status().is_success() {
                return Err(NumberProof::NotInWaba);
            }
            let body: Value = answer.json().await.map_err(|_| NumberProof::NotInWaba)?;
            let listed = body["data"].as_array().into_iter().flatten();
            if listed.clone().any(|n| n["id"].as_str() == Some(phone_number_id)) {
                return Ok(());
            }
            // The next page, only on the API's own host (a token never goes anywhere else).
            match body["paging"]["next"].as_str() {
                Some(next) if next.starts_with(base.as_str()) => page = next.to_owned(),
                _ => return Err(NumberProof::NotInWaba),
            }
        }
        Err(NumberProof::NotInWaba)
    }
}
