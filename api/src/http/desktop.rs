//! The reference agent desktop: the files of `web/` (HTML, CSS, JavaScript modules and the
//! GraphQL documents they send), embedded in the binary at build time and served at `/` and
//! `/desktop/…` with a strict Content-Security-Policy: no inline script, nothing from another
//! origin, and sockets only to this host. They are static files, so production mode serves
//! them too; the page signs in with a token like any other client of the API.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

/// The files of `web/`.
#[derive(RustEmbed)]
#[folder = "../web"]
struct Web;

/// The media type of a file of `web/`, by its extension.
fn media_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("graphql") => "application/graphql; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// The policy of every desktop response. Sockets may only open to the host the page came
/// from: `connect-src 'self'` alone does not cover `ws:` in every browser.
fn content_security_policy(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)));
    let sockets = host.map(|h| format!(" ws://{h} wss://{h}")).unwrap_or_default();
    format!(
        "default-src 'self'; img-src 'self' blob:; media-src 'self' blob:; connect-src 'self'{sockets}; \
         object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Web::get(path) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let csp = content_security_policy(headers);
    let mut response = file.data.into_owned().into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type(path)));
    if let Ok(value) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The page is small and changes with the binary: always revalidated, never stale.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /`: the desktop.
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /favicon.ico`: the desktop's icon (a browser asks for it by that name).
pub async fn icon(headers: HeaderMap) -> Response {
    serve("icon.svg", &headers)
}

/// `GET /desktop/{*path}`: the desktop's styles, scripts, documents and icon.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    if path == "index.html" || path.split('/').any(|part| part.is_empty() || part.starts_with('.')) {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    }
    serve(&path, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_media_type_and_the_page_its_scripts() {
        let names: Vec<String> = Web::iter().map(|name| name.into_owned()).collect();
        assert!(names.iter().any(|n| n == "index.html"), "{names:?}");
        for name in &names {
            assert_ne!(media_type(name), "application/octet-stream", "{name}");
        }
        let page = String::from_utf8(Web::get("index.html").map(|f| f.data.into_owned()).unwrap_or_default())
            .unwrap_or_default();
        assert!(!page.contains("<script>") && !page.contains(" style="), "no inline script or style");
    }

    #[test]
    fn the_policy_names_only_this_host_for_sockets() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        let csp = content_security_policy(&headers);
        assert!(csp.contains("connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080;"), "{csp}");
        headers.insert(header::HOST, HeaderValue::from_static("evil; script-src *"));
        let csp = content_security_policy(&headers);
        assert!(csp.contains("connect-src 'self';"), "{csp}");
    }
}
