//! Business usernames: every format rule, comparison, 147001 vs 147005, force transfer,
//! replace, delete, suggestions, and the cloud mode against the local fake Cloud API.

use serde_json::{Value, json};

use crate::helpers::{Backend, FakeProvider, Tenant, TestApp, error_code, fixtures, spawn_with};

const SET: &str = "mutation($n: ID!, $u: String!, $t: TransferAction) { setBusinessUsername(businessNumberId: $n, username: $u, transferAction: $t) { username status } }";
const DELETE: &str =
    "mutation($n: ID!) { deleteBusinessUsername(businessNumberId: $n) { username usernameStatus } }";
const NUMBERS: &str = "{ businessNumbers { id username usernameStatus } }";
const SUGGEST: &str = "query($n: ID!) { businessUsernameSuggestions(businessNumberId: $n) }";

fn set(t: &Tenant, username: &str, transfer: Option<&str>) -> Value {
    json!({ "n": t.number.id.to_string(), "u": username, "t": transfer })
}

fn whatsapp_code(body: &Value) -> i64 {
    body["errors"][0]["extensions"]["whatsappCode"]
        .as_i64()
        .unwrap_or_else(|| panic!("no whatsappCode in {body}"))
}

/// A second number in the same workspace and portfolio as `t`.
async fn sibling(app: &TestApp, t: &Tenant, phone_number_id: &str, display: &str) -> Tenant {
    let new = persistence::business_numbers::NewBusinessNumber {
        id: domain::BusinessNumberId::new(),
        workspace_id: t.workspace,
        phone_number_id,
        display_phone_number: &domain::PhoneNumber::parse(display).unwrap(),
        waba_id: &t.number.waba_id,
        portfolio_id: &t.number.portfolio_id,
        business_name: Some("Jasper's Market"),
        channel: domain::Channel::Whatsapp,
        access_token: None,
        sms_account: None,
        operator_connected: true,
    };
    let number = persistence::business_numbers::create(app.db.conn(), new, chrono::Utc::now()).await.unwrap();
    Tenant { number, ..t.clone() }
}

async fn format_rules_are_checked_with_code_100(app: TestApp) {
    let t = app.tenant("Acme").await;
    for (username, rule) in [
        ("ab", "3 to 35 characters"),
        ("jaspers-market", "English letters, digits, periods and underscores"),
        ("señor_taco", "English letters, digits, periods and underscores"),
        ("123_456", "at least one English letter"),
        (".jaspers", "start or end with a period"),
        ("jaspers..market", "two consecutive periods"),
        ("wwwjaspers", "start with www"),
        ("jaspers.com", "domain suffix"),
        ("@jaspers", "English letters, digits, periods and underscores"),
    ] {
        let body = app.graphql(Some(&t.token), SET, set(&t, username, None)).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{username}");
        assert_eq!(whatsapp_code(&body), 100, "{username}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(rule), "{username}: {body}");
    }
    let data = app.ok(&t.token, SET, set(&t, "Jaspers.Market_2", None)).await;
    assert_eq!(data["setBusinessUsername"], json!({ "username": "Jaspers.Market_2", "status": "RESERVED" }));
    app.ok(&t.token, "mutation { setBusinessUsernamesLive(live: true) }", json!({})).await;
    let data = app.ok(&t.token, SET, set(&t, "jaspers_market", None)).await;
    assert_eq!(
        data["setBusinessUsername"],
        json!({ "username": "jaspers_market", "status": "APPROVED" }),
        "replaces the old one"
    );
    let numbers = app.ok(&t.token, NUMBERS, json!({})).await;
    assert_eq!(numbers["businessNumbers"][0]["username"], "jaspers_market");
}

async fn uniqueness_ignores_case_but_not_periods_and_underscores(app: TestApp) {
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await; // another workspace and portfolio
    app.ok(&a.token, SET, set(&a, "Acme.Support", None)).await;
    let body = app.graphql(Some(&b.token), SET, set(&b, "acme.SUPPORT", None)).await;
    assert_eq!((error_code(&body), whatsapp_code(&body)), ("CONFLICT", 147001));
    let body = app.graphql(Some(&b.token), SET, set(&b, "acme.support", Some("FORCE_TRANSFER"))).await;
    assert_eq!(whatsapp_code(&body), 147001, "force transfer does not cross portfolios");
    app.ok(&b.token, SET, set(&b, "acme_support", None)).await;
    app.ok(&b.token, SET, set(&b, "acmesupport", None)).await;
    let numbers = app.ok(&a.token, NUMBERS, json!({})).await;
    assert_eq!(numbers["businessNumbers"][0]["username"], "Acme.Support", "the holder kept it");
}

async fn a_username_moves_within_a_portfolio_only_with_force_transfer(app: TestApp) {
    let a = app.tenant("Acme").await;
    let b = sibling(&app, &a, "222333444555", "+15550002222").await;
    app.ok(&a.token, SET, set(&a, "acme", None)).await;
    let body = app.graphql(Some(&a.token), SET, set(&b, "ACME", None)).await;
    assert_eq!((error_code(&body), whatsapp_code(&body)), ("CONFLICT", 147005));
    let before = app.count("events").await;
    let data = app.ok(&a.token, SET, set(&b, "acme", Some("FORCE_TRANSFER"))).await;
    assert_eq!(data["setBusinessUsername"]["username"], "acme");
    assert_eq!(app.count("events").await, before + 2, "both numbers' changes are events");
    let numbers = app.ok(&a.token, NUMBERS, json!({})).await;
    let by_id = |id: domain::BusinessNumberId| {
        numbers["businessNumbers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(by_id(a.number.id)["username"], Value::Null);
    assert_eq!(by_id(b.number.id)["username"], "acme");

    let data = app.ok(&a.token, DELETE, json!({ "n": b.number.id.to_string() })).await;
    assert_eq!(data["deleteBusinessUsername"], json!({ "username": null, "usernameStatus": null }));
    app.ok(&a.token, SET, set(&a, "acme", None)).await; // free again

    let suggestions = app.ok(&a.token, SUGGEST, json!({ "n": b.number.id.to_string() })).await;
    let list: Vec<String> =
        serde_json::from_value(suggestions["businessUsernameSuggestions"].clone()).unwrap();
    assert!(!list.is_empty());
    for s in &list {
        assert!(domain::BusinessUsername::parse(s).is_ok(), "{s}");
        let body = app.graphql(Some(&a.token), SET, set(&b, s, None)).await;
        assert!(body.get("errors").is_none(), "suggestion {s} is available: {body}");
        app.ok(&a.token, DELETE, json!({ "n": b.number.id.to_string() })).await;
    }

    let agent = "mutation($i: CreateAgentInput!) { createAgent(input: $i) { id } }";
    let created = app
        .ok(
            &a.token,
            agent,
            json!({ "i": { "email": "ag@acme.example.com", "name": "Ag", "role": "AGENT" } }),
        )
        .await;
    let token = app.token_for(created["createAgent"]["id"].as_str().unwrap().parse().unwrap(), a.workspace);
    assert_eq!(error_code(&app.graphql(Some(&token), SET, set(&a, "acme.two", None)).await), "FORBIDDEN");
}

async fn cloud_mode_calls_meta_and_maps_its_errors(app_and_fake: (TestApp, FakeProvider)) {
    let (app, fake) = app_and_fake;
    let t = app.tenant("Acme").await;
    fake.answer(&[(200, json!({ "status": "approved" }))]);
    let data = app.ok(&t.token, SET, set(&t, "kapso_support", Some("FORCE_TRANSFER"))).await;
    assert_eq!(data["setBusinessUsername"], json!({ "username": "kapso_support", "status": "APPROVED" }));
    let request = fake.requests().pop().unwrap();
    assert_eq!(
        (request.method.as_str(), request.path.clone()),
        ("POST", format!("/{}/username", t.number.phone_number_id))
    );
    assert_eq!(request.json(), json!({ "username": "kapso_support", "transfer_action": "force_transfer" }));
    assert_eq!(request.authorization.as_deref(), Some("Bearer test-access-token"));

    for (code, gql) in [
        (10, "FORBIDDEN"),
        (33, "FORBIDDEN"),
        (100, "BAD_USER_INPUT"),
        (147001, "CONFLICT"),
        (147002, "FORBIDDEN"),
        (147003, "FORBIDDEN"),
        (147004, "FORBIDDEN"),
        (147005, "CONFLICT"),
        (133010, "FORBIDDEN"),
    ] {
        fake.answer(&[(400, json!({ "error": { "message": format!("Meta says {code}"), "type": "OAuthException", "code": code, "fbtrace_id": "X" } }))]);
        let body = app.graphql(Some(&t.token), SET, set(&t, "another_name", None)).await;
        assert_eq!((error_code(&body), whatsapp_code(&body)), (gql, code), "{body}");
        assert_eq!(body["errors"][0]["message"], format!("Meta says {code}"));
    }
    let numbers = app.ok(&t.token, NUMBERS, json!({})).await;
    assert_eq!(numbers["businessNumbers"][0]["username"], "kapso_support", "refused changes store nothing");

    fake.answer(&[(200, json!({ "data": [{ "username_suggestions": ["kapso.hq", "kapso_app"] }] }))]);
    let data = app.ok(&t.token, SUGGEST, json!({ "n": t.number.id.to_string() })).await;
    assert_eq!(data["businessUsernameSuggestions"], json!(["kapso.hq", "kapso_app"]));
    assert_eq!(fake.requests().pop().unwrap().method, "GET");

    fake.answer(&[(200, json!({ "success": true }))]);
    let data = app.ok(&t.token, DELETE, json!({ "n": t.number.id.to_string() })).await;
    assert_eq!(data["deleteBusinessUsername"]["username"], Value::Null);
    let request = fake.requests().pop().unwrap();
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("DELETE", format!("/{}/username", t.number.phone_number_id).as_str())
    );
}

async fn cloud(backend: Backend) -> Option<(TestApp, FakeProvider)> {
    let fake = FakeProvider::start().await;
    let url = fake.url.clone();
    let app = spawn_with(backend, move |config| {
        config.whatsapp.api_base = url;
        config.whatsapp.access_token = Some("test-access-token".to_owned().into());
    })
    .await?;
    Some((app, fake))
}

mod cloud_mode_calls_meta_and_maps_its_errors {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::cloud_mode_calls_meta_and_maps_its_errors(
            super::cloud(crate::helpers::Backend::Sqlite).await.expect("app"),
        )
        .await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        match super::cloud(crate::helpers::Backend::Postgres).await {
            Some(app) => super::cloud_mode_calls_meta_and_maps_its_errors(app).await,
            None => crate::helpers::postgres_skipped(module_path!()),
        }
    }
}

on_both!(
    format_rules_are_checked_with_code_100,
    uniqueness_ignores_case_but_not_periods_and_underscores,
    a_username_moves_within_a_portfolio_only_with_force_transfer,
);

fn username_update(waba: &str, username: &str, status: &str) -> Value {
    let value = fixtures::business_username_update(fixtures::DISPLAY_PHONE_NUMBER, username, status);
    fixtures::webhook(waba, "business_username_update", value)
}

async fn a_replayed_username_update_changes_nothing(app: TestApp) {
    let t = app.tenant("Acme").await;
    let approved = username_update(&t.number.waba_id, "jaspers.market", "approved");
    assert_eq!(app.post_webhook(&approved).await.1["usernames"], 1);
    let deleted = username_update(&t.number.waba_id, "jaspers.market", "deleted");
    assert_eq!(app.post_webhook(&deleted).await.1["usernames"], 1);
    let events = app.count("events").await;
    let (status, summary) = app.post_webhook(&approved).await;
    assert_eq!((status, summary["usernames"].as_i64(), summary["ignored"].as_i64()), (200, Some(0), Some(1)));
    let data = app.ok(&t.token, "{ businessNumbers { username usernameStatus } }", json!({})).await;
    assert_eq!(
        data["businessNumbers"][0],
        json!({ "username": null, "usernameStatus": null }),
        "the replay undid nothing"
    );
    assert_eq!(app.count("events").await, events);
}

async fn force_transfer_never_takes_a_username_from_another_workspace(app: TestApp) {
    let alpha = app.tenant("Alpha").await;
    let beta = app.tenant("Beta").await;
    // Beta's number claims Alpha's portfolio.
    let new = persistence::business_numbers::NewBusinessNumber {
        id: domain::BusinessNumberId::new(),
        workspace_id: beta.workspace,
        phone_number_id: "777000111222",
        display_phone_number: &domain::PhoneNumber::parse("+15550003333").unwrap(),
        waba_id: &alpha.number.waba_id,
        portfolio_id: &alpha.number.portfolio_id,
        business_name: None,
        channel: domain::Channel::Whatsapp,
        access_token: None,
        sms_account: None,
        operator_connected: true,
    };
    let claimed =
        persistence::business_numbers::create(app.db.conn(), new, chrono::Utc::now()).await.unwrap();
    let set = "mutation($n: ID!, $u: String!, $t: TransferAction) { setBusinessUsername(businessNumberId: $n, username: $u, transferAction: $t) { username } }";
    app.ok(&alpha.token, set, json!({ "n": alpha.number.id.to_string(), "u": "acme" })).await;
    let events = app.count("events").await;
    let body = app
        .graphql(
            Some(&beta.token),
            set,
            json!({ "n": claimed.id.to_string(), "u": "acme", "t": "FORCE_TRANSFER" }),
        )
        .await;
    assert_eq!(
        (error_code(&body), body["errors"][0]["extensions"]["whatsappCode"].as_i64()),
        ("CONFLICT", Some(147001))
    );
    assert_eq!(app.count("events").await, events, "nothing changed in either workspace");
    let numbers = app.ok(&alpha.token, "{ businessNumbers { username } }", json!({})).await;
    assert_eq!(numbers["businessNumbers"][0]["username"], "acme");
    let audit = app.ok(&beta.token, "{ auditLog { action subjectId details } }", json!({})).await;
    assert!(!audit.to_string().contains(&alpha.number.id.to_string()), "{audit}");
}

on_both!(
    a_replayed_username_update_changes_nothing,
    force_transfer_never_takes_a_username_from_another_workspace,
);
