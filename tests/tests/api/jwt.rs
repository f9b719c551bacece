//! Tokens crafted by an attacker, one per classic JWT attack, against servers configured with
//! an issuer and audience, or with an outside identity provider's RSA public key. Each test
//! first shows that a correct token of the same shape *is* accepted, so a refusal proves the
//! one thing that differs.

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{Backend, Tenant, TestApp, error_code, spawn_with};

const ME: &str = "{ me { id } }";
const ISSUER: &str = "https://id.acme.example.com";
const AUDIENCE: &str = "parley";
const RSA_PRIVATE: &str = include_str!("../../data/jwt/test-rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("../../data/jwt/test-rsa-public.pem");

fn claims(t: &Tenant) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "sub": t.admin.to_string(),
        "ws": t.workspace.to_string(),
        "iat": now,
        "exp": now + 600,
        "iss": ISSUER,
        "aud": AUDIENCE,
    })
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().map(|c| c.remove(key));
    claims
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn hs256(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn rs256(claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).unwrap()
}

async fn assert_refused(app: &TestApp, case: &str, token: &str) {
    let (status, body) = app.graphql_status(Some(token), ME, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{case}: {body}");
    assert_eq!(status, 401, "{case}");
    assert!(body["data"].is_null(), "{case}: no data");
}

async fn assert_accepted(app: &TestApp, case: &str, token: &str) {
    let body = app.graphql(Some(token), ME, json!({})).await;
    assert!(body.get("errors").is_none(), "{case}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_secret_tokens_need_expiry_issuer_and_audience() {
    let app = spawn_with(Backend::Sqlite, |config| {
        config.jwt.issuer = Some(ISSUER.to_owned());
        config.jwt.audience = Some(AUDIENCE.to_owned());
    })
    .await
    .unwrap();
    let t = app.tenant("Acme").await;
    let secret = crate::helpers::JWT_SECRET.as_bytes();
    assert_accepted(&app, "well-formed", &hs256(secret, &claims(&t))).await;
    assert_accepted(&app, "issued by the server", &t.token).await;

    let cases = [
        ("missing exp", hs256(secret, &without(claims(&t), "exp"))),
        ("missing iss", hs256(secret, &without(claims(&t), "iss"))),
        ("missing aud", hs256(secret, &without(claims(&t), "aud"))),
        ("missing sub", hs256(secret, &without(claims(&t), "sub"))),
        ("missing ws", hs256(secret, &without(claims(&t), "ws"))),
        ("wrong iss", hs256(secret, &with(claims(&t), "iss", json!("https://evil.example.com")))),
        ("wrong aud", hs256(secret, &with(claims(&t), "aud", json!("another-app")))),
        ("expired", hs256(secret, &with(claims(&t), "exp", json!(Utc::now().timestamp() - 3600)))),
        ("exp as text", hs256(secret, &with(claims(&t), "exp", json!("never")))),
        ("sub not an id", hs256(secret, &with(claims(&t), "sub", json!("admin")))),
        ("other secret", hs256(b"another-secret-another-secret-another-sec", &claims(&t))),
        ("RS256 while HS256 is configured", rs256(&claims(&t))),
    ];
    for (case, token) in &cases {
        assert_refused(&app, case, token).await;
    }

    // A valid token whose payload is swapped for another agent's, keeping the signature.
    let mut parts: Vec<String> = hs256(secret, &claims(&t)).split('.').map(str::to_owned).collect();
    let other = app.tenant("Other").await;
    let forged = serde_json::to_vec(&claims(&other)).unwrap();
    parts[1] = base64_url(&forged);
    assert_refused(&app, "tampered payload", &parts.join(".")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_key_tokens_refuse_algorithm_confusion() {
    let app = spawn_with(Backend::Sqlite, |config| {
        config.jwt.public_key_pem = Some(RSA_PUBLIC.to_owned());
        config.jwt.issuer = Some(ISSUER.to_owned());
        config.jwt.audience = Some(AUDIENCE.to_owned());
    })
    .await
    .unwrap();
    let t = app.tenant("Acme").await;
    assert_accepted(&app, "signed by the identity provider", &rs256(&claims(&t))).await;

    let cases = [
        // The classic confusion: HS256 keyed with the (public) RSA key's PEM text.
        ("HS256 keyed with the public key", hs256(RSA_PUBLIC.as_bytes(), &claims(&t))),
        ("HS256 keyed with the server's secret", hs256(crate::helpers::JWT_SECRET.as_bytes(), &claims(&t))),
        ("RS256 without exp", rs256(&without(claims(&t), "exp"))),
        ("RS256 for another audience", rs256(&with(claims(&t), "aud", json!("another-app")))),
        ("RS256 from another issuer", rs256(&with(claims(&t), "iss", json!("https://evil.example.com")))),
    ];
    for (case, token) in &cases {
        assert_refused(&app, case, token).await;
    }
    let header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
    let body = base64_url(claims(&t).to_string().as_bytes());
    assert_refused(&app, "alg none", &format!("{header}.{body}.")).await;
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
