//! [`Liveness`]: the leader's heartbeat deadlines, kept in memory. Only transitions reach Raft:
//! a node's first heartbeat or a change of its tags (alive), a missed deadline (failed), a
//! goodbye (left); so every server answers `/v1/members` from replicated state while
//! heartbeats cost no log entry.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use dkron_model::{Member, MemberStatus};
use dkron_raft::Command;
use tokio::time::Instant;

use crate::{handles::Handles, rpc::Beat};

/// Heartbeat deadlines by node name.
#[derive(Debug)]
pub(crate) struct Liveness {
    deadlines: Mutex<HashMap<String, Instant>>,
    /// A node that sends no heartbeat for this long is failed.
    timeout: Duration,
}

impl Liveness {
    pub(crate) fn new(timeout: Duration) -> Liveness {
        Liveness {
            deadlines: Mutex::new(HashMap::new()),
            timeout,
        }
    }

    fn table(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        // One map operation per critical section: poisoning cannot leave it half done.
        self.deadlines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A heartbeat reached this leader: moves the node's deadline, and records the node through
    /// Raft when its replicated record differs (new, back from failed, other tags or address).
    pub(crate) async fn beat(&self, handles: &Handles, beat: Beat) {
        let name = beat.member.name.clone();
        let status = if beat.leaving {
            self.table().remove(&name);
            MemberStatus::Left
        } else {
            self.table()
                .insert(name.clone(), Instant::now() + self.timeout);
            MemberStatus::Alive
        };
        let wanted = Member {
            status,
            ..beat.member
        };
        let stored = handles.store.member(&name).ok().flatten();
        if stored.as_ref() == Some(&wanted) {
            return;
        }
        if let Err(error) = handles.write(Command::SetMember(wanted)).await {
            tracing::warn!(%error, node = %name, "cannot record a member's heartbeat");
        } else if beat.leaving {
            tracing::info!(node = %name, "member left");
        } else if stored.is_none_or(|s| s.status != MemberStatus::Alive) {
            tracing::info!(node = %name, "member alive");
        }
    }

    /// On gaining leadership: every member recorded alive gets a full deadline, since its
    /// heartbeats went to the old leader until now.
    pub(crate) fn reset(&self, members: &[Member]) {
        let deadline = Instant::now() + self.timeout;
        let mut table = self.table();
        table.clear();
        for member in members.iter().filter(|m| m.is_alive()) {
            table.insert(member.name.clone(), deadline);
        }
    }

    /// Gives `node` a full deadline from now (it answered, though its heartbeats were late),
    /// unless a heartbeat put it back meanwhile.
    pub(crate) fn extend(&self, node: &str) {
        self.table()
            .entry(node.to_owned())
            .or_insert_with(|| Instant::now() + self.timeout);
    }

    /// Whether `node` has a deadline (a heartbeat came since it was taken out by [`Liveness::expired`]).
    pub(crate) fn watched(&self, node: &str) -> bool {
        self.table().contains_key(node)
    }

    /// Names of the nodes whose deadline passed by `now`, taken out of the table (a later
    /// heartbeat puts a node back).
    pub(crate) fn expired(&self, now: Instant) -> Vec<String> {
        let mut table = self.table();
        let expired: Vec<String> = table
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(name, _)| name.clone())
            .collect();
        for name in &expired {
            table.remove(name);
        }
        expired
    }
}
