//! The group coordinator: Kafka's classic consumer-group protocol.
//!
//! A group moves Empty → PreparingRebalance (members join; the join ends
//! when every known member has rejoined or the rebalance timeout passes,
//! and whoever did not rejoin is dropped) → CompletingRebalance (the leader
//! sends the assignment through SyncGroup) → Stable. A member that misses
//! its session timeout, leaves, or a new member that joins starts another
//! rebalance; the others learn of it from their heartbeats.
//! Committed offsets are kept by the broker's state, not here.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

/// Kafka's error codes the coordinator answers with.
pub mod code {
    pub const NONE: i16 = 0;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const NON_EMPTY_GROUP: i16 = 68;
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
        }
    }
}

/// A JoinGroup as the coordinator needs it.
pub struct Join {
    pub member_id: String,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
}

/// The answer to a JoinGroup.
#[derive(Clone, Debug, Default)]
pub struct Joined {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Filled for the leader only: every member and its metadata.
    pub members: Vec<(String, Bytes)>,
}

/// The answer to a SyncGroup.
#[derive(Clone, Debug, Default)]
pub struct Synced {
    pub error: i16,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub assignment: Bytes,
}

pub struct MemberView {
    pub id: String,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

struct Member {
    client_id: String,
    client_host: String,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    last_seen: Instant,
    join: Option<oneshot::Sender<Joined>>,
    sync: Option<oneshot::Sender<Synced>>,
}

pub struct Group {
    pub state: State,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    rebalance_deadline: Option<Instant>,
}

impl Group {
    fn new() -> Self {
        Self {
            state: State::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            rebalance_deadline: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn members(&self) -> Vec<MemberView> {
        let protocol = self.protocol.as_deref();
        self.members
            .iter()
            .map(|(id, m)| MemberView {
                id: id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                metadata: metadata_for(m, protocol),
                assignment: m.assignment.clone(),
            })
            .collect()
    }

    /// Whether `member` of `generation` may heartbeat or sync now.
    pub fn check_member(&self, member: &str, generation: i32) -> i16 {
        self.check(member, generation, State::PreparingRebalance)
    }

    /// Whether `member` of `generation` may commit now. Unlike a
    /// heartbeat, a commit is accepted while the group prepares a rebalance
    /// (members commit what they processed as their partitions are revoked),
    /// and refused while the new assignment is being handed out.
    pub fn check_commit(&self, member: &str, generation: i32) -> i16 {
        self.check(member, generation, State::CompletingRebalance)
    }

    fn check(&self, member: &str, generation: i32, busy: State) -> i16 {
        if !self.members.contains_key(member) {
            code::UNKNOWN_MEMBER_ID
        } else if generation != self.generation {
            code::ILLEGAL_GENERATION
        } else if self.state == busy {
            code::REBALANCE_IN_PROGRESS
        } else {
            code::NONE
        }
    }

    fn prepare_rebalance(&mut self, now: Instant) {
        if self.state != State::PreparingRebalance {
            // Members waiting for an assignment must rejoin instead.
            for m in self.members.values_mut() {
                if let Some(sync) = m.sync.take() {
                    let _ = sync
                        .send(Synced { error: code::REBALANCE_IN_PROGRESS, ..Synced::default() });
                }
            }
            self.state = State::PreparingRebalance;
            let timeout =
                self.members.values().map(|m| m.rebalance_timeout).max().unwrap_or_default();
            self.rebalance_deadline = Some(now + timeout);
        }
    }

    /// Ends the join phase if every member has rejoined, or if `force`d at
    /// the deadline (dropping those that did not).
    fn maybe_complete_join(&mut self, force: bool) {
        if self.state != State::PreparingRebalance {
            return;
        }
        let all_joined = self.members.values().all(|m| m.join.is_some());
        if !all_joined && !force {
            return;
        }
        self.members.retain(|_, m| m.join.is_some());
        self.rebalance_deadline = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.state = State::Empty;
            self.protocol = None;
            self.leader = None;
            return;
        }
        self.protocol = choose_protocol(&self.members);
        if self.leader.as_ref().is_none_or(|l| !self.members.contains_key(l)) {
            self.leader = self.members.keys().next().cloned();
        }
        let leader = self.leader.clone().unwrap_or_default();
        let all: Vec<(String, Bytes)> = self
            .members
            .iter()
            .map(|(id, m)| (id.clone(), metadata_for(m, self.protocol.as_deref())))
            .collect();
        let now = Instant::now();
        for (id, m) in &mut self.members {
            m.assignment = Bytes::new();
            m.last_seen = now;
            if let Some(join) = m.join.take() {
                let _ = join.send(Joined {
                    error: code::NONE,
                    generation: self.generation,
                    protocol_type: self.protocol_type.clone(),
                    protocol: self.protocol.clone(),
                    leader: leader.clone(),
                    member_id: id.clone(),
                    members: if *id == leader { all.clone() } else { Vec::new() },
                });
            }
        }
        self.state = State::CompletingRebalance;
    }

    fn remove(&mut self, member: &str, now: Instant) {
        if let Some(m) = self.members.remove(member) {
            if let Some(join) = m.join {
                let _ = join.send(Joined { error: code::UNKNOWN_MEMBER_ID, ..Joined::default() });
            }
            if let Some(sync) = m.sync {
                let _ = sync.send(Synced { error: code::UNKNOWN_MEMBER_ID, ..Synced::default() });
            }
            if self.members.is_empty() && self.state != State::PreparingRebalance {
                self.state = State::Empty;
                self.generation += 1;
                self.protocol = None;
                self.leader = None;
            } else {
                self.prepare_rebalance(now);
                self.maybe_complete_join(false);
            }
        }
    }
}

fn metadata_for(m: &Member, protocol: Option<&str>) -> Bytes {
    protocol
        .and_then(|p| m.protocols.iter().find(|(name, _)| name == p))
        .map(|(_, meta)| meta.clone())
        .unwrap_or_default()
}

/// The first protocol, in the first member's order of preference, that every
/// member supports.
fn choose_protocol(members: &BTreeMap<String, Member>) -> Option<String> {
    let first = members.values().next()?;
    first
        .protocols
        .iter()
        .map(|(name, _)| name)
        .find(|name| members.values().all(|m| m.protocols.iter().any(|(n, _)| n == *name)))
        .cloned()
}

/// Every group, behind one lock: group operations are short and rare next
/// to produce and fetch.
#[derive(Default)]
pub struct Coordinator {
    groups: std::sync::Mutex<HashMap<String, Group>>,
}

impl Coordinator {
    /// Adds or refreshes a member; the answer arrives once the join phase
    /// ends.
    pub fn join(&self, group_id: &str, join: Join) -> oneshot::Receiver<Joined> {
        let (tx, rx) = oneshot::channel();
        let now = Instant::now();
        let fail = |tx: oneshot::Sender<Joined>, error| {
            let _ = tx.send(Joined { error, ..Joined::default() });
        };
        if join.session_timeout < Duration::from_millis(1)
            || join.session_timeout > Duration::from_secs(3600)
        {
            fail(tx, code::INVALID_SESSION_TIMEOUT);
            return rx;
        }
        let mut groups = self.groups.lock().expect("groups lock");
        let group = groups.entry(group_id.to_string()).or_insert_with(Group::new);
        let compatible = join.protocols.iter().any(|(name, _)| {
            group.members.values().all(|m| m.protocols.iter().any(|(n, _)| n == name))
        });
        if join.protocols.is_empty()
            || group
                .protocol_type
                .as_ref()
                .is_some_and(|t| !group.members.is_empty() && *t != join.protocol_type)
            || !compatible
        {
            fail(tx, code::INCONSISTENT_GROUP_PROTOCOL);
            return rx;
        }
        let member_id = if join.member_id.is_empty() {
            format!("{}-{}", join.client_id, uuid::Uuid::new_v4())
        } else if !group.members.contains_key(&join.member_id) {
            fail(tx, code::UNKNOWN_MEMBER_ID);
            return rx;
        } else {
            join.member_id.clone()
        };
        group.protocol_type = Some(join.protocol_type.clone());
        let member = group.members.entry(member_id).or_insert_with(|| Member {
            client_id: join.client_id.clone(),
            client_host: join.client_host.clone(),
            session_timeout: join.session_timeout,
            rebalance_timeout: join.rebalance_timeout,
            protocols: Vec::new(),
            assignment: Bytes::new(),
            last_seen: now,
            join: None,
            sync: None,
        });
        member.protocols = join.protocols;
        member.session_timeout = join.session_timeout;
        member.rebalance_timeout = join.rebalance_timeout;
        member.last_seen = now;
        if let Some(old) = member.join.replace(tx) {
            let _ = old.send(Joined { error: code::REBALANCE_IN_PROGRESS, ..Joined::default() });
        }
        // Any join, even a known member's with nothing new (after a lost
        // answer, say), starts a rebalance: that is how it gets an answer.
        group.prepare_rebalance(now);
        group.maybe_complete_join(false);
        rx
    }

    /// The leader's SyncGroup carries everyone's assignment; the others
    /// wait for it.
    pub fn sync(
        &self,
        group_id: &str,
        member: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
    ) -> oneshot::Receiver<Synced> {
        let (tx, rx) = oneshot::channel();
        let mut groups = self.groups.lock().expect("groups lock");
        let answer = |error| Synced { error, ..Synced::default() };
        let Some(group) = groups.get_mut(group_id) else {
            let _ = tx.send(answer(code::UNKNOWN_MEMBER_ID));
            return rx;
        };
        let error = group.check_member(member, generation);
        if error != code::NONE {
            let _ = tx.send(answer(error));
            return rx;
        }
        let (protocol_type, protocol) = (group.protocol_type.clone(), group.protocol.clone());
        let done = |assignment: Bytes| Synced {
            error: code::NONE,
            protocol_type: protocol_type.clone(),
            protocol: protocol.clone(),
            assignment,
        };
        if group.state == State::Stable {
            let assignment = group.members[member].assignment.clone();
            let _ = tx.send(done(assignment));
            return rx;
        }
        let now = Instant::now();
        if let Some(m) = group.members.get_mut(member) {
            m.last_seen = now;
            m.sync = Some(tx);
        }
        if group.leader.as_deref() == Some(member) {
            let mut given: HashMap<String, Bytes> = assignments.into_iter().collect();
            for (id, m) in &mut group.members {
                m.assignment = given.remove(id).unwrap_or_default();
            }
            group.state = State::Stable;
        }
        if group.state == State::Stable {
            for m in group.members.values_mut() {
                if let Some(sync) = m.sync.take() {
                    let _ = sync.send(done(m.assignment.clone()));
                }
            }
        }
        rx
    }

    pub fn heartbeat(&self, group_id: &str, member: &str, generation: i32) -> i16 {
        let mut groups = self.groups.lock().expect("groups lock");
        let Some(group) = groups.get_mut(group_id) else { return code::UNKNOWN_MEMBER_ID };
        if let Some(m) = group.members.get_mut(member) {
            m.last_seen = Instant::now();
        }
        group.check_member(member, generation)
    }

    /// Removes members; each gets its own answer.
    pub fn leave(&self, group_id: &str, members: &[String]) -> Vec<i16> {
        let mut groups = self.groups.lock().expect("groups lock");
        let Some(group) = groups.get_mut(group_id) else {
            return vec![code::UNKNOWN_MEMBER_ID; members.len()];
        };
        let now = Instant::now();
        members
            .iter()
            .map(|m| {
                if group.members.contains_key(m) {
                    group.remove(m, now);
                    code::NONE
                } else {
                    code::UNKNOWN_MEMBER_ID
                }
            })
            .collect()
    }

    /// Whether a commit from `member` of `generation` is accepted. A commit
    /// from outside any generation (an assigned consumer) is accepted while
    /// the group has no members.
    pub fn may_commit(&self, group_id: &str, member: &str, generation: i32) -> i16 {
        let groups = self.groups.lock().expect("groups lock");
        match groups.get(group_id) {
            None if generation < 0 => code::NONE,
            None => code::ILLEGAL_GENERATION,
            Some(g) if generation < 0 && member.is_empty() => {
                if g.is_empty() {
                    code::NONE
                } else {
                    code::UNKNOWN_MEMBER_ID
                }
            }
            Some(g) => g.check_commit(member, generation),
        }
    }

    /// Expires members whose session ran out and ends join phases whose
    /// deadline passed. Called on a timer.
    pub fn tick(&self) {
        let now = Instant::now();
        let mut groups = self.groups.lock().expect("groups lock");
        for group in groups.values_mut() {
            let expired: Vec<String> = group
                .members
                .iter()
                .filter(|(_, m)| {
                    m.join.is_none() && now.duration_since(m.last_seen) > m.session_timeout
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in expired {
                tracing::debug!(member = %id, "group member's session expired");
                group.remove(&id, now);
            }
            if group.rebalance_deadline.is_some_and(|d| d <= now) {
                group.maybe_complete_join(true);
            }
        }
    }

    /// A group's state, members and protocol, if it exists.
    pub fn describe<T>(&self, group_id: &str, f: impl FnOnce(&Group) -> T) -> Option<T> {
        self.groups.lock().expect("groups lock").get(group_id).map(f)
    }

    /// Every group with members or a protocol: (name, protocol type, state).
    pub fn list(&self) -> Vec<(String, String, State)> {
        let groups = self.groups.lock().expect("groups lock");
        groups
            .iter()
            .map(|(name, g)| (name.clone(), g.protocol_type.clone().unwrap_or_default(), g.state))
            .collect()
    }

    /// Forgets a group that has no members.
    pub fn delete(&self, group_id: &str) -> i16 {
        let mut groups = self.groups.lock().expect("groups lock");
        match groups.get(group_id) {
            Some(g) if !g.is_empty() => code::NON_EMPTY_GROUP,
            _ => {
                groups.remove(group_id);
                code::NONE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(member: &str) -> Join {
        Join {
            member_id: member.into(),
            client_id: "c".into(),
            client_host: "h".into(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(10),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"m"))],
        }
    }

    #[tokio::test]
    async fn a_second_member_rebalances_the_group_and_both_get_assignments() {
        let c = Coordinator::default();
        let first = c.join("g", join("")).await.expect("joined");
        assert_eq!((first.error, first.generation, first.members.len()), (0, 1, 1));
        let id1 = first.member_id.clone();
        let synced = c
            .sync("g", &id1, 1, vec![(id1.clone(), Bytes::from_static(b"all"))])
            .await
            .expect("synced");
        assert_eq!(synced.assignment, Bytes::from_static(b"all"));
        let second = c.join("g", join(""));
        assert_eq!(c.heartbeat("g", &id1, 1), code::REBALANCE_IN_PROGRESS);
        let rejoined = c.join("g", join(&id1)).await.expect("joined");
        let second = second.await.expect("joined");
        assert_eq!((rejoined.generation, second.generation), (2, 2));
        assert_eq!(
            rejoined.members.len() + second.members.len(),
            2,
            "only the leader sees members"
        );
        let (leader, other) = if rejoined.leader == id1 {
            (id1.clone(), second.member_id)
        } else {
            (second.member_id, id1.clone())
        };
        let waiting = c.sync("g", &other, 2, vec![]);
        let plan = vec![
            (leader.clone(), Bytes::from_static(b"p0")),
            (other.clone(), Bytes::from_static(b"p1")),
        ];
        assert_eq!(
            c.sync("g", &leader, 2, plan).await.expect("s").assignment,
            Bytes::from_static(b"p0")
        );
        assert_eq!(waiting.await.expect("s").assignment, Bytes::from_static(b"p1"));
        assert_eq!(c.leave("g", &[other]), vec![code::NONE]);
        assert_eq!(c.heartbeat("g", &leader, 2), code::REBALANCE_IN_PROGRESS);
        assert_eq!(c.may_commit("g", &leader, 2), code::NONE, "commits on revoke are kept");
        assert_eq!(c.may_commit("g", &leader, 1), code::ILLEGAL_GENERATION);
    }
}
