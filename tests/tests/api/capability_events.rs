//! `conversation.capabilities_changed` (PRODUCT.md section 15): one event, with the capability
//! set before and after, for each kind of fact change that flips a capability: a phone shared,
//! a contact linked or unlinked, a window opened again, a number disconnected and connected
//! again. (The window closing is in `windows`, an SMS opt-out and opt-in in `sms`.)

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{Backend, Inbound, fixtures};
use crate::lifecycle::{Life, events, life};

/// The `data` of each `conversation.capabilities_changed` of conversation `c`, oldest first.
async fn changes(l: &Life, c: &str) -> Vec<Value> {
    events(l, &["conversation.capabilities_changed"])
        .await
        .into_iter()
        .filter(|e| e["conversationId"] == c)
        .map(|e| e["payload"]["data"].clone())
        .collect()
}

fn flipped(change: &Value, capability: &str) -> (bool, bool) {
    let side = |s: &str| change[s][capability]["allowed"].as_bool().unwrap();
    (side("before"), side("after"))
}

async fn each_fact_that_flips_a_capability_is_an_event(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let (app, t) = (&l.app, &l.t);
    let pablo = Inbound::hidden("US.1", "@pablo", "Pablo").ago(Duration::hours(1));
    let shared = app.receive(t, &pablo).await.to_string();
    let linked =
        app.receive(t, &Inbound::hidden("US.2", "@ana", "Ana").ago(Duration::hours(1))).await.to_string();
    let back =
        app.receive(t, &Inbound::hidden("US.3", "@bo", "Bo").ago(Duration::hours(30))).await.to_string();
    for c in [&shared, &linked, &back] {
        assert!(changes(&l, c).await.is_empty(), "a new conversation changed nothing");
    }

    // The customer shares the phone with the request button: calls and SMS become possible.
    let mut card = pablo.clone().fresh_id().ago(Duration::zero()).value(&t.number.phone_number_id);
    card["messages"][0]["type"] = json!("contacts");
    card["messages"][0]["contacts"] = json!([{ "origin": "contact_request", "name": { "formatted_name": "Pablo" },
        "phones": [{ "phone": "+16505551234", "wa_id": "16505551234", "type": "CELL" }] }]);
    card["messages"][0].as_object_mut().unwrap().remove("text");
    assert_eq!(app.post_webhook(&fixtures::webhook(&t.number.waba_id, "messages", card)).await.0, 200);
    let got = changes(&l, &shared).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["cause"], "phone_shared");
    assert_eq!(flipped(&got[0], "call"), (false, true));
    assert_eq!(flipped(&got[0], "switchToSms"), (false, true));
    assert_eq!(got[0]["before"]["call"]["reasonCode"], "PHONE_REQUIRED");
    assert_eq!(got[0]["after"]["call"]["reasonCode"], Value::Null);

    // A contact with a phone is linked, then unlinked.
    let create = "mutation($c: ID!) { createContact(conversationId: $c, input: { name: \"Ana\", phoneNumber: \"+16505550002\" }) { id } }";
    app.ok(&t.token, create, json!({ "c": linked })).await;
    app.ok(
        &t.token,
        "mutation($c: ID!) { unlinkContact(conversationId: $c) { id } }",
        json!({ "c": linked }),
    )
    .await;
    let got = changes(&l, &linked).await;
    let causes: Vec<&str> = got.iter().map(|e| e["cause"].as_str().unwrap()).collect();
    assert_eq!(causes, ["contact_linked", "contact_unlinked"], "{got:?}");
    assert_eq!(flipped(&got[0], "call"), (false, true));
    assert_eq!(flipped(&got[1], "call"), (true, false));

    // A customer writing again after the window closed opens it again.
    app.receive(t, &Inbound::hidden("US.3", "@bo", "Bo").fresh_id()).await;
    let got = changes(&l, &back).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["cause"], "window_opened");
    assert_eq!(flipped(&got[0], "reply"), (false, true));
    assert_eq!(got[0]["before"]["reply"]["reasonCode"], "WINDOW_CLOSED");

    // The number is disconnected, then connected again: every open conversation of it.
    let disconnect = "mutation($n: ID!) { disconnectBusinessNumber(id: $n) { connected } }";
    app.ok(&t.token, disconnect, json!({ "n": t.number.id.to_string() })).await;
    l.fake.own_number("fresh-token", &t.number.phone_number_id, &t.number.waba_id);
    let again = json!({ "phoneNumberId": t.number.phone_number_id, "displayPhoneNumber": "+15550783881",
        "wabaId": t.number.waba_id, "portfolioId": t.number.portfolio_id, "accessToken": "fresh-token" });
    let connect =
        "mutation($i: ConnectWhatsAppNumberInput!) { connectWhatsAppNumber(input: $i) { connected } }";
    app.ok(&t.token, connect, json!({ "i": again })).await;
    for c in [&shared, &linked, &back] {
        let got = changes(&l, c).await;
        let last: Vec<&str> = got.iter().rev().take(2).rev().map(|e| e["cause"].as_str().unwrap()).collect();
        assert_eq!(last, ["number_disconnected", "number_connected"], "{c}: {got:?}");
        let off = &got[got.len() - 2];
        assert_eq!(flipped(off, "reply"), (true, false));
        assert_eq!(off["after"]["reply"]["reasonCode"], "NUMBER_DISCONNECTED");
        assert_eq!(flipped(&got[got.len() - 1], "reply"), (false, true));
    }
}

/// A linked contact's phone is what lets a username-only customer be called: editing it,
/// merging the contact and deleting it flip the calls of its conversations.
async fn a_contacts_phone_edit_merge_and_deletion_flip_its_conversations(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let (app, t) = (&l.app, &l.t);
    let c = app.receive(t, &Inbound::hidden("US.1", "@ana", "Ana")).await.to_string();
    let d = app.receive(t, &Inbound::hidden("US.2", "@bo", "Bo")).await.to_string();
    let create = "mutation($c: ID!, $p: String) { createContact(conversationId: $c, input: { name: \"X\", phoneNumber: $p }) { id } }";
    let with_phone =
        app.ok(&t.token, create, json!({ "c": c, "p": "+16505550001" })).await["createContact"]["id"].clone();
    let without = app.ok(&t.token, create, json!({ "c": d, "p": null })).await["createContact"]["id"].clone();
    let update =
        "mutation($id: ID!, $p: String) { updateContact(id: $id, input: { phoneNumber: $p }) { id } }";
    app.ok(&t.token, update, json!({ "id": with_phone, "p": null })).await;
    app.ok(&t.token, update, json!({ "id": with_phone, "p": "+16505550001" })).await;
    // Bo's contact takes Ana's contact in, and its phone.
    let merge = "mutation($a: ID!, $b: ID!) { mergeContacts(primaryId: $a, secondaryId: $b) { id } }";
    app.ok(&t.token, merge, json!({ "a": without, "b": with_phone })).await;
    app.ok(&t.token, "mutation($id: ID!) { deleteContact(id: $id) }", json!({ "id": without })).await;

    let causes = |changes: &[Value]| -> Vec<(String, (bool, bool))> {
        changes.iter().map(|e| (e["cause"].as_str().unwrap().to_owned(), flipped(e, "call"))).collect()
    };
    let owned = |v: &[(&str, (bool, bool))]| -> Vec<(String, (bool, bool))> {
        v.iter().map(|(c, f)| ((*c).to_owned(), *f)).collect()
    };
    assert_eq!(
        causes(&changes(&l, &c).await),
        owned(&[
            ("contact_linked", (false, true)),
            ("contact_updated", (true, false)),
            ("contact_updated", (false, true)),
            ("contact_deleted", (true, false)),
        ])
    );
    assert_eq!(
        causes(&changes(&l, &d).await),
        owned(&[("contact_merged", (false, true)), ("contact_deleted", (true, false))])
    );
}

on_both_backends!(
    each_fact_that_flips_a_capability_is_an_event,
    a_contacts_phone_edit_merge_and_deletion_flip_its_conversations,
);
