//! Small builders shared by the migrations, so each table reads as a list of columns.

use sea_orm_migration::prelude::*;

pub(crate) fn id(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).uuid().not_null().primary_key().to_owned()
}

pub(crate) fn uuid(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).uuid().not_null().to_owned()
}

pub(crate) fn uuid_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).uuid().null().to_owned()
}

pub(crate) fn text(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).text().not_null().to_owned()
}

pub(crate) fn text_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).text().null().to_owned()
}

pub(crate) fn timestamp(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).timestamp_with_time_zone().not_null().to_owned()
}

pub(crate) fn timestamp_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).timestamp_with_time_zone().null().to_owned()
}

pub(crate) fn boolean(name: &str, default: bool) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).boolean().not_null().default(default).to_owned()
}

pub(crate) fn big_integer(name: &str, default: i64) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).big_integer().not_null().default(default).to_owned()
}

pub(crate) fn integer(name: &str, default: i32) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).integer().not_null().default(default).to_owned()
}

pub(crate) fn integer_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).integer().null().to_owned()
}

pub(crate) fn big_integer_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).big_integer().null().to_owned()
}

pub(crate) fn json(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).json_binary().not_null().to_owned()
}

pub(crate) fn json_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).json_binary().null().to_owned()
}

/// A foreign key `table.column → target.id`.
pub(crate) fn fk(
    table: &str,
    column: &str,
    target: &str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(Alias::new(table), Alias::new(column))
        .to(Alias::new(target), Alias::new("id"))
        .on_delete(on_delete)
        .to_owned()
}

/// An index over `columns` (prefix a column with `-` for descending order).
pub(crate) fn index(table: &str, name: &str, columns: &[&str], unique: bool) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(Alias::new(table));
    for column in columns {
        match column.strip_prefix('-') {
            Some(c) => stmt.col((Alias::new(c), IndexOrder::Desc)),
            None => stmt.col(Alias::new(*column)),
        };
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

/// Creates a table with its columns and foreign keys.
pub(crate) async fn create_table(
    manager: &SchemaManager<'_>,
    name: &str,
    columns: Vec<ColumnDef>,
    foreign_keys: Vec<ForeignKeyCreateStatement>,
) -> Result<(), DbErr> {
    let mut stmt = Table::create();
    stmt.table(Alias::new(name));
    for mut column in columns {
        stmt.col(&mut column);
    }
    for mut key in foreign_keys {
        stmt.foreign_key(&mut key);
    }
    manager.create_table(stmt).await
}

pub(crate) async fn drop_table(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    manager.drop_table(Table::drop().table(Alias::new(name)).if_exists().to_owned()).await
}

/// Adds each `(table, column)`, in order.
pub(crate) async fn add_columns(
    manager: &SchemaManager<'_>,
    columns: Vec<(&str, ColumnDef)>,
) -> Result<(), DbErr> {
    for (table, column) in columns {
        manager.alter_table(Table::alter().table(Alias::new(table)).add_column(column).to_owned()).await?;
    }
    Ok(())
}

/// Drops each `(table, column)` [`add_columns`] added, last first.
pub(crate) async fn drop_columns(
    manager: &SchemaManager<'_>,
    columns: Vec<(&str, ColumnDef)>,
) -> Result<(), DbErr> {
    for (table, column) in columns.into_iter().rev() {
        let name = column.get_column_name();
        manager
            .alter_table(Table::alter().table(Alias::new(table)).drop_column(Alias::new(name)).to_owned())
            .await?;
    }
    Ok(())
}

/// Runs `statements` in order on PostgreSQL; does nothing on SQLite (for changes only
/// PostgreSQL needs: triggers, sequences, partial indexes).
pub(crate) async fn on_postgres(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    for statement in statements {
        manager.get_connection().execute_unprepared(statement).await?;
    }
    Ok(())
}
