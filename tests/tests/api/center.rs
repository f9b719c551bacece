//! Running a contact center (PRODUCT.md section 18): availability, routing with capacity and
//! the team queue, business hours with the away reply, SLA policies with warnings and
//! breaches. Routing and the SLA timer are driven with the test's own passes and clock.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{Inbound, Tenant, TestApp};

async fn route(app: &TestApp) {
    api::workflow::routing::route_due(&app.db, Utc::now()).await.unwrap();
}

async fn events(app: &TestApp, t: &Tenant, kind: &str) -> Vec<Value> {
    let query = "query($t: [String!]) { events(first: 100, types: $t) { nodes { conversationId payload } } }";
    let data = app.ok(&t.token, query, json!({ "t": [kind] })).await;
    data["events"]["nodes"].as_array().unwrap().iter().map(|e| e["payload"]["data"].clone()).collect()
}

async fn assignee(app: &TestApp, t: &Tenant, c: &str) -> Value {
    let query = "query($c: ID!) { conversation(id: $c) { assignee { id } } }";
    app.ok(&t.token, query, json!({ "c": c })).await["conversation"]["assignee"]["id"].clone()
}

/// A team routed `mode` with `capacity`, the tenant's number's default team, and two members.
async fn routed_team(
    app: &TestApp,
    t: &mut Tenant,
    mode: &str,
    capacity: i64,
) -> (String, [(String, String); 2]) {
    let team = app
        .ok(&t.token, "mutation { createTeam(input: {name: \"Support\"}) { id } }", json!({}))
        .await["createTeam"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let update = "mutation($id: ID!, $i: UpdateTeamInput!) { updateTeam(id: $id, input: $i) { routing { mode capacity } queue } }";
    let input = json!({ "id": team, "i": { "routing": { "mode": mode, "capacity": capacity } } });
    let data = app.ok(&t.token, update, input).await;
    assert_eq!(data["updateTeam"]["routing"], json!({ "mode": mode, "capacity": capacity }));
    let number = "mutation($id: ID!, $t: ID) { updateBusinessNumber(id: $id, input: {defaultTeamId: $t}) { defaultTeam { id } } }";
    let data = app.ok(&t.token, number, json!({ "id": t.number.id.to_string(), "t": team })).await;
    assert_eq!(data["updateBusinessNumber"]["defaultTeam"]["id"], team.as_str());
    // The test's webhooks carry the number as read: read it again.
    t.number =
        persistence::business_numbers::find(app.db.conn(), t.workspace, t.number.id).await.unwrap().unwrap();
    let mut members = Vec::new();
    for _ in 0..2 {
        let (id, token) = app.agent(t, "AGENT").await;
        let add = "mutation($t: ID!, $a: ID!) { addTeamMember(teamId: $t, agentId: $a) { id } }";
        app.ok(&t.token, add, json!({ "t": team, "a": id.to_string() })).await;
        members.push((id.to_string(), token));
    }
    let [a, b]: [(String, String); 2] = members.try_into().unwrap();
    (team, [a, b])
}

async fn online(app: &TestApp, token: &str, availability: &str) -> Value {
    let set = "mutation($a: Availability!) { setAvailability(availability: $a) { id availability } }";
    app.ok(token, set, json!({ "a": availability })).await["setAvailability"].clone()
}

async fn a_team_routes_within_capacity_and_its_queue_drains_as_room_appears(app: TestApp) {
    let mut t = app.tenant("Acme").await;
    let (team, [(ana, ana_token), (ben, ben_token)]) = routed_team(&app, &mut t, "ROUND_ROBIN", 1).await;
    assert_eq!(online(&app, &ana_token, "ONLINE").await["availability"], "ONLINE");
    // Ben is ONLINE by default but has never been present: he gets nothing.
    let first = app.receive(&t, &Inbound::hidden("US.1", "@first", "First")).await.to_string();
    route(&app).await;
    assert_eq!(assignee(&app, &t, &first).await, ana.as_str());
    let second = app.receive(&t, &Inbound::hidden("US.2", "@second", "Second")).await.to_string();
    let third = app.receive(&t, &Inbound::hidden("US.3", "@third", "Third")).await.to_string();
    route(&app).await;
    assert_eq!(assignee(&app, &t, &second).await, Value::Null, "Ana is full, Ben is not present");
    let queue = "query { teams { id queue } conversations(filter: {waiting: true}) { nodes { id } } }";
    let data = app.ok(&t.token, queue, json!({})).await;
    assert_eq!(data["teams"][0]["queue"], 2);
    let waiting: Vec<&str> = data["conversations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(waiting.len(), 2);
    assert!(waiting.contains(&second.as_str()) && waiting.contains(&third.as_str()));

    // Ben comes online: he takes the oldest waiting one.
    online(&app, &ben_token, "ONLINE").await;
    route(&app).await;
    assert_eq!(assignee(&app, &t, &second).await, ben.as_str());
    assert_eq!(assignee(&app, &t, &third).await, Value::Null);
    // Ana resolves hers: she has room for the third.
    let resolve = "mutation($c: ID!) { resolveConversation(conversationId: $c) { status } }";
    app.ok(&ana_token, resolve, json!({ "c": first })).await;
    route(&app).await;
    assert_eq!(assignee(&app, &t, &third).await, ana.as_str());

    // Busy agents get nothing; every automatic assignment said so once.
    online(&app, &ana_token, "BUSY").await;
    let fourth = app.receive(&t, &Inbound::hidden("US.4", "@fourth", "Fourth")).await.to_string();
    route(&app).await;
    assert_eq!(assignee(&app, &t, &fourth).await, Value::Null);
    let assigned = events(&app, &t, "conversation.assigned").await;
    assert_eq!(assigned.len(), 3, "{assigned:#?}");
    assert!(assigned.iter().all(|e| e["automatic"] == true && e["teamId"] == team.as_str()));
    let changed = events(&app, &t, "agent.availability_changed").await;
    assert!(
        changed.iter().any(|e| e["agentId"] == ana.as_str()
            && e["availability"] == "BUSY"
            && e["previous"] == "ONLINE")
    );
    let audit = app.ok(&t.token, "query { auditLog(first: 50) { action agentId details } }", json!({})).await;
    let system = audit["auditLog"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "conversation.assigned")
        .count();
    assert_eq!(system, 3);
    assert!(
        audit["auditLog"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "conversation.assigned")
            .all(|e| e["agentId"].is_null())
    );

    // A manual assignment says so too; an agent may not set another's availability.
    let assign = "mutation($c: ID!, $a: ID) { assignConversation(conversationId: $c, agentId: $a) { id } }";
    app.ok(&t.token, assign, json!({ "c": fourth, "a": ben })).await;
    let manual = events(&app, &t, "conversation.assigned").await;
    assert!(manual.iter().any(|e| e["automatic"] == false && e["agentId"] == ben.as_str()));
    let other = "mutation($a: ID) { setAvailability(availability: OFFLINE, agentId: $a) { id } }";
    let refused = app.graphql(Some(&ana_token), other, json!({ "a": ben })).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let by_admin = app
        .ok(
            &t.token,
            "mutation($a: ID) { setAvailability(availability: OFFLINE, agentId: $a) { availability } }",
            json!({ "a": ben }),
        )
        .await;
    assert_eq!(by_admin["setAvailability"]["availability"], "OFFLINE");
}

async fn least_busy_prefers_the_member_with_fewest_open(app: TestApp) {
    let mut t = app.tenant("Acme").await;
    let (_, [(ana, ana_token), (ben, ben_token)]) = routed_team(&app, &mut t, "LEAST_BUSY", 5).await;
    online(&app, &ana_token, "ONLINE").await;
    let mut ids = Vec::new();
    for i in 0..2 {
        ids.push(
            app.receive(&t, &Inbound::hidden(&format!("US.1{i}"), &format!("@a{i}"), "A")).await.to_string(),
        );
    }
    route(&app).await;
    online(&app, &ben_token, "ONLINE").await;
    for i in 0..2 {
        ids.push(
            app.receive(&t, &Inbound::hidden(&format!("US.2{i}"), &format!("@b{i}"), "B")).await.to_string(),
        );
    }
    route(&app).await;
    // Ana has two, Ben none: both new ones go to Ben.
    assert_eq!(assignee(&app, &t, &ids[2]).await, ben.as_str());
    assert_eq!(assignee(&app, &t, &ids[3]).await, ben.as_str());
    assert_eq!(assignee(&app, &t, &ids[0]).await, ana.as_str());
}

async fn routing_across_processes_assigns_each_once_within_capacity(app: TestApp) {
    let peer = crate::helpers::other_process_db(&app, |_| {}).await;
    let mut t = app.tenant("Acme").await;
    let (_, [(_, ana_token), (_, ben_token)]) = routed_team(&app, &mut t, "ROUND_ROBIN", 7).await;
    online(&app, &ana_token, "ONLINE").await;
    online(&app, &ben_token, "ONLINE").await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            app.receive(&t, &Inbound::hidden(&format!("US.5{i}"), &format!("@p{i}"), "P")).await.to_string(),
        );
    }
    let racers: Vec<_> = [app.db.clone(), peer.clone(), app.db.clone(), peer]
        .into_iter()
        .map(|db| {
            tokio::spawn(async move { api::workflow::routing::route_due(&db, Utc::now()).await.unwrap() })
        })
        .collect();
    let mut total = 0;
    for racer in racers {
        total += racer.await.unwrap();
    }
    let assigned = events(&app, &t, "conversation.assigned").await;
    assert!(total <= 14, "never over capacity: {total}");
    assert_eq!(assigned.len(), 14, "two members of capacity 7");
    let mut per_conversation: Vec<&str> =
        assigned.iter().map(|e| e["conversationId"].as_str().unwrap()).collect();
    per_conversation.sort_unstable();
    per_conversation.dedup();
    assert_eq!(per_conversation.len(), 14, "exactly one assignment per conversation");
    let data = app.ok(&t.token, "query { teams { queue } }", json!({})).await;
    assert_eq!(data["teams"][0]["queue"], 6);
}

/// Hours that are closed now: every day 09:00–17:00, but yesterday, today and tomorrow closed.
fn closed_now() -> Value {
    let today = Utc::now().date_naive();
    let closed: Vec<String> =
        [-1i64, 0, 1].iter().map(|d| (today + Duration::days(*d)).to_string()).collect();
    let days = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];
    json!({
        "timeZone": "Europe/Madrid",
        "weekly": days.iter().map(|d| json!({ "day": d, "opens": "09:00", "closes": "17:00" })).collect::<Vec<_>>(),
        "closedDates": closed,
        "awayMessage": "We are closed; we answer from 9:00.",
    })
}

async fn the_away_reply_goes_once_per_closed_period(app: TestApp) {
    let t = app.tenant("Acme").await;
    let set = "mutation($i: BusinessHoursInput) { updateBusinessHours(input: $i) { timeZone closedDates awayMessage } }";
    let data = app.ok(&t.token, set, json!({ "i": closed_now() })).await;
    assert_eq!(data["updateBusinessHours"]["timeZone"], "Europe/Madrid");
    let workspace = app
        .ok(
            &t.token,
            "query { workspace { openNow nextOpensAt businessHours { weekly { day } } } }",
            json!({}),
        )
        .await;
    assert_eq!(workspace["workspace"]["openNow"], false);
    let next: DateTime<Utc> = workspace["workspace"]["nextOpensAt"].as_str().unwrap().parse().unwrap();
    assert!(next > Utc::now() + Duration::hours(24));

    let c = app.receive(&t, &Inbound::hidden("US.9", "@night", "Night")).await.to_string();
    app.receive(&t, &Inbound::hidden("US.9", "@night", "Night")).await;
    let query = "query($c: ID!) { conversation(id: $c) { messages(first: 10) { nodes { kind direction author { id } text } } } }";
    let data = app.ok(&t.token, query, json!({ "c": c })).await;
    let away: Vec<&Value> = data["conversation"]["messages"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "away")
        .collect();
    assert_eq!(away.len(), 1, "{data:#}");
    assert_eq!(away[0]["direction"], "OUTBOUND");
    assert!(away[0]["author"].is_null());

    // Bad schedules are refused by rule and change nothing.
    let mut bad = closed_now();
    bad["timeZone"] = json!("Europe/Atlantis");
    let refused = app.graphql(Some(&t.token), set, json!({ "i": bad })).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let (_, agent) = app.agent(&t, "AGENT").await;
    let refused = app.graphql(Some(&agent), set, json!({ "i": closed_now() })).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let still = app.ok(&t.token, "query { businessHours { timeZone } }", json!({})).await;
    assert_eq!(still["businessHours"]["timeZone"], "Europe/Madrid");
    // Always open again: no away reply.
    app.ok(&t.token, set, json!({ "i": null })).await;
    let open = app.ok(&t.token, "query { workspace { openNow nextOpensAt } }", json!({})).await;
    assert_eq!(open["workspace"], json!({ "openNow": true, "nextOpensAt": null }));
}

async fn sla_targets_warn_and_breach_once_and_sort_the_inbox(app: TestApp) {
    let mut t = app.tenant("Acme").await;
    let (team, _) = routed_team(&app, &mut t, "MANUAL", 5).await;
    let create = "mutation { createSlaPolicy(input: {name: \"Gold\", firstResponseMinutes: 10, resolutionMinutes: 60}) { id } }";
    let policy =
        app.ok(&t.token, create, json!({})).await["createSlaPolicy"]["id"].as_str().unwrap().to_owned();
    let update =
        "mutation($id: ID!, $p: ID) { updateTeam(id: $id, input: {slaPolicyId: $p}) { slaPolicy { name } } }";
    let data = app.ok(&t.token, update, json!({ "id": team, "p": policy })).await;
    assert_eq!(data["updateTeam"]["slaPolicy"]["name"], "Gold");

    // Each due time counts from the customer's message, written a minute before it arrives.
    let start = Utc::now() - Duration::minutes(1);
    let written = |i: &Inbound| i.clone().ago(Duration::minutes(1));
    let late = app.receive(&t, &written(&Inbound::hidden("US.31", "@late", "Late"))).await.to_string();
    let quick = app.receive(&t, &written(&Inbound::hidden("US.32", "@quick", "Quick"))).await.to_string();
    let sla = "query($c: ID!) { conversation(id: $c) { sla { policy { name } firstResponseDueAt resolutionDueAt met breached } } }";
    let data = app.ok(&t.token, sla, json!({ "c": late })).await;
    let due: DateTime<Utc> =
        data["conversation"]["sla"]["firstResponseDueAt"].as_str().unwrap().parse().unwrap();
    assert!((due - start - Duration::minutes(10)).num_seconds().abs() < 30, "{data:#}");
    let send = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"Hello\") { id } }";
    app.ok(&t.token, send, json!({ "c": quick })).await;

    let timer = |at| {
        let db = app.db.clone();
        async move { api::workflow::sla::warn_and_breach(&db, at).await.unwrap() }
    };
    for _ in 0..2 {
        timer(start + Duration::minutes(9)).await;
    }
    let warnings = events(&app, &t, "sla.warning").await;
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(warnings[0]["conversationId"], late.as_str());
    assert_eq!(warnings[0]["target"], "FIRST_RESPONSE");
    for _ in 0..2 {
        timer(start + Duration::minutes(11)).await;
    }
    let breaches = events(&app, &t, "sla.breached").await;
    assert_eq!(breaches.len(), 1);
    let data = app.ok(&t.token, sla, json!({ "c": late })).await;
    assert_eq!(data["conversation"]["sla"]["breached"], json!(["FIRST_RESPONSE"]));
    let data = app.ok(&t.token, sla, json!({ "c": quick })).await;
    assert_eq!(data["conversation"]["sla"]["met"], json!(["FIRST_RESPONSE"]));
    assert!(data["conversation"]["sla"]["firstResponseDueAt"].is_null());

    let breached = app
        .ok(&t.token, "query { conversations(filter: {slaBreached: true}) { nodes { id } } }", json!({}))
        .await;
    assert_eq!(breached["conversations"]["nodes"], json!([{ "id": late }]));
    // By due time: `late`'s first response (breached, due first), then `quick`'s resolution.
    let page = "query($a: String) { conversations(first: 1, after: $a, orderBy: SLA_DUE) { nodes { id } pageInfo { endCursor } } }";
    let one = app.ok(&t.token, page, json!({ "a": null })).await;
    assert_eq!(one["conversations"]["nodes"][0]["id"], late.as_str());
    let cursor = one["conversations"]["pageInfo"]["endCursor"].clone();
    let two = app.ok(&t.token, page, json!({ "a": cursor })).await;
    assert_eq!(two["conversations"]["nodes"][0]["id"], quick.as_str());

    // Snoozed time does not count: a snooze of an hour moves the resolution an hour.
    let before = app.ok(&t.token, sla, json!({ "c": quick })).await["conversation"]["sla"]["resolutionDueAt"]
        .as_str()
        .unwrap()
        .parse::<DateTime<Utc>>()
        .unwrap();
    let snooze =
        "mutation($c: ID!, $u: DateTime!) { snoozeConversation(conversationId: $c, until: $u) { status } }";
    app.ok(&t.token, snooze, json!({ "c": quick, "u": (Utc::now() + Duration::hours(1)).to_rfc3339() }))
        .await;
    api::workflow::lifecycle::wake_due(&app.db, Utc::now() + Duration::hours(1) + Duration::seconds(1))
        .await
        .unwrap();
    let after = app.ok(&t.token, sla, json!({ "c": quick })).await["conversation"]["sla"]["resolutionDueAt"]
        .as_str()
        .unwrap()
        .parse::<DateTime<Utc>>()
        .unwrap();
    assert!((after - before - Duration::hours(1)).num_seconds().abs() < 30, "{before} → {after}");
    // Resolving meets the resolution; removing the policy stops every clock.
    app.ok(
        &t.token,
        "mutation($c: ID!) { resolveConversation(conversationId: $c) { status } }",
        json!({ "c": quick }),
    )
    .await;
    let data = app.ok(&t.token, sla, json!({ "c": quick })).await;
    assert_eq!(data["conversation"]["sla"]["met"], json!(["FIRST_RESPONSE", "RESOLUTION"]));
    let remove =
        "mutation($c: ID!) { applySlaPolicy(conversationId: $c, policyId: null) { sla { policy { id } } } }";
    let data = app.ok(&t.token, remove, json!({ "c": late })).await;
    assert!(data["applySlaPolicy"]["sla"].is_null());
    timer(start + Duration::hours(2)).await;
    assert_eq!(events(&app, &t, "sla.breached").await.len(), 1, "a removed policy breaches nothing");
}

async fn sla_events_are_written_once_across_processes(app: TestApp) {
    let peer = crate::helpers::other_process_db(&app, |_| {}).await;
    let mut t = app.tenant("Acme").await;
    let (team, _) = routed_team(&app, &mut t, "MANUAL", 5).await;
    let create = "mutation { createSlaPolicy(input: {name: \"Gold\", firstResponseMinutes: 10}) { id } }";
    let policy =
        app.ok(&t.token, create, json!({})).await["createSlaPolicy"]["id"].as_str().unwrap().to_owned();
    let update = "mutation($id: ID!, $p: ID) { updateTeam(id: $id, input: {slaPolicyId: $p}) { id } }";
    app.ok(&t.token, update, json!({ "id": team, "p": policy })).await;
    for i in 0..30 {
        app.receive(
            &t,
            &Inbound::hidden(&format!("US.6{i}"), &format!("@s{i}"), "S").ago(Duration::minutes(1)),
        )
        .await;
    }
    // The customers wrote a minute before their messages arrived: the clocks count from then.
    let start = Utc::now() - Duration::minutes(1);
    for at in [start + Duration::minutes(9), start + Duration::minutes(11)] {
        let racers: Vec<_> = [app.db.clone(), peer.clone(), app.db.clone(), peer.clone()]
            .into_iter()
            .map(|db| {
                tokio::spawn(async move { api::workflow::sla::warn_and_breach(&db, at).await.unwrap() })
            })
            .collect();
        for racer in racers {
            racer.await.unwrap();
        }
    }
    for kind in ["sla.warning", "sla.breached"] {
        let mut ids: Vec<String> = events(&app, &t, kind)
            .await
            .iter()
            .map(|e| e["conversationId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 30, "{kind}");
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 30, "{kind}: one per conversation");
    }
}

/// An ONLINE agent counts for routing while present: an open WebSocket keeps them present
/// (the presence worker moves `PARLEY_PRESENCE_GRACE` ahead), and past the grace with no socket
/// they get nothing.
async fn presence_lapses_after_the_grace_and_a_socket_keeps_it(app: TestApp) {
    let mut t = app.tenant("Acme").await;
    let (_, [(ana, ana_token), _]) = routed_team(&app, &mut t, "ROUND_ROBIN", 5).await;
    let agent = |db: persistence::Database, id: String| async move {
        let id: domain::AgentId = id.parse().unwrap();
        persistence::agents::find_any_of(db.conn(), &[id]).await.unwrap().remove(0)
    };
    // Setting her own availability counts as presence, for the grace (two minutes by default).
    let set = Utc::now();
    online(&app, &ana_token, "ONLINE").await;
    let until = agent(app.db.clone(), ana.clone()).await.present_until.unwrap();
    assert!((until - set - Duration::seconds(120)).num_seconds().abs() <= 5, "{set} → {until}");
    // The grace ran out with no socket open (as two minutes later): ONLINE, yet she gets nothing.
    let id: domain::AgentId = ana.parse().unwrap();
    let lapsed = Some(Utc::now() - Duration::seconds(1));
    app.db
        .write(async |txn| {
            persistence::routing::set_availability(txn, t.workspace, id, domain::Availability::Online, lapsed)
                .await
        })
        .await
        .unwrap();
    let c = app.receive(&t, &Inbound::hidden("US.71", "@late_night", "Late")).await;
    assert_eq!(api::workflow::routing::route_due(&app.db, Utc::now()).await.unwrap(), 0);
    let row = persistence::conversations::find(app.db.conn(), t.workspace, c).await.unwrap().unwrap();
    assert_eq!(row.assignee_id, None, "an absent agent gets nothing");
    // A socket open: the presence worker makes her present again, and the router gives her the
    // waiting conversation.
    let before = agent(app.db.clone(), ana.clone()).await.present_until.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (_socket, ack) = crate::ws::connect(&app, Some(&ana_token)).await;
    assert_eq!(ack["type"], "connection_ack");
    let mut renewed = false;
    for _ in 0..100 {
        if agent(app.db.clone(), ana.clone()).await.present_until.unwrap() > before {
            renewed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(renewed, "an open socket renews her presence");
    route(&app).await;
    assert_eq!(assignee(&app, &t, &c.to_string()).await, ana.as_str());
}

/// A policy in business hours only: its clock does not run while the team is closed, so a
/// customer writing while closed is due the target's time after the next opening.
async fn a_business_hours_policy_counts_only_open_time(app: TestApp) {
    let mut t = app.tenant("Acme").await;
    let (team, _) = routed_team(&app, &mut t, "MANUAL", 5).await;
    let set = "mutation($i: BusinessHoursInput) { updateBusinessHours(input: $i) { timeZone } }";
    app.ok(&t.token, set, json!({ "i": closed_now() })).await;
    let opens =
        app.ok(&t.token, "query { workspace { nextOpensAt } }", json!({})).await["workspace"]["nextOpensAt"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap();
    let create = "mutation { createSlaPolicy(input: {name: \"Office\", firstResponseMinutes: 60, businessHoursOnly: true}) { id businessHoursOnly } }";
    let policy =
        app.ok(&t.token, create, json!({})).await["createSlaPolicy"]["id"].as_str().unwrap().to_owned();
    let update = "mutation($id: ID!, $p: ID) { updateTeam(id: $id, input: {slaPolicyId: $p}) { id } }";
    app.ok(&t.token, update, json!({ "id": team, "p": policy })).await;
    let c = app.receive(&t, &Inbound::hidden("US.81", "@night_owl", "Owl")).await.to_string();
    let sla = "query($c: ID!) { conversation(id: $c) { sla { firstResponseDueAt } } }";
    let data = app.ok(&t.token, sla, json!({ "c": c })).await;
    let due: DateTime<Utc> =
        data["conversation"]["sla"]["firstResponseDueAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(due, opens + Duration::minutes(60), "an hour of open time after the next opening");
}

on_both!(
    a_business_hours_policy_counts_only_open_time,
    presence_lapses_after_the_grace_and_a_socket_keeps_it,
    sla_events_are_written_once_across_processes,
    a_team_routes_within_capacity_and_its_queue_drains_as_room_appears,
    least_busy_prefers_the_member_with_fewest_open,
    routing_across_processes_assigns_each_once_within_capacity,
    the_away_reply_goes_once_per_closed_period,
    sla_targets_warn_and_breach_once_and_sort_the_inbox,
);
