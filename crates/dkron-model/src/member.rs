//! [`Member`]: a node of the cluster as targeting and `/v1/members` see it.

use std::{borrow::Cow, collections::BTreeMap, fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::Error;

/// A cluster node (server or agent).
///
/// Plain data. `tags` holds the user tags only; the tags dkron reserves (`role`, `dc`, `region`,
/// `version`, `rpc_addr`, `port`, `server`) are derived from the other fields by
/// [`Member::tag`] and [`Member::all_tags`], so they cannot disagree with them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Member {
    /// Node name; unique in the cluster.
    pub name: String,
    /// IP address the node advertises.
    pub addr: String,
    /// Port of the node's membership/heartbeat endpoint.
    pub port: u16,
    /// `ip:port` of the node's internal RPC endpoint (job dispatch).
    pub rpc_addr: String,
    /// User tags (`--tag k=v`).
    pub tags: BTreeMap<String, String>,
    /// Liveness.
    pub status: MemberStatus,
    /// Whether the node is a server (Raft voter) rather than an agent.
    pub server: bool,
    /// Region; jobs only target members of the leader's region.
    pub region: String,
    /// Datacenter (`dc` tag).
    pub datacenter: String,
    /// dkron-rs version the node runs.
    pub version: String,
}

impl Member {
    /// The value of tag `key` as dkron's Serf tags would have it: reserved tags from the fields
    /// (`role` is always `dkron`; `server` is `true` only on servers), then user tags.
    pub fn tag(&self, key: &str) -> Option<Cow<'_, str>> {
        match key {
            "role" => Some(Cow::Borrowed("dkron")),
            "dc" => Some(Cow::Borrowed(&self.datacenter)),
            "region" => Some(Cow::Borrowed(&self.region)),
            "version" => Some(Cow::Borrowed(&self.version)),
            "rpc_addr" => Some(Cow::Borrowed(&self.rpc_addr)),
            "port" => Some(Cow::Owned(self.port.to_string())),
            "server" => self.server.then_some(Cow::Borrowed("true")),
            _ => self.tags.get(key).map(|v| Cow::Borrowed(v.as_str())),
        }
    }

    /// User tags plus the reserved ones, as `/v1/members` shows them (reserved tags win).
    pub fn all_tags(&self) -> BTreeMap<String, String> {
        let mut all = self.tags.clone();
        for key in [
            "role", "dc", "region", "version", "rpc_addr", "port", "server",
        ] {
            match self.tag(key) {
                Some(value) => all.insert(key.to_owned(), value.into_owned()),
                None => all.remove(key),
            };
        }
        all
    }

    /// Whether the member is alive.
    pub fn is_alive(&self) -> bool {
        self.status == MemberStatus::Alive
    }
}

/// A member's liveness, as Serf reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum MemberStatus {
    /// Heartbeats arrive.
    #[default]
    Alive,
    /// Announced it is leaving.
    Leaving,
    /// Left gracefully.
    Left,
    /// Missed its heartbeat deadline.
    Failed,
}

impl MemberStatus {
    /// `alive`, `leaving`, `left` or `failed` (dkron's `statusText`).
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Alive => "alive",
            MemberStatus::Leaving => "leaving",
            MemberStatus::Left => "left",
            MemberStatus::Failed => "failed",
        }
    }

    /// Serf's numeric status (dkron's `Status`): alive 1, leaving 2, left 3, failed 4.
    pub fn code(self) -> u8 {
        match self {
            MemberStatus::Alive => 1,
            MemberStatus::Leaving => 2,
            MemberStatus::Left => 3,
            MemberStatus::Failed => 4,
        }
    }
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MemberStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<MemberStatus, Error> {
        match s {
            "alive" => Ok(MemberStatus::Alive),
            "leaving" => Ok(MemberStatus::Leaving),
            "left" => Ok(MemberStatus::Left),
            "failed" => Ok(MemberStatus::Failed),
            _ => Err(Error::UnknownValue {
                kind: "member status",
                value: s.to_owned(),
            }),
        }
    }
}
