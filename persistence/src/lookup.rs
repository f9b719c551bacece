//! Rows looked up by id whatever their workspace: the workers and sweeps that serve every
//! workspace of the process at once read a batch's rows in one statement, then check each row
//! against the workspace of what it belongs to.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::Error;
use crate::error::DbContext;

/// The rows of `E` whose `id` column is among `ids`; none without a statement when `ids` is
/// empty. `doing` names the look-up in the error ("failed to load agents").
///
/// # Errors
/// On a database failure.
pub(crate) async fn any_of<E, Id>(
    db: &impl ConnectionTrait,
    id: E::Column,
    ids: &[Id],
    doing: &'static str,
) -> Result<Vec<E::Model>, Error>
where
    E: EntityTrait,
    Id: Into<sea_orm::Value> + Copy,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    E::find().filter(id.is_in(ids.iter().copied())).all(db).await.context(doing)
}
