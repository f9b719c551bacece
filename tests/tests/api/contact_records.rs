//! Contacts as a CRM keeps them (PRODUCT.md section 13): created without a thread, updated,
//! upserted by `externalId` (also when calls race), merged and deleted, with `attributes`
//! bounded, events and audit entries, and nothing half-applied on bad input.

use serde_json::{Value, json};

use crate::helpers::{Inbound, Tenant, TestApp, error_code};

const CONTACT_FIELDS: &str = "id name email phoneNumber externalId attributes usernames bsuids conversations(first: 10) { nodes { id } }";

fn create_query() -> String {
    format!(
        "mutation($c: ID, $i: CreateContactInput!) {{ createContact(conversationId: $c, input: $i) {{ {CONTACT_FIELDS} }} }}"
    )
}
fn update_query() -> String {
    format!(
        "mutation($id: ID!, $i: UpdateContactInput!) {{ updateContact(id: $id, input: $i) {{ {CONTACT_FIELDS} }} }}"
    )
}
fn upsert_query() -> String {
    format!("mutation($i: UpsertContactInput!) {{ upsertContact(input: $i) {{ {CONTACT_FIELDS} }} }}")
}
fn get_query() -> String {
    format!("query($id: ID!) {{ contact(id: $id) {{ {CONTACT_FIELDS} }} }}")
}

async fn events(app: &TestApp, t: &Tenant, types: &[&str]) -> Vec<Value> {
    let query = "query($t: [String!]) { events(first: 100, types: $t) { nodes { type payload } } }";
    app.ok(&t.token, query, json!({ "t": types })).await["events"]["nodes"].as_array().unwrap().clone()
}

async fn audit_actions(app: &TestApp, t: &Tenant) -> Vec<String> {
    let log = app.ok(&t.token, "{ auditLog(first: 100) { action } }", json!({})).await;
    log["auditLog"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

async fn a_crm_creates_updates_and_upserts_contacts_without_a_thread(app: TestApp) {
    let t = app.tenant("Acme").await;
    let (_, crm) = app.agent(&t, "INTEGRATION").await;
    let input = json!({ "name": "Ada Lovelace", "email": "ada@example.com", "phoneNumber": "+1 650 555 0001",
        "externalId": "crm-1", "attributes": { "tier": "gold", "ltv": 1200 } });
    let ada = app.ok(&crm, &create_query(), json!({ "c": null, "i": input })).await["createContact"].clone();
    assert_eq!(ada["phoneNumber"], "+16505550001");
    assert_eq!(ada["externalId"], "crm-1");
    assert_eq!(ada["attributes"], json!({ "tier": "gold", "ltv": 1200 }));
    assert_eq!(ada["conversations"]["nodes"], json!([]));
    let id = ada["id"].as_str().unwrap().to_owned();

    // The external id and the phone are the contact's: another contact cannot take them.
    let contacts = app.count("contacts").await;
    let same_id = json!({ "c": null, "i": { "name": "Other", "externalId": "crm-1" } });
    assert_eq!(error_code(&app.graphql(Some(&crm), &create_query(), same_id).await), "CONFLICT");
    let same_phone = json!({ "c": null, "i": { "name": "Other", "phoneNumber": "+16505550001" } });
    assert_eq!(error_code(&app.graphql(Some(&crm), &create_query(), same_phone).await), "CONFLICT");
    assert_eq!(app.count("contacts").await, contacts, "nothing half-applied");

    // Attributes are a bounded JSON object.
    let many: serde_json::Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
    let big = json!({ "notes": "x".repeat(16 * 1024) });
    let nul = json!({ "note": "a\u{0}b" });
    for attributes in [Value::Object(many), big, json!(["not", "an", "object"]), json!("text"), nul] {
        let body = app
            .graphql(Some(&crm), &update_query(), json!({ "id": id, "i": { "attributes": attributes } }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    }
    let body = app.graphql(Some(&crm), &update_query(), json!({ "id": id, "i": { "name": " " } })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let body = app.graphql(Some(&crm), &update_query(), json!({ "id": id, "i": { "email": "nope" } })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");

    // An update changes what is given, clears what is null, keeps what is absent.
    let change = json!({ "id": id, "i": { "email": null, "phoneNumber": "+16505550002", "attributes": { "tier": "platinum" } } });
    let updated = app.ok(&crm, &update_query(), change).await["updateContact"].clone();
    assert_eq!(updated["name"], "Ada Lovelace");
    assert!(updated["email"].is_null());
    assert_eq!(updated["phoneNumber"], "+16505550002");
    assert_eq!(updated["attributes"], json!({ "tier": "platinum" }));
    // The old phone is free again, the new one is taken.
    let free = json!({ "c": null, "i": { "name": "Bob", "phoneNumber": "+16505550001" } });
    app.ok(&crm, &create_query(), free).await;
    let taken = json!({ "id": id, "i": { "phoneNumber": "+16505550001" } });
    assert_eq!(error_code(&app.graphql(Some(&crm), &update_query(), taken).await), "CONFLICT");
    // The same values again change nothing and write no event.
    let before = events(&app, &t, &["contact.updated"]).await.len();
    let again =
        json!({ "id": id, "i": { "phoneNumber": "+16505550002", "attributes": { "tier": "platinum" } } });
    app.ok(&crm, &update_query(), again).await;
    assert_eq!(events(&app, &t, &["contact.updated"]).await.len(), before);

    // Upsert: the existing record by its external id, then a new one; the same call twice is one change.
    let upsert = json!({ "i": { "externalId": "crm-1", "email": "ada@lovelace.org" } });
    let same = app.ok(&crm, &upsert_query(), upsert.clone()).await["upsertContact"].clone();
    assert_eq!((same["id"].as_str(), same["email"].as_str()), (Some(id.as_str()), Some("ada@lovelace.org")));
    app.ok(&crm, &upsert_query(), upsert).await;
    let new =
        json!({ "i": { "externalId": "crm-2", "name": "Grace Hopper", "attributes": { "tier": "silver" } } });
    let grace = app.ok(&crm, &upsert_query(), new.clone()).await["upsertContact"].clone();
    assert_ne!(grace["id"], ada["id"]);
    assert_eq!(app.ok(&crm, &upsert_query(), new).await["upsertContact"]["id"], grace["id"]);
    let nameless = json!({ "i": { "externalId": "crm-3", "email": "x@example.com" } });
    assert_eq!(error_code(&app.graphql(Some(&crm), &upsert_query(), nameless).await), "BAD_USER_INPUT");
    let blank = json!({ "i": { "externalId": " ", "name": "X" } });
    assert_eq!(error_code(&app.graphql(Some(&crm), &upsert_query(), blank).await), "BAD_USER_INPUT");

    let created = events(&app, &t, &["contact.created"]).await;
    assert_eq!(created.len(), 3, "Ada, Bob, Grace");
    assert_eq!(created[0]["payload"]["data"]["externalId"], "crm-1");
    let updates = events(&app, &t, &["contact.updated"]).await;
    assert_eq!(updates.len(), 2, "one update, one upsert; repeats wrote nothing: {updates:?}");
    let actions = audit_actions(&app, &t).await;
    assert_eq!(actions.iter().filter(|a| *a == "contact.created").count(), 3);
    assert_eq!(actions.iter().filter(|a| *a == "contact.updated").count(), 2);

    // Other workspaces cannot see or change it.
    let other = app.tenant("Other").await;
    let body =
        app.graphql(Some(&other.token), &update_query(), json!({ "id": id, "i": { "name": "X" } })).await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let theirs = json!({ "i": { "externalId": "crm-1", "name": "Their Ada" } });
    let theirs = app.ok(&other.token, &upsert_query(), theirs).await["upsertContact"].clone();
    assert_ne!(theirs["id"], ada["id"], "external ids are per workspace");
}

async fn concurrent_upserts_with_one_external_id_make_one_contact(app: TestApp) {
    let t = app.tenant("Acme").await;
    let (_, crm) = app.agent(&t, "INTEGRATION").await;
    let query = upsert_query();
    let calls = (0..8).map(|i| {
        let input =
            json!({ "i": { "externalId": "crm-race", "name": "Racer", "attributes": { "call": i } } });
        app.graphql(Some(&crm), &query, input)
    });
    let answers = futures::future::join_all(calls).await;
    let ids: std::collections::HashSet<String> = answers
        .iter()
        .map(|a| a["data"]["upsertContact"]["id"].as_str().unwrap_or_else(|| panic!("{a}")).to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(app.count("contacts").await, 1);
    assert_eq!(events(&app, &t, &["contact.created"]).await.len(), 1);
}

async fn merging_moves_threads_and_identities_and_the_primary_wins(app: TestApp) {
    let t = app.tenant("Acme").await;
    let first = app.receive(&t, &Inbound::hidden("US.401", "@ada", "Ada")).await.to_string();
    let second = app.receive(&t, &Inbound::with_phone("16505550401", "US.402", "Ada L")).await.to_string();
    let primary = json!({ "c": first, "i": { "name": "Ada", "email": "ada@example.com", "attributes": { "tier": "gold", "city": "London" } } });
    let primary =
        app.ok(&t.token, &create_query(), primary).await["createContact"]["id"].as_str().unwrap().to_owned();
    let secondary = json!({ "c": second, "i": { "name": "Ada L", "email": "other@example.com", "externalId": "crm-9",
        "attributes": { "tier": "silver", "vip": true } } });
    let secondary = app.ok(&t.token, &create_query(), secondary).await["createContact"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let merge = "mutation($p: ID!, $s: ID!) { mergeContacts(primaryId: $p, secondaryId: $s) { id name email phoneNumber externalId attributes usernames bsuids conversations(first: 10) { nodes { id } } } }";
    let (_, agent) = app.agent(&t, "AGENT").await;
    let body = app.graphql(Some(&agent), merge, json!({ "p": primary, "s": secondary })).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let body = app.graphql(Some(&t.token), merge, json!({ "p": primary, "s": primary })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let other = app.tenant("Other").await;
    let body = app.graphql(Some(&other.token), merge, json!({ "p": primary, "s": secondary })).await;
    assert_eq!(error_code(&body), "NOT_FOUND");

    let merged =
        app.ok(&t.token, merge, json!({ "p": primary, "s": secondary })).await["mergeContacts"].clone();
    assert_eq!(merged["id"], primary.as_str());
    assert_eq!(merged["name"], "Ada");
    assert_eq!(merged["email"], "ada@example.com", "the primary's set field wins");
    assert_eq!(merged["phoneNumber"], "+16505550401", "an unset one is filled");
    assert_eq!(merged["externalId"], "crm-9");
    assert_eq!(merged["attributes"], json!({ "tier": "gold", "city": "London", "vip": true }));
    let mut bsuids: Vec<&str> =
        merged["bsuids"].as_array().unwrap().iter().map(|b| b.as_str().unwrap()).collect();
    bsuids.sort_unstable();
    assert_eq!(bsuids, vec!["US.401", "US.402"]);
    assert_eq!(merged["usernames"], json!(["@ada"]));
    let mut threads: Vec<&str> = merged["conversations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    threads.sort_unstable();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort_unstable();
    assert_eq!(threads, expected);
    assert_eq!(
        error_code(&app.graphql(Some(&t.token), &get_query(), json!({ "id": secondary })).await),
        "NOT_FOUND"
    );
    let conversation = "query($c: ID!) { conversation(id: $c) { contact { id } } }";
    assert_eq!(
        app.ok(&t.token, conversation, json!({ "c": second })).await["conversation"]["contact"]["id"],
        primary.as_str()
    );

    let merged_events = events(&app, &t, &["contact.merged"]).await;
    assert_eq!(merged_events.len(), 1);
    assert_eq!(merged_events[0]["payload"]["data"]["mergedContactId"], secondary.as_str());
    assert!(audit_actions(&app, &t).await.contains(&"contact.merged".to_owned()));
}

async fn deleting_a_contact_unlinks_its_threads_and_their_capabilities_follow(app: TestApp) {
    let t = app.tenant("Acme").await;
    let c = app.receive(&t, &Inbound::hidden("US.501", "@bee", "Bee")).await.to_string();
    let input = json!({ "c": c, "i": { "name": "Bee", "phoneNumber": "+16505550501" } });
    let contact =
        app.ok(&t.token, &create_query(), input).await["createContact"]["id"].as_str().unwrap().to_owned();
    let call =
        "query($c: ID!) { conversation(id: $c) { contact { id } capabilities { call { allowed reason } } } }";
    let before = app.ok(&t.token, call, json!({ "c": c })).await["conversation"].clone();
    assert_eq!(
        before["capabilities"]["call"]["allowed"], true,
        "the contact's phone can be called: {before}"
    );

    let delete = "mutation($id: ID!) { deleteContact(id: $id) }";
    let (_, agent) = app.agent(&t, "AGENT").await;
    assert_eq!(error_code(&app.graphql(Some(&agent), delete, json!({ "id": contact })).await), "FORBIDDEN");
    let other = app.tenant("Other").await;
    assert_eq!(
        error_code(&app.graphql(Some(&other.token), delete, json!({ "id": contact })).await),
        "NOT_FOUND"
    );
    assert_eq!(app.ok(&t.token, delete, json!({ "id": contact })).await["deleteContact"], true);
    assert_eq!(error_code(&app.graphql(Some(&t.token), delete, json!({ "id": contact })).await), "NOT_FOUND");

    let after = app.ok(&t.token, call, json!({ "c": c })).await["conversation"].clone();
    assert!(after["contact"].is_null());
    assert_eq!(after["capabilities"]["call"]["allowed"], false, "{after}");
    assert_eq!(app.count("contact_identities").await, 0);
    let deleted = events(&app, &t, &["contact.deleted"]).await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["payload"]["data"]["conversationIds"], json!([c]));
    assert!(audit_actions(&app, &t).await.contains(&"contact.deleted".to_owned()));
    // The customer's identities are free for a new contact.
    let again = json!({ "c": c, "i": { "name": "Bee again", "phoneNumber": "+16505550501" } });
    app.ok(&t.token, &create_query(), again).await;
}

on_both!(
    a_crm_creates_updates_and_upserts_contacts_without_a_thread,
    concurrent_upserts_with_one_external_id_make_one_contact,
    merging_moves_threads_and_identities_and_the_primary_wins,
    deleting_a_contact_unlinks_its_threads_and_their_capabilities_follow,
);
