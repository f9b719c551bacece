//! The workspace's settings (PRODUCT.md section 15): defaults, who may change them, what is
//! refused, the audit entry, and the read receipts they turn off or on.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, Inbound, error_code};
use crate::lifecycle::{eventually, life};

const SETTINGS: &str =
    "{ workspaceSettings { readReceipts autoLinkAttestedPhone windowWarningMinutes retentionDays } }";
const UPDATE: &str = "mutation($i: UpdateWorkspaceSettingsInput!) { updateWorkspaceSettings(input: $i) { \
    readReceipts autoLinkAttestedPhone windowWarningMinutes retentionDays } }";

async fn admins_change_the_settings_agents_read_them_and_each_change_is_audited(backend: Backend) {
    let Some(l) = life(backend, |_| {}).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let (_, agent) = l.app.agent(&l.t, "AGENT").await;
    let defaults = json!({ "readReceipts": true, "autoLinkAttestedPhone": false, "windowWarningMinutes": 60, "retentionDays": null });
    assert_eq!(l.app.ok(&agent, SETTINGS, json!({})).await["workspaceSettings"], defaults);

    let change =
        json!({ "i": { "autoLinkAttestedPhone": true, "windowWarningMinutes": 30, "retentionDays": 90 } });
    assert_eq!(error_code(&l.app.graphql(Some(&agent), UPDATE, change.clone()).await), "FORBIDDEN");
    let changed = json!({ "readReceipts": true, "autoLinkAttestedPhone": true, "windowWarningMinutes": 30, "retentionDays": 90 });
    assert_eq!(l.app.ok(&l.t.token, UPDATE, change).await["updateWorkspaceSettings"], changed);
    assert_eq!(l.app.ok(&agent, SETTINGS, json!({})).await["workspaceSettings"], changed);

    // Out of range: refused, naming the field, and nothing changes.
    for (input, field) in [
        (json!({ "windowWarningMinutes": 0 }), "windowWarningMinutes"),
        (json!({ "windowWarningMinutes": 1441 }), "windowWarningMinutes"),
        (json!({ "retentionDays": 0 }), "retentionDays"),
        (json!({ "retentionDays": 36501, "readReceipts": false }), "retentionDays"),
    ] {
        let body = l.app.graphql(Some(&l.t.token), UPDATE, json!({ "i": input })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(field), "{body}");
    }
    assert_eq!(l.app.ok(&agent, SETTINGS, json!({})).await["workspaceSettings"], changed);

    // A field left out keeps its value; `null` retention keeps everything again.
    let data = l.app.ok(&l.t.token, UPDATE, json!({ "i": { "retentionDays": null } })).await;
    assert_eq!(data["updateWorkspaceSettings"]["retentionDays"], Value::Null);
    assert_eq!(data["updateWorkspaceSettings"]["windowWarningMinutes"], 30);

    let log = l
        .app
        .ok(&l.t.token, "{ auditLog(first: 10) { action agentId subjectType subjectId details } }", json!({}))
        .await;
    let entries: Vec<&Value> = log["auditLog"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "workspace.settings_updated")
        .collect();
    assert_eq!(entries.len(), 2, "{log}");
    let first = entries[1];
    assert_eq!(first["agentId"], l.t.admin.to_string());
    assert_eq!(
        (first["subjectType"].as_str(), first["subjectId"].as_str()),
        (Some("workspace"), Some(l.t.workspace.to_string().as_str()))
    );
    assert_eq!(first["details"], json!({ "before": defaults, "after": changed }));
}

/// The workspace's `readReceipts` overrides the server's default both ways.
async fn the_read_receipts_setting_overrides_the_server_default(backend: Backend) {
    let Some(l) = life(backend, |config| config.read_receipts = false).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let receipts = |l: &crate::lifecycle::Life| {
        l.fake.requests().iter().filter(|r| r.body.contains("\"status\":\"read\"")).count()
    };
    let read = "mutation($c: ID!) { markConversationRead(conversationId: $c) { id } }";
    assert_eq!(l.app.ok(&l.t.token, SETTINGS, json!({})).await["workspaceSettings"]["readReceipts"], false);
    let first = l.app.receive(&l.t, &Inbound::with_phone("16505550002", "US.3", "Bo")).await.to_string();
    l.app.ok(&l.t.token, read, json!({ "c": first })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receipts(&l), 0, "the server's default: off");

    l.app.ok(&l.t.token, UPDATE, json!({ "i": { "readReceipts": true } })).await;
    let second = l.app.receive(&l.t, &Inbound::with_phone("16505550003", "US.4", "Cy")).await.to_string();
    l.app.ok(&l.t.token, read, json!({ "c": second })).await;
    eventually("the receipt the workspace turned on", || async { (receipts(&l) == 1).then_some(()) }).await;

    l.app.ok(&l.t.token, UPDATE, json!({ "i": { "readReceipts": false } })).await;
    l.app.receive(&l.t, &Inbound::with_phone("16505550003", "US.4", "Cy").wamid("wamid.LATER")).await;
    l.app.ok(&l.t.token, read, json!({ "c": second })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receipts(&l), 1, "turned off again");
}

on_both_backends!(
    admins_change_the_settings_agents_read_them_and_each_change_is_audited,
    the_read_receipts_setting_overrides_the_server_default,
);
