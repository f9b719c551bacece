//! Contacts: create from a conversation, link a returning customer's new thread, unlink,
//! history, suggestions, conflicts and role rules (the Aircall scenarios of the seeds).

use chrono::Duration;
use domain::AgentId;
use serde_json::{Value, json};

use crate::helpers::{Inbound, Tenant, TestApp, error_code};

const CREATE: &str = "mutation($c: ID!, $i: CreateContactInput!) { createContact(conversationId: $c, input: $i) { id name email phoneNumber usernames bsuids conversations { nodes { id } } } }";
const LINK: &str = "mutation($c: ID!, $k: ID!) { linkToExisting(conversationId: $c, contactId: $k) { id displayName contact { id name } suggestedContact { id } } }";
const UNLINK: &str = "mutation($c: ID!) { unlinkContact(conversationId: $c) { id contact { id } } }";
const CONVERSATION: &str = "query($c: ID!) { conversation(id: $c) { displayName origin contact { id } suggestedContact { id name } previousConversation { id } capabilities { call { allowed reason } switchToSms { allowed reason } templates { category allowed reason } } } }";

async fn agent(app: &TestApp, t: &Tenant, email: &str) -> String {
    let create = "mutation($i: CreateAgentInput!) { createAgent(input: $i) { id } }";
    let data =
        app.ok(&t.token, create, json!({ "i": { "email": email, "name": "Agent", "role": "AGENT" } })).await;
    let id: AgentId = data["createAgent"]["id"].as_str().unwrap().parse().unwrap();
    app.token_for(id, t.workspace)
}

async fn a_contact_is_created_from_a_username_only_conversation(app: TestApp) {
    let t = app.tenant("Acme").await;
    let c = app.receive(&t, &Inbound::hidden("MX.55500912873465019283", "@Carlos_MX", "Carlos")).await;
    let before = app.ok(&t.token, CONVERSATION, json!({ "c": c.to_string() })).await;
    assert_eq!(before["conversation"]["contact"], Value::Null, "no contact is created automatically");
    let input = json!({ "name": "  Carlos Méndez ", "email": "carlos@example.mx" });
    let data = app.ok(&t.token, CREATE, json!({ "c": c.to_string(), "i": input })).await;
    let contact = &data["createContact"];
    assert_eq!(contact["name"], "Carlos Méndez");
    assert_eq!(contact["phoneNumber"], Value::Null);
    assert_eq!(contact["usernames"], json!(["@Carlos_MX"]));
    assert_eq!(contact["bsuids"], json!(["MX.55500912873465019283"]));
    assert_eq!(contact["conversations"]["nodes"], json!([{ "id": c.to_string() }]));
    let after = app.ok(&t.token, CONVERSATION, json!({ "c": c.to_string() })).await;
    assert_eq!(after["conversation"]["displayName"], "Carlos Méndez", "the contact's name comes first");
    let events = app
        .ok(
            &t.token,
            r#"{ events(types: ["contact.created", "conversation.linked"]) { nodes { type contactId } } }"#,
            json!({}),
        )
        .await;
    let types: Vec<&str> =
        events["events"]["nodes"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["contact.created", "conversation.linked"]);

    let found = app
        .ok(
            &t.token,
            "query($s: String) { contacts(search: $s) { nodes { name } } }",
            json!({ "s": "@carlos_mx" }),
        )
        .await;
    assert_eq!(found["contacts"]["nodes"], json!([{ "name": "Carlos Méndez" }]));
    for s in ["@carlos.mx", "@arlos"] {
        let none = app
            .ok(&t.token, "query($s: String) { contacts(search: $s) { nodes { name } } }", json!({ "s": s }))
            .await;
        assert_eq!(none["contacts"]["nodes"], json!([]), "{s}");
    }
    let by_name = app
        .ok(
            &t.token,
            "query($s: String) { conversations(filter: { search: $s }) { nodes { id } } }",
            json!({ "s": "méndez" }),
        )
        .await;
    assert_eq!(
        by_name["conversations"]["nodes"],
        json!([{ "id": c.to_string() }]),
        "search finds contact names"
    );
}

async fn a_returning_customers_new_thread_is_linked_to_their_contact_with_history(app: TestApp) {
    let t = app.tenant("Acme").await;
    let customer =
        Inbound::with_phone("447700900123", "GB.88231740092153376", "Amelia Hart").ago(Duration::days(10));
    let old = app.receive(&t, &customer).await;
    let data =
        app.ok(&t.token, CREATE, json!({ "c": old.to_string(), "i": { "name": "Amelia Hart" } })).await;
    let contact = data["createContact"]["id"].clone();
    assert_eq!(data["createContact"]["phoneNumber"], "+447700900123");
    let new = app.receive(&t, &customer.clone().fresh_id().without_phone().ago(Duration::minutes(2))).await;
    let view = app.ok(&t.token, CONVERSATION, json!({ "c": new.to_string() })).await;
    assert_eq!(view["conversation"]["origin"], "RETURNING_CUSTOMER_HID_NUMBER");
    assert_eq!(view["conversation"]["suggestedContact"]["id"], contact);
    assert_eq!(view["conversation"]["contact"], Value::Null);
    // Before linking: no call, no SMS.
    assert_eq!(view["conversation"]["capabilities"]["call"]["allowed"], false);

    let linked = app.ok(&t.token, LINK, json!({ "c": new.to_string(), "k": contact })).await;
    assert_eq!(linked["linkToExisting"]["contact"]["id"], contact);
    assert_eq!(linked["linkToExisting"]["suggestedContact"], Value::Null);
    let history = app
        .ok(
            &t.token,
            "query($k: ID!) { contact(id: $k) { conversations { nodes { id } } } }",
            json!({ "k": contact }),
        )
        .await;
    assert_eq!(
        history["contact"]["conversations"]["nodes"],
        json!([{ "id": new.to_string() }, { "id": old.to_string() }]),
        "newest first"
    );

    // After linking to a contact with a phone: call and SMS, but still no authentication templates.
    let view = app.ok(&t.token, CONVERSATION, json!({ "c": new.to_string() })).await;
    let caps = &view["conversation"]["capabilities"];
    assert_eq!(caps["call"]["allowed"], true);
    assert_eq!(caps["switchToSms"]["allowed"], true);
    assert_eq!(caps["templates"][2]["reason"], "Phone number is required to send authentication templates.");
    let switched = app
        .ok(
            &t.token,
            "mutation($c: ID!) { switchChannel(conversationId: $c, channel: SMS) { channel } }",
            json!({ "c": new.to_string() }),
        )
        .await;
    assert_eq!(switched["switchChannel"]["channel"], "SMS");

    // Linking again changes nothing and writes no event (counted once what the switch set off
    // in the background is written).
    let count = app.settled_count("events").await;
    app.ok(&t.token, LINK, json!({ "c": new.to_string(), "k": contact })).await;
    assert_eq!(app.count("events").await, count);
}

async fn identities_owned_by_another_contact_conflict(app: TestApp) {
    let t = app.tenant("Acme").await;
    let a = app.receive(&t, &Inbound::with_phone("16505550001", "US.1", "Ann")).await;
    let b = app.receive(&t, &Inbound::hidden("US.2", "@bob", "Bob")).await;
    let ann = app.ok(&t.token, CREATE, json!({ "c": a.to_string(), "i": { "name": "Ann" } })).await;
    let ann_id = ann["createContact"]["id"].as_str().unwrap().to_owned();
    let body = app
        .graphql(
            Some(&t.token),
            CREATE,
            json!({ "c": b.to_string(), "i": { "name": "Bob", "phoneNumber": "+1 (650) 555-0001" } }),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains(&ann_id), "{body}");
    assert_eq!(app.count("contacts").await, 1, "the failed create left nothing behind");

    // Bob's BSUID cannot join Ann through a second conversation of Bob's once Bob has a contact.
    let bob = app.ok(&t.token, CREATE, json!({ "c": b.to_string(), "i": { "name": "Bob" } })).await;
    let bob_id = bob["createContact"]["id"].as_str().unwrap().to_owned();
    let second_number = persistence::business_numbers::NewBusinessNumber {
        id: domain::BusinessNumberId::new(),
        workspace_id: t.workspace,
        phone_number_id: "555000111222",
        display_phone_number: &domain::PhoneNumber::parse("+15550001112").unwrap(),
        waba_id: &t.number.waba_id,
        portfolio_id: &t.number.portfolio_id,
        business_name: None,
        channel: domain::Channel::Whatsapp,
        access_token: None,
        sms_account: None,
        operator_connected: true,
    };
    let number = persistence::business_numbers::create(app.db.conn(), second_number, chrono::Utc::now())
        .await
        .unwrap();
    let other = crate::helpers::Tenant { number, ..t.clone() };
    let b2 = app.receive(&other, &Inbound::hidden("US.2", "@bob", "Bob")).await;
    let view = app.ok(&t.token, CONVERSATION, json!({ "c": b2.to_string() })).await;
    assert_eq!(view["conversation"]["suggestedContact"]["id"], bob_id, "the BSUID's owner is suggested");
    let body = app.graphql(Some(&t.token), LINK, json!({ "c": b2.to_string(), "k": ann_id })).await;
    assert_eq!(error_code(&body), "CONFLICT");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains(&bob_id));

    for (input, what) in [
        (json!({ "name": "  " }), "empty name"),
        (json!({ "name": "x".repeat(201) }), "long name"),
        (json!({ "name": "Ok", "email": "nope" }), "bad email"),
        (json!({ "name": "Ok", "phoneNumber": "call me" }), "bad phone"),
    ] {
        let body = app.graphql(Some(&t.token), CREATE, json!({ "c": b2.to_string(), "i": input })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{what}");
    }
    let body = app
        .graphql(Some(&t.token), LINK, json!({ "c": b2.to_string(), "k": uuid::Uuid::now_v7().to_string() }))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
}

async fn relinking_needs_admin_and_unlinking_keeps_earlier_identities(app: TestApp) {
    let t = app.tenant("Acme").await;
    let agent_token = agent(&app, &t, "agent@acme.example.com").await;
    let other_token = agent(&app, &t, "other@acme.example.com").await;
    let c = app.receive(&t, &Inbound::hidden("US.10", "@dana", "Dana")).await;
    let d = app.receive(&t, &Inbound::hidden("US.11", "@dan", "Dan")).await;
    let dana = app.ok(&agent_token, CREATE, json!({ "c": c.to_string(), "i": { "name": "Dana" } })).await;
    let dana_id = dana["createContact"]["id"].clone();
    let dan = app.ok(&t.token, CREATE, json!({ "c": d.to_string(), "i": { "name": "Dan" } })).await;
    let dan_id = dan["createContact"]["id"].clone();

    let body = app.graphql(Some(&agent_token), LINK, json!({ "c": c.to_string(), "k": dan_id })).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "an agent cannot relink");
    let body = app.graphql(Some(&other_token), UNLINK, json!({ "c": c.to_string() })).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "another agent cannot unlink");
    let data = app.ok(&agent_token, UNLINK, json!({ "c": c.to_string() })).await;
    assert_eq!(data["unlinkContact"]["contact"], Value::Null, "the agent who linked may undo it");
    let dana_now = app
        .ok(
            &t.token,
            "query($k: ID!) { contact(id: $k) { usernames bsuids conversations { nodes { id } } } }",
            json!({ "k": dana_id }),
        )
        .await;
    assert_eq!(
        dana_now["contact"],
        json!({ "usernames": [], "bsuids": [], "conversations": { "nodes": [] } }),
        "only the link's identities are removed"
    );

    // An admin relinks Dan's conversation to Dana: unlinked from Dan, linked to Dana.
    let data = app.ok(&t.token, LINK, json!({ "c": d.to_string(), "k": dana_id })).await;
    assert_eq!(data["linkToExisting"]["contact"]["id"], dana_id);
    let events = app.ok(&t.token, r#"{ events(types: ["conversation.unlinked", "conversation.linked"]) { nodes { type contactId } } }"#, json!({})).await;
    let last: Vec<(String, String)> = events["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(2)
        .map(|e| (e["type"].as_str().unwrap().to_owned(), e["contactId"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        last,
        [
            ("conversation.linked".to_owned(), dana_id.as_str().unwrap().to_owned()),
            ("conversation.unlinked".to_owned(), dan_id.as_str().unwrap().to_owned())
        ]
    );
    let dan_now =
        app.ok(&t.token, "query($k: ID!) { contact(id: $k) { bsuids } }", json!({ "k": dan_id })).await;
    assert_eq!(dan_now["contact"]["bsuids"], json!([]));
    let body = app.graphql(Some(&agent_token), UNLINK, json!({ "c": d.to_string() })).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "the agent did not make this link");
}

on_both!(
    a_contact_is_created_from_a_username_only_conversation,
    a_returning_customers_new_thread_is_linked_to_their_contact_with_history,
    identities_owned_by_another_contact_conflict,
    relinking_needs_admin_and_unlinking_keeps_earlier_identities,
);

/// PostgreSQL: a contact search reads its matches, not the whole contact list. Of 20,000
/// contacts, each with a username, a rare name (a hexadecimal word) and a username prefix
/// shared by 1 contact in 100 are read from their
/// indexes (the OR of the paths walked all 20,000 contacts: 145 ms at 300,000 in `psql`), and a
/// name one contact in six shares from the newest contacts. Every page is the one the list's
/// order gives, also the next one after a cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_search_reads_its_matches_not_the_whole_list() {
    use domain::search::SearchQuery;
    use persistence::contacts::{ContactCursor, list};
    use sea_orm::ConnectionTrait;
    let Some(app) = crate::helpers::spawn(crate::helpers::Backend::Postgres).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    let conn = app.db.conn();
    conn.execute_unprepared(&format!(
        "INSERT INTO contacts (id, workspace_id, name, name_folded, created_at, updated_at) \
         SELECT gen_random_uuid(), '{w}', x, lower(x), now() - n * interval '1 minute', now() FROM \
         (SELECT n, (ARRAY['Ana', 'Carlos', 'Wei', 'Mei', 'Noah', 'Sven'])[1 + n % 6] || ' ' || to_hex(n * 7919) AS x \
          FROM generate_series(1, 20000) n) names; \
         INSERT INTO contact_identities (id, workspace_id, contact_id, kind, value, value_key, created_at) \
         SELECT gen_random_uuid(), workspace_id, id, 'USERNAME', '@u' || name_folded, \
             'u' || replace(name_folded, ' ', '_'), now() FROM contacts; \
         ANALYZE contacts; ANALYZE contact_identities",
        w = t.workspace
    ))
    .await
    .unwrap();
    let expected = |condition: &str| {
        format!(
            "SELECT string_agg(id::text, ',') AS v FROM (SELECT id FROM contacts c WHERE {condition} \
             ORDER BY created_at DESC, id DESC LIMIT 21) page"
        )
    };
    let username =
        "EXISTS (SELECT 1 FROM contact_identities i WHERE i.contact_id = c.id AND i.value_key LIKE";
    let first: String = crate::helpers::value(conn, &expected("name_folded LIKE '%ana%'")).await;
    let last: domain::ContactId = first.split(',').next_back().unwrap().parse().unwrap();
    let at: chrono::DateTime<chrono::Utc> =
        crate::helpers::value(conn, &format!("SELECT created_at AS v FROM contacts WHERE id = '{last}'"))
            .await;
    let cursor = ContactCursor { created_at: at, id: last };
    let next = format!("name_folded LIKE '%ana%' AND (created_at, id) < ('{}', '{last}')", at.to_rfc3339());
    let rare = format!("{:x}", 1234 * 7919);
    let cases = [
        (rare.as_str(), None, expected(&format!("name_folded LIKE '%{rare}%'"))),
        ("@uwei_9", None, expected(&format!("{username} 'uwei\\_9%')"))),
        ("ana", None, expected("name_folded LIKE '%ana%'")),
        ("ana", Some(cursor), expected(&next)),
    ];
    for (search, after, want) in cases {
        let want: String = crate::helpers::value(conn, &want).await;
        let query = SearchQuery::parse(search).unwrap();
        let (page, read) =
            crate::helpers::xact_growth(conn, "seq_tup_read + idx_tup_fetch", "contacts", async |txn| {
                list(txn, t.workspace, Some(&query), after, 21).await.unwrap()
            })
            .await;
        let got = page.iter().map(|c| c.id.to_string()).collect::<Vec<_>>().join(",");
        assert_eq!(got, want, "{search}: the page of the list's order");
        assert!(read < 2_000, "{search} read {read} contacts for a page of 21");
    }
}
