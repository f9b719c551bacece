//! A WABA's message templates on the Cloud API: listing them page by page and submitting a
//! new one for review (PRODUCT.md section 19). The token travels in the `Authorization`
//! header only; a next page is followed only on the API's own host.

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use domain::{TemplateCategory, TemplateQuality, TemplateStatus};

use super::{CALL_TIMEOUT, NumberApi, meta_error};
use crate::providers::GatewayError;
use crate::traces::SendTraced;

/// Most pages of templates read in one sync (up to 100 templates a page). A page without
/// `paging.next` is the last, unless it is full and names a cursor (then `after=` it).
const MAX_PAGES: usize = 100;

/// The fields asked of each template.
const FIELDS: &str = "id,name,language,status,category,quality_score,rejected_reason,components";

/// One template as Meta lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedTemplate {
    pub meta_id: String,
    pub name: String,
    pub language: String,
    pub category: Option<TemplateCategory>,
    pub status: Option<TemplateStatus>,
    pub quality: TemplateQuality,
    /// Meta's reason when rejected (`NONE` reads as none).
    pub rejected_reason: Option<String>,
    /// The body component's text.
    pub body: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<RawTemplate>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    next: Option<String>,
    cursors: Option<Cursors>,
}

#[derive(Deserialize)]
struct Cursors {
    after: Option<String>,
}

#[derive(Deserialize)]
struct RawTemplate {
    id: String,
    name: String,
    language: String,
    status: Option<String>,
    category: Option<String>,
    quality_score: Option<Value>,
    rejected_reason: Option<String>,
    #[serde(default)]
    components: Vec<Value>,
}

impl RawTemplate {
    fn read(self) -> ListedTemplate {
        let quality = self
            .quality_score
            .as_ref()
            .and_then(|q| q["score"].as_str().or_else(|| q.as_str()))
            .map_or(TemplateQuality::Unknown, TemplateQuality::from_meta);
        let body = self
            .components
            .iter()
            .find(|c| c["type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("BODY")))
            .and_then(|c| c["text"].as_str())
            .map(str::to_owned);
        ListedTemplate {
            meta_id: self.id,
            name: self.name,
            language: self.language,
            category: self.category.as_deref().and_then(category_from_meta),
            status: self.status.as_deref().and_then(TemplateStatus::from_meta),
            quality,
            rejected_reason: self.rejected_reason.filter(|r| !r.is_empty() && r != "NONE"),
            body,
        }
    }
}

/// Meta's category word (`MARKETING`, `UTILITY`, `AUTHENTICATION`, any case).
#[must_use]
pub fn category_from_meta(category: &str) -> Option<TemplateCategory> {
    category.to_ascii_uppercase().parse().ok()
}

/// Example values Meta wants for each `{{n}}` of a submitted body.
fn examples(body: &str) -> Vec<String> {
    (1..=domain::content::parameter_count(body)).map(|n| format!("example {n}")).collect()
}

impl NumberApi<'_> {
    fn template_error(status: u16, body: &Value) -> GatewayError {
        meta_error(status, body)
    }

    /// Every template of `waba`: `GET /{waba-id}/message_templates`, following
    /// `paging.next` (or `after=` the `paging.cursors.after`) on the API's host.
    ///
    /// # Errors
    /// Meta's refusal (a bad token, a WABA the token does not see) or a transport failure.
    pub async fn list_templates(&self, waba: &str) -> Result<Vec<ListedTemplate>, GatewayError> {
        let (client, base, token) = self.cloud()?;
        let first = format!("{base}/{waba}/message_templates");
        let mut url =
            reqwest::Url::parse(&first).map_err(|_| GatewayError::not_sent("bad Cloud API address"))?;
        url.query_pairs_mut().append_pair("fields", FIELDS).append_pair("limit", "100");
        let mut listed = Vec::new();
        for _ in 0..MAX_PAGES {
            let response = client
                .get(url.clone())
                .timeout(CALL_TIMEOUT)
                .bearer_auth(token.expose_secret())
                .send_traced()
                .await
                .map_err(|e| GatewayError::transport(&e))?;
            let status = response.status().as_u16();
            if !(200..300).contains(&status) {
                let body: Value = response.json().await.unwrap_or(Value::Null);
                return Err(Self::template_error(status, &body));
            }
            let page: Page =
                response.json().await.map_err(|_| GatewayError::bad_answer("unreadable template list"))?;
            let had = page.data.len();
            listed.extend(page.data.into_iter().map(RawTemplate::read));
            let paging = page.paging;
            let next = paging.as_ref().and_then(|p| p.next.clone());
            let after = paging.and_then(|p| p.cursors).and_then(|c| c.after);
            match (next, after) {
                (Some(next), _) if next.starts_with(base) => {
                    url = reqwest::Url::parse(&next)
                        .map_err(|_| GatewayError::bad_answer("unreadable paging.next"))?;
                }
                (Some(_), _) => {
                    return Err(GatewayError::bad_answer("paging.next leaves the Cloud API's host"));
                }
                (None, Some(after))
                    if had >= 100 && url.query_pairs().all(|(k, v)| k != "after" || v != after) =>
                {
                    let mut again = reqwest::Url::parse(&first)
                        .map_err(|_| GatewayError::not_sent("bad Cloud API address"))?;
                    again
                        .query_pairs_mut()
                        .append_pair("fields", FIELDS)
                        .append_pair("limit", "100")
                        .append_pair("after", &after);
                    url = again;
                }
                _ => return Ok(listed),
            }
        }
        Err(GatewayError::bad_answer("the template list has too many pages"))
    }

    /// Submits a template for review: `POST /{waba-id}/message_templates`. Returns Meta's id
    /// and the status it answered (normally `PENDING`).
    ///
    /// # Errors
    /// Meta's refusal or a transport failure.
    pub async fn submit_template(
        &self,
        waba: &str,
        name: &str,
        language: &str,
        category: TemplateCategory,
        body: &str,
    ) -> Result<(String, Option<TemplateStatus>), GatewayError> {
        let (client, base, token) = self.cloud()?;
        let mut component = json!({ "type": "BODY", "text": body });
        let examples = examples(body);
        if !examples.is_empty() {
            component["example"] = json!({ "body_text": [examples] });
        }
        let request = json!({
            "name": name,
            "language": language,
            "category": category.as_str(),
            "components": [component],
        });
        let response = client
            .post(format!("{base}/{waba}/message_templates"))
            .timeout(CALL_TIMEOUT)
            .bearer_auth(token.expose_secret())
            .json(&request)
            .send_traced()
            .await
            .map_err(|e| GatewayError::transport(&e))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            return Err(Self::template_error(status, &answer));
        }
        let id = answer["id"].as_str().ok_or_else(|| GatewayError::bad_answer("no template id"))?;
        Ok((id.to_owned(), answer["status"].as_str().and_then(TemplateStatus::from_meta)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_template_is_read_from_metas_shape() {
        let raw: RawTemplate = serde_json::from_value(json!({
            "name": "order_update", "language": "en_US", "status": "PAUSED", "category": "UTILITY",
            "id": "594425479261596", "quality_score": { "score": "RED", "date": 1_700_000_000 },
            "rejected_reason": "NONE",
            "components": [{ "type": "HEADER", "format": "TEXT", "text": "Hi" },
                           { "type": "BODY", "text": "Order {{1}} ships {{2}}" }]
        }))
        .unwrap();
        let t = raw.read();
        assert_eq!(t.status, Some(TemplateStatus::Paused));
        assert_eq!(t.quality, TemplateQuality::Red);
        assert_eq!(t.category, Some(TemplateCategory::Utility));
        assert_eq!(t.rejected_reason, None);
        assert_eq!(t.body.as_deref(), Some("Order {{1}} ships {{2}}"));
        assert_eq!(examples("Order {{1}} ships {{2}}"), ["example 1", "example 2"]);
        assert!(examples("Hello").is_empty());
    }
}
