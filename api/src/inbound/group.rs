//! What the webhooks of one group commit share: the look-ups they need, made together before
//! the first is applied, and the writes their plain inbound messages hold back until the
//! group commits ([`Staged`]).
//!
//! A group of N webhooks would otherwise cost about six round trips each (the business number,
//! the duplicate check, the thread's key, the conversation's change, the message, its event).
//! Here the numbers, the duplicate checks and the thread keys of the whole group are three
//! statements ([`Group::prefetch`]), and the conversations' changes, messages and events are
//! written just before the commit, a few rows per statement.
//!
//! The look-ups stay true because every write to what they cache goes through here: a message
//! stored, a conversation opened or changed updates them. Anything else a webhook does (a
//! status, a reaction, an identity change, a dead letter, an SMS post) first [`Group::settle`]s:
//! the held writes are written and the look-ups forgotten, so what comes next reads the
//! database again.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use domain::{BusinessNumberId, Channel, ConversationId, ThreadKeyKind, WorkspaceId};
use persistence::conversations::ConversationChange;
use persistence::messages::{NewMessage, external_id_digest};
use persistence::staged::Staged;

use crate::workflow::arrivals::Arrival;
use persistence::{
    Announce, BusinessNumber, Conversation, Message, business_numbers, conversations, messages,
};

/// A thread's key: its business number, channel and key.
type Key = (BusinessNumberId, Channel, ThreadKeyKind, String);

/// What a group's webhooks will look up (gathered before the group's transaction reads).
#[derive(Debug, Default)]
pub struct Hints {
    /// By business number (`phone_number_id`).
    numbers: HashMap<String, NumberHints>,
}

/// The provider ids of a number's messages and the thread keys (phone, BSUID) of their
/// senders.
#[derive(Debug, Default)]
struct NumberHints {
    ids: Vec<String>,
    keys: Vec<(ThreadKeyKind, String)>,
}

impl Hints {
    /// An inbound message on the number with `phone_number_id`, with its provider id and its
    /// sender's thread keys.
    pub fn message(
        &mut self,
        phone_number_id: &str,
        wamid: &str,
        keys: impl IntoIterator<Item = (ThreadKeyKind, String)>,
    ) {
        let hints = self.numbers.entry(phone_number_id.to_owned()).or_default();
        hints.ids.extend(ids_of(wamid));
        hints.keys.extend(keys);
    }
}

/// The look-ups and held writes of one group commit (or of one webhook applied alone).
#[derive(Debug, Default)]
pub struct Group {
    numbers: HashMap<String, Option<BusinessNumber>>,
    /// Provider ids looked up, and whether a message has them.
    ids: HashMap<(BusinessNumberId, String), bool>,
    keys: HashMap<Key, Option<Conversation>>,
    staged: Staged,
    /// The customers' messages of the group, by conversation: how the first met it, when it
    /// was written, and the group's time (see [`Group::finish`]).
    arrivals: HashMap<ConversationId, (Arrival, DateTime<Utc>, DateTime<Utc>)>,
}

impl Group {
    /// Looks up everything `hints` names in three statements.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn prefetch(db: &impl Announce, hints: Hints) -> Result<Self, persistence::Error> {
        let mut group = Self::default();
        let wanted: Vec<String> = hints.numbers.keys().cloned().collect();
        for number in business_numbers::find_by_phone_number_ids(db, &wanted).await? {
            group.numbers.insert(number.phone_number_id.clone(), Some(number));
        }
        let (mut ids, mut keys) = (HashSet::new(), HashSet::new());
        for (phone_number_id, wanted) in hints.numbers {
            let Some(number) = group.numbers.entry(phone_number_id).or_default().clone() else { continue };
            ids.extend(wanted.ids.into_iter().map(|id| (number.id, id)));
            keys.extend(
                wanted.keys.into_iter().map(|(kind, value)| (number.id, Channel::Whatsapp, kind, value)),
            );
        }
        let (ids, keys): (Vec<_>, Vec<_>) = (ids.into_iter().collect(), keys.into_iter().collect());
        let stored = messages::stored_external_ids(db, &ids).await?;
        for id in ids {
            let found = stored.contains(&id);
            group.ids.insert(id, found);
        }
        let found = conversations::find_by_keys(db, &keys).await?;
        for key in keys {
            group.keys.insert(key, None);
        }
        for conversation in found {
            group.keys.insert(key_of(&conversation), Some(conversation));
        }
        Ok(group)
    }

    /// The business number with `phone_number_id`.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn number(
        &mut self,
        db: &impl Announce,
        phone_number_id: &str,
    ) -> Result<Option<BusinessNumber>, persistence::Error> {
        if let Some(found) = self.numbers.get(phone_number_id) {
            return Ok(found.clone());
        }
        let found = business_numbers::find_by_phone_number_id(db, phone_number_id).await?;
        self.numbers.insert(phone_number_id.to_owned(), found.clone());
        Ok(found)
    }

    /// Whether a message of `number` has any of `ids` (a provider id and its digest).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn has_message(
        &mut self,
        db: &impl Announce,
        number: BusinessNumberId,
        ids: &[String],
    ) -> Result<bool, persistence::Error> {
        let known: Option<Vec<bool>> =
            ids.iter().map(|id| self.ids.get(&(number, id.clone())).copied()).collect();
        if let Some(known) = known {
            return Ok(known.contains(&true));
        }
        self.flush(db).await?;
        Ok(messages::find_by_any_external_id(db, number, ids).await?.is_some())
    }

    /// The conversation with this thread key.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn by_key(
        &mut self,
        db: &impl Announce,
        number: BusinessNumberId,
        channel: Channel,
        kind: ThreadKeyKind,
        value: &str,
    ) -> Result<Option<Conversation>, persistence::Error> {
        let key = (number, channel, kind, value.to_owned());
        if let Some(found) = self.keys.get(&key) {
            return Ok(found.clone());
        }
        self.flush(db).await?;
        let found = conversations::find_by_key(db, number, channel, kind, value).await?;
        self.keys.insert(key, found.clone());
        Ok(found)
    }

    /// A conversation just opened (written by the caller).
    pub fn opened(&mut self, conversation: &Conversation) {
        self.keys.insert(key_of(conversation), Some(conversation.clone()));
    }

    /// Holds a change of `current`; returns the conversation as it will be stored.
    ///
    /// # Errors
    /// Never in practice (see [`Staged::update_conversation`]).
    pub fn update_conversation(
        &mut self,
        current: Conversation,
        change: ConversationChange,
        now: DateTime<Utc>,
    ) -> Result<Conversation, persistence::Error> {
        let saved = self.staged.update_conversation(current, change, now)?;
        self.keys.insert(key_of(&saved), Some(saved.clone()));
        Ok(saved)
    }

    /// Holds a new message of `conversation` whose provider ids are `ids`; returns it as it
    /// will be stored.
    ///
    /// # Errors
    /// Never in practice (see [`Staged::insert_message`]).
    pub fn insert_message(
        &mut self,
        conversation: &Conversation,
        new: NewMessage,
        ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<Message, persistence::Error> {
        let saved = self.staged.insert_message(conversation, new, now)?;
        for id in ids {
            self.ids.insert((saved.business_number_id, id.clone()), true);
        }
        Ok(saved)
    }

    /// Holds an event, written after the rows it describes.
    pub fn stage(&mut self, event: crate::events::Event<'_>, now: DateTime<Utc>) {
        crate::events::stage(&mut self.staged, event, now);
    }

    /// A customer's message written at `at` met `conversation` as `arrival`.
    pub fn arrived(
        &mut self,
        conversation: &Conversation,
        arrival: Arrival,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        let entry = self.arrivals.entry(conversation.id).or_insert((arrival, at, now));
        entry.0 = entry.0.max(arrival);
        entry.1 = entry.1.min(at);
    }

    /// Writes what is held, then runs what the group's customer messages set going (the team's
    /// SLA policy, SLA clocks, away replies, the router; see [`crate::workflow::arrivals`]):
    /// call it last, before the commit.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn finish(&mut self, db: &impl Announce) -> Result<(), persistence::Error> {
        self.flush(db).await?;
        if self.arrivals.is_empty() {
            return Ok(());
        }
        // The group's look-ups hold each conversation as written; one a settle forgot is read.
        let mut found: HashMap<ConversationId, Conversation> = self
            .keys
            .values()
            .flatten()
            .filter(|c| self.arrivals.contains_key(&c.id))
            .map(|c| (c.id, c.clone()))
            .collect();
        let missing: Vec<ConversationId> =
            self.arrivals.keys().filter(|id| !found.contains_key(id)).copied().collect();
        found.extend(persistence::inbox::find_any_of(db, &missing).await?.into_iter().map(|c| (c.id, c)));
        let mut workspaces: Vec<WorkspaceId> = found.values().map(|c| c.workspace_id).collect();
        workspaces.sort_unstable();
        workspaces.dedup();
        let hours = persistence::hours::of_many(db, &workspaces).await?;
        for (id, (arrival, at, now)) in std::mem::take(&mut self.arrivals) {
            let Some(conversation) = found.remove(&id) else { continue };
            let hours = hours.get(&conversation.workspace_id);
            crate::workflow::arrivals::customer_wrote(db, hours, conversation, arrival, at, now).await?;
        }
        self.ids.clear();
        self.keys.clear();
        Ok(())
    }

    /// Writes what is held (before a statement that could see it, and before the commit).
    ///
    /// # Errors
    /// On a database failure (the transaction should then be rolled back).
    pub async fn flush(&mut self, db: &impl Announce) -> Result<(), persistence::Error> {
        self.staged.flush(db).await
    }

    /// Writes what is held and forgets every look-up: call it before a write that does not go
    /// through the group (what follows reads the database again).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn settle(&mut self, db: &impl Announce) -> Result<(), persistence::Error> {
        self.flush(db).await?;
        self.ids.clear();
        self.keys.clear();
        self.numbers.clear();
        Ok(())
    }
}

/// The thread keys a group's look-ups remember a conversation under.
fn key_of(conversation: &Conversation) -> Key {
    (
        conversation.business_number_id,
        conversation.channel,
        conversation.key_kind,
        conversation.key_value.clone(),
    )
}

/// The provider ids a group's look-ups remember a message of a `wamid` under.
#[must_use]
pub fn ids_of(wamid: &str) -> [String; 2] {
    [wamid.to_owned(), external_id_digest(wamid)]
}
