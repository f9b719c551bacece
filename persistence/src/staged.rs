//! Writes held back within a transaction and sent together: a group commit of webhooks holds
//! the conversation changes, messages and events of its plain inbound messages and writes them
//! with a few statements per table just before it commits (or before anything else reads or
//! writes those tables), instead of several round trips per message.
//!
//! Whoever holds writes here answers for their order: [`Staged::flush`] must run before any
//! statement that could see the tables involved, and before the commit. What it returns are
//! the rows as they will be stored (timestamps at the databases' microsecond precision).

use chrono::{DateTime, SubsecRound as _, Utc};
use domain::{AgentId, ConversationId, TeamId, WorkspaceId};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait as _, IdenStatic as _, Iterable as _, Statement, TryIntoModel as _};

use crate::dialect::Dialect;

use crate::entities::{conversation, message};
use crate::error::{DbContext as _, Error};
use crate::events::{self, NewEvent};
use crate::messages::NewMessage;
use crate::work::Announce;
use crate::{conversations, messages};

/// `now` as a held row stores it (the databases' microsecond precision): what a message held
/// here is dated, and so what its conversation's `inbound_stored_at` must be to compare equal.
#[must_use]
pub fn stored_time(now: DateTime<Utc>) -> DateTime<Utc> {
    now.trunc_subsecs(6)
}

/// Held writes, in the order they were made.
#[derive(Debug, Default)]
pub struct Staged {
    /// One held change per conversation (later changes merged in).
    conversations: Vec<conversation::ActiveModel>,
    messages: Vec<message::ActiveModel>,
    events: Vec<events::Prepared>,
}

impl Staged {
    /// Whether nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty() && self.messages.is_empty() && self.events.is_empty()
    }

    /// Holds a change of `current`; returns the conversation as it will be stored.
    ///
    /// # Errors
    /// Never in practice: the change of a whole row sets every column.
    pub fn update_conversation(
        &mut self,
        current: conversation::Model,
        change: conversations::ConversationChange,
        now: DateTime<Utc>,
    ) -> Result<conversation::Model, Error> {
        let id = current.id;
        let earlier = self.conversations.iter().position(|held| held.id.as_ref() == &id);
        let mut next = conversations::changed(current, change, stored_time(now));
        let model = next.clone().try_into_model().context("a conversation change left a column unset")?;
        // The columns an earlier held change of the same conversation set stay set.
        if let Some(held) = earlier.map(|at| self.conversations.remove(at)) {
            for column in conversation::Column::iter() {
                if !next.get(column).is_set()
                    && let Set(value) = held.get(column)
                {
                    next.set(column, value);
                }
            }
        }
        self.conversations.push(next);
        Ok(model)
    }

    /// Holds a new message of `conversation`; returns it as it will be stored.
    ///
    /// # Errors
    /// Never in practice: a prepared row sets every column.
    pub fn insert_message(
        &mut self,
        conversation: &conversation::Model,
        new: NewMessage,
        now: DateTime<Utc>,
    ) -> Result<message::Model, Error> {
        let row = messages::row(conversation.into(), new, stored_time(now));
        let model = row.clone().try_into_model().context("a prepared message left a column unset")?;
        self.messages.push(row);
        Ok(model)
    }

    /// Holds an event (written after the rows it describes).
    pub fn append_event(&mut self, workspace: WorkspaceId, new: NewEvent, now: DateTime<Utc>) {
        self.events.push(events::prepare(workspace, new, now));
    }

    /// Writes everything held: the conversations' changes (one statement each), the messages
    /// and the events (a few rows per statement), in that order. Nothing is held afterwards,
    /// whether it succeeds or not.
    ///
    /// # Errors
    /// On a database failure (the transaction should then be rolled back).
    pub async fn flush(&mut self, db: &impl Announce) -> Result<(), Error> {
        if self.is_empty() {
            return Ok(());
        }
        let Staged { conversations: changes, messages, events } = std::mem::take(self);
        let reassigned: Vec<_> = changes
            .iter()
            .filter(|c| c.assignee_id.is_set() || c.team_id.is_set())
            .map(|c| (c.id.clone().unwrap(), c.assignee_id.clone().unwrap(), c.team_id.clone().unwrap()))
            .collect();
        let owners = write_changes(db, changes).await?;
        messages::insert_rows(db, with_owners(messages, &owners)).await?;
        for (conversation, assignee, team) in reassigned {
            crate::reports::follow_assignment(db, conversation, assignee, team).await?;
        }
        events::write(db, events).await
    }
}

/// The most conversations one `UPDATE` changes.
const CHANGES_PER_STATEMENT: usize = 200;

/// Writes held conversation changes: one `UPDATE … FROM (VALUES …)` for the changes that set
/// the same columns (the conversations of a group of inbound messages all do), each column set
/// only where a change set it. Rows are listed in id order.
async fn write_changes(
    db: &impl Announce,
    mut changes: Vec<conversation::ActiveModel>,
) -> Result<Owners, Error> {
    let mut owners = Owners::new();
    changes.sort_by_key(|c| c.id.clone().unwrap());
    let mut shapes: Vec<(Vec<conversation::Column>, Vec<conversation::ActiveModel>)> = Vec::new();
    for change in changes {
        conversations::announce(db, &change);
        let columns: Vec<conversation::Column> =
            conversation::Column::iter().filter(|c| change.get(*c).is_set()).collect();
        let names = |columns: &[conversation::Column]| columns.iter().map(|c| c.as_str()).collect::<Vec<_>>();
        match shapes.iter_mut().find(|(shape, _)| names(shape) == names(&columns)) {
            Some((_, rows)) => rows.push(change),
            None => shapes.push((columns, vec![change])),
        }
    }
    let dialect = Dialect::of(db);
    for (columns, rows) in shapes {
        for chunk in rows.chunks(CHANGES_PER_STATEMENT) {
            let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * (columns.len() + 1));
            let mut tuples = Vec::with_capacity(chunk.len());
            for row in chunk {
                let mut placeholders = Vec::with_capacity(columns.len() + 1);
                for value in std::iter::once(row.get(conversation::Column::Id))
                    .chain(columns.iter().map(|c| row.get(*c)))
                {
                    values.push(value.into_value().ok_or_else(|| {
                        Error::Unexpected(anyhow::anyhow!("a held conversation change lost a value"))
                    })?);
                    placeholders.push(dialect.placeholder(values.len()));
                }
                tuples.push(format!("({})", placeholders.join(", ")));
            }
            let set: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("\"{}\" = v.column{}", c.as_str(), i + 2))
                .collect();
            let sql = format!(
                "UPDATE conversations SET {} FROM (VALUES {}) AS v WHERE conversations.id = v.column1 \
                 RETURNING conversations.id, conversations.assignee_id, conversations.team_id",
                set.join(", "),
                tuples.join(", ")
            );
            let stmt = Statement::from_sql_and_values(dialect.backend(), sql, values);
            for row in db.query_all_raw(stmt).await.context("failed to update conversations")? {
                let id: ConversationId = row.try_get("", "id").context("id")?;
                let owner = (
                    row.try_get("", "assignee_id").context("assignee_id")?,
                    row.try_get("", "team_id").context("team_id")?,
                );
                owners.insert(id, owner);
            }
        }
    }
    Ok(owners)
}

/// Each changed conversation's assignee and team as its row holds them once changed (an
/// assignment another transaction committed since it was read included).
type Owners = std::collections::HashMap<ConversationId, (Option<AgentId>, Option<TeamId>)>;

/// The held messages, with the assignee and team their conversation's row holds now.
fn with_owners(mut rows: Vec<message::ActiveModel>, owners: &Owners) -> Vec<message::ActiveModel> {
    for row in &mut rows {
        if let Some((assignee, team)) = owners.get(row.conversation_id.as_ref()) {
            row.conversation_assignee_id = Set(*assignee);
            row.conversation_team_id = Set(*team);
        }
    }
    rows
}
