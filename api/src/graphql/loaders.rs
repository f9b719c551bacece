//! Dataloaders, created per request and scoped to the viewer's workspace, so a page of any
//! size costs one query per relation.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use domain::{AgentId, BusinessNumberId, ContactId, ConversationId, MessageId, TeamId, WorkspaceId};
use persistence::{
    Database, agents, attachments, business_numbers, contacts, conversations, labels, messages, reactions,
    reads, teams,
};

use crate::error::ApiError;

/// A failed batch load, shared by every field that waited on it.
#[derive(Clone, Debug)]
pub struct LoadError(Arc<persistence::Error>);

impl From<LoadError> for ApiError {
    fn from(err: LoadError) -> Self {
        if err.0.is_unavailable() {
            return ApiError::Unavailable;
        }
        ApiError::Internal(anyhow::anyhow!("batch load failed: {:?}", err.0))
    }
}

impl From<persistence::Error> for LoadError {
    fn from(err: persistence::Error) -> Self {
        LoadError(Arc::new(err))
    }
}

/// Loads rows of one table by id within one workspace (and the viewer's own read state).
#[derive(Clone)]
pub struct WorkspaceLoader {
    db: Database,
    workspace: WorkspaceId,
    agent: AgentId,
    /// The workspace's templates, read once per request (the template capabilities of every
    /// conversation of a page share them).
    templates: Arc<tokio::sync::OnceCell<Arc<Vec<persistence::Template>>>>,
}

impl WorkspaceLoader {
    /// The workspace's templates, read at most once per request.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn templates(&self) -> Result<Arc<Vec<persistence::Template>>, LoadError> {
        let rows = self
            .templates
            .get_or_try_init(|| async {
                Ok::<_, LoadError>(Arc::new(
                    persistence::templates::list(self.db.conn(), self.workspace).await?,
                ))
            })
            .await?;
        Ok(Arc::clone(rows))
    }
}

/// One loader per relation: a key wraps the id it loads by; a page of any size costs one
/// query per relation.
macro_rules! keyed {
    ($(#[$doc:meta])* $key:ident($id:ty) => $model:ty, $load:path, $id_of:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub $id);

        impl Loader<$key> for WorkspaceLoader {
            type Value = $model;
            type Error = LoadError;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let ids: Vec<$id> = keys.iter().map(|k| k.0).collect();
                let rows = $load(self.db.conn(), self.workspace, &ids).await?;
                Ok(rows.into_iter().map(|m| ($key($id_of(&m)), m)).collect())
            }
        }
    };
}

keyed!(
    /// The latest message of a conversation.
    LastMessageKey(ConversationId) => persistence::Message, messages::latest_of, |m: &persistence::Message| m.conversation_id
);
keyed!(
    /// A contact by id.
    ContactKey(ContactId) => persistence::Contact, contacts::find_by_ids, |m: &persistence::Contact| m.id
);
keyed!(
    /// An agent by id.
    AgentKey(AgentId) => persistence::Agent, agents::find_by_ids, |m: &persistence::Agent| m.id
);
keyed!(
    /// A business number by id.
    BusinessNumberKey(BusinessNumberId) => persistence::BusinessNumber, business_numbers::find_by_ids, |m: &persistence::BusinessNumber| m.id
);
keyed!(
    /// A message by id (what a message replies to).
    MessageKey(MessageId) => persistence::Message, messages::find_by_ids, |m: &persistence::Message| m.id
);
keyed!(
    /// A team by id.
    TeamKey(TeamId) => persistence::Team, teams::find_by_ids, |m: &persistence::Team| m.id
);
keyed!(
    /// A conversation by id.
    ConversationKey(ConversationId) => persistence::Conversation, conversations::find_by_ids, |m: &persistence::Conversation| m.id
);

/// The identities saved on a contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdentitiesKey(pub ContactId);

impl Loader<IdentitiesKey> for WorkspaceLoader {
    type Value = Vec<persistence::ContactIdentity>;
    type Error = LoadError;

    async fn load(&self, keys: &[IdentitiesKey]) -> Result<HashMap<IdentitiesKey, Self::Value>, Self::Error> {
        let ids: Vec<ContactId> = keys.iter().map(|k| k.0).collect();
        let mut grouped: HashMap<IdentitiesKey, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for identity in contacts::identities_of(self.db.conn(), self.workspace, &ids).await? {
            grouped.entry(IdentitiesKey(identity.contact_id)).or_default().push(identity);
        }
        Ok(grouped)
    }
}

/// Rows that belong to a message, grouped by message: one query for a page of messages.
macro_rules! of_message {
    ($(#[$doc:meta])* $key:ident => $model:ty, $load:path) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub MessageId);

        impl Loader<$key> for WorkspaceLoader {
            type Value = Vec<$model>;
            type Error = LoadError;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let ids: Vec<MessageId> = keys.iter().map(|k| k.0).collect();
                let mut grouped: HashMap<$key, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
                for row in $load(self.db.conn(), self.workspace, &ids).await? {
                    if let Some(message) = row.message_id.clone().into() {
                        grouped.entry($key(message)).or_default().push(row);
                    }
                }
                Ok(grouped)
            }
        }
    };
}

of_message!(
    /// The attachments of a message.
    AttachmentsKey => persistence::Attachment, attachments::of_messages
);
of_message!(
    /// The reactions on a message.
    ReactionsKey => persistence::MessageReaction, reactions::of_messages
);

/// The labels a conversation carries, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LabelsKey(pub ConversationId);

impl Loader<LabelsKey> for WorkspaceLoader {
    type Value = Vec<persistence::Label>;
    type Error = LoadError;

    async fn load(&self, keys: &[LabelsKey]) -> Result<HashMap<LabelsKey, Self::Value>, Self::Error> {
        let ids: Vec<ConversationId> = keys.iter().map(|k| k.0).collect();
        let mut grouped: HashMap<LabelsKey, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for (conversation, label) in labels::of_conversations(self.db.conn(), self.workspace, &ids).await? {
            grouped.entry(LabelsKey(conversation)).or_default().push(label);
        }
        Ok(grouped)
    }
}

/// The current SLA clocks of a conversation (the latest of each target).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlaKey(pub ConversationId);

impl Loader<SlaKey> for WorkspaceLoader {
    type Value = Vec<persistence::sla::SlaClock>;
    type Error = LoadError;

    async fn load(&self, keys: &[SlaKey]) -> Result<HashMap<SlaKey, Self::Value>, Self::Error> {
        let ids: Vec<ConversationId> = keys.iter().map(|k| k.0).collect();
        let mut grouped: HashMap<SlaKey, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for clock in persistence::sla::current(self.db.conn(), &ids).await? {
            if clock.workspace_id == self.workspace {
                grouped.entry(SlaKey(clock.conversation_id)).or_default().push(clock);
            }
        }
        Ok(grouped)
    }
}

/// An SLA policy of the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlaPolicyKey(pub domain::SlaPolicyId);

impl Loader<SlaPolicyKey> for WorkspaceLoader {
    type Value = persistence::sla::SlaPolicy;
    type Error = LoadError;

    async fn load(&self, keys: &[SlaPolicyKey]) -> Result<HashMap<SlaPolicyKey, Self::Value>, Self::Error> {
        let ids: Vec<domain::SlaPolicyId> = keys.iter().map(|k| k.0).collect();
        let rows = persistence::sla::policies_by_ids(self.db.conn(), &ids).await?;
        Ok(rows
            .into_iter()
            .filter(|p| p.workspace_id == self.workspace)
            .map(|p| (SlaPolicyKey(p.id), p))
            .collect())
    }
}

/// How many conversations wait in a team's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QueueKey(pub TeamId);

impl Loader<QueueKey> for WorkspaceLoader {
    type Value = i64;
    type Error = LoadError;

    async fn load(&self, keys: &[QueueKey]) -> Result<HashMap<QueueKey, Self::Value>, Self::Error> {
        let ids: Vec<TeamId> = keys.iter().map(|k| k.0).collect();
        let sizes = persistence::routing::queue_sizes(self.db.conn(), &ids).await?;
        Ok(ids.into_iter().map(|t| (QueueKey(t), sizes.get(&t).copied().unwrap_or(0))).collect())
    }
}

/// The member agents of a team, in the order they joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TeamMembersKey(pub TeamId);

impl Loader<TeamMembersKey> for WorkspaceLoader {
    type Value = Vec<AgentId>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[TeamMembersKey],
    ) -> Result<HashMap<TeamMembersKey, Self::Value>, Self::Error> {
        let ids: Vec<TeamId> = keys.iter().map(|k| k.0).collect();
        let members = teams::members_of(self.db.conn(), self.workspace, &ids).await?;
        Ok(members.into_iter().map(|(team, agents)| (TeamMembersKey(team), agents)).collect())
    }
}

/// The contact owning an identity (kind and comparison key), for suggestions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnerKey(pub domain::IdentityKind, pub String);

/// Every key gets a value (`None`: nobody owns it), so a miss is cached like a hit and the
/// suggestion of a page asks once, however its fields are scheduled.
impl Loader<OwnerKey> for WorkspaceLoader {
    type Value = Option<persistence::ContactIdentity>;
    type Error = LoadError;

    async fn load(&self, keys: &[OwnerKey]) -> Result<HashMap<OwnerKey, Self::Value>, Self::Error> {
        let pairs: Vec<(domain::IdentityKind, String)> = keys.iter().map(|k| (k.0, k.1.clone())).collect();
        let rows = contacts::owners_of(self.db.conn(), self.workspace, &pairs).await?;
        let mut found: HashMap<OwnerKey, Self::Value> = keys.iter().map(|k| (k.clone(), None)).collect();
        for row in rows {
            found.insert(OwnerKey(row.kind, row.value_key.clone()), Some(row));
        }
        Ok(found)
    }
}

/// The viewer's read state of a conversation: unread inbound messages and their marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReadKey(pub ConversationId);

/// What [`ReadKey`] loads.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadState {
    pub unread: i64,
    pub last_read_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Loader<ReadKey> for WorkspaceLoader {
    type Value = ReadState;
    type Error = LoadError;

    async fn load(&self, keys: &[ReadKey]) -> Result<HashMap<ReadKey, Self::Value>, Self::Error> {
        let ids: Vec<ConversationId> = keys.iter().map(|k| k.0).collect();
        let states = reads::read_states(self.db.conn(), self.workspace, self.agent, &ids).await?;
        Ok(states
            .into_iter()
            .map(|s| {
                (ReadKey(s.conversation_id), ReadState { unread: s.unread, last_read_at: s.last_read_at })
            })
            .collect())
    }
}

pub type Loaders = DataLoader<WorkspaceLoader, HashMapCache>;

/// A loader for one request of an agent of the given workspace. It caches for the request, so
/// a page can prefetch every relation in a fixed number of batches ([`prefetch_conversations`])
/// and its fields then read from the cache, however the executor schedules them.
#[must_use]
pub fn for_viewer(db: Database, workspace: WorkspaceId, agent: AgentId) -> Loaders {
    let templates = Arc::default();
    DataLoader::with_cache(
        WorkspaceLoader { db, workspace, agent, templates },
        tokio::spawn,
        HashMapCache::default(),
    )
}

/// What a page of conversations shows: each relation is loaded only when a field of the page
/// needs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shown {
    /// The linked contact (`displayName`, `contact`, `capabilities`).
    pub contact: bool,
    /// The business number (`businessNumber`, `capabilities`).
    pub number: bool,
    /// `assignee`.
    pub assignee: bool,
    /// `lastMessage`.
    pub last_message: bool,
    /// `previousConversation` and `suggestedContact` (the earlier conversation, and the
    /// contacts that own the customer's identities).
    pub suggestion: bool,
    /// The viewer's read state (`unreadCount`, `lastReadAt`).
    pub read_state: bool,
    /// `labels`.
    pub labels: bool,
    /// `team`, and whether with its `members`.
    pub team: bool,
    pub team_members: bool,
    /// `sla` (its clocks and policy).
    pub sla: bool,
    /// The team's `queue` and `slaPolicy`.
    pub team_queue: bool,
    pub team_policy: bool,
}

/// Loads `keys` as one batch at once and leaves the values in the request's cache, where the
/// page's fields find them. The page already holds every key, so it skips the loader's
/// batching delay (a timer per relation, which each page waited on twice).
async fn fill<K>(
    loader: &Loaders,
    keys: impl IntoIterator<Item = K>,
) -> Result<HashMap<K, <WorkspaceLoader as Loader<K>>::Value>, LoadError>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    WorkspaceLoader: Loader<K, Error = LoadError>,
{
    let keys: Vec<K> = keys.into_iter().collect::<std::collections::HashSet<K>>().into_iter().collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let values = loader.loader().load(&keys).await?;
    loader.feed_many(values.iter().map(|(k, v)| (k.clone(), v.clone()))).await;
    Ok(values)
}

/// Loads everything a page of conversations shows, in two rounds of one batch per relation
/// shown ([`Shown`]).
///
/// # Errors
/// When a batch fails.
pub async fn prefetch_conversations(
    loader: &Loaders,
    rows: &[persistence::Conversation],
    shown: Shown,
) -> Result<(), LoadError> {
    let when = |shows: bool| rows.iter().filter(move |_| shows);
    let numbers = when(shown.number).map(|c| BusinessNumberKey(c.business_number_id));
    let contacts = when(shown.contact).filter_map(|c| c.contact_id.map(ContactKey));
    let agents = when(shown.assignee).filter_map(|c| c.assignee_id.map(AgentKey));
    let previous = when(shown.suggestion).filter_map(|c| c.previous_conversation_id.map(ConversationKey));
    let owners = when(shown.suggestion).filter(|c| c.contact_id.is_none()).flat_map(|c| {
        let bsuid =
            c.customer_bsuid.as_ref().map(|b| OwnerKey(domain::IdentityKind::Bsuid, b.as_str().to_owned()));
        let username = c.customer_username_key.clone().map(|u| OwnerKey(domain::IdentityKind::Username, u));
        bsuid.into_iter().chain(username)
    });
    let last = when(shown.last_message).map(|c| LastMessageKey(c.id));
    let reads = when(shown.read_state).map(|c| ReadKey(c.id));
    let labels = when(shown.labels).map(|c| LabelsKey(c.id));
    let teams = when(shown.team).filter_map(|c| c.team_id.map(TeamKey));
    let members = when(shown.team_members).filter_map(|c| c.team_id.map(TeamMembersKey));
    let clocks = when(shown.sla).filter(|c| c.sla_policy_id.is_some()).map(|c| SlaKey(c.id));
    let policies = when(shown.sla).filter_map(|c| c.sla_policy_id.map(SlaPolicyKey));
    let queues = when(shown.team_queue).filter_map(|c| c.team_id.map(QueueKey));
    let (_, _, teams, members, _, _, contacts, agents, previous, owners, _, policies, _) = futures::try_join!(
        fill(loader, reads),
        fill(loader, labels),
        fill(loader, teams),
        fill(loader, members),
        fill(loader, last),
        fill(loader, numbers),
        fill(loader, contacts),
        fill(loader, agents),
        fill(loader, previous),
        fill(loader, owners),
        fill(loader, clocks),
        fill(loader, policies),
        fill(loader, queues),
    )?;
    // The second round skips what the first one read (a member who is also an assignee, a
    // suggested contact that a row links, the team's policy that a row runs under).
    let team_policies = teams
        .values()
        .filter(|_| shown.team_policy)
        .filter_map(|t| t.sla_policy_id.map(SlaPolicyKey))
        .filter(|k| !policies.contains_key(k));
    let suggested = previous
        .values()
        .filter_map(|p| p.contact_id)
        .chain(owners.values().flatten().map(|o| o.contact_id))
        .map(ContactKey)
        .filter(|k| !contacts.contains_key(k));
    let member_agents = members.values().flatten().copied().map(AgentKey).filter(|k| !agents.contains_key(k));
    futures::try_join!(fill(loader, suggested), fill(loader, member_agents), fill(loader, team_policies))?;
    Ok(())
}
