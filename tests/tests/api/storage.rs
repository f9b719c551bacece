//! The schema: migrations and entities agree, and every migration can be rolled back.

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use crate::helpers::{Backend, TestApp};

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

on_both!(
    entities_and_migrations_agree,
    every_migration_rolls_back_and_reapplies,
    the_database_backend_is_the_one_asked_for
);
