//! Dataloaders, created per request and scoped to the viewer's workspace, so a page of any
//! size costs one query per relation.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use domain::{AgentId, BusinessNumberId, ContactId, ConversationId, WorkspaceId};
use persistence::entities::{agent, business_number, contact, contact_identity, conversation, message};
use persistence::{Database, StoreError, agents, business_numbers, contacts, conversations};
use uuid::Uuid;

use crate::error::ApiError;

/// A failed batch load, shared by every field that waited on it.
#[derive(Clone, Debug)]
pub struct LoadError(Arc<StoreError>);

impl From<LoadError> for ApiError {
    fn from(err: LoadError) -> Self {
        if err.0.is_unavailable() {
            return ApiError::Unavailable;
        }
        ApiError::Internal(anyhow::anyhow!("batch load failed: {:?}", err.0))
    }
}

impl From<StoreError> for LoadError {
    fn from(err: StoreError) -> Self {
        LoadError(Arc::new(err))
    }
}

/// Loads rows of one table by id within one workspace.
#[derive(Clone)]
pub struct WorkspaceLoader {
    db: Database,
    workspace: WorkspaceId,
}

fn by_id<M>(rows: Vec<M>, id: impl Fn(&M) -> Uuid) -> HashMap<Uuid, M> {
    rows.into_iter().map(|m| (id(&m), m)).collect()
}

/// Marker keys, one per relation, so one loader type serves several tables.
macro_rules! keyed {
    ($key:ident, $model:ty, $load:expr) => {
        /// Key for the loader of one relation.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub Uuid);

        impl Loader<$key> for WorkspaceLoader {
            type Value = $model;
            type Error = LoadError;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
                let rows = $load(&self.db, self.workspace, ids).await?;
                Ok(rows.into_iter().map(|(k, v)| ($key(k), v)).collect())
            }
        }
    };
}

async fn load_contacts(
    db: &Database,
    ws: WorkspaceId,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, contact::Model>, StoreError> {
    let ids: Vec<ContactId> = ids.into_iter().map(ContactId::from_uuid).collect();
    Ok(by_id(contacts::find_by_ids(db.conn(), ws, &ids).await?, |m| m.id))
}

async fn load_agents(
    db: &Database,
    ws: WorkspaceId,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, agent::Model>, StoreError> {
    let ids: Vec<AgentId> = ids.into_iter().map(AgentId::from_uuid).collect();
    Ok(by_id(agents::find_by_ids(db.conn(), ws, &ids).await?, |m| m.id))
}

async fn load_numbers(
    db: &Database,
    ws: WorkspaceId,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, business_number::Model>, StoreError> {
    let ids: Vec<BusinessNumberId> = ids.into_iter().map(BusinessNumberId::from_uuid).collect();
    Ok(by_id(business_numbers::find_by_ids(db.conn(), ws, &ids).await?, |m| m.id))
}

async fn load_conversations(
    db: &Database,
    ws: WorkspaceId,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, conversation::Model>, StoreError> {
    let ids: Vec<ConversationId> = ids.into_iter().map(ConversationId::from_uuid).collect();
    Ok(by_id(conversations::find_by_ids(db.conn(), ws, &ids).await?, |m| m.id))
}

async fn load_identities(
    db: &Database,
    ws: WorkspaceId,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<contact_identity::Model>>, StoreError> {
    let ids: Vec<ContactId> = ids.into_iter().map(ContactId::from_uuid).collect();
    let mut grouped: HashMap<Uuid, Vec<contact_identity::Model>> =
        ids.iter().map(|id| (id.as_uuid(), Vec::new())).collect();
    for identity in contacts::identities_of(db.conn(), ws, &ids).await? {
        grouped.entry(identity.contact_id).or_default().push(identity);
    }
    Ok(grouped)
}

/// Key of the identity-owner loader: an identity kind and its comparison key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnerKey(pub domain::IdentityKind, pub String);

impl Loader<OwnerKey> for WorkspaceLoader {
    type Value = contact_identity::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[OwnerKey]) -> Result<HashMap<OwnerKey, Self::Value>, Self::Error> {
        let pairs: Vec<(domain::IdentityKind, String)> = keys.iter().map(|k| (k.0, k.1.clone())).collect();
        let rows = contacts::owners_of(self.db.conn(), self.workspace, &pairs).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let kind = row.kind.parse::<domain::IdentityKind>().ok()?;
                Some((OwnerKey(kind, row.value_key.clone()), row))
            })
            .collect())
    }
}

async fn load_latest_messages(
    db: &Database,
    ws: WorkspaceId,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, message::Model>, StoreError> {
    let ids: Vec<ConversationId> = ids.into_iter().map(ConversationId::from_uuid).collect();
    Ok(by_id(persistence::messages::latest_of(db.conn(), ws, &ids).await?, |m| m.conversation_id))
}

keyed!(LastMessageKey, message::Model, load_latest_messages);
keyed!(ContactKey, contact::Model, load_contacts);
keyed!(AgentKey, agent::Model, load_agents);
keyed!(BusinessNumberKey, business_number::Model, load_numbers);
keyed!(ConversationKey, conversation::Model, load_conversations);
keyed!(IdentitiesKey, Vec<contact_identity::Model>, load_identities);

/// The per-request loader.
pub type Loaders = DataLoader<WorkspaceLoader, HashMapCache>;

/// A loader for one request of the given workspace. It caches for the request, so a page
/// can prefetch every relation in a fixed number of batches ([`prefetch_conversations`]) and
/// its fields then read from the cache, however the executor schedules them.
#[must_use]
pub fn for_workspace(db: Database, workspace: WorkspaceId) -> Loaders {
    DataLoader::with_cache(WorkspaceLoader { db, workspace }, tokio::spawn, HashMapCache::default())
}

/// Loads everything a page of conversations shows, in two rounds of one batch per relation.
///
/// # Errors
/// When a batch fails.
pub async fn prefetch_conversations(loader: &Loaders, rows: &[conversation::Model]) -> Result<(), LoadError> {
    let numbers = rows.iter().map(|c| BusinessNumberKey(c.business_number_id));
    let contacts = rows.iter().filter_map(|c| c.contact_id.map(ContactKey));
    let agents = rows.iter().filter_map(|c| c.assignee_id.map(AgentKey));
    let previous = rows.iter().filter_map(|c| c.previous_conversation_id.map(ConversationKey));
    let owners = rows.iter().filter(|c| c.contact_id.is_none()).flat_map(|c| {
        let bsuid = c.customer_bsuid.clone().map(|b| OwnerKey(domain::IdentityKind::Bsuid, b));
        let username = c.customer_username_key.clone().map(|u| OwnerKey(domain::IdentityKind::Username, u));
        bsuid.into_iter().chain(username)
    });
    let last = rows.iter().map(|c| LastMessageKey(c.id));
    let (_, _, _, _, previous, owners) = futures::try_join!(
        loader.load_many(last),
        loader.load_many(numbers),
        loader.load_many(contacts),
        loader.load_many(agents),
        loader.load_many(previous),
        loader.load_many(owners),
    )?;
    let suggested = previous
        .values()
        .filter_map(|p| p.contact_id)
        .chain(owners.values().map(|o| o.contact_id))
        .map(ContactKey);
    loader.load_many(suggested).await?;
    Ok(())
}
