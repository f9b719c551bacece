//! `GET /reports/conversations.csv?from=…&to=…` (PRODUCT.md section 19): the conversations
//! opened in the range as CSV, streamed (`crate::workflow::reports::export_csv`). An admin's
//! bearer token only: `401` without a valid one, `403` for other roles, `400` for a missing or
//! unreadable range (`from`, `to`: RFC 3339 instants). Errors are JSON like the media routes'.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::media::api_error as error;
use crate::auth::bearer_token;
use crate::error::ApiError;
use crate::http::state::AppState;

/// The export's query.
#[derive(Debug, serde::Deserialize)]
pub struct Range {
    from: Option<String>,
    to: Option<String>,
}

fn instant(name: &str, value: Option<&str>) -> Result<DateTime<Utc>, ApiError> {
    let value =
        value.ok_or_else(|| ApiError::bad_input(format!("{name} is required (an RFC 3339 instant)")))?;
    DateTime::parse_from_rfc3339(value).map(|at| at.with_timezone(&Utc)).map_err(|_| {
        ApiError::bad_input(format!("{name} must be an RFC 3339 instant, such as 2026-12-01T00:00:00Z"))
    })
}

/// `GET /reports/conversations.csv`.
pub async fn conversations_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(range): Query<Range>,
) -> Response {
    let viewer = async {
        let header = headers
            .get(header::AUTHORIZATION)
            .ok_or(ApiError::Unauthenticated("Send Authorization: Bearer <token> (an admin's)."))?
            .to_str()
            .map_err(|_| ApiError::Unauthenticated("The Authorization header is not valid text."))?;
        state.auth.authenticate(&state.db, bearer_token(header)?, Utc::now()).await
    };
    let viewer = match viewer.await {
        Ok(viewer) => viewer,
        Err(err) => return error(&err),
    };
    if let Err(err) = viewer.require_admin() {
        return error(&err);
    }
    let (from, to) = match (instant("from", range.from.as_deref()), instant("to", range.to.as_deref())) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(err), _) | (_, Err(err)) => return error(&err),
    };
    let stream = match crate::workflow::reports::export_csv(&state.db, &viewer, from, to).await {
        Ok(stream) => stream,
        Err(err) => return error(&err),
    };
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8; header=present"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"conversations.csv\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}
