//! Auto-link on an attested phone (PRODUCT.md section 15): with the workspace's opt-in, a phone
//! shared through the request button links the conversation to the one contact that has it;
//! nothing links without the opt-in, with no match or several, from a phone typed in a
//! message, or from a contact card shared any other way.

use chrono::Utc;
use domain::{ContactId, PhoneNumber};
use serde_json::{Value, json};

use crate::helpers::{Inbound, Tenant, TestApp, fixtures};

const BSUID: &str = "US.13491208655302741918";
const PHONE: &str = "16505551234";
const CONVERSATIONS: &str = "{ conversations { nodes { id contact { id } customer { phoneNumber } } } }";

/// A contact card from the customer, shared with `origin`.
fn card(t: &Tenant, origin: &str, wamid: &str) -> Value {
    let mut v = Inbound::hidden(BSUID, "@pablo", "Pablo").wamid(wamid).value(&t.number.phone_number_id);
    v["messages"][0]["type"] = json!("contacts");
    v["messages"][0]["contacts"] = json!([{ "origin": origin, "name": { "formatted_name": "Pablo" },
        "phones": [{ "phone": format!("+{PHONE}"), "wa_id": PHONE, "type": "CELL" }] }]);
    v["messages"][0].as_object_mut().unwrap().remove("text");
    fixtures::webhook(&t.number.waba_id, "messages", v)
}

/// A contact with the phone, as an import writes it (no identities).
async fn imported_contact(app: &TestApp, t: &Tenant, name: &str) -> ContactId {
    let id = ContactId::new();
    let phone = PhoneNumber::parse(&format!("+{PHONE}")).unwrap();
    let new = persistence::contacts::NewContact {
        id,
        workspace_id: t.workspace,
        name,
        email: None,
        phone: Some(&phone),
        created_by: None,
        external_id: None,
        attributes: None,
    };
    persistence::contacts::create(app.db.conn(), new, Utc::now()).await.unwrap();
    id
}

async fn opt_in(app: &TestApp, t: &Tenant) {
    let update = "mutation { updateWorkspaceSettings(input: { autoLinkAttestedPhone: true }) { autoLinkAttestedPhone } }";
    app.ok(&t.token, update, json!({})).await;
}

/// The only conversation, after the customer wrote and then sent `last`.
async fn after(app: &TestApp, t: &Tenant, last: &Value) -> Value {
    app.deliver(t, &[&Inbound::hidden(BSUID, "@pablo", "Pablo").wamid("wamid.FIRST")]).await;
    assert_eq!(app.post_webhook(last).await.0, 200);
    let data = app.ok(&t.token, CONVERSATIONS, json!({})).await;
    let nodes = data["conversations"]["nodes"].as_array().unwrap().clone();
    assert_eq!(nodes.len(), 1, "{data}");
    nodes[0].clone()
}

async fn one_matching_contact_is_linked_by_the_system(app: TestApp) {
    let t = app.tenant("Acme").await;
    opt_in(&app, &t).await;
    let create =
        "mutation { createContact(input: { name: \"Pablo\", phoneNumber: \"+16505551234\" }) { id } }";
    let contact = app.ok(&t.token, create, json!({})).await["createContact"]["id"].clone();
    let c = after(&app, &t, &card(&t, "contact_request", "wamid.CARD")).await;
    assert_eq!(c["customer"]["phoneNumber"], format!("+{PHONE}"));
    assert_eq!(c["contact"]["id"], contact, "{c}");

    let log =
        app.ok(&t.token, "{ auditLog(first: 20) { action agentId subjectId details } }", json!({})).await;
    let linked: Vec<&Value> =
        log["auditLog"].as_array().unwrap().iter().filter(|e| e["action"] == "conversation.linked").collect();
    assert_eq!(linked.len(), 1, "{log}");
    assert_eq!(linked[0]["agentId"], Value::Null, "the system links, not an agent");
    assert_eq!(linked[0]["subjectId"], c["id"]);
    assert_eq!(linked[0]["details"]["automatic"], true);
    assert_eq!(linked[0]["details"]["contactId"], contact);
    let events = app
        .ok(
            &t.token,
            r#"{ events(types: ["conversation.linked"]) { nodes { contactId payload } } }"#,
            json!({}),
        )
        .await;
    let nodes = events["events"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{events}");
    assert_eq!(nodes[0]["contactId"], contact);
    assert_eq!(nodes[0]["payload"]["data"]["automatic"], true);
    assert_eq!(nodes[0]["payload"]["data"]["contact"]["contactId"], contact);
    // The contact now owns the customer's BSUID: their next thread suggests it.
    let owners = persistence::contacts::owners_of(
        app.db.conn(),
        t.workspace,
        &[(domain::IdentityKind::Bsuid, BSUID.to_owned())],
    )
    .await
    .unwrap();
    assert_eq!(owners.len(), 1);
}

async fn without_the_opt_in_nothing_is_linked(app: TestApp) {
    let t = app.tenant("Acme").await;
    imported_contact(&app, &t, "Pablo").await;
    let c = after(&app, &t, &card(&t, "contact_request", "wamid.CARD")).await;
    assert_eq!(c["customer"]["phoneNumber"], format!("+{PHONE}"), "the phone is still recorded");
    assert_eq!(c["contact"], Value::Null);
}

async fn no_contact_or_several_with_the_phone_link_nothing(app: TestApp) {
    let t = app.tenant("Acme").await;
    opt_in(&app, &t).await;
    let c = after(&app, &t, &card(&t, "contact_request", "wamid.CARD")).await;
    assert_eq!(c["contact"], Value::Null, "no contact has the phone");

    let other = app.tenant("Other").await;
    opt_in(&app, &other).await;
    imported_contact(&app, &other, "Pablo").await;
    imported_contact(&app, &other, "Pablo (work)").await;
    let c = after(&app, &other, &card(&other, "contact_request", "wamid.CARD2")).await;
    assert_eq!(c["contact"], Value::Null, "two contacts have the phone");
}

async fn a_typed_phone_or_a_card_shared_by_hand_links_nothing(app: TestApp) {
    let t = app.tenant("Acme").await;
    opt_in(&app, &t).await;
    imported_contact(&app, &t, "Pablo").await;
    let typed =
        Inbound::hidden(BSUID, "@pablo", "Pablo").wamid("wamid.TYPED").text("my number is +1 650 555 1234");
    let typed = fixtures::webhook(&t.number.waba_id, "messages", typed.value(&t.number.phone_number_id));
    let c = after(&app, &t, &typed).await;
    assert_eq!((c["contact"].clone(), c["customer"]["phoneNumber"].clone()), (Value::Null, Value::Null));
    assert_eq!(app.post_webhook(&card(&t, "forwarded", "wamid.BYHAND")).await.0, 200);
    let data = app.ok(&t.token, CONVERSATIONS, json!({})).await;
    let c = &data["conversations"]["nodes"][0];
    assert_eq!((c["contact"].clone(), c["customer"]["phoneNumber"].clone()), (Value::Null, Value::Null));
}

on_both!(
    one_matching_contact_is_linked_by_the_system,
    without_the_opt_in_nothing_is_linked,
    no_contact_or_several_with_the_phone_link_nothing,
    a_typed_phone_or_a_card_shared_by_hand_links_nothing,
);
