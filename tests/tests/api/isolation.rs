//! Tenant isolation: an agent of workspace B never sees or touches workspace A's data, and
//! A's ids answer exactly like ids that do not exist.

use serde_json::{Value, json};

use crate::helpers::{Inbound, TestApp, error_code, fixtures};

async fn another_workspace_sees_nothing_by_list_id_or_search(app: TestApp) {
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await;
    let secret = app.receive(&a, &Inbound::hidden("US.42", "@alpha_customer", "Alpha Customer")).await;
    app.receive(&b, &Inbound::hidden("US.43", "@beta_customer", "Beta Customer")).await;

    let list = "{ conversations(first: 50) { nodes { id displayName } } }";
    let data = app.ok(&b.token, list, json!({})).await;
    let nodes = data["conversations"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["displayName"], "Beta Customer");

    let search = "query($s: String) { conversations(filter: { search: $s }) { nodes { id } } }";
    for s in ["@alpha", "Alpha", "alpha_customer"] {
        let data = app.ok(&b.token, search, json!({ "s": s })).await;
        assert!(data["conversations"]["nodes"].as_array().unwrap().is_empty(), "search {s}");
    }
    let contacts = "query($s: String) { contacts(search: $s) { nodes { id } } }";
    let data = app.ok(&b.token, contacts, json!({ "s": "alpha" })).await;
    assert!(data["contacts"]["nodes"].as_array().unwrap().is_empty());

    let missing = uuid::Uuid::now_v7().to_string();
    for id in [secret.to_string(), missing] {
        let by_id = "query($id: ID!) { conversation(id: $id) { id } }";
        let body = app.graphql(Some(&b.token), by_id, json!({ "id": id })).await;
        assert_eq!(error_code(&body), "NOT_FOUND");
        assert_eq!(body["errors"][0]["message"], "conversation not found", "same answer as a missing id");
        for mutation in [
            "mutation($id: ID!) { resolveConversation(conversationId: $id) { id } }",
            "mutation($id: ID!) { reopenConversation(conversationId: $id) { id } }",
            "mutation($id: ID!) { assignConversation(conversationId: $id) { id } }",
        ] {
            let body = app.graphql(Some(&b.token), mutation, json!({ "id": id })).await;
            assert_eq!(error_code(&body), "NOT_FOUND", "{mutation}");
        }
    }
    let by_contact = "query($id: ID!) { contact(id: $id) { id } }";
    let body = app.graphql(Some(&b.token), by_contact, json!({ "id": secret.to_string() })).await;
    assert_eq!(error_code(&body), "NOT_FOUND");

    // B cannot assign its conversation to an agent of A.
    let data = app.ok(&b.token, list, json!({})).await;
    let b_conversation = data["conversations"]["nodes"][0]["id"].clone();
    let assign =
        "mutation($id: ID!, $agent: ID) { assignConversation(conversationId: $id, agentId: $agent) { id } }";
    let body = app
        .graphql(Some(&b.token), assign, json!({ "id": b_conversation, "agent": a.admin.to_string() }))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");

    // A's conversation is untouched.
    let by_id = "query($id: ID!) { conversation(id: $id) { status assignee { id } } }";
    let data = app.ok(&a.token, by_id, json!({ "id": secret.to_string() })).await;
    assert_eq!(data["conversation"]["status"], "OPEN");

    // Events are per workspace.
    let events = "{ events(first: 100) { nodes { conversationId } } }";
    let data = app.ok(&b.token, events, json!({})).await;
    for event in data["events"]["nodes"].as_array().unwrap() {
        assert_ne!(event["conversationId"], secret.to_string());
    }
    let agents =
        app.ok(&b.token, "{ agents { id } businessNumbers { id } templates { id } }", json!({})).await;
    assert_eq!(agents["agents"].as_array().unwrap().len(), 1);
    assert_eq!(agents["businessNumbers"][0]["id"], b.number.id.to_string());
}

on_both!(another_workspace_sees_nothing_by_list_id_or_search);

/// The kinds of ids an operation takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Conversation,
    Contact,
    Template,
    Agent,
    Number,
    Endpoint,
    Delivery,
}

/// Every operation that takes an id, with its id arguments (`$a`, `$b`) in order.
const OPERATIONS: &[(&str, &[Kind])] = &[
    ("query($a: ID!) { conversation(id: $a) { id displayName } }", &[Kind::Conversation]),
    ("query($a: ID!) { contact(id: $a) { id name } }", &[Kind::Contact]),
    ("query($a: ID!) { businessUsernameSuggestions(businessNumberId: $a) }", &[Kind::Number]),
    (
        "mutation($a: ID!, $b: ID) { assignConversation(conversationId: $a, agentId: $b) { id } }",
        &[Kind::Conversation, Kind::Agent],
    ),
    ("mutation($a: ID!) { resolveConversation(conversationId: $a) { id } }", &[Kind::Conversation]),
    ("mutation($a: ID!) { reopenConversation(conversationId: $a) { id } }", &[Kind::Conversation]),
    ("mutation($a: ID!) { sendMessage(conversationId: $a, text: \"hi\") { id } }", &[Kind::Conversation]),
    (
        "mutation($a: ID!, $b: ID!) { sendTemplate(conversationId: $a, templateId: $b, parameters: [\"x\"]) { id } }",
        &[Kind::Conversation, Kind::Template],
    ),
    ("mutation($a: ID!) { requestPhoneNumber(conversationId: $a) { id } }", &[Kind::Conversation]),
    ("mutation($a: ID!) { startCall(conversationId: $a) { source } }", &[Kind::Conversation]),
    ("mutation($a: ID!) { switchChannel(conversationId: $a, channel: SMS) { id } }", &[Kind::Conversation]),
    (
        "mutation($a: ID!) { createContact(conversationId: $a, input: { name: \"Mallory\" }) { id } }",
        &[Kind::Conversation],
    ),
    (
        "mutation($a: ID!, $b: ID!) { linkToExisting(conversationId: $a, contactId: $b) { id } }",
        &[Kind::Conversation, Kind::Contact],
    ),
    ("mutation($a: ID!) { unlinkContact(conversationId: $a) { id } }", &[Kind::Conversation]),
    (
        "mutation($a: ID!) { setBusinessUsername(businessNumberId: $a, username: \"mallory.shop\", transferAction: FORCE_TRANSFER) { username } }",
        &[Kind::Number],
    ),
    ("mutation($a: ID!) { deleteBusinessUsername(businessNumberId: $a) { id } }", &[Kind::Number]),
    ("mutation($a: ID!) { deleteWebhookEndpoint(id: $a) }", &[Kind::Endpoint]),
    ("mutation($a: ID!) { resumeWebhookEndpoint(id: $a) { id } }", &[Kind::Endpoint]),
    ("mutation($a: ID!) { redeliverWebhook(deliveryId: $a) { id } }", &[Kind::Delivery]),
];

/// Where an id argument comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Own,
    Victim,
    Missing,
}

struct Ids {
    conversation: String,
    contact: String,
    template: String,
    agent: String,
    number: String,
    endpoint: String,
    delivery: Option<String>,
}

impl Ids {
    fn get(&self, kind: Kind) -> Option<String> {
        Some(match kind {
            Kind::Conversation => self.conversation.clone(),
            Kind::Contact => self.contact.clone(),
            Kind::Template => self.template.clone(),
            Kind::Agent => self.agent.clone(),
            Kind::Number => self.number.clone(),
            Kind::Endpoint => self.endpoint.clone(),
            Kind::Delivery => return self.delivery.clone(),
        })
    }

    fn all(&self) -> Vec<String> {
        let mut all = vec![
            self.conversation.clone(),
            self.contact.clone(),
            self.template.clone(),
            self.agent.clone(),
            self.number.clone(),
            self.endpoint.clone(),
        ];
        all.extend(self.delivery.clone());
        all
    }
}

/// Builds a workspace with one of everything an id can point at.
async fn populate(app: &TestApp, t: &crate::helpers::Tenant, bsuid: &str, username: &str) -> Ids {
    let endpoint = app
        .ok(
            &t.token,
            "mutation { createWebhookEndpoint(input: { url: \"https://crm.example.com/hook\", eventTypes: [] }) { endpoint { id } } }",
            json!({}),
        )
        .await["createWebhookEndpoint"]["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let conversation = app.receive(t, &Inbound::hidden(bsuid, username, "Customer")).await.to_string();
    let contact = app
        .ok(
            &t.token,
            "mutation($c: ID!) { createContact(conversationId: $c, input: { name: \"Customer\" }) { id } }",
            json!({ "c": conversation }),
        )
        .await["createContact"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let template = app
        .ok(
            &t.token,
            "mutation { createTemplate(input: { name: \"order_update\", language: \"en\", category: UTILITY, body: \"Order {{1}}\" }) { id } }",
            json!({}),
        )
        .await["createTemplate"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut delivery = None;
    for _ in 0..50 {
        let data = app.ok(&t.token, "{ webhookEndpoints { deliveries(first: 1) { id } } }", json!({})).await;
        if let Some(id) = data["webhookEndpoints"][0]["deliveries"][0]["id"].as_str() {
            delivery = Some(id.to_owned());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ids {
        conversation,
        contact,
        template,
        agent: t.admin.to_string(),
        number: t.number.id.to_string(),
        endpoint,
        delivery,
    }
}

/// What another workspace could observe of B: everything B's admin can list.
const VICTIM_VIEW: &str = "{ conversations(first: 50) { nodes { id status assignee { id } contact { id name } channel } } \
    contacts(first: 50) { nodes { id name } } templates { id } businessNumbers { id username usernameStatus } \
    webhookEndpoints { id pausedAt } events(first: 100) { nodes { cursor } } auditLog(first: 50) { action } }";

/// Two workspaces; the attacker (A) runs every operation that takes an id, many times, with
/// ids drawn at random from its own workspace, the victim's (B) and ids that exist nowhere.
/// Whenever a victim id is involved, the answer must be exactly the one the same call gets
/// with a missing id instead (so it reveals nothing, not even existence), it must be an error
/// and carry no data, and B must be unchanged at the end. A's lists never mention B's ids.
async fn a_randomized_attacker_learns_and_changes_nothing_in_another_workspace(app: TestApp) {
    use rand::{Rng, SeedableRng};
    let attacker = app.tenant("Alpha").await;
    let victim = app.tenant("Beta").await;
    let own = populate(&app, &attacker, "US.1000000000000000001", "@alpha_customer").await;
    let theirs = populate(&app, &victim, "US.1000000000000000002", "@beta_customer").await;
    assert!(theirs.delivery.is_some() && own.delivery.is_some(), "each workspace has a CRM delivery");
    let before = app.ok(&victim.token, VICTIM_VIEW, json!({})).await;

    let seed: u64 =
        std::env::var("PARLEY_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let missing = || uuid::Uuid::now_v7().to_string();
    let mut tried = 0;
    for round in 0..120 {
        let (operation, kinds) = OPERATIONS[rng.random_range(0..OPERATIONS.len())];
        let mut sources: Vec<Source> = kinds
            .iter()
            .map(|_| [Source::Own, Source::Victim, Source::Missing][rng.random_range(0..3)])
            .collect();
        if !sources.contains(&Source::Victim) {
            let slot = rng.random_range(0..sources.len());
            sources[slot] = Source::Victim;
        }
        let pick = |kind: Kind, source: Source, replace_victim: bool| match source {
            Source::Own => own.get(kind),
            Source::Victim if !replace_victim => theirs.get(kind),
            _ => Some(missing()),
        };
        let mut with_victim = json!({});
        let mut with_missing = json!({});
        let mut complete = true;
        for ((slot, kind), source) in ["a", "b"].iter().zip(kinds.iter()).zip(&sources) {
            let (Some(v), Some(m)) = (pick(*kind, *source, false), pick(*kind, *source, true)) else {
                complete = false;
                break;
            };
            with_victim[*slot] = json!(v);
            with_missing[*slot] = json!(if *source == Source::Victim { m } else { v });
        }
        if !complete {
            continue;
        }
        tried += 1;
        let context = format!("seed {seed}, round {round}: {operation} with {sources:?}");
        let (status_v, body_v) =
            app.graphql_status(Some(&attacker.token), operation, with_victim.clone()).await;
        let (status_m, body_m) =
            app.graphql_status(Some(&attacker.token), operation, with_missing.clone()).await;
        let scrub = |body: &Value, vars: &Value| {
            let mut text = body.to_string();
            for id in vars.as_object().unwrap().values() {
                text = text.replace(id.as_str().unwrap(), "<id>");
            }
            text
        };
        assert!(body_v["errors"].is_array(), "{context}: refused: {body_v}");
        assert!(
            body_v["data"].is_null()
                || body_v["data"].as_object().is_some_and(|d| d.values().all(Value::is_null)),
            "{context}: no data: {body_v}"
        );
        let code = body_v["errors"][0]["extensions"]["code"].as_str().unwrap_or_default().to_owned();
        assert!(["NOT_FOUND", "FORBIDDEN"].contains(&code.as_str()), "{context}: {body_v}");
        assert_eq!(status_v, status_m, "{context}");
        assert_eq!(
            scrub(&body_v, &with_victim),
            scrub(&body_m, &with_missing),
            "{context}: same answer as a missing id"
        );
    }
    assert!(tried >= 100, "seed {seed}: only {tried} rounds ran");

    let after = app.ok(&victim.token, VICTIM_VIEW, json!({})).await;
    assert_eq!(before, after, "seed {seed}: the victim's workspace is unchanged");
    let lists = "{ me { id } agents { id } conversations(first: 100) { nodes { id previousConversation { id } suggestedContact { id } } } \
        contacts(first: 100) { nodes { id } } templates { id } businessNumbers { id } events(first: 100) { nodes { payload } } \
        deadLetters(first: 100) { id } webhookEndpoints { id deliveries(first: 100) { id } } auditLog(first: 100) { subjectId details } }";
    let seen = app.ok(&attacker.token, lists, json!({})).await.to_string();
    for id in theirs.all() {
        assert!(!seen.contains(&id), "seed {seed}: the attacker's lists mention the victim's {id}");
    }
    for text in ["beta_customer", "US.1000000000000000002", "Beta"] {
        assert!(!seen.contains(text), "seed {seed}: the attacker's lists mention {text}");
    }
}

on_both!(a_randomized_attacker_learns_and_changes_nothing_in_another_workspace);

async fn a_dead_letter_belongs_to_the_workspace_that_proved_its_waba_first(app: TestApp) {
    let alpha = app.tenant_with("Alpha", "100000000001", "300000000001").await;
    let beta = app.tenant_with("Beta", "100000000002", "300000000001").await; // the same WABA id
    let gamma = app.tenant_with("Gamma", "100000000003", "300000000003").await;
    for waba in ["300000000001", "300000000003"] {
        let value = Inbound::hidden("US.1", "@one", "One").value("999999999999");
        let (status, _) = app.post_webhook(&fixtures::webhook(waba, "messages", value)).await;
        assert_eq!(status, 200);
    }
    assert_eq!(app.count("dead_letters").await, 2);
    let query = "{ deadLetters { reason } }";
    // The WABA both claim: its dead letters stay with the workspace that proved it first.
    for (tenant, expected) in [(&alpha, 1), (&beta, 0), (&gamma, 1)] {
        let data = app.ok(&tenant.token, query, json!({})).await;
        assert_eq!(data["deadLetters"].as_array().unwrap().len(), expected, "{data}");
    }
}

on_both!(a_dead_letter_belongs_to_the_workspace_that_proved_its_waba_first,);
