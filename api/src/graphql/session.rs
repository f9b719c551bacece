//! Long-lived GraphQL sessions (WebSocket) and the per-operation scope every operation runs in
//! (PRODUCT.md section 10, "Long-lived connections").
//!
//! A socket authenticates once at `connection_init` and keeps its token in a
//! [`SocketSession`]; it never keeps a viewer. Every operation sent over it then runs in the
//! scope [`super::runner::Operations`] gives it: the token is verified again and the agent read from the database *at
//! that moment* (a fired or demoted agent is refused at once), and the operation gets its own
//! `now`, its own dataloaders and the same time limit as an HTTP request. Meanwhile the
//! [`SocketRegistry`] sweeps every open socket of the process (one query for all of them) and
//! closes with `4403` those whose agent was deactivated, deleted, moved, or demoted below what
//! an open subscription needs, and those whose token expired. A socket holds at most
//! [`MAX_SUBSCRIPTIONS`] subscriptions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use chrono::{DateTime, Utc};
use domain::{AgentId, Permission, WorkspaceId};
use persistence::{Database, Work, agents};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;

use crate::auth::{Authenticator, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::workers::Next;

/// Most subscriptions one socket may hold at once.
pub const MAX_SUBSCRIPTIONS: usize = 50;

/// Why the server closes a socket (sent as the close frame's reason, code 4403).
pub type CloseReason = &'static str;

/// One authenticated WebSocket: the token it presented, and the subscriptions it holds.
pub struct SocketSession {
    token: SecretString,
    auth: Arc<Authenticator>,
    agent_id: AgentId,
    workspace_id: WorkspaceId,
    expires_at: DateTime<Utc>,
    subscriptions: Mutex<HashMap<u64, Permission>>,
    next_subscription: AtomicU64,
    close: watch::Sender<Option<CloseReason>>,
}

impl std::fmt::Debug for SocketSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketSession")
            .field("agent_id", &self.agent_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl SocketSession {
    /// Authenticates a socket's `connection_init` token. `close` is how the session asks the
    /// socket to close.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` as for an HTTP request.
    pub async fn open(
        auth: Arc<Authenticator>,
        db: &Database,
        token: &str,
        now: DateTime<Utc>,
        close: watch::Sender<Option<CloseReason>>,
    ) -> ApiResult<Arc<Self>> {
        let (viewer, expires_at) = auth.authenticate_until(db, token, now).await?;
        Ok(Arc::new(Self {
            token: SecretString::from(token.to_owned()),
            auth,
            agent_id: viewer.agent_id,
            workspace_id: viewer.workspace_id,
            expires_at,
            subscriptions: Mutex::new(HashMap::new()),
            next_subscription: AtomicU64::new(0),
            close,
        }))
    }

    /// The viewer for one operation, read now: the token is checked again (expiry) and the
    /// agent's current state and role come from the database.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` when the token expired or the agent is gone or inactive.
    pub async fn authorise(&self, db: &Database, now: DateTime<Utc>) -> ApiResult<Viewer> {
        if now >= self.expires_at {
            return Err(ApiError::Unauthenticated("The access token is invalid or expired."));
        }
        self.auth.authenticate(db, self.token.expose_secret(), now).await
    }

    /// Holds a subscription slot while the returned guard lives.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when the socket already holds [`MAX_SUBSCRIPTIONS`].
    pub fn hold(self: &Arc<Self>, needs: Permission) -> ApiResult<SubscriptionSlot> {
        let mut open = self.lock();
        if open.len() >= MAX_SUBSCRIPTIONS {
            return Err(ApiError::bad_input(format!(
                "A connection may hold at most {MAX_SUBSCRIPTIONS} subscriptions; complete one first."
            )));
        }
        let id = self.next_subscription.fetch_add(1, Ordering::Relaxed);
        open.insert(id, needs);
        Ok(SubscriptionSlot { session: Arc::downgrade(self), id })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Permission>> {
        self.subscriptions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the socket must close, given its agent as stored now (`None`: deleted).
    #[must_use]
    pub fn verdict(&self, agent: Option<&persistence::Agent>, now: DateTime<Utc>) -> Option<CloseReason> {
        let Some(agent) = agent.filter(|a| a.workspace_id == self.workspace_id) else {
            return Some("The agent no longer exists.");
        };
        if !agent.active {
            return Some("The agent was deactivated.");
        }
        if now >= self.expires_at {
            return Some("The access token expired.");
        }
        if self.lock().values().any(|needs| !agent.role.allows(*needs)) {
            return Some("The agent's role no longer allows an open subscription.");
        }
        None
    }

    /// Asks the socket to close (once; later reasons are ignored).
    pub fn close(&self, reason: CloseReason) {
        self.close.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(reason);
            true
        });
    }
}

/// A subscription's place on its socket; released when the subscription's stream is dropped
/// (completed by the client, or the socket closed).
#[derive(Debug)]
pub struct SubscriptionSlot {
    session: Weak<SocketSession>,
    id: u64,
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        if let Some(session) = self.session.upgrade() {
            session.lock().remove(&self.id);
        }
    }
}

/// The open sockets of this process, swept together.
#[derive(Clone, Debug, Default)]
pub struct SocketRegistry {
    sessions: Arc<Mutex<Vec<Weak<SocketSession>>>>,
    /// Wakes the sweeper when a socket opens (its token may expire before the next sweep).
    opened: Arc<tokio::sync::Notify>,
    /// Wakes the presence worker when a socket opens (its agent is present from now).
    presence: Arc<tokio::sync::Notify>,
}

impl SocketRegistry {
    /// Adds a socket; it leaves the registry when its session is dropped.
    pub fn register(&self, session: &Arc<SocketSession>) {
        self.lock().push(Arc::downgrade(session));
        self.opened.notify_one();
        self.presence.notify_one();
    }

    /// The agents with a socket open here (each once).
    #[must_use]
    pub fn agents(&self) -> Vec<AgentId> {
        let mut ids: Vec<AgentId> = {
            let mut sessions = self.lock();
            sessions.retain(|s| s.strong_count() > 0);
            sessions.iter().filter_map(Weak::upgrade).map(|s| s.agent_id).collect()
        };
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// What wakes the presence worker.
    #[must_use]
    pub fn presence_changed(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.presence)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Weak<SocketSession>>> {
        self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Closes the sockets whose agent or token no longer allows them (one query for every
    /// open socket); returns how many it closed.
    ///
    /// # Errors
    /// On a database failure (nothing is closed; the next sweep tries again).
    pub async fn sweep(&self, db: &Database, now: DateTime<Utc>) -> Result<usize, persistence::Error> {
        let live: Vec<Arc<SocketSession>> = {
            let mut sessions = self.lock();
            sessions.retain(|s| s.strong_count() > 0);
            sessions.iter().filter_map(Weak::upgrade).collect()
        };
        if live.is_empty() {
            return Ok(0);
        }
        let mut ids: Vec<AgentId> = live.iter().map(|s| s.agent_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let found: HashMap<AgentId, persistence::Agent> =
            agents::find_any_of(db.conn(), &ids).await?.into_iter().map(|a| (a.id, a)).collect();
        let mut closed = 0;
        for session in live {
            if let Some(reason) = session.verdict(found.get(&session.agent_id), now) {
                tracing::info!(agent_id = %session.agent_id, reason, "closing a WebSocket");
                session.close(reason);
                closed += 1;
            }
        }
        Ok(closed)
    }
}

/// Closes sockets whose agent changed (woken by the commit that changed it, here or elsewhere)
/// or whose token expires (at that time); with no socket open it reads nothing.
#[derive(Clone, Debug)]
pub struct Sweeper {
    pub registry: SocketRegistry,
    pub db: Database,
}

impl crate::workers::Worker for Sweeper {
    const NAME: &'static str = "sockets";
    const WAKES: &'static [Work] = &[Work::Agents];

    async fn pass(&self, now: DateTime<Utc>) -> Result<Next, persistence::Error> {
        self.registry.sweep(&self.db, now).await?;
        let expiring = self
            .registry
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|s| s.close.borrow().is_none())
            .map(|s| s.expires_at)
            .min();
        Ok(Next::due(expiring))
    }

    fn also_woken_by(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(Arc::clone(&self.registry.opened))
    }
}

/// Keeps the agents with a WebSocket open in this process present.
#[derive(Clone, Debug)]
pub struct Presence {
    pub registry: SocketRegistry,
    pub db: Database,
    pub grace: std::time::Duration,
}

impl crate::workers::Worker for Presence {
    const NAME: &'static str = "presence";
    const WAKES: &'static [Work] = &[];

    async fn pass(&self, now: DateTime<Utc>) -> Result<Next, persistence::Error> {
        let agents = self.registry.agents();
        if agents.is_empty() {
            return Ok(Next::Idle);
        }
        let grace = chrono::Duration::from_std(self.grace).unwrap_or_default();
        self.db
            .write(async |txn| persistence::routing::keep_present(txn, &agents, now, now + grace).await)
            .await?;
        Ok(Next::At(now + grace / 2))
    }

    fn also_woken_by(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.registry.presence_changed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Email, Role};

    fn session(expires_at: DateTime<Utc>) -> Arc<SocketSession> {
        let config = crate::config::JwtConfig {
            secret: SecretString::from("0123456789abcdef0123456789abcdef".to_owned()),
            public_key_pem: None,
            issuer: None,
            audience: None,
        };
        Arc::new(SocketSession {
            token: SecretString::from("t".to_owned()),
            auth: Arc::new(Authenticator::new(&config).unwrap()),
            agent_id: AgentId::new(),
            workspace_id: WorkspaceId::new(),
            expires_at,
            subscriptions: Mutex::new(HashMap::new()),
            next_subscription: AtomicU64::new(0),
            close: watch::channel(None).0,
        })
    }

    fn agent(s: &SocketSession, role: Role, active: bool) -> persistence::Agent {
        persistence::Agent {
            id: s.agent_id,
            workspace_id: s.workspace_id,
            email: Email::parse("a@example.com").unwrap(),
            name: "A".into(),
            role,
            active,
            availability: domain::Availability::Online,
            present_until: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_socket_closes_when_its_agent_or_token_no_longer_allows_it() {
        let now = Utc::now();
        let s = session(now + chrono::Duration::hours(1));
        let admin = agent(&s, Role::Admin, true);
        assert_eq!(s.verdict(Some(&admin), now), None);
        assert!(s.verdict(None, now).is_some(), "deleted");
        assert!(s.verdict(Some(&agent(&s, Role::Admin, false)), now).is_some(), "deactivated");
        let mut moved = admin.clone();
        moved.workspace_id = WorkspaceId::new();
        assert!(s.verdict(Some(&moved), now).is_some(), "another workspace");
        assert!(s.verdict(Some(&admin), now + chrono::Duration::hours(2)).is_some(), "expired");

        // A demotion closes the socket only while a subscription needs the lost role.
        let demoted = agent(&s, Role::Agent, true);
        assert_eq!(s.verdict(Some(&demoted), now), None);
        let history = s.hold(Permission::EventHistory).unwrap();
        assert!(s.verdict(Some(&demoted), now).is_some());
        assert_eq!(s.verdict(Some(&agent(&s, Role::Integration, true)), now), None);
        drop(history);
        assert_eq!(s.verdict(Some(&demoted), now), None);
    }

    #[test]
    fn a_socket_holds_at_most_fifty_subscriptions() {
        let s = session(Utc::now() + chrono::Duration::hours(1));
        let slots: Vec<_> = (0..MAX_SUBSCRIPTIONS).map(|_| s.hold(Permission::LiveEvents).unwrap()).collect();
        assert!(s.hold(Permission::LiveEvents).is_err());
        drop(slots);
        assert!(s.hold(Permission::LiveEvents).is_ok());
    }
}
