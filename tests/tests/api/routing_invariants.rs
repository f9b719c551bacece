//! The router's invariants under random sequences of arrivals, availability changes, resolves
//! and membership changes (PRODUCT.md section 18): after every step no member is over capacity,
//! no conversation waits while a present `ONLINE` member has room, and each assignment went to
//! the member the mode names. The expected assignments come from a model of the rules written
//! here, stepped alongside the real router.

use std::collections::VecDeque;

use chrono::{Duration, Utc};
use domain::{AgentId, Availability, ConversationId, ConversationStatus, RoutingMode};
use persistence::conversations::ConversationChange;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

use crate::helpers::{Backend, Inbound, TestApp, spawn};

#[derive(Clone, Copy, Debug)]
enum Step {
    Arrive,
    Online(usize),
    Offline(usize),
    Resolve(usize),
    Join(usize),
    Leave(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Arrive),
        2 => (0..3usize).prop_map(Step::Online),
        1 => (0..3usize).prop_map(Step::Offline),
        2 => (0..8usize).prop_map(Step::Resolve),
        1 => (0..3usize).prop_map(Step::Join),
        1 => (0..3usize).prop_map(Step::Leave),
    ]
}

/// The model: who is a member (in joining order), online, their open load and the router's
/// latest assignment number; the queue, oldest first.
#[derive(Debug, Default)]
struct Model {
    members: Vec<usize>,
    online: [bool; 3],
    load: [i64; 3],
    last: [i64; 3],
    seq: i64,
    queue: VecDeque<ConversationId>,
    assigned: Vec<(ConversationId, usize)>,
}

impl Model {
    fn route(&mut self, mode: RoutingMode, capacity: i64) -> Vec<(ConversationId, usize)> {
        let mut done = Vec::new();
        while let Some(&next) = self.queue.front() {
            let eligible = self
                .members
                .iter()
                .enumerate()
                .filter(|(_, a)| self.online[**a] && self.load[**a] < capacity);
            let pick = match mode {
                RoutingMode::RoundRobin => eligible.min_by_key(|(i, a)| (self.last[**a], *i)),
                _ => eligible.min_by_key(|(i, a)| (self.load[**a], self.last[**a], *i)),
            };
            let Some((_, &agent)) = pick else { break };
            self.queue.pop_front();
            self.seq += 1;
            self.last[agent] = self.seq;
            self.load[agent] += 1;
            done.push((next, agent));
            self.assigned.push((next, agent));
        }
        done
    }
}

async fn run_case(app: &TestApp, steps: &[Step], mode: RoutingMode, capacity: i64) {
    let mut t = app.tenant("Acme").await;
    let team = persistence::teams::create(app.db.conn(), t.workspace, "Routed", Utc::now()).await.unwrap();
    let change = persistence::teams::TeamChange {
        routing: Some((mode, Some(i32::try_from(capacity).unwrap()))),
        ..Default::default()
    };
    let team = app.db.write(async |txn| persistence::teams::update(txn, team, change).await).await.unwrap();
    let number =
        persistence::business_numbers::find(app.db.conn(), t.workspace, t.number.id).await.unwrap().unwrap();
    t.number =
        persistence::business_numbers::set_default_team(app.db.conn(), number, Some(team.id), Utc::now())
            .await
            .unwrap();
    let mut agents: Vec<AgentId> = Vec::new();
    for _ in 0..3 {
        agents.push(app.agent(&t, "AGENT").await.0);
        let id = *agents.last().unwrap();
        app.db
            .write(async |txn| {
                persistence::routing::set_availability(txn, t.workspace, id, Availability::Offline, None)
                    .await
            })
            .await
            .unwrap();
    }
    let mut model = Model::default();
    let mut arrivals = 0;
    for step in steps {
        let now = Utc::now();
        match *step {
            Step::Arrive => {
                arrivals += 1;
                let customer = Inbound::hidden(&format!("US.9{arrivals}"), &format!("@r{arrivals}"), "R");
                model.queue.push_back(app.receive(&t, &customer).await);
            }
            Step::Online(i) | Step::Offline(i) => {
                let on = matches!(step, Step::Online(_));
                let (availability, until) = if on {
                    (Availability::Online, Some(now + Duration::hours(1)))
                } else {
                    (Availability::Offline, None)
                };
                app.db
                    .write(async |txn| {
                        persistence::routing::set_availability(
                            txn,
                            t.workspace,
                            agents[i],
                            availability,
                            until,
                        )
                        .await
                    })
                    .await
                    .unwrap();
                model.online[i] = on;
            }
            Step::Resolve(k) => {
                let open: Vec<(ConversationId, usize)> = model.assigned.clone();
                let Some(&(id, agent)) = open.get(k % open.len().max(1)) else { continue };
                app.db
                    .write(async |txn| {
                        let c = persistence::conversations::find(txn, t.workspace, id).await?.unwrap();
                        let change = ConversationChange {
                            status: Some(ConversationStatus::Resolved),
                            ..Default::default()
                        };
                        persistence::conversations::update(txn, c, change, now).await
                    })
                    .await
                    .unwrap();
                model.assigned.retain(|(c, _)| *c != id);
                model.load[agent] -= 1;
            }
            Step::Join(i) => {
                app.db
                    .write(async |txn| persistence::teams::add_member(txn, &team, agents[i], now).await)
                    .await
                    .unwrap();
                if !model.members.contains(&i) {
                    model.members.push(i);
                }
            }
            Step::Leave(i) => {
                persistence::teams::remove_member(app.db.conn(), &team, agents[i]).await.unwrap();
                model.members.retain(|m| *m != i);
            }
        }
        api::workflow::routing::route_due(&app.db, Utc::now()).await.unwrap();
        let expected = model.route(mode, capacity);
        for (id, agent) in expected {
            let c = persistence::conversations::find(app.db.conn(), t.workspace, id).await.unwrap().unwrap();
            assert_eq!(c.assignee_id, Some(agents[agent]), "after {step:?} in {steps:?}: {model:?}");
        }
        // The invariants, read from the database.
        let waiting = persistence::routing::waiting(app.db.conn(), team.id, 1000).await.unwrap();
        assert_eq!(waiting.len(), model.queue.len(), "after {step:?}");
        for (i, agent) in agents.iter().enumerate() {
            let open = persistence::inbox::list(
                app.db.conn(),
                t.workspace,
                &persistence::inbox::ConversationFilter {
                    assignee: Some(*agent),
                    status: Some(ConversationStatus::Open),
                    ..Default::default()
                },
                None,
                1000,
            )
            .await
            .unwrap();
            assert!(i64::try_from(open.len()).unwrap() <= capacity, "{agent} over capacity after {step:?}");
            let has_room = model.members.contains(&i)
                && model.online[i]
                && i64::try_from(open.len()).unwrap() < capacity;
            assert!(
                !has_room || waiting.is_empty(),
                "a conversation waits while member {i} has room, after {step:?}"
            );
        }
    }
}

#[test]
fn the_router_keeps_its_invariants_under_random_steps() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = runtime.block_on(async { spawn(Backend::Sqlite).await.unwrap() });
    let config = ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(
        steps in prop::collection::vec(step(), 1..30),
        least_busy in any::<bool>(),
        capacity in 1i64..4,
    )| {
        let mode = if least_busy { RoutingMode::LeastBusy } else { RoutingMode::RoundRobin };
        runtime.block_on(run_case(&app, &steps, mode, capacity));
    });
}
