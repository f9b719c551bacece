//! The desktop's files over HTTP: served at `/` and `/desktop/…` with the strict
//! Content-Security-Policy of PRODUCT.md section 14, also in production mode; nothing else of
//! the disk is reachable through them.

use crate::helpers::*;

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).header("host", "127.0.0.1:8080").send().await.unwrap()
}

async fn the_desktop_is_served_with_a_strict_policy(app: TestApp) {
    let page = get(&app, "/").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.starts_with("default-src 'self'; img-src 'self' blob:;")
            && csp.contains("connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080;")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "no unsafe-inline or unsafe-eval: {csp}");
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    // Every script is a module file of the desktop's own: no inline script, nothing from elsewhere.
    for script in html.split("<script").skip(1) {
        assert!(script.contains("src=\"/desktop/"), "{script}");
    }
    assert!(!html.contains("http://") && !html.contains("https://"), "no third-party origin");

    for (path, media_type) in [
        ("/desktop/app.css", "text/css; charset=utf-8"),
        ("/desktop/js/main.js", "text/javascript; charset=utf-8"),
        ("/desktop/graphql/Inbox.graphql", "application/graphql; charset=utf-8"),
        ("/favicon.ico", "image/svg+xml"),
    ] {
        let response = get(&app, path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], media_type, "{path}");
        assert!(response.headers().contains_key("content-security-policy"), "{path}");
    }
    for path in [
        "/desktop/../Cargo.toml",
        "/desktop/%2e%2e/Cargo.toml",
        "/desktop/index.html",
        "/desktop/nope.js",
        "/desktop/.hidden",
    ] {
        assert_eq!(get(&app, path).await.status(), 404, "{path}");
    }
}

on_both!(the_desktop_is_served_with_a_strict_policy);

/// Production mode turns off GraphiQL and introspection, not the desktop: it is only static
/// files, and it signs in like any other client.
#[tokio::test]
async fn production_mode_serves_the_desktop() {
    let Some(app) = spawn_with(Backend::Sqlite, |config| config.graphql.production = true).await else {
        return;
    };
    assert_eq!(get(&app, "/").await.status(), 200);
    assert_eq!(get(&app, "/desktop/js/live.js").await.status(), 200);
}
