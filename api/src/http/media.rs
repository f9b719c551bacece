//! Media over HTTP (PRODUCT.md section 11).
//!
//! - `GET /media/{id}`: an attachment's bytes, streamed from the blob store, for a bearer token
//!   of its workspace or a signed link (`Attachment.url`, see [`crate::links`]). Its stored
//!   `Content-Type`, `Content-Length`, `X-Content-Type-Options: nosniff`, a sandboxing CSP,
//!   `Content-Disposition: attachment` for documents (inline otherwise), and `Range` requests
//!   answered `206`. Another workspace's attachment, an unknown id, a file not stored yet, a bad
//!   or expired signature: all `404`, alike.
//! - `POST /media`: an agent's upload (`multipart/form-data`, one part `file`), streamed into
//!   the blob store while WhatsApp's type and size limits are checked: `415` or `413` with a
//!   JSON error naming the limit, and nothing kept; `201 {"id","kind","mimeType","sizeBytes",
//!   "sha256"}` otherwise. Send it with `sendMedia`.

use std::ops::Range;

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::media::{MediaError, UploadRule};
use domain::{AttachmentId, AttachmentKind, AttachmentStatus, Permission};
use futures::TryStreamExt;
use persistence::Attachment;
use persistence::attachments::{self, Uploaded};
use persistence::blobs::WriteError;
use serde_json::json;

use crate::auth::{Viewer, bearer_token};
use crate::error::ApiError;
use crate::http::state::AppState;

/// The largest request `POST /media` reads: the largest file WhatsApp takes, and room for the
/// multipart envelope.
pub const UPLOAD_BODY_LIMIT: usize = 101 * 1024 * 1024;

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into(), "code": code }))).into_response()
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "NOT_FOUND", "attachment not found")
}

/// An API error as a JSON answer with its HTTP status (the media and report routes).
pub(crate) fn api_error(err: &ApiError) -> Response {
    let status = match err {
        ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal(cause) => {
            tracing::error!(error = ?cause, "internal error over HTTP");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    error(status, err.code(), err.message())
}

/// The viewer of a request's `Authorization: Bearer` header.
async fn viewer(state: &AppState, headers: &HeaderMap) -> Result<Viewer, ApiError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthenticated(
            "Send Authorization: Bearer <token>, or use the attachment's signed url.",
        ))?
        .to_str()
        .map_err(|_| ApiError::Unauthenticated("The Authorization header is not valid text."))?;
    state.auth.authenticate(&state.db, bearer_token(header)?, Utc::now()).await
}

/// A signed link's query.
#[derive(Debug, serde::Deserialize)]
pub struct LinkQuery {
    exp: Option<i64>,
    sig: Option<String>,
}

/// `GET /media/{id}`.
pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(link): Query<LinkQuery>,
    headers: HeaderMap,
) -> Response {
    let Ok(id) = id.parse::<AttachmentId>() else { return not_found() };
    let found = match (link.exp, link.sig.as_deref()) {
        (Some(exp), Some(sig)) => {
            if !crate::links::media_link_valid(&state.config.secrets, id, exp, sig, Utc::now()) {
                // Checked before any read: a forged or expired link costs no query.
                state.refusals.refuse("media", "bad_link");
                return not_found();
            }
            attachments::find_any(state.db.conn(), id).await
        }
        _ => match viewer(&state, &headers).await.and_then(|v| v.require(Permission::Read).map(|()| v)) {
            Ok(viewer) => attachments::find(state.db.conn(), viewer.workspace_id, id).await,
            Err(err) => return api_error(&err),
        },
    };
    let attachment = match found {
        Ok(Some(a)) if a.status == AttachmentStatus::Stored => a,
        Ok(_) => return not_found(),
        Err(err) => return api_error(&ApiError::from(err)),
    };
    serve(&state, &attachment, &headers).await
}

/// A `Range: bytes=…` header as a byte range of a blob of `size` bytes: `None` for no (or a
/// multi-part) range, `Err` for one that cannot be satisfied.
fn requested_range(headers: &HeaderMap, size: u64) -> Result<Option<Range<u64>>, ()> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else { return Ok(None) };
    let Some(spec) = value.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let range = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            size.saturating_sub(n)..size
        }
        (start, "") => start.parse().map_err(|_| ())?..size,
        (start, end) => {
            let (start, end): (u64, u64) = (start.parse().map_err(|_| ())?, end.parse().map_err(|_| ())?);
            if end < start {
                return Err(());
            }
            start..end.saturating_add(1).min(size)
        }
    };
    if range.start >= size || range.is_empty() {
        return Err(());
    }
    Ok(Some(range))
}

/// `Content-Disposition`: documents download, everything else shows inline; the name is kept
/// to safe characters.
fn disposition(attachment: &Attachment) -> HeaderValue {
    if attachment.kind != AttachmentKind::Document {
        return HeaderValue::from_static("inline");
    }
    let name: String = attachment
        .file_name
        .as_deref()
        .unwrap_or("document")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._- ()".contains(c) { c } else { '_' })
        .take(120)
        .collect();
    HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

async fn serve(state: &AppState, attachment: &Attachment, headers: &HeaderMap) -> Response {
    let Some(key) = attachment.blob_key.as_deref() else { return not_found() };
    let size = attachment.size_bytes.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
    let range = match requested_range(headers, size) {
        Ok(range) => range,
        Err(()) => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return response;
        }
    };
    let read = match state.blobs.read(key, range.clone()).await {
        Ok(read) => read,
        Err(object_store::Error::NotFound { .. }) => return not_found(),
        Err(err) => {
            tracing::warn!(error = %err, "the blob store failed to read an attachment");
            return error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "the blob store is unavailable");
        }
    };
    let length = read.range.end - read.range.start;
    let body = Body::from_stream(read.bytes.map_err(std::io::Error::other));
    let mut response = Response::new(body);
    *response.status_mut() = if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(&attachment.mime_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    headers.insert(header::CONTENT_DISPOSITION, disposition(attachment));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=900"));
    if range.is_some() {
        let value = format!("bytes {}-{}/{}", read.range.start, read.range.end.saturating_sub(1), read.size);
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header::CONTENT_RANGE, value);
        }
    }
    response
}

/// An uploaded file's name, kept to printable characters without paths.
fn file_name(raw: Option<&str>) -> Option<String> {
    let name = raw?.rsplit(['/', '\\']).next()?.trim();
    let name: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
    (!name.is_empty()).then_some(name)
}

/// `POST /media`.
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let viewer =
        match viewer(&state, &headers).await.and_then(|v| v.require(Permission::ReachCustomer).map(|()| v)) {
            Ok(viewer) => viewer,
            Err(err) => return api_error(&err),
        };
    let mut multipart = match multipart {
        Ok(m) => m,
        Err(_) => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "send multipart/form-data with one part named `file`",
            );
        }
    };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => {
                return error(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", "the form has no part named `file`");
            }
            Err(err) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BAD_USER_INPUT",
                    format!("the form could not be read: {}", err.body_text()),
                );
            }
        };
        if field.name() != Some("file") {
            continue;
        }
        let mime = field.content_type().unwrap_or_default().to_owned();
        let rule = match UploadRule::for_mime(&mime) {
            Ok(rule) => rule,
            Err(err) => {
                return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE", err.to_string());
            }
        };
        let name = file_name(field.file_name());
        // What the workspace may still hold of uploads not sent yet bounds this one too.
        let quota = state.config.media.quota;
        let held = match attachments::unsent_bytes(state.db.conn(), viewer.workspace_id).await {
            Ok(held) => held,
            Err(err) => return api_error(&ApiError::from(err)),
        };
        let room = quota.saturating_sub(held);
        if room == 0 {
            return over_quota(quota);
        }
        let written = match state.blobs.write(field, rule.max_bytes.min(room)).await {
            Ok(written) => written,
            Err(WriteError::TooLarge { .. }) if room < rule.max_bytes => return over_quota(quota),
            Err(WriteError::TooLarge { .. }) => {
                let err = MediaError::TooLarge { kind: rule.kind.as_str(), limit: rule.max_bytes };
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Json(json!({ "error": err.to_string(), "code": "PAYLOAD_TOO_LARGE", "limit": rule.max_bytes })),
                )
                    .into_response();
            }
            Err(WriteError::Source(reason)) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BAD_USER_INPUT",
                    format!("the upload broke off: {reason}"),
                );
            }
            Err(WriteError::Store(err)) => {
                tracing::warn!(error = %err, "the blob store refused an upload");
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    "the blob store is unavailable",
                );
            }
        };
        let up = Uploaded {
            workspace_id: viewer.workspace_id,
            agent_id: viewer.agent_id,
            kind: rule.kind,
            mime_type: domain::media::essence(&mime),
            file_name: name,
            size_bytes: written.size,
            sha256: hex::encode(written.sha256),
            blob_key: written.key.clone(),
        };
        let workspace = viewer.workspace_id;
        let recorded = state
            .db
            .write(async |txn| {
                // Checked again where uploads are recorded: two at once do not both take the room.
                let held = attachments::unsent_bytes(txn, workspace).await?;
                if held.saturating_add(written.size) > quota {
                    return Ok(None);
                }
                attachments::insert_uploaded(txn, up, Utc::now()).await.map(Some)
            })
            .await;
        return match recorded {
            Ok(None) => {
                if let Err(cleanup) = state.blobs.delete(&written.key).await {
                    tracing::warn!(error = %cleanup, "could not delete an upload over the quota");
                }
                over_quota(quota)
            }
            Ok(Some(saved)) => (
                StatusCode::CREATED,
                Json(json!({
                    "id": saved.id,
                    "kind": saved.kind,
                    "mimeType": saved.mime_type,
                    "sizeBytes": saved.size_bytes,
                    "sha256": saved.sha256,
                })),
            )
                .into_response(),
            Err(err) => {
                if let Err(cleanup) = state.blobs.delete(&written.key).await {
                    tracing::warn!(error = %cleanup, "could not delete an upload that was not recorded");
                }
                api_error(&ApiError::from(err))
            }
        };
    }
}

/// `413`: the workspace holds its quota of uploads not sent yet.
fn over_quota(quota: u64) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(json!({
            "error": format!(
                "the workspace's uploads not sent yet would exceed PARLEY_MEDIA_QUOTA ({quota} bytes); send or wait for older uploads to expire (24 hours)"
            ),
            "code": "PAYLOAD_TOO_LARGE",
            "limit": quota,
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> Result<Option<Range<u64>>, ()> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        requested_range(&headers, size)
    }

    #[test]
    fn byte_ranges_are_read_as_http_says() {
        assert_eq!(range("bytes=0-99", 1000), Ok(Some(0..100)));
        assert_eq!(range("bytes=900-", 1000), Ok(Some(900..1000)));
        assert_eq!(range("bytes=-100", 1000), Ok(Some(900..1000)));
        assert_eq!(range("bytes=990-2000", 1000), Ok(Some(990..1000)));
        assert_eq!(range("bytes=0-1,5-9", 1000), Ok(None), "several ranges: the whole file");
        assert_eq!(range("items=0-1", 1000), Ok(None));
        assert_eq!(range("bytes=1000-", 1000), Err(()));
        assert_eq!(range("bytes=5-2", 1000), Err(()));
        assert_eq!(range("bytes=abc", 1000), Err(()));
    }

    #[test]
    fn uploaded_names_lose_their_paths() {
        assert_eq!(file_name(Some("C:\\\\Users\\\\a\\\\receipt.pdf")).as_deref(), Some("receipt.pdf"));
        assert_eq!(file_name(Some("../../etc/passwd")).as_deref(), Some("passwd"));
        assert_eq!(file_name(Some("  ")), None);
        assert_eq!(file_name(None), None);
    }
}
