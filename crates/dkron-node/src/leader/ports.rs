//! The leader's scheduler ports: [`RaftPorts`] (job source and launch log over the local store
//! and Raft) and [`HandOff`] (dispatch: picks targets by tags, hands each fire to this node's
//! runner or to the target over RPC, and returns).

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use dkron_model::{Job, LaunchRecord, Member, Trigger};
use dkron_raft::{Command, Refusal, Response};
use dkron_scheduler::{BoxError, BoxFuture, Dispatch, Handoff, JobSource, LaunchLog, Run};
use jiff::Timestamp;
use rand::{SeedableRng, rngs::StdRng};

use super::{HandOvers, couriers::Couriers, hand_overs::HandOverGuard, starts::Starts};
use crate::{
    handles::Handles,
    rpc::{
        RunRequest,
        client::{HAND_OVER, NodeClient},
    },
    runner::Runner,
    throttle::Throttle,
};

/// Job source and launch log of the leader's scheduler: reads from the local store (the
/// leader's replica is current), writes through Raft.
#[derive(Debug)]
pub(crate) struct RaftPorts {
    handles: Arc<Handles>,
    /// Where the starts recorded with the launches wait for their dispatch ([`HandOff`]).
    starts: Arc<Starts>,
}

impl RaftPorts {
    pub(crate) fn new(handles: Arc<Handles>, starts: Arc<Starts>) -> RaftPorts {
        RaftPorts { handles, starts }
    }

    /// Commits the batch as one Raft entry, each launch with `nexts[i]`, the job's next fire to
    /// persist with it. Whether a launch is new is decided by the state machine
    /// (`dkron_model::LaunchRecord::is_new`), atomically with recording it: a refused launch
    /// is answered `false` and not dispatched.
    ///
    /// Each launch with targets carries its start (`started_at`): the state machine records
    /// the executions running with the launch, only if it is new, so the hand-over needs no
    /// Raft write of its own and a run is handed over only once its start is committed as
    /// leader ([`HandOff`] takes the instant from [`Starts`]). The start is the fire's due
    /// instant (`dues[i]`) when the scheduler took it ahead (`dispatch-lead`): the target holds
    /// the run until then.
    async fn record(
        &self,
        records: &[LaunchRecord],
        nexts: Vec<Option<Option<Timestamp>>>,
        dues: Vec<Timestamp>,
    ) -> Result<Vec<bool>, BoxError> {
        self.starts.prune();
        let mut commands = Vec::with_capacity(records.len());
        for ((record, next), due) in records.iter().zip(nexts).zip(dues) {
            let started_at = if record.targets.is_empty() {
                None
            } else {
                let at = self.starts.stamp(due);
                self.starts.begin(record, at).then_some(at)
            };
            commands.push(Command::RecordLaunch {
                launch: record.clone(),
                next,
                started_at,
            });
        }
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let begun: Vec<bool> = commands
            .iter()
            .map(|c| {
                matches!(
                    c,
                    Command::RecordLaunch {
                        started_at: Some(_),
                        ..
                    }
                )
            })
            .collect();
        let forget_all = || {
            for (record, _) in records.iter().zip(&begun).filter(|(_, begun)| **begun) {
                self.starts.forget(record);
            }
        };
        // One Raft entry (one fsync) for the whole batch of fires.
        // Leader only: a deposed leader's scheduler must not launch through the new one.
        let responses = match self.handles.write_as_leader(Command::Batch(commands)).await {
            Ok(written) => match written.response {
                Response::Batch(responses) if responses.len() == records.len() => responses,
                Response::Refused(refusal) => {
                    forget_all();
                    return Err(refusal.into());
                }
                other => {
                    forget_all();
                    return Err(format!("unexpected raft response {other:?}").into());
                }
            },
            Err(error) => {
                forget_all();
                return Err(error.into());
            }
        };
        Ok(records
            .iter()
            .zip(responses)
            .zip(begun)
            .map(|((record, response), begun)| {
                let fresh = match response {
                    Response::Refused(Refusal::AlreadyLaunched { .. }) => false,
                    Response::Refused(refusal) => {
                        // The job was deleted meanwhile: nothing to run.
                        tracing::debug!(%refusal, job = %record.job_name, "launch refused");
                        false
                    }
                    _ => true,
                };
                if begun && !fresh {
                    self.starts.forget(record);
                }
                fresh
            })
            .collect())
    }
}

/// When a launch is due to start: a timer fire's instant plus its job's jitter (ahead of now
/// when the scheduler took it early); the epoch, i.e. "now", for other launches and for a job
/// deleted meanwhile.
fn due(record: &LaunchRecord, job: Option<&Job>) -> Timestamp {
    match (record.trigger, job) {
        (Trigger::Scheduled, Some(job)) => job.jittered(record.scheduled_at),
        _ => Timestamp::UNIX_EPOCH,
    }
}

/// The job's next fire to persist with a scheduled launch (so `GET /v1/jobs` shows it): `None`
/// (leave it) for other launches and for a job deleted meanwhile.
fn next_fire(record: &LaunchRecord, job: Option<&Job>) -> Option<Option<Timestamp>> {
    match record.trigger {
        Trigger::Scheduled => job.map(|job| job.next_fire_after(record.scheduled_at)),
        _ => None,
    }
}

impl JobSource for RaftPorts {
    fn load_jobs(&self) -> BoxFuture<'_, Result<Vec<Job>, BoxError>> {
        Box::pin(async move {
            let store = &self.handles.store;
            let mut jobs = Vec::with_capacity(store.job_count());
            store.for_each_job(&mut |job| jobs.push(job))?;
            Ok(jobs)
        })
    }

    fn delete_job<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let command = Command::DeleteJob {
                name: name.to_owned(),
            };
            match self.handles.write(command).await?.response {
                Response::Refused(refusal) => Err(refusal.into()),
                _ => Ok(()),
            }
        })
    }
}

impl LaunchLog for RaftPorts {
    /// Commits the batch as one Raft entry; see [`RaftPorts::record`]. The jobs are read from
    /// the store (the scheduler passes its own through [`LaunchLog::record_launches_of`]).
    fn record_launches<'a>(
        &'a self,
        records: &'a [LaunchRecord],
    ) -> BoxFuture<'a, Result<Vec<bool>, BoxError>> {
        Box::pin(async move {
            let mut nexts = Vec::with_capacity(records.len());
            let mut dues = Vec::with_capacity(records.len());
            for record in records {
                let job = match record.trigger {
                    Trigger::Scheduled => self.handles.store.job(&record.job_name)?,
                    _ => None,
                };
                nexts.push(next_fire(record, job.as_ref()));
                dues.push(due(record, job.as_ref()));
            }
            self.record(records, nexts, dues).await
        })
    }

    /// [`LaunchLog::record_launches`] with the scheduler's jobs: no read and decode of each
    /// job from the store per fire.
    fn record_launches_of<'a>(
        &'a self,
        records: &'a [LaunchRecord],
        jobs: &'a [Arc<Job>],
    ) -> BoxFuture<'a, Result<Vec<bool>, BoxError>> {
        Box::pin(async move {
            if jobs.len() != records.len() {
                return Err(
                    format!("{} launches came with {} jobs", records.len(), jobs.len()).into(),
                );
            }
            let (nexts, dues) = records
                .iter()
                .zip(jobs)
                .map(|(record, job)| (next_fire(record, Some(job)), due(record, Some(job))))
                .unzip();
            self.record(records, nexts, dues).await
        })
    }

    fn last_fire<'a>(
        &'a self,
        job_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Timestamp>, BoxError>> {
        Box::pin(async move { Ok(self.handles.store.last_scheduled(job_name)?) })
    }
}

/// Dispatch of the leader's scheduler: picks a fire's targets among the alive members by the
/// job's tags (dkron's rules), runs the fire here when this server is a target, and sends it to
/// the other targets over RPC. The results come back through Raft and the applied-changes feed.
#[derive(Debug)]
pub(crate) struct HandOff {
    handles: Arc<Handles>,
    runner: Arc<Runner>,
    /// Carry the runs to other nodes, in batches per target.
    couriers: Arc<Couriers>,
    hand_overs: Arc<HandOvers>,
    /// The starts [`RaftPorts`] recorded with the launches.
    starts: Arc<Starts>,
    rng: Mutex<StdRng>,
    /// The alive members and when they were read: a storm of fires reads the store once per
    /// [`MEMBERS_FRESH`], not twice per fire.
    members: Mutex<Option<(Instant, Arc<[Member]>)>>,
    /// Told of each start it records for another node (pre-webhook, Cronitor `run`); this
    /// server's own starts are told by its `RaftReport`.
    notifier: dkron_notify::Notifier,
}

/// Runs not handed over, and their failures not recorded, come once per fire when an agent
/// refuses or the write path is down: warned about once per [`WARN_EVERY`] with a count.
static NOT_STARTED: Throttle = Throttle::new(WARN_EVERY);
static NOT_RECORDED: Throttle = Throttle::new(WARN_EVERY);
const WARN_EVERY: Duration = Duration::from_secs(5);

/// How long a read of the alive members serves target picking. Far below the failure timeout
/// (seconds), so a failed node stops being picked about as soon as it is recorded failed.
const MEMBERS_FRESH: Duration = Duration::from_millis(200);

impl HandOff {
    pub(crate) fn new(
        handles: Arc<Handles>,
        runner: Arc<Runner>,
        client: NodeClient,
        hand_overs: Arc<HandOvers>,
        starts: Arc<Starts>,
    ) -> HandOff {
        // Target picking needs no secret randomness: the clock is a fine seed.
        let seed = Timestamp::now().as_nanosecond() as u64;
        HandOff {
            handles,
            runner,
            couriers: Arc::new(Couriers::new(client)),
            hand_overs,
            starts,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            members: Mutex::new(None),
            notifier: dkron_notify::Notifier::disabled(),
        }
    }

    /// Tells `notifier` of the starts it records for other nodes.
    pub(crate) fn with_notifier(mut self, notifier: dkron_notify::Notifier) -> HandOff {
        self.notifier = notifier;
        self
    }

    /// The alive members, as replicated (read at most every [`MEMBERS_FRESH`], or now when
    /// `fresh`: a retry must not go back to a node just recorded failed).
    fn alive(&self, fresh: bool) -> Arc<[Member]> {
        let mut cached = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((read_at, members)) = cached.as_ref()
            && !fresh
            && read_at.elapsed() < MEMBERS_FRESH
        {
            return Arc::clone(members);
        }
        let members: Arc<[Member]> = match self.handles.store.members() {
            Ok(members) => members.into_iter().filter(Member::is_alive).collect(),
            Err(error) => {
                tracing::error!(%error, "cannot read the members; running fires here only");
                return Arc::from([self.handles.member.clone()]);
            }
        };
        *cached = Some((Instant::now(), Arc::clone(&members)));
        members
    }

    fn pick(&self, job: &Job, members: &[Member]) -> Vec<String> {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        dkron_model::select_targets(&job.tags, members, &self.handles.config.region, &mut *rng)
            .into_iter()
            .map(|member| member.name.clone())
            .collect()
    }

    /// Starts the run on `target` (over RPC, or this node's runner) and hands it over once its
    /// start is recorded as leader: `recorded` when the launch carried it (the start instant
    /// and the hand-over's registration), else it is recorded here first. A run whose start
    /// cannot be recorded as leader is not handed over (this server lost leadership: a new
    /// leader's scheduler, which did not count it, may be firing the job already); a run that
    /// cannot be handed over is recorded as a failed execution of that target, so the group
    /// completes and may be retried.
    fn send(
        &self,
        target: Member,
        run: &Run,
        recorded: Option<(Timestamp, Option<HandOverGuard>)>,
    ) {
        let handles = Arc::clone(&self.handles);
        let couriers = Arc::clone(&self.couriers);
        let notifier = self.notifier.clone();
        let hand_overs = Arc::clone(&self.hand_overs);
        let runner = Arc::clone(&self.runner);
        let local = target.name == self.handles.name();
        let (job, launch, cancel) = (Arc::clone(&run.job), run.launch.clone(), run.cancel.clone());
        self.runner.spawn(async move {
            // The start is recorded through Raft and only as leader before the hand-over (with
            // the launch, or here): the target then reports only the end (one call fewer per
            // run), the history shows the run as running, and a leader elected after a crash
            // sees it (to keep `forbid` from overlapping, and for the reconciler).
            let (started_at, registered, written_with_launch) = match recorded {
                Some((started_at, guard)) => (started_at, guard, true),
                None => (Timestamp::now(), None, false),
            };
            let started = launch.execution(&target.name, started_at);
            let _registered =
                registered.unwrap_or_else(|| hand_overs.begin(started.id(), launch.clone()));
            let failed = |why: String| {
                let mut execution = launch.execution(&target.name, started_at);
                execution.finished_at = Some(Timestamp::now().max(started_at));
                execution.output = format!("dkron-rs: {why}");
                execution
            };
            let told = notifier.wants_starts().then(|| started.clone());
            let sent = tokio::time::Instant::now();
            let recorded = if written_with_launch {
                Ok(())
            } else {
                handles
                    .write_as_leader(Command::ExecutionStarted(started))
                    .await
                    .map(|_| ())
            };
            if let (Ok(()), Some(started)) = (&recorded, told) {
                notifier.started(Arc::clone(&job), started);
            }
            let refused = match recorded {
                Err(error) => Some(format!(
                    "the run's start could not be recorded by the leader that launched it \
                     (leadership lost?), so it was not handed to node {}: {error}",
                    target.name
                )),
                Ok(()) if local => {
                    runner.led_at(sent);
                    runner
                        .start_at(job, launch.clone(), cancel, Some(started_at))
                        .err()
                        .map(|refused| refused.to_string())
                }
                Ok(()) => {
                    let request = RunRequest {
                        job: (*job).clone(),
                        launch: launch.clone(),
                        started_at: Some(started_at),
                        // Invariant: counted from the recorded start, so whoever reads the
                        // history knows when no node can accept this run any more (the
                        // reconciler relies on it).
                        start_by: started_at.checked_add(HAND_OVER).ok(),
                    };
                    couriers
                        .hand_over(&target.rpc_addr, &request)
                        .await
                        .err()
                        .map(|error| {
                            format!("cannot hand the run to node {}: {error}", target.name)
                        })
                }
            };
            let Some(why) = refused else {
                return;
            };
            match NOT_STARTED.admit(Instant::now()) {
                Some(held_back) => tracing::warn!(
                    node = %target.name, job = %launch.job_name, %why, held_back,
                    "run not started (recorded as a failed execution; held_back: how many \
                     more since the last such warning)"
                ),
                None => {
                    tracing::debug!(node = %target.name, job = %launch.job_name, %why, "run not started")
                }
            }
            // Anywhere: a fact about a run that never started, whoever leads now.
            if let Err(error) = handles.write(Command::ExecutionDone(failed(why))).await {
                match NOT_RECORDED.admit(Instant::now()) {
                    Some(held_back) => tracing::warn!(
                        %error, held_back,
                        "cannot record a run that could not be handed over (held_back: how \
                         many more since the last such warning)"
                    ),
                    None => tracing::debug!(
                        %error,
                        "cannot record a run that could not be handed over"
                    ),
                }
            }
        });
    }
}

impl Dispatch for HandOff {
    fn select_targets(&self, job: &Job) -> Vec<String> {
        self.pick(job, &self.alive(false))
    }

    /// Failed nodes that are still alive are tried again; those that are gone are replaced by
    /// other alive members the job's tags select.
    fn retarget(&self, job: &Job, failed: &[String]) -> Vec<String> {
        let alive = self.alive(true);
        let mut targets: Vec<String> = failed
            .iter()
            .filter(|name| alive.iter().any(|m| &m.name == *name))
            .cloned()
            .collect();
        let missing = failed.len() - targets.len();
        if missing > 0 {
            let spare: Vec<Member> = alive
                .iter()
                .filter(|m| !failed.contains(&m.name))
                .cloned()
                .collect();
            let mut replacements = self.pick(job, &spare);
            replacements.truncate(missing);
            targets.extend(replacements);
        }
        targets.sort();
        targets
    }

    fn dispatch(&self, run: Run) -> BoxFuture<'_, Handoff> {
        let alive = self.alive(false);
        // A launch the launch log did not record a start with (none such from this server's
        // `RaftPorts`, but the start is then written here, before the hand-over, as it was).
        let mut recorded = self.starts.take(&run.launch);
        for target in &run.launch.targets {
            let member = if *target == self.handles.name() {
                self.handles.member.clone()
            } else {
                alive
                    .iter()
                    .find(|m| &m.name == target)
                    .cloned()
                    .unwrap_or_else(|| Member {
                        // Gone since it was picked: the call fails and is recorded as such.
                        name: target.clone(),
                        rpc_addr: String::new(),
                        ..Member::default()
                    })
            };
            let start = recorded
                .as_mut()
                .map(|r| (r.started_at, r.guards.remove(target)));
            self.send(member, &run, start);
        }
        Box::pin(std::future::ready(if run.launch.targets.is_empty() {
            Handoff::NothingToRun
        } else {
            Handoff::Handed
        }))
    }
}
