//! [`StateMachine`]: applies committed entries to `dkron-store`, and builds and installs
//! snapshots as files.
//!
//! The entries of one `apply` call (and every command of a [`Command::Batch`] entry) are applied
//! as one store [`WriteGroup`]: each command sees the effects of those before it, and all of
//! them are written in one RocksDB batch together with the applied position (log id and the
//! membership in force), so a crash never leaves an effect without its position or the
//! reverse, nor an entry half applied. A group is cut at an entry boundary once its batch
//! passes [`GROUP_BYTES`], which bounds its memory when a follower catches up on many entries.
//!
//! Writes are not synced here: the log is the durable record, and the next log sync (one
//! sequential RocksDB WAL) covers them; a snapshot syncs before it exists.
//!
//! Snapshot file (`<snapshot dir>/current.snap`): the store's export stream, then a trailer
//! `meta JSON | meta length u32 BE | "DKRSNAP1"`. Openraft's snapshot data is the open file
//! (`tokio::fs::File`, not 0.9's default `Cursor<Vec<u8>>`), so a snapshot is never whole in
//! memory: the leader reads and sends one chunk at a time (`RaftConfig::snapshot_chunk_bytes`,
//! 1 MiB; about two copies of a chunk are in memory per transfer, the request body and the
//! decoded chunk), and the follower writes each chunk to an unlinked temp file. The cost moves
//! to disk: installing copies the received file into place and the store spools it once more
//! while verifying, so a follower briefly needs about three times the snapshot's size free.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use dkron_store::{Apply, RaftApplied, Store, WriteGroup};
use openraft::{
    Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftSnapshotBuilder,
    Snapshot, SnapshotMeta, StorageError, StoredMembership, storage::RaftStateMachine,
};

use crate::{
    applied::{Applied, AppliedFeed, Change, FinishedExecution},
    codec::{AppliedMeta, decode, encode, io_error},
    command::{Command, Refusal, Response},
    types::{NodeId, NodeInfo, TypeConfig},
};

const TRAILER_MAGIC: &[u8; 8] = b"DKRSNAP1";
const CURRENT: &str = "current.snap";
/// Largest snapshot meta a trailer may declare (a membership of a few nodes is far smaller).
const MAX_META: u32 = 1 << 20;
/// Batch size after which `apply` writes what it has and starts a new group.
const GROUP_BYTES: usize = 4 << 20;

/// The state machine over a [`Store`].
#[derive(Debug)]
pub struct StateMachine {
    store: Store,
    /// Membership in force at the last applied entry; written with every applied position.
    membership: StoredMembership<NodeId, NodeInfo>,
    files: Arc<SnapshotFiles>,
    /// Where applied changes are reported, when the node listens.
    feed: Option<AppliedFeed>,
}

/// The snapshot directory; the lock keeps "switch current" and "open current" apart.
#[derive(Debug)]
struct SnapshotFiles {
    dir: PathBuf,
    lock: Mutex<()>,
    counter: AtomicU64,
}

impl SnapshotFiles {
    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // Poisoning cannot leave a half-switched snapshot: the switch is a rename.
        self.lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn temp_path(&self, what: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{what}-{n}.tmp"))
    }
}

/// Builds a snapshot of the store at one point in time; runs while the state machine applies.
#[derive(Debug)]
pub struct SnapshotBuilder {
    store: Store,
    files: Arc<SnapshotFiles>,
}

impl StateMachine {
    /// The state machine on `store`, keeping snapshot files in `snapshot_dir` (created if
    /// missing; leftovers of interrupted transfers are removed).
    ///
    /// # Errors
    /// [`crate::Error::Io`] for the directory, [`crate::Error::Store`] when the applied position
    /// cannot be read, [`crate::Error::Fatal`] when it cannot be decoded.
    pub fn open(store: Store, snapshot_dir: &Path) -> crate::Result<StateMachine> {
        let io = |context: &str| {
            let context = format!("{context} {}", snapshot_dir.display());
            move |source| crate::Error::Io { context, source }
        };
        fs::create_dir_all(snapshot_dir).map_err(io("creating snapshot directory"))?;
        for item in fs::read_dir(snapshot_dir).map_err(io("listing snapshot directory"))? {
            let path = item.map_err(io("listing snapshot directory"))?.path();
            if path.extension().is_some_and(|ext| ext == "tmp") {
                // Why: a crash mid-build or mid-receive leaves a temp file nobody will finish.
                fs::remove_file(&path).map_err(io("removing leftover snapshot file in"))?;
            }
        }
        let applied = read_applied(&store).map_err(|e| crate::Error::Fatal {
            reason: e.to_string(),
        })?;
        Ok(StateMachine {
            store,
            membership: applied.membership,
            files: Arc::new(SnapshotFiles {
                dir: snapshot_dir.to_owned(),
                lock: Mutex::new(()),
                counter: AtomicU64::new(0),
            }),
            feed: None,
        })
    }

    /// Reports the changes of every apply (and every installed snapshot) to `feed`.
    #[must_use]
    pub fn with_feed(mut self, feed: Option<AppliedFeed>) -> StateMachine {
        self.feed = feed;
        self
    }

    /// The store this state machine writes.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The position to record with the writes up to entry `log_id`.
    #[expect(
        clippy::result_large_err,
        reason = "the error type is openraft's, fixed by its traits"
    )]
    fn position(&self, log_id: LogId<NodeId>) -> Result<Apply, StorageError<NodeId>> {
        let meta = AppliedMeta {
            log_id: Some(log_id),
            membership: self.membership.clone(),
        };
        let bytes = encode(&meta, ErrorSubject::StateMachine)?;
        Ok(Apply::raft(
            RaftApplied {
                index: log_id.index,
                bytes,
            },
            false,
        ))
    }
}

#[expect(
    clippy::result_large_err,
    reason = "the error type is openraft's, fixed by its traits"
)]
fn read_applied(store: &Store) -> Result<AppliedMeta, StorageError<NodeId>> {
    match store
        .applied()
        .map_err(|e| io_error(ErrorSubject::StateMachine, ErrorVerb::Read, &e))?
    {
        Some(applied) => decode(&applied.bytes, ErrorSubject::StateMachine),
        None => Ok(AppliedMeta::default()),
    }
}

/// Applies one command in `group`; refusals become [`Response::Refused`], storage I/O
/// failures are returned. A panic while applying is caught and refused
/// ([`Refusal::Failed`]): a store operation's writes join the group only when it returns
/// (`WriteGroup`), and the code around the operations only builds the response, so the
/// panicking command leaves no trace and the commands before it in the group stay.
pub(crate) fn apply_command(
    group: &mut WriteGroup<'_>,
    command: Command,
    changes: Option<&mut Vec<Change>>,
) -> Result<Response, dkron_store::Error> {
    let kind = command.kind();
    // Unwind safety: on a panic the group is left as it was before this command (see above)
    // and `changes` gains entries only after an operation succeeded.
    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        apply_unguarded(group, command, changes)
    }));
    let result = match applied {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            return Ok(Response::Refused(Refusal::Failed {
                kind: kind.to_owned(),
                message: format!("panicked: {message}"),
            }));
        }
    };
    match result {
        Ok(response) => Ok(response),
        Err(error) => match Refusal::from_store(&error, kind) {
            Some(refusal) => Ok(Response::Refused(refusal)),
            None => Err(error),
        },
    }
}

fn apply_unguarded(
    group: &mut WriteGroup<'_>,
    command: Command,
    changes: Option<&mut Vec<Change>>,
) -> Result<Response, dkron_store::Error> {
    // Set for an execution report when the feed wants it: the execution without its output
    // (taken out and put back, so the report itself is not copied).
    let mut finished = None;
    match command {
        Command::SetJob(job) => group.set_job(*job).map(|written| {
            if let Some(changes) = changes {
                changes.push(Change::Job(written.job.name.clone()));
                let parents: Vec<String> = written.job.parents().map(str::to_owned).collect();
                for old in written.previous_parents {
                    if !parents.contains(&old) {
                        changes.push(Change::Job(old));
                    }
                }
                changes.extend(parents.into_iter().map(Change::Job));
            }
            Response::JobWritten {
                job: written.job,
                created: written.created,
            }
        }),
        Command::DeleteJob { name } => group.delete_job(&name).map(|job| {
            if let Some(changes) = changes {
                changes.push(Change::Job(job.name.clone()));
                changes.extend(job.parents().map(|p| Change::Job(p.to_owned())));
            }
            Response::Job(job)
        }),
        Command::ToggleJob { name } => group.toggle_job(&name).map(|job| {
            if let Some(changes) = changes {
                changes.push(Change::Job(job.name.clone()));
            }
            Response::Job(job)
        }),
        Command::SetJobNext { name, next } => group.set_job_next(&name, next).map(Response::Job),
        Command::ExecutionStarted(execution) => {
            group
                .record_execution_start(execution)
                .map(|started| Response::ExecutionStarted {
                    stored: started.stored,
                    trimmed: started.trimmed,
                })
        }
        Command::ExecutionDone(mut execution) => {
            if changes.is_some() {
                let output = std::mem::take(&mut execution.output);
                finished = Some(execution.clone());
                execution.output = output;
            }
            group.record_execution_done(execution).map(|done| {
                if let Some(changes) = changes {
                    if let (Some(execution), true) = (finished, done.counted) {
                        changes.push(Change::ExecutionDone(Box::new(FinishedExecution {
                            execution,
                            group_status: done.group_status,
                            attempt_complete: done.attempt_complete,
                            failed_nodes: done.failed_nodes.clone(),
                            ready_children: done.ready_children.clone(),
                        })));
                    }
                    if done.paused {
                        // Disabled by `pause_on_failure`: the leader's scheduler must stop firing it.
                        changes.push(Change::Job(done.job.name.clone()));
                    }
                }
                Response::ExecutionDone {
                    counted: done.counted,
                    group_status: done.group_status,
                    attempt_complete: done.attempt_complete,
                    failed_nodes: done.failed_nodes,
                    job: done.job,
                    trimmed: done.trimmed,
                }
            })
        }
        Command::DeleteExecutions { job } => group.delete_executions(&job).map(Response::Job),
        Command::RecordLaunch {
            launch,
            next,
            started_at,
        } => group
            .record_launch_started(&launch, next, started_at)
            .map(|()| Response::Done),
        Command::Batch(_) => Ok(Response::Refused(Refusal::Invalid {
            message: "a batch inside a batch".to_owned(),
        })),
        Command::RunJob { name } => group.job(&name).map(|job| {
            if let Some(changes) = changes {
                changes.push(Change::RunRequested(job.name.clone()));
            }
            Response::Job(job)
        }),
        Command::Backfill {
            name,
            fires,
            overlap,
        } => group.job(&name).map(|job| {
            if let Some(changes) = changes {
                changes.push(Change::BackfillRequested {
                    name: job.name.clone(),
                    fires,
                    overlap,
                });
            }
            Response::Job(job)
        }),
        Command::SetMember(member) => group.set_member(&member).map(|()| Response::Done),
        Command::RemoveMember { name } => group.remove_member(&name).map(|_removed| Response::Done),
        Command::SetPaused(paused) => group.set_paused(paused).map(|()| Response::Done),
        Command::RecordSkipped(jobs) => {
            for fires in jobs {
                match group.record_skipped(&fires.job, fires.count, fires.last) {
                    // Deleted since its fires were dropped: nothing to count them on.
                    Ok(_) | Err(dkron_store::Error::JobNotFound { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(Response::Done)
        }
        #[cfg(test)]
        Command::PanicForTest => panic!("a bug in apply"),
    }
}

/// Logs a command the state machine could not apply (the entry is applied all the same).
fn log_failed(index: u64, response: &Response) {
    match response {
        Response::Refused(refusal @ Refusal::Failed { .. }) => {
            tracing::error!(log_index = index, %refusal, "a committed command was refused");
        }
        Response::Batch(answers) => {
            for answer in answers {
                log_failed(index, answer);
            }
        }
        _ => {}
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, NodeInfo>), StorageError<NodeId>>
    {
        let applied = read_applied(&self.store)?;
        Ok((applied.log_id, applied.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let store = self.store.clone();
        let mut group = store.write_group();
        let mut responses = Vec::new();
        let mut changes = Vec::new();
        let feeding = self.feed.is_some();
        // The last entry applied in `group` and not yet written.
        let mut unwritten = None;
        let mut last_index = None;
        for entry in entries {
            let log_id = entry.log_id;
            last_index = Some(log_id.index);
            let failed =
                |e: dkron_store::Error| io_error(ErrorSubject::Apply(log_id), ErrorVerb::Write, &e);
            let response = match entry.payload {
                EntryPayload::Blank => Response::Done,
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(log_id), membership);
                    Response::Done
                }
                EntryPayload::Normal(Command::Batch(commands)) => {
                    let mut answers = Vec::with_capacity(commands.len());
                    for command in commands {
                        let changes = feeding.then_some(&mut changes);
                        answers.push(apply_command(&mut group, command, changes).map_err(failed)?);
                    }
                    Response::Batch(answers)
                }
                EntryPayload::Normal(command) => {
                    let changes = feeding.then_some(&mut changes);
                    apply_command(&mut group, command, changes).map_err(failed)?
                }
            };
            log_failed(log_id.index, &response);
            responses.push(response);
            unwritten = Some(log_id);
            if group.batch_bytes() >= GROUP_BYTES {
                group.commit(&self.position(log_id)?).map_err(failed)?;
                group = store.write_group();
                unwritten = None;
            }
        }
        if let Some(log_id) = unwritten {
            group
                .commit(&self.position(log_id)?)
                .map_err(|e| io_error(ErrorSubject::Apply(log_id), ErrorVerb::Write, &e))?;
        }
        // Invariant: sent after the writes, so a reader acting on a change finds it stored.
        if let (Some(feed), Some(index)) = (&self.feed, last_index) {
            // A closed feed means the node stopped listening (shutting down): nothing to tell.
            let _ = feed.send(Applied { index, changes });
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            store: self.store.clone(),
            files: Arc::clone(&self.files),
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<tokio::fs::File>, StorageError<NodeId>> {
        let path = self.files.temp_path("receiving");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error(ErrorSubject::Snapshot(None), ErrorVerb::Write, &e))?;
        // Why unlink now: the open file is all openraft needs; nothing is left behind if the
        // transfer is abandoned.
        fs::remove_file(&path)
            .map_err(|e| io_error(ErrorSubject::Snapshot(None), ErrorVerb::Write, &e))?;
        Ok(Box::new(tokio::fs::File::from_std(file)))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, NodeInfo>,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError<NodeId>> {
        let received = (*snapshot).into_std().await;
        let store = self.store.clone();
        let files = Arc::clone(&self.files);
        let meta_owned = meta.clone();
        let signature = Some(meta.signature());
        let error = |e: &(dyn std::error::Error + 'static)| {
            io_error(
                ErrorSubject::Snapshot(signature.clone()),
                ErrorVerb::Write,
                e,
            )
        };
        tokio::task::spawn_blocking(move || install_file(&store, &files, &meta_owned, received))
            .await
            .map_err(|e| error(&e))?
            .map_err(|e| error(&*e))?;
        self.membership = meta.last_membership.clone();
        if let Some(feed) = &self.feed {
            let index = meta.last_log_id.map_or(0, |id| id.index);
            let _ = feed.send(Applied {
                index,
                changes: vec![Change::Restored],
            });
        }
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let files = Arc::clone(&self.files);
        tokio::task::spawn_blocking(move || open_current(&files))
            .await
            .map_err(|e| io_error(ErrorSubject::Snapshot(None), ErrorVerb::Read, &e))?
            .map_err(|e| io_error(ErrorSubject::Snapshot(None), ErrorVerb::Read, &*e))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let store = self.store.clone();
        let files = Arc::clone(&self.files);
        let error = |e: &(dyn std::error::Error + 'static)| {
            io_error(ErrorSubject::Snapshot(None), ErrorVerb::Write, e)
        };
        // A thread of its own rather than the blocking pool: it runs at the lowest CPU
        // priority, which a thread cannot take back, and must not leave a pooled thread so.
        let (built, receive) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("dkron-snapshot".to_owned())
            .spawn(move || {
                background::lower_this_threads_priority();
                let _ = built.send(build_file(&store, &files));
            })
            .map_err(|e| error(&e))?;
        receive
            .await
            .map_err(|e| error(&e))?
            .map_err(|e| error(&*e))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Exports the store into a new `current.snap` and returns it opened for reading.
fn build_file(store: &Store, files: &SnapshotFiles) -> Result<Snapshot<TypeConfig>, BoxError> {
    // Durability: every applied write the export reads is synced first, so a snapshot (after
    // which the log may be purged) never covers state that a crash could still lose.
    let began = std::time::Instant::now();
    store.sync_wal()?;
    let temp = files.temp_path("building");
    let result = (|| -> Result<SnapshotMeta<NodeId, NodeInfo>, BoxError> {
        let file = File::create(&temp)?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        let info = store.export_snapshot(&mut out)?;
        tracing::info!(
            records = info.records,
            bytes = info.bytes,
            took_ms = began.elapsed().as_millis(),
            "snapshot of the state built"
        );
        let applied: AppliedMeta = match &info.applied {
            Some(applied) => serde_json::from_slice(&applied.bytes)?,
            None => AppliedMeta::default(),
        };
        let n = files.counter.fetch_add(1, Ordering::Relaxed);
        let last_log_id = applied.log_id;
        let snapshot_id = match last_log_id {
            Some(log_id) => format!(
                "{}-{}-{}-{n}",
                log_id.leader_id.term, log_id.leader_id.node_id, log_id.index
            ),
            None => format!("none-{n}"),
        };
        let meta = SnapshotMeta {
            last_log_id,
            last_membership: applied.membership,
            snapshot_id,
        };
        write_trailer(&mut out, &meta)?;
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        Ok(meta)
    })();
    let meta = match result {
        Ok(meta) => meta,
        Err(error) => {
            let _ = fs::remove_file(&temp);
            return Err(error);
        }
    };
    let _guard = files.lock();
    switch_current(files, &temp)?;
    let file = File::open(files.dir.join(CURRENT))?;
    Ok(Snapshot {
        meta,
        snapshot: Box::new(tokio::fs::File::from_std(file)),
    })
}

/// Copies a received snapshot file into place and replaces the store's state with it.
fn install_file(
    store: &Store,
    files: &SnapshotFiles,
    meta: &SnapshotMeta<NodeId, NodeInfo>,
    mut received: File,
) -> Result<(), BoxError> {
    let (trailer_meta, data_len) = read_trailer(&mut received)?;
    if trailer_meta.last_log_id != meta.last_log_id {
        return Err(format!(
            "snapshot file covers {:?} but its meta says {:?}",
            trailer_meta.last_log_id, meta.last_log_id
        )
        .into());
    }
    let temp = files.temp_path("installing");
    let result = (|| -> Result<(), BoxError> {
        received.seek(SeekFrom::Start(0))?;
        let mut copy = File::create(&temp)?;
        io::copy(&mut received, &mut copy)?;
        copy.sync_all()?;
        drop(copy);
        let mut data = BufReader::with_capacity(1 << 16, File::open(&temp)?).take(data_len);
        let imported = store.import_snapshot(&mut data)?;
        let imported: Option<AppliedMeta> = match &imported.applied {
            Some(applied) => Some(serde_json::from_slice(&applied.bytes)?),
            None => None,
        };
        let agrees = imported
            .as_ref()
            .is_some_and(|applied| applied.log_id == meta.last_log_id);
        if !agrees && let Some(log_id) = meta.last_log_id {
            // The stream's own position is kept when it agrees; otherwise what openraft was
            // told wins.
            let applied = AppliedMeta {
                log_id: Some(log_id),
                membership: meta.last_membership.clone(),
            };
            let bytes = serde_json::to_vec(&applied)?;
            store.record_applied(&Apply::raft(
                RaftApplied {
                    index: log_id.index,
                    bytes,
                },
                true,
            ))?;
        }
        Ok(())
    })();
    if let Err(error) = result {
        let _ = fs::remove_file(&temp);
        return Err(error);
    }
    let _guard = files.lock();
    switch_current(files, &temp)
}

/// Renames `temp` to `current.snap` and syncs the directory.
fn switch_current(files: &SnapshotFiles, temp: &Path) -> Result<(), BoxError> {
    fs::rename(temp, files.dir.join(CURRENT))?;
    // Durability: the rename itself is made durable.
    File::open(&files.dir)?.sync_all()?;
    Ok(())
}

fn open_current(files: &SnapshotFiles) -> Result<Option<Snapshot<TypeConfig>>, BoxError> {
    let _guard = files.lock();
    let mut file = match File::open(files.dir.join(CURRENT)) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let (meta, _) = read_trailer(&mut file)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(Some(Snapshot {
        meta,
        snapshot: Box::new(tokio::fs::File::from_std(file)),
    }))
}

fn write_trailer(
    out: &mut dyn Write,
    meta: &SnapshotMeta<NodeId, NodeInfo>,
) -> Result<(), BoxError> {
    let bytes = serde_json::to_vec(meta)?;
    let len = u32::try_from(bytes.len())?;
    out.write_all(&bytes)?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(TRAILER_MAGIC)?;
    Ok(())
}

/// Reads the trailer: the meta and the length of the store stream before it.
fn read_trailer(file: &mut File) -> Result<(SnapshotMeta<NodeId, NodeInfo>, u64), BoxError> {
    let total = file.seek(SeekFrom::End(0))?;
    if total < 12 {
        return Err("snapshot file too short for its trailer".into());
    }
    file.seek(SeekFrom::Start(total - 12))?;
    let mut tail = [0u8; 12];
    file.read_exact(&mut tail)?;
    if &tail[4..] != TRAILER_MAGIC {
        return Err("snapshot file has no dkron-raft trailer".into());
    }
    let meta_len = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if meta_len > MAX_META || u64::from(meta_len) + 12 > total {
        return Err(
            format!("snapshot trailer declares an implausible meta length {meta_len}").into(),
        );
    }
    let data_len = total - 12 - u64::from(meta_len);
    file.seek(SeekFrom::Start(data_len))?;
    let mut bytes = vec![0u8; meta_len as usize];
    file.read_exact(&mut bytes)?;
    Ok((serde_json::from_slice(&bytes)?, data_len))
}

mod background;
#[cfg(test)]
mod tests;
