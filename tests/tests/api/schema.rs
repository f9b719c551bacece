//! The committed `schema.graphql` is the schema the code builds and the schema the server
//! serves (graphql-js compares them), and it is documented.

use serde_json::{Value, json};

use crate::helpers::{Backend, spawn};

#[test]
fn the_committed_schema_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let current = api::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &current).expect("write schema.graphql");
        return;
    }
    assert!(
        committed == current,
        "schema.graphql is out of date: regenerate it with `cargo run -p api --bin parley -- schema > schema.graphql` \
         (or `UPDATE_SCHEMA=1 cargo test -p tests --test api schema`) and commit it"
    );
}

#[tokio::test]
async fn every_type_field_and_value_is_documented() {
    let schema = api::graphql::schema_builder(&api::config::GraphqlConfig::default()).finish();
    let query = "{ __schema { types { name kind description fields { name description } \
                 inputFields { name description } enumValues { name description } } } }";
    let response = schema.execute(query).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    let scalars = ["String", "Int", "Float", "Boolean", "ID", "DateTime", "JSON"];
    let generated = |name: &str| name.ends_with("Connection") || name.ends_with("Edge") || name == "PageInfo";
    let mut missing = Vec::new();
    let described = |v: &Value| v["description"].as_str().is_some_and(|d| !d.trim().is_empty());
    for ty in data["__schema"]["types"].as_array().unwrap() {
        let name = ty["name"].as_str().unwrap();
        if name.starts_with("__") || scalars.contains(&name) {
            continue;
        }
        if !described(ty) && !generated(name) && name != "Query" && name != "Mutation" {
            missing.push(name.to_owned());
        }
        for list in ["fields", "inputFields", "enumValues"] {
            for member in ty[list].as_array().into_iter().flatten() {
                if !described(member) {
                    missing.push(format!("{name}.{}", member["name"].as_str().unwrap()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented in the schema: {missing:#?}");
}

/// graphql-js reads `schema.graphql` (`buildSchema`) and the live introspection
/// (`buildClientSchema`): no breaking or dangerous change either way, the same printed schema
/// with its descriptions, and the schema's own description.
#[tokio::test]
async fn the_committed_schema_is_the_served_schema_for_graphql_js() {
    let test = "the_committed_schema_is_the_served_schema_for_graphql_js";
    let Some(query) = crate::graphql_js::check(test, &["introspection-query"]) else { return };
    assert!(query.status.success(), "{}", String::from_utf8_lossy(&query.stderr));
    let query = String::from_utf8(query.stdout).unwrap();
    let Some(app) = spawn(Backend::Sqlite).await else { return };
    let t = app.tenant("Acme").await;
    let live = app.graphql(Some(&t.token), &query, json!({})).await;
    assert!(live.get("errors").is_none(), "{live}");
    let description = live["data"]["__schema"]["description"].as_str().unwrap();
    assert_eq!(description, api::graphql::introspection::DESCRIPTION);
    assert!(description.starts_with("Parley: a contact-center inbox"), "{description}");

    let introspection =
        std::env::temp_dir().join(format!("parley-introspection-{}.json", std::process::id()));
    std::fs::write(&introspection, live.to_string()).unwrap();
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let compared = crate::graphql_js::check(
        test,
        &["compare", schema.to_str().unwrap(), introspection.to_str().unwrap()],
    )
    .unwrap();
    let _ = std::fs::remove_file(&introspection);
    assert!(
        compared.status.success(),
        "schema.graphql is not the served schema:\n{}",
        String::from_utf8_lossy(&compared.stderr)
    );
}

/// Every event type is listed where a client looks: the README's table, the description of
/// every `types` argument and of `eventTypes`, and the error for an unknown name.
#[tokio::test]
async fn the_event_types_are_listed_where_a_client_looks() {
    use api::events::catalogue::{CATALOGUE, markdown_table};
    let readme_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (start, end) = (
        "<!-- event-types: generated from api/src/events/catalogue.rs; a test keeps it in step -->\n",
        "<!-- /event-types -->",
    );
    let (before, rest) = readme.split_once(start).expect("the README's event-types markers");
    let (_, after) = rest.split_once(end).expect("the README's closing event-types marker");
    let current = format!("{before}{start}{}{end}{after}", markdown_table());
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(&readme_path, &current).unwrap();
        return;
    }
    assert!(
        readme == current,
        "the README's event table is out of date: run `UPDATE_README=1 cargo test -p tests --test api event_types`"
    );

    let schema = api::graphql::schema_builder(&api::config::GraphqlConfig::default()).finish();
    let query = "{ __schema { queryType { fields { name args { name description } } } \
                 subscriptionType { fields { name args { name description } } } } \
                 __type(name: \"CreateWebhookEndpointInput\") { inputFields { name description } } }";
    let response = schema.execute(query).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    let events_types = |root: &str| -> String {
        let fields = data["__schema"][root]["fields"].as_array().unwrap();
        let events = fields.iter().find(|f| f["name"] == "events").unwrap();
        let types = events["args"].as_array().unwrap().iter().find(|a| a["name"] == "types").unwrap();
        types["description"].as_str().unwrap_or_default().to_owned()
    };
    let input = data["__type"]["inputFields"].as_array().unwrap();
    let event_types =
        input.iter().find(|f| f["name"] == "eventTypes").unwrap()["description"].as_str().unwrap().to_owned();
    for (place, text) in [
        ("Query.events(types)", events_types("queryType")),
        ("Subscription.events(types)", events_types("subscriptionType")),
        ("CreateWebhookEndpointInput.eventTypes", event_types),
    ] {
        for t in CATALOGUE {
            assert!(text.contains(&format!("`{}`", t.name)), "{place} does not list {}: {text}", t.name);
        }
    }

    let Some(app) = spawn(Backend::Sqlite).await else { return };
    let t = app.tenant("Acme").await;
    let refused = app
        .graphql(Some(&t.token), "{ events(types: [\"message.recieved\"]) { nodes { cursor } } }", json!({}))
        .await;
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
    for t in CATALOGUE {
        assert!(message.contains(t.name), "the error does not name {}: {message}", t.name);
    }
}

/// The desktop's GraphQL documents (`web/graphql`), each built with its fragments by the
/// desktop's own `web/js/documents.js`, are valid against `schema.graphql` for graphql-js:
/// the reference frontend cannot drift from the schema it is the worked example of.
#[test]
fn the_desktops_documents_are_valid_against_the_schema() {
    let test = "the_desktops_documents_are_valid_against_the_schema";
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let schema = root.join("schema.graphql");
    let web = root.join("web");
    let Some(out) =
        crate::graphql_js::check(test, &["documents", schema.to_str().unwrap(), web.to_str().unwrap()])
    else {
        return;
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("documents valid"));
}
