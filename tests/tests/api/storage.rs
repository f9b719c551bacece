//! The schema: migrations and entities agree, and every migration can be rolled back.

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use serde_json::json;

use crate::helpers::{Backend, Inbound, TestApp, error_code};

async fn table_columns(app: &TestApp, table: &str) -> Vec<String> {
    let conn = app.db.conn();
    let (sql, column) = match app.backend {
        Backend::Sqlite => (format!("SELECT name FROM pragma_table_info('{table}')"), "name"),
        Backend::Postgres => (
            format!(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{table}'"
            ),
            "column_name",
        ),
    };
    let rows = conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql)).await.unwrap();
    let mut names: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", column).unwrap()).collect();
    names.sort();
    names
}

async fn entities_and_migrations_agree(app: TestApp) {
    for (table, mut columns) in persistence::entities::tables() {
        columns.sort();
        assert_eq!(table_columns(&app, table).await, columns, "table {table}");
    }
}

async fn every_migration_rolls_back_and_reapplies(app: TestApp) {
    let conn = app.db.conn();
    Migrator::down(conn, None).await.expect("down");
    for (table, _) in persistence::entities::tables() {
        assert!(table_columns(&app, table).await.is_empty(), "{table} survived down");
    }
    Migrator::up(conn, None).await.expect("up again");
    entities_and_migrations_agree(app).await;
}

async fn the_database_backend_is_the_one_asked_for(app: TestApp) {
    let expected = match app.backend {
        Backend::Sqlite => DatabaseBackend::Sqlite,
        Backend::Postgres => DatabaseBackend::Postgres,
    };
    assert_eq!(app.db.backend(), expected, "{}", app.database_url.split('@').next_back().unwrap_or_default());
}

/// A stored value this version of Parley cannot read back (written by hand, by another tool,
/// by a broken migration) is one internal error with a fixed message wherever it is read: the
/// inbox, a relation loaded in a batch, a use case. Nothing of it reaches the client, and the
/// rest of the data stays readable once it is repaired.
async fn a_stored_value_that_cannot_be_read_is_an_internal_error_everywhere(app: TestApp) {
    let t = app.tenant("Acme").await;
    app.deliver(&t, &[&Inbound::with_phone("16505551234", "US.13491208655302741918", "Pablo")]).await;
    let inbox =
        "{ conversations { nodes { id customer { phoneNumber } contact { id } suggestedContact { id } } } }";
    let id = app.ok(&t.token, inbox, json!({})).await["conversations"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = "mutation($c: ID!) { createContact(conversationId: $c, input: { name: \"Pablo\" }) { id } }";
    app.ok(&t.token, create, json!({ "c": id })).await;
    let conn = app.db.conn();
    let sends = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"Hi\") { id } }";
    let contact = "{ contacts { nodes { bsuids usernames } } }";
    let cases = [
        ("UPDATE conversations SET customer_phone = 'not a phone'", inbox, "not a phone"),
        ("UPDATE conversations SET status = 'ARCHIVED'", inbox, "ARCHIVED"),
        ("UPDATE contact_identities SET kind = 'FAX'", contact, "FAX"),
    ];
    for (corrupt, query, text) in cases {
        conn.execute_unprepared(corrupt).await.unwrap();
        let body = app.graphql(Some(&t.token), query, json!({})).await;
        assert_eq!(error_code(&body), "INTERNAL", "{corrupt}: {body}");
        assert!(
            !body.to_string().contains(text),
            "{corrupt}: the stored text must not reach the client: {body}"
        );
        let body = app.graphql(Some(&t.token), sends, json!({ "c": id })).await;
        if query == inbox {
            assert_eq!(error_code(&body), "INTERNAL", "a use case reading it fails the same way: {body}");
        }
        conn.execute_unprepared("UPDATE conversations SET customer_phone = '+16505551234', status = 'OPEN'")
            .await
            .unwrap();
        conn.execute_unprepared("UPDATE contact_identities SET kind = 'BSUID' WHERE value LIKE 'US.%'")
            .await
            .unwrap();
        conn.execute_unprepared("UPDATE contact_identities SET kind = 'PHONE' WHERE value LIKE '+%'")
            .await
            .unwrap();
        app.ok(&t.token, query, json!({})).await;
    }
}

on_both!(
    a_stored_value_that_cannot_be_read_is_an_internal_error_everywhere,
    entities_and_migrations_agree,
    every_migration_rolls_back_and_reapplies,
    the_database_backend_is_the_one_asked_for
);
