//! Query limits: depth, complexity (alias overloading), pages of pages priced before any SQL
//! runs, batching, content types, production mode.

use serde_json::{Value, json};

use crate::helpers::{Inbound, TestApp, error_code, spawn_with};

/// graphql-js' `getIntrospectionQuery()` (what GraphiQL and most clients send).
const INTROSPECTION: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } \
    subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } } \
    fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description \
    args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } \
    interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } \
    possibleTypes { ...TypeRef } } \
    fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue } \
    fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name \
    ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

async fn deep_wide_batched_and_form_requests_are_refused(app: TestApp) {
    let t = app.tenant("Acme").await;
    // Circular nesting beyond the depth limit.
    let mut deep = String::from("id");
    for _ in 0..14 {
        deep = format!("previousConversation {{ {deep} }}");
    }
    let body = app
        .graphql(Some(&t.token), &format!("{{ conversations {{ nodes {{ {deep} }} }} }}"), json!({}))
        .await;
    assert!(
        body["errors"][0]["message"].as_str().unwrap().to_lowercase().contains("nested too deep"),
        "{body}"
    );
    // Alias overloading.
    let aliases: String = (0..3000).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let body = app.graphql(Some(&t.token), &format!("{{ {aliases} }}"), json!({})).await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("3000 aliases"), "{body}");
    // Alias overloading within the complexity limit is still bounded by the alias limit.
    let aliases: String = (0..101).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let body = app.graphql(Some(&t.token), &format!("{{ {aliases} }}"), json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("101 aliases; at most 100"), "{body}");
    assert!(body["data"].is_null(), "nothing ran: {body}");
    let aliases: String = (0..100).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let body = app.graphql(Some(&t.token), &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(body["data"]["a99"]["id"], t.admin.to_string(), "100 aliases are allowed: {body}");
    // Directive overloading: many directives on one field.
    let directives = "@include(if: true) ".repeat(50);
    let body = app.graphql(Some(&t.token), &format!("{{ me {directives} {{ id }} }}"), json!({})).await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("directives"), "{body}");
    assert!(body["data"].is_null(), "{body}");
    // Circular introspection (types → fields → type → fields …) hits the depth limit.
    let mut circular = String::from("name");
    for _ in 0..8 {
        circular = format!("fields {{ type {{ {circular} }} }}");
    }
    let body =
        app.graphql(Some(&t.token), &format!("{{ __schema {{ types {{ {circular} }} }} }}"), json!({})).await;
    assert!(
        body["errors"][0]["message"].as_str().unwrap().to_lowercase().contains("nested too deep"),
        "{body}"
    );
    // The standard introspection query (what GraphiQL sends) fits within the limits.
    let body = app.graphql(Some(&t.token), INTROSPECTION, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["__schema"]["types"].as_array().is_some_and(|t| t.len() > 30), "{body}");
    // No tracing or debug output travels with responses.
    let body = app.graphql(Some(&t.token), "{ me { id } }", json!({})).await;
    assert!(body.get("extensions").is_none(), "{body}");
    // Array batching is not accepted.
    let batch = json!([{ "query": "{ me { id } }" }, { "query": "{ me { id } }" }]);
    let r = app.client.post(app.url("/graphql")).bearer_auth(&t.token).json(&batch).send().await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    // Form-encoded and text/plain POSTs (what a cross-site form can send) run nothing.
    for content_type in ["application/x-www-form-urlencoded", "text/plain"] {
        let r = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&t.token)
            .header("content-type", content_type)
            .body(r#"{"query":"mutation { resolveConversation(conversationId: \"x\") { id } }"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 415, "{content_type}");
    }
    // GET never executes an operation (405; GraphiQL is for a browser asking for a page).
    let r = app.client.get(app.url("/graphql?query=mutation%7BcreateAgent%7D")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert!(!r.text().await.unwrap().contains("\"data\""));
    // Out-of-range Int literals are validation errors, not server errors.
    let body = app
        .graphql(Some(&t.token), "{ conversations(first: 99999999999) { nodes { id } } }", json!({}))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(body["errors"][0].get("path").is_none(), "refused before execution: {body}");
    assert!(body["data"].is_null(), "{body}");
    // Errors async-graphql raises itself carry a code too: a bad argument value…
    let body =
        app.graphql(Some(&t.token), "{ conversations(first: \"ten\") { nodes { id } } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{body}");
    let body = app
        .graphql(
            Some(&t.token),
            "query($n: Int) { conversations(first: $n) { nodes { id } } }",
            json!({ "n": 1e12 }),
        )
        .await;
    let code = &body["errors"][0]["extensions"]["code"];
    assert!(code == "BAD_USER_INPUT" || code == "GRAPHQL_VALIDATION_FAILED", "{body}");
    // …and a syntax error.
    let body = app.graphql(Some(&t.token), "{ conversations(", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{body}");
}

async fn production_mode_hides_the_schema(app: TestApp) {
    let t = app.tenant("Acme").await;
    let body = app.graphql(Some(&t.token), "{ __schema { types { name } } }", json!({})).await;
    assert!(body["data"]["__schema"].is_null() || body["errors"].is_array(), "introspection is off: {body}");
    assert!(!body.to_string().contains("Conversation"), "{body}");
    let body = app.graphql(Some(&t.token), "{ conversatons { nodes { id } } }", json!({})).await;
    assert!(!body.to_string().contains("Did you mean"), "no field suggestions: {body}");
    let r = app.client.get(app.url("/graphql")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404, "no GraphiQL");
    let body = app.graphql(Some(&t.token), "{ me { role } }", json!({})).await;
    assert_eq!(body["data"]["me"]["role"], "ADMIN", "operations still run");
    let _ = error_code;
}

on_both!(deep_wide_batched_and_form_requests_are_refused);

/// `GET /graphql` serves GraphiQL to a browser only; a client sending an operation over GET
/// (a query string, or JSON accepted) gets `405` with `Allow: POST` and a JSON error.
async fn get_graphql_is_graphiql_for_a_browser_and_405_for_a_client(app: TestApp) {
    let browser = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(browser.status().as_u16(), 200);
    assert!(browser.text().await.unwrap().to_lowercase().contains("graphiql"));
    for (path, accept) in [
        ("/graphql?query=%7B__typename%7D", "application/json"),
        ("/graphql?query=%7B__typename%7D", "text/html"),
        ("/graphql", "application/graphql-response+json"),
    ] {
        let r = app.client.get(app.url(path)).header("accept", accept).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 405, "{path} {accept}");
        assert_eq!(r.headers()["allow"], "POST");
        let body: Value = r.json().await.unwrap();
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("POST"), "{body}");
    }
}

on_both!(get_graphql_is_graphiql_for_a_browser_and_405_for_a_client);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_limit_is_configurable() {
    let app = spawn_with(crate::helpers::Backend::Sqlite, |config| {
        config.graphql.max_depth = 3;
        config.graphql.max_complexity = 40;
        config.graphql.max_aliases = 10_000;
        config.graphql.max_directives = 1;
    })
    .await
    .unwrap();
    let t = app.tenant("Acme").await;
    let message =
        |body: &serde_json::Value| body["errors"][0]["message"].as_str().unwrap_or_default().to_owned();
    let aliases: String = (0..60).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let body = app.graphql(Some(&t.token), &format!("{{ {aliases} }}"), json!({})).await;
    assert!(message(&body).to_lowercase().contains("complex"), "complexity 120 > 40: {body}");
    let aliases: String = (0..15).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let body = app.graphql(Some(&t.token), &format!("{{ {aliases} }}"), json!({})).await;
    assert!(body.get("errors").is_none(), "complexity 30 is allowed: {body}");
    let body = app
        .graphql(Some(&t.token), "{ conversations(first: 1) { nodes { customer { username } } } }", json!({}))
        .await;
    assert!(message(&body).to_lowercase().contains("nested too deep"), "depth 4 > 3: {body}");
    let body =
        app.graphql(Some(&t.token), "{ me @include(if: true) @skip(if: false) { id } }", json!({})).await;
    assert!(message(&body).contains("directives"), "2 directives > 1: {body}");
    let body = app.graphql(Some(&t.token), "{ me @include(if: true) { id } }", json!({})).await;
    assert_eq!(body["data"]["me"]["id"], t.admin.to_string(), "{body}");
}

mod production_mode_hides_the_schema {
    async fn app(backend: crate::helpers::Backend) -> Option<crate::helpers::TestApp> {
        super::spawn_with(backend, |config| config.graphql.production = true).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::production_mode_hides_the_schema(app(crate::helpers::Backend::Sqlite).await.expect("app"))
            .await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        match app(crate::helpers::Backend::Postgres).await {
            Some(a) => super::production_mode_hides_the_schema(a).await,
            None => crate::helpers::postgres_skipped(module_path!()),
        }
    }
}

/// What the reference desktop's inbox asks for: 50 open conversations with everything a row
/// shows. It must stay within the default complexity limit.
pub const DESKTOP_INBOX: &str = "query Inbox($after: String) {
  conversations(first: 50, after: $after, filter: { status: OPEN }) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id channel status origin displayName createdAt updatedAt lastInboundAt lastActivityAt serviceWindowEndsAt
      businessNumber { id displayPhoneNumber username }
      customer { phoneNumber bsuid parentBsuid username profileName phoneHidden notice }
      contact { id name phoneNumber }
      assignee { id name }
      previousConversation { id }
      suggestedContact { id name }
      lastMessage { id direction kind text status createdAt }
      capabilities {
        reply { allowed reason } call { allowed reason } switchToSms { allowed reason }
        requestPhoneNumber { allowed reason } templates { category allowed reason }
      }
    }
  }
}";

/// A nested page of pages, and 99 aliased pages inside a page: each would fetch about a million
/// rows with ten thousand statements if run.
fn costly_queries() -> Vec<String> {
    let nested =
        "{ conversations(first: 100) { nodes { contact { conversations(first: 100) { nodes { id } } } } } }"
            .to_owned();
    let aliased: String =
        (0..99).map(|i| format!("m{i}: messages(first: 100) {{ nodes {{ id text }} }} ")).collect();
    vec![nested, format!("{{ conversations(first: 100) {{ nodes {{ {aliased} }} }} }}")]
}

async fn a_page_of_pages_is_refused_before_any_sql_runs(app: TestApp) {
    let t = app.tenant("Acme").await;
    for i in 0..3 {
        app.receive(&t, &Inbound::hidden(&format!("US.{i}"), &format!("@c{i}"), "C")).await;
    }
    let before = app.db.statement_count();
    app.ok(&t.token, "{ __typename }", json!({})).await;
    let authentication = app.db.statement_count() - before;
    for query in costly_queries() {
        let before = app.db.statement_count();
        let body = app.graphql(Some(&t.token), &query, json!({})).await;
        let spent = app.db.statement_count() - before;
        assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("complex"), "{body}");
        assert_eq!(spent, authentication, "nothing but the token check ran");
    }
    let inbox = app.ok(&t.token, DESKTOP_INBOX, json!({})).await;
    assert_eq!(inbox["conversations"]["nodes"].as_array().unwrap().len(), 3);

    let long = "a".repeat(201);
    for (query, variables) in [
        (
            "query($s: String) { conversations(filter: { search: $s }) { nodes { id } } }",
            json!({ "s": long }),
        ),
        ("query($s: String) { contacts(search: $s) { nodes { id } } }", json!({ "s": long })),
    ] {
        let body = app.graphql(Some(&t.token), query, variables).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    }
    let ok = app
        .graphql(
            Some(&t.token),
            "query($s: String) { contacts(search: $s) { nodes { id } } }",
            json!({ "s": "a".repeat(200) }),
        )
        .await;
    assert!(ok.get("errors").is_none(), "{ok}");
}

on_both!(a_page_of_pages_is_refused_before_any_sql_runs,);
