//! Templates from Meta (PRODUCT.md section 19): the WABA's templates synced page by page with
//! the number's token, submitted for review, updated by Meta's webhooks, and sent only when
//! approved.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tests::fixtures::{
    Inbound, meta_template, template_category_update, template_quality_update, template_status_update,
    webhook,
};

use crate::helpers::{Backend, FAKE_TOKEN, TEMPLATES_PER_PAGE, error_code};
use crate::lifecycle::life;

const SYNC: &str = "mutation($n: ID!) { syncTemplates(businessNumberId: $n) { id name language category status \
    qualityScore rejectedReason body parameterCount wabaId businessNumber { id } } }";
const CREATE: &str = "mutation($i: CreateTemplateInput!) { createTemplate(input: $i) { id name status qualityScore \
    wabaId businessNumber { id } } }";
const PICKER: &str = "query($c: ID!) { conversation(id: $c) { capabilities { templates { template { id name } \
    category allowed reason reasonCode } } } }";
const SEND: &str = "mutation($c: ID!, $t: ID!, $p: [String!]) { sendTemplate(conversationId: $c, templateId: $t, parameters: $p) { id templateName } }";

fn waba_catalog() -> Vec<Value> {
    vec![
        meta_template(
            "601",
            "spring_sale",
            "MARKETING",
            "APPROVED",
            "GREEN",
            "Hi {{1}}, our sale starts today.",
        ),
        meta_template("602", "winter_clearance", "MARKETING", "PAUSED", "RED", "Last days, {{1}}."),
        meta_template("603", "promo_x", "MARKETING", "REJECTED", "UNKNOWN", "Buy now"),
        meta_template("604", "delivery_survey", "UTILITY", "PENDING", "UNKNOWN", "How was order {{1}}?"),
        meta_template("605", "login_code", "AUTHENTICATION", "APPROVED", "GREEN", "{{1}} is your code."),
    ]
}

fn by_name<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

/// Syncing reads every page of the WABA's list with the number's token (in the header only),
/// stores each template with Meta's status, quality, category and rejection, and disables a
/// template Meta no longer lists (`template.updated` from its status before).
async fn templates_sync_from_meta_page_by_page_with_the_numbers_token(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let waba = l.t.number.waba_id.clone();
    l.fake.host_templates(&waba, waba_catalog());
    let number = json!({ "n": l.t.number.id.to_string() });
    let synced = l.app.ok(&l.t.token, SYNC, number.clone()).await["syncTemplates"].clone();
    assert_eq!(synced.as_array().unwrap().len(), 5, "{synced}");
    let paused = by_name(&synced, "winter_clearance");
    assert_eq!((paused["status"].as_str(), paused["qualityScore"].as_str()), (Some("PAUSED"), Some("RED")));
    assert_eq!(paused["body"], "Last days, {{1}}.");
    assert_eq!(paused["parameterCount"], 1);
    assert_eq!(paused["wabaId"], waba.as_str());
    assert_eq!(paused["businessNumber"]["id"], l.t.number.id.to_string());
    assert_eq!(by_name(&synced, "promo_x")["rejectedReason"], "INVALID_FORMAT");
    assert_eq!(by_name(&synced, "delivery_survey")["status"], "PENDING");
    assert_eq!(by_name(&synced, "login_code")["category"], "AUTHENTICATION");

    let pages: Vec<_> =
        l.fake.requests().into_iter().filter(|r| r.path == format!("/{waba}/message_templates")).collect();
    assert_eq!(pages.len(), 5_usize.div_ceil(TEMPLATES_PER_PAGE), "paged through paging.next: {pages:?}");
    assert!(pages.iter().all(|r| r.authorization.as_deref() == Some(&format!("Bearer {FAKE_TOKEN}"))));
    assert!(l.fake.requests().iter().all(|r| !r.path.contains(FAKE_TOKEN) && !r.body.contains(FAKE_TOKEN)));
    // The workspace's own template (typed in, no number) stays, approved.
    let all =
        l.app.ok(&l.t.token, "{ templates { name status wabaId } }", json!({})).await["templates"].clone();
    assert_eq!(all.as_array().unwrap().len(), 6, "{all}");
    assert_eq!(by_name(&all, "order_update")["status"], "APPROVED");
    assert!(by_name(&all, "order_update")["wabaId"].is_null());

    // Meta approves the survey and no longer lists the paused one.
    let mut catalog = waba_catalog();
    catalog.remove(1);
    catalog[2]["status"] = json!("APPROVED");
    l.fake.host_templates(&waba, catalog);
    let again = l.app.ok(&l.t.token, SYNC, number.clone()).await["syncTemplates"].clone();
    assert_eq!(by_name(&again, "winter_clearance")["status"], "DISABLED");
    assert_eq!(by_name(&again, "delivery_survey")["status"], "APPROVED");
    assert_eq!(again.as_array().unwrap().len(), 5, "kept, disabled: {again}");
    let events = r#"{ events(types: ["template.updated"]) { nodes { payload } } }"#;
    let data = l.app.ok(&l.t.token, events, json!({})).await["events"]["nodes"].clone();
    let changes: Vec<(String, String, String)> = data
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let d = &e["payload"]["data"];
            let s = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
            (s("name"), s("previousStatus"), s("status"))
        })
        .collect();
    assert!(
        changes.contains(&("winter_clearance".into(), "PAUSED".into(), "DISABLED".into())),
        "{changes:?}"
    );
    assert!(
        changes.contains(&("delivery_survey".into(), "PENDING".into(), "APPROVED".into())),
        "{changes:?}"
    );
    assert_eq!(changes.len(), 2, "a sync that changes nothing else writes nothing else: {changes:?}");
    let audit = l.app.ok(&l.t.token, "{ auditLog(first: 20) { action } }", json!({})).await.to_string();
    assert!(audit.contains("templates.synced"), "{audit}");

    // Agents read templates but cannot sync; Meta's refusal of the token is the number's to fix.
    let (_, agent) = l.app.agent(&l.t, "AGENT").await;
    assert_eq!(error_code(&l.app.graphql(Some(&agent), SYNC, number.clone()).await), "FORBIDDEN");
    l.fake.own_number("another-token", "109000000001", &waba);
    let body = l.app.graphql(Some(&l.t.token), SYNC, number).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "Meta refuses a token without the WABA: {body}");
    assert_eq!(body["errors"][0]["extensions"]["whatsappCode"], 200, "{body}");
}

/// Only an approved template is sent; the picker says why each other one is not; Meta's three
/// template webhooks move a template's status, quality and category (`template.updated`); a
/// webhook about a template Parley does not hold is kept as a dead letter.
async fn only_approved_templates_are_sent_and_metas_webhooks_move_them(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let waba = l.t.number.waba_id.clone();
    l.fake.host_templates(&waba, waba_catalog());
    let synced =
        l.app.ok(&l.t.token, SYNC, json!({ "n": l.t.number.id.to_string() })).await["syncTemplates"].clone();
    let id_of = |name: &str| by_name(&synced, name)["id"].as_str().unwrap().to_owned();
    let c = l.app.receive(&l.t, &Inbound::with_phone("16505550101", "US.101", "Ana")).await;

    let picker = l.app.ok(&l.t.token, PICKER, json!({ "c": c.to_string() })).await;
    let entries = picker["conversation"]["capabilities"]["templates"].as_array().unwrap().clone();
    let categories: Vec<&Value> = entries.iter().filter(|e| e["template"].is_null()).collect();
    assert_eq!(categories.len(), 3, "one per category first");
    assert!(categories.iter().all(|e| e["allowed"] == true), "{categories:?}");
    let of = |name: &str| {
        entries
            .iter()
            .find(|e| e["template"]["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {entries:?}"))
            .clone()
    };
    assert_eq!(of("spring_sale")["allowed"], true);
    let paused = of("winter_clearance");
    assert_eq!(paused["allowed"], false);
    assert_eq!(paused["reason"], "This template is not approved by WhatsApp (PAUSED).");
    assert_eq!(paused["reasonCode"], "TEMPLATE_NOT_APPROVED");
    assert_eq!(of("delivery_survey")["reason"], "This template is not approved by WhatsApp (PENDING).");
    assert_eq!(of("promo_x")["reason"], "This template is not approved by WhatsApp (REJECTED).");
    assert_eq!(of("order_update")["allowed"], true, "the workspace's own template");

    let send = |template: String| json!({ "c": c.to_string(), "t": template, "p": ["Ana"] });
    let body = l.app.graphql(Some(&l.t.token), SEND, send(id_of("winter_clearance"))).await;
    assert_eq!(error_code(&body), "CAPABILITY_DENIED", "{body}");
    assert_eq!(body["errors"][0]["message"], "This template is not approved by WhatsApp (PAUSED).");
    assert_eq!(body["errors"][0]["extensions"]["reasonCode"], "TEMPLATE_NOT_APPROVED", "{body}");
    let sent = l.app.ok(&l.t.token, SEND, send(id_of("spring_sale"))).await;
    assert_eq!(sent["sendTemplate"]["templateName"], "spring_sale");

    // Meta un-pauses it, rates it yellow and moves it to UTILITY: three webhooks.
    for (field, value) in [
        (
            "message_template_status_update",
            template_status_update("602", "winter_clearance", "APPROVED", "NONE"),
        ),
        (
            "message_template_quality_update",
            template_quality_update("602", "winter_clearance", "RED", "YELLOW"),
        ),
        (
            "template_category_update",
            template_category_update("602", "winter_clearance", "MARKETING", "UTILITY"),
        ),
    ] {
        let (status, summary) = l.app.post_webhook(&webhook(&waba, field, value)).await;
        assert_eq!(status, 200, "{summary}");
    }
    let all = l.app.ok(&l.t.token, "{ templates { name status qualityScore category } }", json!({})).await;
    let winter = by_name(&all["templates"], "winter_clearance").clone();
    assert_eq!(
        winter,
        json!({ "name": "winter_clearance", "status": "APPROVED", "qualityScore": "YELLOW", "category": "UTILITY" })
    );
    let sent = l.app.ok(&l.t.token, SEND, send(id_of("winter_clearance"))).await;
    assert_eq!(sent["sendTemplate"]["templateName"], "winter_clearance");
    // A rejection keeps Meta's reason; a replay changes nothing.
    let reject = webhook(
        &waba,
        "message_template_status_update",
        template_status_update("604", "delivery_survey", "REJECTED", "INCORRECT_CATEGORY"),
    );
    l.app.post_webhook(&reject).await;
    l.app.post_webhook(&reject).await;
    let all = l.app.ok(&l.t.token, "{ templates { name status rejectedReason } }", json!({})).await;
    assert_eq!(by_name(&all["templates"], "delivery_survey")["rejectedReason"], "INCORRECT_CATEGORY");
    let events = r#"{ events(types: ["template.updated"]) { nodes { payload } } }"#;
    let nodes = l.app.ok(&l.t.token, events, json!({})).await["events"]["nodes"].clone();
    assert_eq!(nodes.as_array().unwrap().len(), 4, "one per change, none for the replay: {nodes}");
    let last = &nodes[3]["payload"]["data"];
    assert_eq!(
        (last["status"].as_str(), last["rejectedReason"].as_str()),
        (Some("REJECTED"), Some("INCORRECT_CATEGORY"))
    );

    // A template Parley does not hold: a dead letter of the WABA's workspace.
    let unknown = webhook(
        &waba,
        "message_template_status_update",
        template_status_update("999", "nobody", "APPROVED", "NONE"),
    );
    l.app.post_webhook(&unknown).await;
    let letters = l.app.ok(&l.t.token, "{ deadLetters { reason } }", json!({})).await.to_string();
    assert!(letters.contains("update for an unknown template"), "{letters}");
    // One without a status, quality or category cannot be read.
    let unreadable = webhook(
        &waba,
        "message_template_status_update",
        json!({ "message_template_id": 602, "event": "SOMETHING" }),
    );
    l.app.post_webhook(&unreadable).await;
    let letters = l.app.ok(&l.t.token, "{ deadLetters { reason } }", json!({})).await.to_string();
    assert!(letters.contains("unknown template status"), "{letters}");

    // The conversation's number moves to another WABA: that WABA's Meta does not know the
    // template, so the send is refused and nothing is stored.
    let moved = format!("UPDATE business_numbers SET waba_id = 'another-waba' WHERE waba_id = '{waba}'");
    assert_eq!(l.app.db.conn().execute_unprepared(&moved).await.unwrap().rows_affected(), 1);
    let body = l.app.graphql(Some(&l.t.token), SEND, send(id_of("winter_clearance"))).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("another WhatsApp Business Account"), "{body}");
    let history =
        "query($c: ID!) { conversation(id: $c) { messages(first: 50) { nodes { templateName } } } }";
    let names = l.app.ok(&l.t.token, history, json!({ "c": c.to_string() })).await.to_string();
    assert_eq!(names.matches("winter_clearance").count(), 1, "the refused send stored nothing: {names}");
}

/// `createTemplate` with a number submits the template to the number's WABA (Meta's shape,
/// an example for each parameter, the number's token) and stores it `PENDING`; Meta's refusal
/// is the API's error and nothing is stored; without a number it is the workspace's own.
async fn created_templates_are_submitted_to_meta_and_wait_for_review(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let waba = l.t.number.waba_id.clone();
    let input = |name: &str| {
        json!({ "i": { "name": name, "language": "en_US", "category": "UTILITY",
            "body": "Your order {{1}} arrives {{2}}.", "businessNumberId": l.t.number.id.to_string() } })
    };
    let created = l.app.ok(&l.t.token, CREATE, input("order_eta")).await["createTemplate"].clone();
    assert_eq!(created["status"], "PENDING");
    assert_eq!(created["wabaId"], waba.as_str());
    let posts: Vec<_> = l
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == format!("/{waba}/message_templates"))
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].authorization.as_deref(), Some(&*format!("Bearer {FAKE_TOKEN}")));
    let submitted = posts[0].json();
    assert_eq!(submitted["components"][0]["type"], "BODY");
    assert_eq!(submitted["components"][0]["example"]["body_text"][0].as_array().unwrap().len(), 2);
    assert_eq!(l.fake.hosted_templates(&waba).len(), 1, "Meta holds it for review");
    let events = r#"{ events(types: ["template.updated"]) { nodes { payload } } }"#;
    let nodes = l.app.ok(&l.t.token, events, json!({})).await["events"]["nodes"].clone();
    assert_eq!(nodes[0]["payload"]["data"]["status"], "PENDING", "{nodes}");

    // The same name and language again: CONFLICT, nothing submitted.
    assert_eq!(error_code(&l.app.graphql(Some(&l.t.token), CREATE, input("order_eta")).await), "CONFLICT");
    // Meta refuses it: its code, nothing stored.
    let before = l.app.count("templates").await;
    let body = l.app.graphql(Some(&l.t.token), CREATE, input("bad_name")).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["whatsappCode"], 100, "{body}");
    assert_eq!(l.app.count("templates").await, before);
    // Invalid fields never reach Meta.
    let posted = l.fake.requests().len();
    assert_eq!(
        error_code(&l.app.graphql(Some(&l.t.token), CREATE, input("Bad Name")).await),
        "BAD_USER_INPUT"
    );
    assert_eq!(l.fake.requests().len(), posted);
    // A pending template cannot be sent yet; Meta's approval (a webhook) makes it sendable.
    let c = l.app.receive(&l.t, &Inbound::with_phone("16505550102", "US.102", "Bo")).await;
    let send = json!({ "c": c.to_string(), "t": created["id"], "p": ["A-1", "today"] });
    assert_eq!(error_code(&l.app.graphql(Some(&l.t.token), SEND, send.clone()).await), "CAPABILITY_DENIED");
    let meta_id = l.fake.hosted_templates(&waba)[0]["id"].as_str().unwrap().to_owned();
    let approve = template_status_update(&meta_id, "order_eta", "APPROVED", "NONE");
    l.app.post_webhook(&webhook(&waba, "message_template_status_update", approve)).await;
    l.app.ok(&l.t.token, SEND, send).await;
    // Agents cannot create templates.
    let (_, agent) = l.app.agent(&l.t, "AGENT").await;
    assert_eq!(error_code(&l.app.graphql(Some(&agent), CREATE, input("order_eta_2")).await), "FORBIDDEN");
}

on_both_backends!(
    templates_sync_from_meta_page_by_page_with_the_numbers_token,
    only_approved_templates_are_sent_and_metas_webhooks_move_them,
    created_templates_are_submitted_to_meta_and_wait_for_review,
);
