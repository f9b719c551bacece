//! The committed `schema.graphql` is the schema the code builds, and it is documented.

use serde_json::Value;

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
