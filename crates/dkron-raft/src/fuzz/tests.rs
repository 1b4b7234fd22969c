//! Real encodings go through the fuzz decoders, and are the fuzz target's seed corpus
//! (`write_seed_corpus` regenerates `fuzz/corpus/raft_rpc`).

use std::collections::{BTreeMap, BTreeSet};

use dkron_model::{Execution, Job, LaunchRecord, Member};
use jiff::Timestamp;
use openraft::{
    CommittedLeaderId, EntryPayload, Membership, SnapshotMeta, StoredMembership,
    raft::{AppendEntriesResponse, InstallSnapshotResponse, VoteResponse},
};

use super::*;
use crate::types::NodeInfo;
use crate::{Response, SkippedFires, network::join_snapshot_body};

fn ts(second: i64) -> Timestamp {
    Timestamp::from_second(second).expect("in range")
}

fn node(name: &str) -> NodeInfo {
    NodeInfo {
        name: name.to_owned(),
        rpc_addr: format!("127.0.0.1:{}", 6868 + name.len()),
        api_addr: "127.0.0.1:8080".to_owned(),
    }
}

fn log_id(term: u64, index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn job() -> Job {
    let mut job = Job::new("backup");
    job.schedule = "0 30 2 * * *".to_owned();
    job.timezone = "Europe/Berlin".to_owned();
    job.executor = "shell".to_owned();
    job.executor_config = BTreeMap::from([
        ("command".to_owned(), "/usr/local/bin/backup.sh".to_owned()),
        ("timeout".to_owned(), "1h".to_owned()),
    ]);
    job.tags = BTreeMap::from([("role".to_owned(), "backup:1".to_owned())]);
    job
}

fn execution(finished: bool) -> Execution {
    Execution {
        job_name: "backup".to_owned(),
        started_at: ts(1_769_477_404),
        finished_at: finished.then(|| ts(1_769_477_410)),
        success: finished,
        output: "done\n".to_owned(),
        node_name: "node1".to_owned(),
        group: 1_769_477_400_000_000_000,
        attempt: 1,
        exit_code: finished.then_some(0),
        scheduled_at: Some(ts(1_769_477_400)),
        ..Execution::default()
    }
}

fn launch() -> LaunchRecord {
    LaunchRecord {
        job_name: "backup".to_owned(),
        scheduled_at: ts(1_769_477_400),
        group: 1_769_477_400_000_000_000,
        attempt: 1,
        targets: vec!["node1".to_owned(), "node2".to_owned()],
        ..LaunchRecord::default()
    }
}

fn member() -> Member {
    Member {
        name: "node2".to_owned(),
        addr: "127.0.0.1".to_owned(),
        port: 8946,
        rpc_addr: "127.0.0.1:6868".to_owned(),
        tags: BTreeMap::from([("zone".to_owned(), "a".to_owned())]),
        server: true,
        region: "global".to_owned(),
        datacenter: "dc1".to_owned(),
        version: "0.1.0".to_owned(),
        ..Member::default()
    }
}

fn commands() -> Vec<Command> {
    vec![
        Command::SetJob(Box::new(job())),
        Command::DeleteJob {
            name: "backup".to_owned(),
        },
        Command::ToggleJob {
            name: "backup".to_owned(),
        },
        Command::SetJobNext {
            name: "backup".to_owned(),
            next: Some(ts(1_769_563_800)),
        },
        Command::ExecutionStarted(execution(false)),
        Command::ExecutionDone(execution(true)),
        Command::DeleteExecutions {
            job: "backup".to_owned(),
        },
        Command::RecordLaunch {
            launch: launch(),
            next: Some(None),
            started_at: Some(ts(1_769_563_801)),
        },
        Command::RunJob {
            name: "backup".to_owned(),
        },
        Command::SetMember(member()),
        Command::RemoveMember {
            name: "node2".to_owned(),
        },
        Command::SetPaused(true),
        Command::RecordSkipped(vec![SkippedFires {
            job: "backup".to_owned(),
            count: 3,
            last: ts(1_769_563_800),
        }]),
        Command::Batch(vec![
            Command::SetPaused(false),
            Command::RunJob {
                name: "backup".to_owned(),
            },
        ]),
    ]
}

fn membership() -> Membership<NodeId, NodeInfo> {
    Membership::new(
        vec![BTreeSet::from([1, 2, 3])],
        BTreeMap::from([(1, node("node1")), (2, node("node2")), (3, node("node3"))]),
    )
}

fn entries() -> Vec<Entry<TypeConfig>> {
    let mut entries = vec![
        Entry {
            log_id: log_id(1, 1),
            payload: EntryPayload::Blank,
        },
        Entry {
            log_id: log_id(1, 2),
            payload: EntryPayload::Membership(membership()),
        },
    ];
    for (index, command) in (3..).zip(commands()) {
        entries.push(Entry {
            log_id: log_id(1, index),
            payload: EntryPayload::Normal(command),
        });
    }
    entries
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("encodes")
}

/// Seed inputs: (file name, decoder, body), each a real encoding.
fn seeds() -> Vec<(String, Decoder, Vec<u8>)> {
    let mut seeds = Vec::new();
    let vote = Vote::new_committed(1, 1);
    seeds.push((
        "append-heartbeat".to_owned(),
        Decoder::Append,
        json(&AppendEntriesRequest::<TypeConfig> {
            vote,
            prev_log_id: Some(log_id(1, 4)),
            entries: Vec::new(),
            leader_commit: Some(log_id(1, 4)),
        }),
    ));
    for entry in entries() {
        let name = match &entry.payload {
            EntryPayload::Blank => "blank".to_owned(),
            EntryPayload::Membership(_) => "membership".to_owned(),
            EntryPayload::Normal(command) => command.kind().replace('_', "-"),
        };
        seeds.push((
            format!("append-{name}"),
            Decoder::Append,
            json(&AppendEntriesRequest::<TypeConfig> {
                vote,
                prev_log_id: Some(log_id(1, entry.log_id.index - 1)),
                entries: vec![entry.clone()],
                leader_commit: Some(log_id(1, 1)),
            }),
        ));
        if ["blank", "membership", "set-job", "execution-done", "batch"].contains(&name.as_str()) {
            seeds.push((
                format!("stored-entry-{name}"),
                Decoder::Stored,
                json(&entry),
            ));
        }
    }
    for command in commands() {
        seeds.push((
            format!("forward-{}", command.kind().replace('_', "-")),
            Decoder::Forward,
            json(&command),
        ));
    }
    seeds.push((
        "vote".to_owned(),
        Decoder::Vote,
        json(&VoteRequest::new(Vote::new(2, 2), Some(log_id(1, 9)))),
    ));
    let header = InstallSnapshotRequest::<TypeConfig> {
        vote,
        meta: SnapshotMeta {
            last_log_id: Some(log_id(1, 9)),
            last_membership: StoredMembership::new(Some(log_id(1, 2)), membership()),
            snapshot_id: "1-1-9-0".to_owned(),
        },
        offset: 0,
        data: Vec::new(),
        done: false,
    };
    seeds.push((
        "snapshot-chunk".to_owned(),
        Decoder::Snapshot,
        join_snapshot_body(&json(&header), b"DKSNAP\x01\x00\x00\x00\x02").expect("small header"),
    ));
    seeds.push((
        "join".to_owned(),
        Decoder::Join,
        json(&JoinRequest {
            id: 2,
            node: node("node2"),
        }),
    ));
    seeds.push((
        "remove-peer".to_owned(),
        Decoder::RemovePeer,
        json(&RemovePeerRequest { id: 3 }),
    ));
    seeds.push(("stored-vote".to_owned(), Decoder::Stored, json(&vote)));
    seeds.push((
        "stored-log-id".to_owned(),
        Decoder::Stored,
        json(&log_id(2, 77)),
    ));
    seeds.push((
        "stored-applied".to_owned(),
        Decoder::Stored,
        json(&AppliedMeta {
            log_id: Some(log_id(1, 9)),
            membership: StoredMembership::new(Some(log_id(1, 2)), membership()),
        }),
    ));
    let replies: Vec<(&str, Vec<u8>)> = vec![
        (
            "append-ok",
            json(&Ok::<_, RaftError<NodeId>>(
                AppendEntriesResponse::<NodeId>::Success,
            )),
        ),
        (
            "append-conflict",
            json(&Ok::<_, RaftError<NodeId>>(
                AppendEntriesResponse::<NodeId>::Conflict,
            )),
        ),
        (
            "vote-granted",
            json(&Ok::<_, RaftError<NodeId>>(VoteResponse {
                vote: Vote::new(2, 2),
                vote_granted: true,
                last_log_id: Some(log_id(1, 9)),
            })),
        ),
        (
            "snapshot-ok",
            json(&Ok::<_, RaftError<NodeId, InstallSnapshotError>>(
                InstallSnapshotResponse { vote },
            )),
        ),
        (
            "forward-written",
            json(&Ok::<_, ForwardRefused>(Written {
                index: 12,
                response: Response::Done,
            })),
        ),
        (
            "forward-not-leader",
            json(&Err::<Written, _>(ForwardRefused::NotLeader {
                leader: Some((1, node("node1"))),
            })),
        ),
        (
            "join-failed",
            json(&Err::<(), _>(JoinRefused::Failed {
                reason: "another change in progress".to_owned(),
            })),
        ),
        (
            "info",
            json(&PeerInfo {
                id: 1,
                node: node("node1"),
                initialized: true,
                leader: Some(1),
                members: vec![1, 2, 3],
            }),
        ),
        (
            "peers",
            json(&vec![Peer {
                id: 1,
                node: node("node1"),
                voter: true,
                leader: true,
            }]),
        ),
    ];
    for (name, body) in replies {
        seeds.push((format!("reply-{name}"), Decoder::Reply, body));
    }
    seeds
}

fn selector(decoder: Decoder) -> u8 {
    match decoder {
        Decoder::Append => b'a',
        Decoder::Vote => b'v',
        Decoder::Snapshot => b's',
        Decoder::Join => b'j',
        Decoder::Forward => b'f',
        Decoder::RemovePeer => b'r',
        Decoder::Stored => b'e',
        Decoder::Reply => b'p',
    }
}

#[test]
fn real_encodings_decode_and_round_trip() {
    for (name, decoder, body) in seeds() {
        assert_eq!(decode(decoder, &body), Ok(true), "{name}");
    }
}

#[test]
fn garbage_is_refused_by_every_decoder() {
    for body in [
        &b""[..],
        b"{",
        b"null",
        b"[1,2]",
        b"\xff\xfe",
        b"{\"SetJob\":7}",
    ] {
        for decoder in Decoder::ALL {
            assert_eq!(decode(decoder, body), Ok(false), "{decoder:?} {body:?}");
        }
    }
}

#[test]
fn a_truncated_snapshot_chunk_is_refused() {
    assert_eq!(decode(Decoder::Snapshot, &[0, 0, 1, 0, b'{']), Ok(false));
}

/// Writes the seed corpus of `fuzz/` (run after changing a wire type):
/// `cargo test -p dkron-raft write_seed_corpus -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus/raft_rpc"]
fn write_seed_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/raft_rpc");
    std::fs::create_dir_all(&dir).expect("corpus dir");
    for (name, decoder, body) in seeds() {
        let mut input = vec![selector(decoder)];
        input.extend_from_slice(&body);
        std::fs::write(dir.join(name), input).expect("seed written");
    }
}
