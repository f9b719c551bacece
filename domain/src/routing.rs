//! Which member of a team a waiting conversation goes to (PRODUCT.md section 18), and the
//! service-level targets' due times.
//!
//! The router offers a conversation only to members who take work now (`ONLINE` with an open
//! socket within the presence grace) and have room: fewer open conversations assigned than the
//! team's capacity (no capacity: always room). Among them, `ROUND_ROBIN` picks the member the
//! router assigned least recently, `LEAST_BUSY` the one with the fewest open conversations
//! (ties: least recently assigned); remaining ties go to the member who joined first.

use chrono::{DateTime, Duration, Utc};

use crate::hours::BusinessHours;
use crate::{AgentId, RoutingMode};

/// A member who takes work now, as the router sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub agent: AgentId,
    /// Open conversations assigned to them (in any team).
    pub load: i64,
    /// The team's assignment number of their latest automatic assignment (0: never).
    pub last_assigned: i64,
}

/// The index of the candidate (given in the order they joined the team) the next waiting
/// conversation goes to; `None` when nobody has room or the team is routed by hand.
#[must_use]
pub fn pick(mode: RoutingMode, capacity: Option<i32>, candidates: &[Candidate]) -> Option<usize> {
    let room = |c: &Candidate| capacity.is_none_or(|cap| c.load < i64::from(cap));
    let with_room = candidates.iter().enumerate().filter(|(_, c)| room(c));
    match mode {
        RoutingMode::Manual => None,
        RoutingMode::RoundRobin => with_room.min_by_key(|(i, c)| (c.last_assigned, *i)).map(|(i, _)| i),
        RoutingMode::LeastBusy => {
            with_room.min_by_key(|(i, c)| (c.load, c.last_assigned, *i)).map(|(i, _)| i)
        }
    }
}

/// The share of a target's time after which `sla.warning` is written.
pub const WARNING_SHARE: f64 = 0.8;

/// When a target of `minutes` started at `start` warns and falls due: counting only open
/// hours when `hours` is given (`None` due: the schedule never opens long enough).
#[must_use]
pub fn due_times(
    start: DateTime<Utc>,
    minutes: i32,
    hours: Option<&BusinessHours>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let whole = Duration::minutes(i64::from(minutes));
    // 80% of the target, to the second.
    let warn = Duration::seconds(whole.num_seconds() * 4 / 5);
    match hours {
        Some(hours) => (hours.after_open_time(start, warn), hours.after_open_time(start, whole)),
        None => (Some(start + warn), Some(start + whole)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(spec: &[(i64, i64)]) -> Vec<Candidate> {
        spec.iter()
            .map(|&(load, last)| Candidate { agent: AgentId::new(), load, last_assigned: last })
            .collect()
    }

    #[test]
    fn round_robin_picks_the_least_recently_assigned_with_room() {
        let c = candidates(&[(1, 5), (0, 7), (3, 2)]);
        assert_eq!(pick(RoutingMode::RoundRobin, None, &c), Some(2));
        assert_eq!(pick(RoutingMode::RoundRobin, Some(3), &c), Some(0), "the third is full");
        assert_eq!(pick(RoutingMode::RoundRobin, Some(0), &c), None);
        assert_eq!(pick(RoutingMode::Manual, None, &c), None);
    }

    #[test]
    fn least_busy_picks_the_fewest_open_then_least_recent_then_first_joined() {
        let c = candidates(&[(2, 1), (1, 9), (1, 4), (1, 4)]);
        assert_eq!(pick(RoutingMode::LeastBusy, None, &c), Some(2));
        assert_eq!(pick(RoutingMode::LeastBusy, Some(1), &c), None);
    }

    #[test]
    fn a_target_warns_at_four_fifths_of_its_time() {
        let start = DateTime::parse_from_rfc3339("2026-12-07T09:00:00Z").unwrap().with_timezone(&Utc);
        let (warn, due) = due_times(start, 60, None);
        assert_eq!(warn, Some(start + Duration::minutes(48)));
        assert_eq!(due, Some(start + Duration::minutes(60)));
    }
}
