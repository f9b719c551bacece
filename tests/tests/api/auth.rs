//! Authentication and roles: every way a token can be wrong answers UNAUTHENTICATED, and the
//! role comes from the database on each request.

use std::time::Duration;

use api::auth::Authenticator;
use api::config::JwtConfig;
use chrono::Utc;
use domain::AgentId;
use serde_json::json;

use crate::helpers::{TestApp, error_code};

const ME: &str = "{ me { id name role } }";

async fn a_request_without_a_token_is_unauthenticated(app: TestApp) {
    let body = app.graphql(None, ME, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert!(body["data"].is_null());
}

async fn malformed_expired_and_foreign_tokens_are_refused(app: TestApp) {
    let t = app.tenant("Acme").await;
    let other_secret = JwtConfig {
        secret: "another-secret-another-secret-another-sec".to_owned().into(),
        public_key_pem: None,
        issuer: None,
        audience: None,
    };
    let forger = Authenticator::new(&other_secret).unwrap();
    let now = Utc::now();
    let cases = [
        ("garbage", "not-a-jwt".to_owned()),
        ("badly signed", forger.issue(t.admin, t.workspace, Duration::from_secs(600), now).unwrap()),
        (
            "expired",
            app.auth
                .issue(t.admin, t.workspace, Duration::from_secs(60), now - chrono::Duration::hours(3))
                .unwrap(),
        ),
        ("unknown agent", app.token_for(AgentId::new(), t.workspace)),
        ("wrong workspace", app.token_for(t.admin, domain::WorkspaceId::new())),
        (
            "issued in the future",
            app.auth
                .issue(t.admin, t.workspace, Duration::from_secs(600), now + chrono::Duration::hours(2))
                .unwrap(),
        ),
    ];
    for (case, token) in cases {
        let (status, body) = app.graphql_status(Some(&token), ME, json!({})).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{case}");
        assert_eq!(status, 401, "{case}");
    }
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("Authorization", format!("Basic {}", t.token))
        .json(&json!({ "query": ME }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401, "a non-Bearer scheme is refused");
}

async fn an_alg_none_token_is_refused(app: TestApp) {
    use base64::Engine;
    let t = app.tenant("Acme").await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let now = Utc::now().timestamp();
    let claims = b64.encode(
        json!({"sub": t.admin.to_string(), "ws": t.workspace.to_string(), "iat": now, "exp": now + 600})
            .to_string(),
    );
    let token = format!("{header}.{claims}.");
    let body = app.graphql(Some(&token), ME, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

async fn a_deactivated_agent_loses_access_at_once(app: TestApp) {
    let t = app.tenant("Acme").await;
    let data = app.ok(&t.token, ME, json!({})).await;
    assert_eq!(data["me"]["role"], "ADMIN");
    let change = persistence::agents::AgentChange { active: Some(false), ..Default::default() };
    assert!(
        app.db
            .write(
                async |txn| persistence::agents::update(txn, t.workspace, t.admin, change, Utc::now()).await
            )
            .await
            .unwrap()
    );
    let body = app.graphql(Some(&t.token), ME, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

async fn a_demoted_admin_loses_admin_rights_at_once(app: TestApp) {
    let t = app.tenant("Acme").await;
    let create = r#"mutation($input: CreateAgentInput!) { createAgent(input: $input) { id role } }"#;
    let input = json!({ "input": { "email": "ana@acme.example.com", "name": "Ana", "role": "AGENT" } });
    app.ok(&t.token, create, input).await;
    let change = persistence::agents::AgentChange { role: Some(domain::Role::Agent), ..Default::default() };
    assert!(
        app.db
            .write(
                async |txn| persistence::agents::update(txn, t.workspace, t.admin, change, Utc::now()).await
            )
            .await
            .unwrap()
    );
    let input = json!({ "input": { "email": "bo@acme.example.com", "name": "Bo", "role": "AGENT" } });
    let body = app.graphql(Some(&t.token), create, input).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let me = app.ok(&t.token, ME, json!({})).await;
    assert_eq!(me["me"]["role"], "AGENT");
}

async fn only_admins_and_integrations_read_the_event_history(app: TestApp) {
    let t = app.tenant("Acme").await;
    let create = r#"mutation($input: CreateAgentInput!) { createAgent(input: $input) { id } }"#;
    let mut tokens = Vec::new();
    for (email, role) in [("agent@acme.example.com", "AGENT"), ("crm@acme.example.com", "INTEGRATION")] {
        let data = app
            .ok(&t.token, create, json!({ "input": { "email": email, "name": role, "role": role } }))
            .await;
        let id: AgentId = data["createAgent"]["id"].as_str().unwrap().parse().unwrap();
        tokens.push((role, app.token_for(id, t.workspace)));
    }
    let events = "{ events(first: 5) { nodes { cursor type } } }";
    for (role, token) in &tokens {
        let body = app.graphql(Some(token), events, json!({})).await;
        match *role {
            "AGENT" => assert_eq!(error_code(&body), "FORBIDDEN"),
            _ => assert!(body.get("errors").is_none(), "{body}"),
        }
    }
    app.ok(&t.token, events, json!({})).await;
}

async fn health_and_readiness_answer(app: TestApp) {
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    assert!(text.contains(r#"parley_http_requests_total{route="/healthz",status="200"}"#), "{text}");
    assert!(text.contains("parley_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("parley_db_statements_total"), "{text}");
}

on_both!(
    a_request_without_a_token_is_unauthenticated,
    malformed_expired_and_foreign_tokens_are_refused,
    an_alg_none_token_is_refused,
    a_deactivated_agent_loses_access_at_once,
    a_demoted_admin_loses_admin_rights_at_once,
    only_admins_and_integrations_read_the_event_history,
    health_and_readiness_answer,
);
