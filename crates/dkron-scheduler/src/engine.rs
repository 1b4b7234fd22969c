//! The timer loop: one task owning every job's slot, a min-heap of next fires and a queue of
//! delayed launches (retries, missed fires), driven by one tokio sleep and a command channel.
//!
//! Flow of a fire: the loop pops a due heap entry, pushes the job's next fire (computed from the
//! *scheduled* instant, never from "now", so nothing drifts), applies the concurrency policy and
//! queues a [`Launch`]. Queued launches leave in batches (every few hundred fires of a storm,
//! and at the end of each loop turn) as one task each; the batch tasks are chained so they
//! record in the [`LaunchLog`] strictly in launch order, then dispatch each recorded launch: the
//! dispatch is polled once in place (a dispatch that completes at once, or only hands work over,
//! costs no task) and spawned as a task of its own if it is still pending. Spawning batches,
//! rather than feeding one long-lived launcher, lets the runtime's other workers take them while
//! the loop keeps popping.
//!
//! A dispatch is a hand-off: what follows a run (retries, dependents, ephemeral deletion, the
//! end of a forbid/replace run) is driven by reports, never by the dispatch future. Reports
//! arrive two ways, and both end in [`Engine::attempt_done`]:
//! - in-process, through [`Run::report`]: the execution goes to the [`ExecutionSink`], and for
//!   a tracked run to the loop, which computes the group's progress itself;
//! - from a replicated store, through [`crate::Scheduler::report`], with the progress the store
//!   computed; a new leader's scheduler thus continues groups its predecessor launched.
//!
//! Invariants:
//! - Only the loop touches slots, the heap and the delayed queue (no locks).
//! - A heap entry is live iff its `(slot, generation)` matches the slot's current generation and
//!   its instant is the slot's next fire; every change of a job's timing bumps the generation, so
//!   stale entries are skipped when popped (lazy deletion), and the heap is rebuilt when they
//!   outnumber live ones.
//! - Every task (launch batches, dispatches, deletions) is spawned on the loop's [`TaskTracker`], which
//!   shutdown closes and awaits with a bound.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap, HashMap, VecDeque},
    future::Future,
    hash::{BuildHasher, RandomState},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, Waker},
    time::Duration,
};

use dkron_cron::Schedule;
use dkron_cron::ScheduleKind;
use dkron_model::{
    Concurrency, Execution, GroupProgress, Job, JobSchedule, JobStatus, LaunchRecord, Trigger,
    group_progress,
};
use hashbrown::HashTable;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{debug, warn};

use crate::{
    Error,
    clock::Clock,
    dispatch::{Dispatch, Handoff, Run},
    kept::KeptJob,
    misfire::{self, Skipped, Tally, Verdict},
    plan,
    ports::{ExecutionSink, JobSource, LaunchLog},
    stats::{Counters, add},
};

mod parents;
mod policies;
use parents::Decided;
#[cfg(test)]
mod tests;

/// Fires processed between two yields of the loop, so a storm of due fires lets the runtime
/// run the launch batches it spawned on this worker.
const FIRES_PER_YIELD: usize = 2048;
/// Fires per launch batch, at most: a storm crosses threads in a few large batches instead of
/// one wake-up per fire, and the first batch leaves early.
const LAUNCHES_PER_HANDOFF: usize = 512;
/// Completion reports handled per wake-up before the loop looks at its timer again.
const REPORTS_PER_WAKE: usize = 1024;
/// After the shutdown grace ran out and runs were cancelled, how long to wait for them to end.
const CANCEL_WAIT: Duration = Duration::from_secs(1);
/// The loop spins the last stretch before a deadline (see [`Clock::wake_margin`]) only when it
/// has been idle at least this long, so dense schedules never turn into a busy loop.
const SPIN_AFTER_IDLE: Duration = Duration::from_millis(20);

/// Where the loop's tasks reach the world; shared by every task.
#[derive(Debug)]
pub(crate) struct Ports {
    pub(crate) source: Arc<dyn JobSource>,
    pub(crate) launch_log: Arc<dyn LaunchLog>,
    pub(crate) sink: Arc<dyn ExecutionSink>,
    pub(crate) dispatch: Arc<dyn Dispatch>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) counters: Arc<Counters>,
    /// The misfire bound of jobs without a window of their own (see [`crate::misfire`]).
    pub(crate) misfire_threshold: Duration,
    /// How long before its due instant a fire that may overlap its job's runs is taken
    /// ([`crate::SchedulerBuilder::lead`]).
    pub(crate) lead: SignedDuration,
}

/// What the loop's tasks share: the ports and the way back to the loop.
#[derive(Debug)]
struct TaskCtx {
    ports: Arc<Ports>,
    done: mpsc::UnboundedSender<Event>,
    /// The token of untracked runs (cancelled only by shutdown). Cloned by the batch task, not the
    /// loop, so its reference count stays on one thread in a storm.
    root: CancellationToken,
}

/// A request to the loop, from a [`crate::Scheduler`] handle.
#[derive(Debug)]
pub(crate) enum Command {
    Upsert {
        job: KeptJob,
        schedule: Option<Timed>,
        reply: oneshot::Sender<()>,
    },
    Remove {
        name: String,
        reply: oneshot::Sender<bool>,
    },
    Pause {
        name: String,
        reply: oneshot::Sender<bool>,
    },
    Resume {
        name: String,
        reply: oneshot::Sender<bool>,
    },
    RunNow {
        name: String,
        reply: oneshot::Sender<Result<i64, Error>>,
    },
    Backfill {
        name: String,
        fires: Vec<Timestamp>,
        overlap: dkron_model::BackfillOverlap,
        reply: oneshot::Sender<Result<usize, Error>>,
    },
    State {
        name: String,
        reply: oneshot::Sender<Option<crate::JobState>>,
    },
    Len {
        reply: oneshot::Sender<usize>,
    },
    /// Takes the tally of fires the misfire bound dropped.
    TakeSkipped {
        reply: oneshot::Sender<Vec<Skipped>>,
    },
    /// An execution report from outside (a replicated store), with its group's progress.
    Report {
        execution: Execution,
        progress: GroupProgress,
    },
    Shutdown {
        grace: Duration,
        reply: oneshot::Sender<crate::ShutdownReport>,
    },
}

/// A fire on its way to the launch log and the dispatcher.
#[derive(Debug)]
struct Launch {
    record: LaunchRecord,
    rest: Pending,
}

/// A launch without its record (a batch lends its records to the log as one slice).
#[derive(Debug)]
struct Pending {
    job: LaunchJob,
    /// The run's own token (tracked runs); `None` uses the shared root token (untracked).
    cancel: Option<CancellationToken>,
    /// Set for a regular timer fire, which the misfire bound applies to.
    timer: Option<TimerFire>,
}

/// The job of a launch: whole, or still packed. A plain fire (untracked, targets not given)
/// leaves the loop packed; its batch task rebuilds the job and chooses its targets, so a storm
/// of fires costs the loop no rebuild (about a microsecond each, see [`KeptJob::full`]).
#[derive(Debug)]
enum LaunchJob {
    Whole(Arc<Job>),
    Kept(KeptJob),
}

impl LaunchJob {
    fn whole(self) -> Arc<Job> {
        match self {
            LaunchJob::Whole(job) => job,
            // Not reached: the batch task rebuilds every kept job before recording it.
            LaunchJob::Kept(kept) => kept.full(),
        }
    }

    /// The whole job, shared: what the launch log is handed with each record.
    fn shared(&self) -> Arc<Job> {
        match self {
            LaunchJob::Whole(job) => Arc::clone(job),
            // Not reached, as in `whole`.
            LaunchJob::Kept(kept) => kept.full(),
        }
    }
}

/// What the misfire bound reads (the decision fields, which a kept job has too).
impl LaunchJob {
    fn jittered(&self, at: Timestamp) -> Timestamp {
        match self {
            LaunchJob::Whole(job) => job.jittered(at),
            LaunchJob::Kept(kept) => kept.jittered(at),
        }
    }

    fn misfire_policy(&self) -> dkron_model::MisfirePolicy {
        match self {
            LaunchJob::Whole(job) => job.misfire_policy,
            LaunchJob::Kept(kept) => kept.misfire_policy(),
        }
    }
}

/// What the misfire bound needs to know of a regular timer fire besides its record.
#[derive(Debug, Clone, Copy)]
struct TimerFire {
    /// The job's next regular fire after this one, as computed when it fired.
    next: Option<Timestamp>,
}

/// What reaches the loop from its tasks and from [`Run::report`].
#[derive(Debug)]
pub(crate) enum Event {
    /// A tracked run's execution finished (reported in-process; output dropped).
    Reported(Execution),
    /// A tracked launch was not dispatched (refused by the log, or nothing to run).
    NotRun {
        job: String,
        group: i64,
        attempt: u32,
    },
    /// A timer fire the misfire bound dropped before it was recorded.
    Dropped {
        job: String,
        at: Timestamp,
        group: i64,
        attempt: u32,
        tracked: bool,
    },
}

/// A tracked run in flight: what the loop needs when its attempt completes.
#[derive(Debug)]
struct InFlight {
    record: LaunchRecord,
    cancel: CancellationToken,
    /// Executions of the group reported in-process (earlier attempts included), outputs
    /// dropped: the in-process path computes the group's progress from them.
    executions: Vec<Execution>,
}

/// 16 bytes: the instant as Unix nanoseconds (clamped to `i64`, i.e. until 2262; a later fire
/// sorts last and is read back from its slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct HeapEntry {
    at: i64,
    slot: u32,
    generation: u32,
}

#[derive(Debug)]
enum Delayed {
    /// A missed fire the misfire policy runs now.
    Misfire {
        slot: u32,
        generation: u32,
        at: Timestamp,
    },
    /// The next attempt of a failed group.
    Retry {
        name: String,
        scheduled_at: Timestamp,
        group: i64,
        attempt: u32,
        targets: Vec<String>,
        /// Executions of earlier attempts (in-process reports only), outputs dropped.
        prior: Vec<Execution>,
    },
}

/// One entry of the slab: the slot is boxed so the slab itself stays at 8 bytes a job however
/// much it over-allocates while growing.
type Cell = Option<Box<Slot>>;

/// Stands for "none" in [`Slot`]'s instants (year -9999: never a fire time), which keeps a slot
/// 16 bytes smaller than two `Option<Timestamp>`.
const NO_TIME: Timestamp = Timestamp::MIN;

/// A job that fires again within this keeps its whole definition from then on (until it is
/// updated): rebuilding it costs a few µs a fire (docs/benchmarks.md), which matters for a job
/// that fires every second and not for one that fires every minute, and few jobs fire that
/// often. So at most one rebuild per job every 10 s: 10k a second at 100k jobs.
const KEEP_WHOLE_BELOW: SignedDuration = SignedDuration::from_secs(10);

/// What the loop keeps per job: the definition (packed: the fields it decides with, the rest
/// in one buffer), its parsed schedule and its fire times.
#[derive(Debug)]
struct Slot {
    job: KeptJob,
    /// `None` for children (never fired by the timer).
    schedule: Option<Timed>,
    /// The next timer fire, or [`NO_TIME`].
    next_at: PackedTime,
    /// The latest timer fire, or [`NO_TIME`].
    last_at: PackedTime,
    /// Changes whenever the job's timing changes; heap entries of other generations are stale.
    /// Unique across slots too (one counter), so a reused slot never revives old entries.
    generation: u32,
    paused: bool,
}

/// A fire instant in 12 bytes where a `Timestamp` takes 16.
// Why: each slot keeps two, and the index's memory per job is a goal (≤ 200 B/job); packing
// to 4-byte alignment lets both share the padding `Slot` has anyway.
#[derive(Debug, Clone, Copy)]
#[repr(C, packed(4))]
struct PackedTime {
    second: i64,
    nanosecond: i32,
}

impl PackedTime {
    fn new(at: Timestamp) -> PackedTime {
        PackedTime {
            second: at.as_second(),
            nanosecond: at.subsec_nanosecond(),
        }
    }

    fn get(self) -> Timestamp {
        // Fields are copied out: a packed struct's fields can't be borrowed.
        let (second, nanosecond) = (self.second, self.nanosecond);
        // Always valid: the pair came from a `Timestamp`.
        Timestamp::new(second, nanosecond).unwrap_or(NO_TIME)
    }
}

fn some_time(at: Timestamp) -> Option<Timestamp> {
    (at != NO_TIME).then_some(at)
}

impl Slot {
    fn next(&self) -> Option<Timestamp> {
        some_time(self.next_at.get())
    }

    fn last_fire(&self) -> Option<Timestamp> {
        some_time(self.last_at.get())
    }

    /// Whether the timer fires this job on its own.
    fn timed(&self) -> bool {
        !self.paused
            && !self.job.disabled()
            && self
                .schedule
                .as_ref()
                .is_some_and(|s| s.schedule.kind() != ScheduleKind::Manual)
    }
}

/// A job's parsed schedule and zone: [`JobSchedule`] without the `starts_at`/`expires_at`
/// copies (48 bytes a job less), which are read from the job itself.
#[derive(Debug, Clone)]
pub(crate) struct Timed {
    schedule: Schedule,
    tz: TimeZone,
}

impl Timed {
    pub(crate) fn new(schedule: &JobSchedule) -> Timed {
        Timed {
            schedule: schedule.schedule().clone(),
            tz: schedule.time_zone().clone(),
        }
    }

    /// The full [`JobSchedule`] for the pure planning functions (on changes, not per fire).
    fn with_window(&self, job: &KeptJob) -> JobSchedule {
        JobSchedule::new(
            self.schedule.clone(),
            self.tz.clone(),
            job.starts_at(),
            job.expires_at(),
        )
    }

    /// The first fire strictly after `after` within the job's `starts_at..=expires_at`: what
    /// [`JobSchedule::next_after`] computes, without building one per fire.
    fn next_after(&self, after: Timestamp, job: &KeptJob) -> Option<Timestamp> {
        let from = match job.starts_at() {
            // A fire exactly at `starts_at` is allowed, so search from just before it.
            Some(start) if after < start => start
                .checked_sub(SignedDuration::from_nanos(1))
                .unwrap_or(start),
            _ => after,
        };
        let fire = self.schedule.next_after(from, &self.tz)?;
        match job.expires_at() {
            Some(end) if fire > end => None,
            _ => Some(fire),
        }
    }
}

/// A heap instant: Unix nanoseconds, clamped.
fn heap_at(at: Timestamp) -> i64 {
    i64::try_from(at.as_nanosecond()).unwrap_or(i64::MAX)
}

/// The name of the job in slot `idx`.
fn name_at(cells: &[Cell], idx: u32) -> Option<&str> {
    Some(cells.get(idx as usize)?.as_ref()?.job.name())
}

/// How a launch is described before it becomes a [`LaunchRecord`].
#[derive(Debug)]
struct LaunchSpec {
    trigger: Trigger,
    scheduled_at: Timestamp,
    group: i64,
    attempt: u32,
    targets: Option<Vec<String>>,
    prior: Vec<Execution>,
    timer: Option<TimerFire>,
}

impl LaunchSpec {
    /// A first attempt in its own group, with the dispatch choosing the targets.
    fn first(trigger: Trigger, scheduled_at: Timestamp, group: i64) -> LaunchSpec {
        LaunchSpec {
            trigger,
            scheduled_at,
            group,
            attempt: 1,
            targets: None,
            prior: Vec::new(),
            timer: None,
        }
    }
}

/// The loop's state. Built by [`crate::SchedulerBuilder::start`], consumed by [`Engine::run`].
#[derive(Debug)]
pub(crate) struct Engine {
    ports: Arc<Ports>,
    cells: Vec<Cell>,
    /// The last generation handed out (see [`Slot::generation`]).
    generation: u32,
    free: Vec<u32>,
    /// Job name to slot: a table of slot numbers hashed and compared through the slots' own
    /// job names, so names are not stored twice. Invariant: every entry is a live slot.
    names: HashTable<u32>,
    hasher: RandomState,
    /// Tracked runs in flight, per job. Kept apart from the slots because few jobs are
    /// tracked, and a slot stays smaller without it.
    running: HashMap<String, Vec<InFlight>>,
    /// Fires of `buffer_one`/`buffer_all` jobs waiting for the job's run to end, per job
    /// (see `policies.rs`).
    buffered: HashMap<String, VecDeque<policies::Buffered>>,
    heap: BinaryHeap<Reverse<HeapEntry>>,
    delayed: BTreeMap<(Timestamp, u64), Delayed>,
    seq: u64,
    last_group: i64,
    tracker: TaskTracker,
    root: CancellationToken,
    /// Whether launches are still accepted (false once shutdown began).
    launching: bool,
    /// Completes when the latest batch task has recorded its launches; the next batch waits
    /// for it, so records reach the log in launch order.
    gate: Option<oneshot::Receiver<()>>,
    /// Launches not yet sent off in a batch (see [`Engine::flush`]).
    outbox: Vec<Launch>,
    ctx: Arc<TaskCtx>,
    done_rx: mpsc::UnboundedReceiver<Event>,
    /// Fires the misfire bound dropped, per job, since the last take.
    dropped: Tally,
}

/// A job's group id for a scheduled instant: the instant in Unix nanoseconds, so the same fire
/// gets the same group whichever scheduler launches it.
fn group_of(at: Timestamp) -> i64 {
    i64::try_from(at.as_nanosecond()).unwrap_or(i64::MAX)
}

impl Engine {
    pub(crate) fn new(ports: Arc<Ports>) -> Engine {
        let (done, done_rx) = mpsc::unbounded_channel();
        let root = CancellationToken::new();
        Engine {
            ports: Arc::clone(&ports),
            cells: Vec::new(),
            generation: 0,
            free: Vec::new(),
            names: HashTable::new(),
            hasher: RandomState::new(),
            running: HashMap::new(),
            buffered: HashMap::new(),
            heap: BinaryHeap::new(),
            delayed: BTreeMap::new(),
            seq: 0,
            last_group: i64::MIN,
            tracker: TaskTracker::new(),
            root: root.clone(),
            outbox: Vec::new(),
            launching: true,
            gate: None,
            ctx: Arc::new(TaskCtx { ports, done, root }),
            done_rx,
            dropped: Tally::default(),
        }
    }

    /// Adds a job at start, resuming from its latest launched fire when the log knows one.
    pub(crate) fn load(
        &mut self,
        job: KeptJob,
        schedule: Option<Timed>,
        last: Option<Timestamp>,
        now: Timestamp,
        max_catch_up: usize,
    ) {
        let policy = job.misfire_policy();
        let threshold = self.ports.misfire_threshold;
        // A `buffer_*` job whose run outlived the previous scheduler: its buffer is rebuilt.
        let buffering = job.concurrency().buffers() && self.running.contains_key(job.name());
        let idx = self.insert_slot(job, schedule);
        let Some(slot) = self.slot_mut(idx) else {
            return;
        };
        let generation = slot.generation;
        let Some(schedule) = slot.schedule.as_ref().filter(|_| slot.timed()) else {
            return;
        };
        let schedule = schedule.with_window(&slot.job);
        let job = slot.job.clone();
        let due = |at| job.jittered(at);
        let (missed, next, buffered) = match last {
            Some(last) if buffering => {
                let (buffered, next) = plan::resume_buffered(
                    &schedule,
                    last,
                    now,
                    job.concurrency(),
                    job.jitter(),
                    due,
                );
                (Vec::new(), next, buffered)
            }
            Some(last) => {
                // A fire due less than the misfire threshold ago is resumed from as the next
                // regular fire (launched late), not handed to the misfire policy.
                let resume_at = plan::late_fire(&schedule, last, now, threshold)
                    .and_then(|late| late.checked_sub(SignedDuration::from_nanos(1)).ok())
                    .unwrap_or(now);
                let (missed, next) = plan::resume_jittered(
                    &schedule,
                    policy,
                    last,
                    resume_at,
                    max_catch_up,
                    job.jitter(),
                    due,
                );
                (missed, next, Vec::new())
            }
            None => (
                Vec::new(),
                plan::first_fire_in_phase(&schedule, job.next(), now),
                Vec::new(),
            ),
        };
        slot.last_at = PackedTime::new(last.unwrap_or(NO_TIME));
        slot.next_at = PackedTime::new(next.unwrap_or(NO_TIME));
        if let Some(at) = next {
            self.queue_fire(at, idx, generation);
        }
        for at in missed {
            self.delay(
                at,
                Delayed::Misfire {
                    slot: idx,
                    generation,
                    at,
                },
            );
        }
        self.buffer_at_start(job.name(), buffered);
    }

    /// Queues the next fire of slot `idx`, scheduled at `at`, as an entry of the slot's
    /// `generation`; the entry is taken at the fire's jittered instant, less the lead for a job
    /// that allows overlaps ([`Slot::wake`]).
    fn queue_fire(&mut self, at: Timestamp, idx: u32, generation: u32) {
        let lead = self.ports.lead;
        let wake = self.slot(idx).map_or(at, |slot| {
            policies::wake_at(slot.job.concurrency(), slot.job.jittered(at), lead)
        });
        reserve_heap_gently(&mut self.heap);
        self.heap.push(Reverse(HeapEntry {
            at: heap_at(wake),
            slot: idx,
            generation,
        }));
    }

    fn slot(&self, idx: u32) -> Option<&Slot> {
        self.cells.get(idx as usize).and_then(|c| c.as_deref())
    }

    fn slot_mut(&mut self, idx: u32) -> Option<&mut Slot> {
        self.cells
            .get_mut(idx as usize)
            .and_then(|c| c.as_deref_mut())
    }

    fn slot_named(&self, name: &str) -> Option<(u32, &Slot)> {
        let idx = self.find(name)?;
        Some((idx, self.slot(idx)?))
    }

    fn insert_slot(&mut self, job: KeptJob, schedule: Option<Timed>) -> u32 {
        let generation = self.next_generation();
        let slot = Box::new(Slot {
            job,
            schedule,
            next_at: PackedTime::new(NO_TIME),
            last_at: PackedTime::new(NO_TIME),
            generation,
            paused: false,
        });
        let idx = match self.free.pop() {
            Some(idx) => idx,
            None => {
                reserve_gently(&mut self.cells);
                self.cells.push(None);
                // Beyond 4 billion jobs the index would wrap; memory runs out long before.
                u32::try_from(self.cells.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.cells[idx as usize] = Some(slot);
        let (cells, hasher) = (&self.cells, &self.hasher);
        let hash = hasher.hash_one(name_at(cells, idx).unwrap_or_default());
        self.names.insert_unique(hash, idx, |&i| {
            hasher.hash_one(name_at(cells, i).unwrap_or_default())
        });
        idx
    }

    /// A fresh generation (wrapping: a stale heap entry would need to survive 4 billion
    /// changes to be mistaken for a live one).
    fn next_generation(&mut self) -> u32 {
        self.generation = self.generation.wrapping_add(1);
        self.generation
    }

    /// Gives slot `idx` a new generation, making its heap entries stale.
    fn bump(&mut self, idx: u32) {
        let generation = self.next_generation();
        if let Some(slot) = self.slot_mut(idx) {
            slot.generation = generation;
        }
    }

    /// The slot of the job named `name`.
    fn find(&self, name: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        let cells = &self.cells;
        self.names
            .find(hash, |&i| name_at(cells, i) == Some(name))
            .copied()
    }

    fn delay(&mut self, at: Timestamp, delayed: Delayed) {
        self.seq += 1;
        self.delayed.insert((at, self.seq), delayed);
    }

    fn new_group(&mut self, now: Timestamp) -> i64 {
        let group = group_of(now).max(self.last_group.saturating_add(1));
        self.last_group = group;
        group
    }

    /// Runs the loop until shutdown (or until every handle is dropped).
    pub(crate) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let sleep = tokio::time::sleep_until(Instant::now());
        tokio::pin!(sleep);
        let mut armed: Option<Timestamp> = None;
        let mut spin = false;
        let shutdown = loop {
            self.flush();
            let deadline = self.next_deadline();
            if deadline != armed {
                if let Some(at) = deadline {
                    let wake = self.ports.clock.instant_at(at);
                    let margin = self.ports.clock.wake_margin();
                    spin = !margin.is_zero() && wake > Instant::now() + SPIN_AFTER_IDLE;
                    sleep
                        .as_mut()
                        .reset(if spin { wake - margin } else { wake });
                }
                armed = deadline;
            }
            tokio::select! {
                biased;
                () = &mut sleep, if armed.is_some() => {
                    if let (true, Some(at)) = (spin, armed) {
                        self.spin_until(at).await;
                    }
                    armed = None;
                    self.fire_due().await;
                }
                command = commands.recv() => match command {
                    Some(Command::Shutdown { grace, reply }) => break Some((grace, reply)),
                    Some(command) => {
                        self.command(command);
                        self.compact_heap();
                    }
                    None => break None,
                },
                Some(event) = self.done_rx.recv() => {
                    self.event(event);
                    for _ in 1..REPORTS_PER_WAKE {
                        match self.done_rx.try_recv() {
                            Ok(event) => self.event(event),
                            Err(_) => break,
                        }
                    }
                }
            }
        };
        let (grace, reply) = match shutdown {
            Some((grace, reply)) => (grace, Some(reply)),
            None => (Duration::ZERO, None),
        };
        let report = self.shut_down(grace).await;
        if let Some(reply) = reply {
            // The caller may have stopped waiting; nothing to do then.
            let _ = reply.send(report);
        }
    }

    /// Yields until the clock reaches `at`, for at most twice the wake margin (a clock that
    /// jumped back is then handled by the normal re-arming).
    async fn spin_until(&self, at: Timestamp) {
        let limit = Instant::now() + 2 * self.ports.clock.wake_margin();
        while self.ports.clock.now() < at && Instant::now() < limit {
            tokio::task::yield_now().await;
        }
    }

    async fn shut_down(mut self, grace: Duration) -> crate::ShutdownReport {
        // No more launches; the queued ones leave as a last batch, which the tracker awaits.
        self.flush();
        self.launching = false;
        self.tracker.close();
        let drained = tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok();
        let mut cancelled = 0;
        if !drained {
            cancelled = self.tracker.len();
            self.root.cancel();
            let _ = tokio::time::timeout(CANCEL_WAIT, self.tracker.wait()).await;
        }
        crate::ShutdownReport {
            drained,
            cancelled,
            still_running: self.tracker.len(),
        }
    }

    /// The earliest instant something is due, after dropping stale heap tops.
    fn next_deadline(&mut self) -> Option<Timestamp> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if self.is_live(top) {
                break;
            }
            self.heap.pop();
        }
        // A live top's slot holds the exact instant (the entry's may be clamped).
        let heap = self
            .heap
            .peek()
            .and_then(|Reverse(e)| self.slot(e.slot)?.wake(self.ports.lead));
        let delayed = self.delayed.first_key_value().map(|((at, _), _)| *at);
        match (heap, delayed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn is_live(&self, entry: &HeapEntry) -> bool {
        self.slot(entry.slot).is_some_and(|slot| {
            slot.generation == entry.generation
                && slot.wake(self.ports.lead).map(heap_at) == Some(entry.at)
        })
    }

    async fn fire_due(&mut self) {
        let now = self.ports.clock.now();
        // Delayed launches first: a missed fire queued at start is older than its job's regular
        // fires, and the launch log refuses an instant older than the job's last one, so one
        // recorded after a regular fire due in the same pass (a slow start) would be lost.
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let delayed = entry.remove();
            self.fire_delayed(delayed);
        }
        let mut fired = 0usize;
        while let Some(Reverse(top)) = self.heap.peek().copied() {
            if top.at > heap_at(now) {
                break;
            }
            self.heap.pop();
            if self.fire_scheduled(top) {
                fired += 1;
                if fired.is_multiple_of(LAUNCHES_PER_HANDOFF) {
                    self.flush();
                }
                if fired.is_multiple_of(FIRES_PER_YIELD) {
                    tokio::task::yield_now().await;
                }
            }
        }
        self.compact_heap();
    }

    /// Rebuilds the heap when stale entries (from upserts, removals, pauses) outnumber live ones,
    /// so a storm of updates cannot grow it without bound. Amortised O(1) per change.
    fn compact_heap(&mut self) {
        if self.heap.len() <= 2 * self.names.len() + 1024 {
            return;
        }
        let lead = self.ports.lead;
        let entries: Vec<_> = self
            .cells
            .iter()
            .enumerate()
            .filter_map(|(idx, cell)| {
                let slot = cell.as_deref()?;
                let at = heap_at(slot.wake(lead)?);
                let generation = slot.generation;
                Some(Reverse(HeapEntry {
                    at,
                    slot: u32::try_from(idx).ok()?,
                    generation,
                }))
            })
            .collect();
        self.heap = BinaryHeap::from(entries);
    }

    /// Fires one popped heap entry; returns whether it was live.
    fn fire_scheduled(&mut self, entry: HeapEntry) -> bool {
        if !self.is_live(&entry) {
            return false;
        }
        let Some(slot) = self.slot_mut(entry.slot) else {
            return false;
        };
        // Live: the slot's next fire is this entry's instant, exactly.
        let Some(fire_at) = slot.next() else {
            return false;
        };
        let next = slot
            .schedule
            .as_ref()
            .and_then(|s| s.next_after(fire_at, &slot.job))
            // A schedule that does not move forward would fire forever at one instant.
            .filter(|next| *next > fire_at);
        // A one-shot (`@at`, `@after`) has its own grace rules and no later fire to stand for
        // it: the misfire bound leaves it alone.
        let one_shot = slot
            .schedule
            .as_ref()
            .is_some_and(|s| s.schedule.one_shot().is_some());
        let timer = (!one_shot).then_some(TimerFire { next });
        if next.is_some_and(|next| next.duration_since(fire_at) < KEEP_WHOLE_BELOW) {
            slot.job.keep_whole();
        }
        slot.next_at = PackedTime::new(next.unwrap_or(NO_TIME));
        slot.last_at = PackedTime::new(fire_at);
        if let Some(at) = next {
            self.queue_fire(at, entry.slot, entry.generation);
        }
        self.fire_timed(entry.slot, fire_at, timer);
        true
    }

    /// A timer fire (regular or missed) of the job in `idx` at `at`: concurrency, then launch.
    /// `timer` is set for a regular fire (the misfire bound applies to it; a missed fire run at
    /// start was already chosen by the policy).
    fn fire_timed(&mut self, idx: u32, at: Timestamp, timer: Option<TimerFire>) {
        if !self.admit(idx, policies::Buffered::Scheduled(at)) {
            return;
        }
        add(&self.ports.counters.scheduled, 1);
        // Manual and dependent groups taken later at this same instant must differ from it.
        self.last_group = self.last_group.max(group_of(at));
        let spec = LaunchSpec {
            timer,
            ..LaunchSpec::first(Trigger::Scheduled, at, group_of(at))
        };
        self.launch(idx, spec);
    }

    /// Applies the job's concurrency policy to a new timer or dependent fire: `forbid` skips it
    /// while a run is going, `replace` cancels the running ones, `buffer_*` keeps it for when
    /// the run ends. Returns whether to launch.
    fn admit(&mut self, idx: u32, fire: policies::Buffered) -> bool {
        if self.running.is_empty() {
            return true;
        }
        let Some(slot) = self.slot(idx) else {
            return false;
        };
        let job = &slot.job;
        let Some(running) = self.running.get(job.name()).filter(|r| !r.is_empty()) else {
            return true;
        };
        match job.concurrency() {
            Concurrency::Allow => true,
            Concurrency::Forbid => {
                debug!(job = %job.name(), "skipping fire: job is still running (concurrency forbid)");
                add(&self.ports.counters.skipped, 1);
                false
            }
            Concurrency::Replace => {
                for run in running {
                    if !run.cancel.is_cancelled() {
                        run.cancel.cancel();
                        add(&self.ports.counters.replaced, 1);
                    }
                }
                true
            }
            policy @ (Concurrency::BufferOne | Concurrency::BufferAll) => {
                let name = job.name().to_owned();
                self.buffer(name, policy, fire);
                false
            }
        }
    }

    fn fire_delayed(&mut self, delayed: Delayed) {
        match delayed {
            Delayed::Misfire {
                slot,
                generation,
                at,
            } => {
                let live = self
                    .slot(slot)
                    .is_some_and(|s| s.generation == generation && s.timed());
                if live {
                    add(&self.ports.counters.misfires, 1);
                    self.fire_timed(slot, at, None);
                }
            }
            Delayed::Retry {
                name,
                scheduled_at,
                group,
                attempt,
                targets,
                prior,
            } => {
                let Some(idx) = self.find(&name) else {
                    debug!(job = %name, "retry dropped: job was removed");
                    return;
                };
                add(&self.ports.counters.retries, 1);
                let trigger = Trigger::Retry;
                let targets = Some(targets);
                let spec = LaunchSpec {
                    trigger,
                    scheduled_at,
                    group,
                    attempt,
                    targets,
                    prior,
                    timer: None,
                };
                self.launch(idx, spec);
            }
        }
    }

    /// Queues a launch for the next batch. Runs of jobs whose end matters (forbid/replace, retries,
    /// children, ephemeral) get their own token and are tracked; the others share the root token
    /// and report nothing back, which keeps a storm of plain fires cheap.
    fn launch(&mut self, idx: u32, spec: LaunchSpec) {
        if !self.launching {
            return;
        }
        let Some(slot) = self.cells.get(idx as usize).and_then(|c| c.as_deref()) else {
            return;
        };
        let kept = &slot.job;
        // Backfilled runs are tracked: `buffer_all` backfills start the next one at their end.
        let tracked = kept.concurrency() != Concurrency::Allow
            || spec.trigger == Trigger::Backfill
            || kept.retries() > 0
            || kept.has_dependents()
            || kept.ephemeral();
        // A tracked run's record keeps its targets here (its group's progress needs them), so
        // its job is rebuilt now to choose them by tags; a plain fire's is rebuilt by its batch.
        // A job kept whole costs no rebuild: it goes as before, targets chosen here.
        let (job, targets) = match spec.targets {
            Some(targets) => (LaunchJob::Whole(kept.full()), targets),
            None if tracked || !kept.is_packed() => {
                let job = kept.full();
                let targets = self.ports.dispatch.select_targets(&job);
                (LaunchJob::Whole(job), targets)
            }
            None => (LaunchJob::Kept(kept.clone()), Vec::new()),
        };
        let record = LaunchRecord {
            job_name: kept.name().to_owned(),
            scheduled_at: spec.scheduled_at,
            group: spec.group,
            attempt: spec.attempt,
            targets,
            trigger: spec.trigger,
        };
        let cancel = if tracked {
            let cancel = self.root.child_token();
            self.running
                .entry(record.job_name.clone())
                .or_default()
                .push(InFlight {
                    record: record.clone(),
                    cancel: cancel.clone(),
                    executions: spec.prior,
                });
            Some(cancel)
        } else {
            None
        };
        self.outbox.push(Launch {
            record,
            rest: Pending {
                job,
                cancel,
                timer: spec.timer,
            },
        });
    }

    /// Sends the queued launches off as one batch task, chained after the previous batch.
    fn flush(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.outbox);
        let (recorded, gate) = oneshot::channel();
        let after = self.gate.replace(gate);
        let ctx = Arc::clone(&self.ctx);
        self.tracker.spawn(launch_batch(
            ctx,
            batch,
            after,
            recorded,
            self.tracker.clone(),
        ));
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Upsert {
                job,
                schedule,
                reply,
            } => {
                self.upsert(job, schedule);
                let _ = reply.send(());
            }
            Command::Remove { name, reply } => {
                let _ = reply.send(self.remove(&name));
            }
            Command::Pause { name, reply } => {
                let _ = reply.send(self.set_paused(&name, true));
            }
            Command::Resume { name, reply } => {
                let _ = reply.send(self.set_paused(&name, false));
            }
            Command::RunNow { name, reply } => {
                let _ = reply.send(self.run_now(&name));
            }
            Command::Backfill {
                name,
                fires,
                overlap,
                reply,
            } => {
                let _ = reply.send(self.backfill(&name, fires, overlap));
            }
            Command::State { name, reply } => {
                let state = self.slot_named(&name).map(|(_, slot)| crate::JobState {
                    next_fire: slot.next(),
                    last_fire: slot.last_fire(),
                    paused: slot.paused,
                    running: self.running.get(name.as_str()).map_or(0, Vec::len),
                });
                let _ = reply.send(state);
            }
            Command::Len { reply } => {
                let _ = reply.send(self.names.len());
            }
            Command::TakeSkipped { reply } => {
                let _ = reply.send(self.dropped.take());
            }
            Command::Report {
                execution,
                progress,
            } => self.reported(&execution, progress, Decided::ByStore),
            // Handled by the loop itself.
            Command::Shutdown { .. } => {}
        }
    }

    fn upsert(&mut self, job: KeptJob, schedule: Option<Timed>) {
        let now = self.ports.clock.now();
        let Some(idx) = self.find(job.name()) else {
            let idx = self.insert_slot(job, schedule);
            self.replan(idx, now, false);
            return;
        };
        self.bump(idx);
        let Some(slot) = self.slot_mut(idx) else {
            return;
        };
        let same_timing = slot.job.same_timing(&job);
        slot.job = job;
        slot.schedule = schedule;
        self.replan(idx, now, same_timing);
    }

    /// Recomputes a slot's next fire after a change (its generation already bumped) and pushes
    /// it. With `keep` (the timing fields did not change), a pending next fire is kept, so an
    /// update never shifts or drops a fire.
    fn replan(&mut self, idx: u32, now: Timestamp, keep: bool) {
        let Some(slot) = self.slot_mut(idx) else {
            return;
        };
        let generation = slot.generation;
        let next = match (&slot.schedule, slot.timed()) {
            (Some(timed), true) => match (keep, slot.next(), slot.last_fire()) {
                (true, Some(next), _) => Some(next),
                (_, _, None) => {
                    plan::first_fire_in_phase(&timed.with_window(&slot.job), slot.job.next(), now)
                }
                (_, _, last) => plan::next_regular(&timed.with_window(&slot.job), last, now),
            },
            _ => None,
        };
        slot.next_at = PackedTime::new(next.unwrap_or(NO_TIME));
        if let Some(at) = next {
            self.queue_fire(at, idx, generation);
        }
    }

    fn remove(&mut self, name: &str) -> bool {
        let hash = self.hasher.hash_one(name);
        let cells = &self.cells;
        let Ok(entry) = self
            .names
            .find_entry(hash, |&i| name_at(cells, i) == Some(name))
        else {
            return false;
        };
        let (idx, _) = entry.remove();
        // Its heap entries stay until popped; a reused slot gets a new generation.
        self.cells[idx as usize] = None;
        self.buffered.remove(name);
        self.free.push(idx);
        self.dropped.forget(name);
        true
    }

    fn set_paused(&mut self, name: &str, paused: bool) -> bool {
        let Some(idx) = self.find(name) else {
            return false;
        };
        let Some(slot) = self.slot_mut(idx) else {
            return false;
        };
        if slot.paused == paused {
            return true;
        }
        slot.paused = paused;
        slot.next_at = PackedTime::new(NO_TIME);
        self.bump(idx);
        let now = self.ports.clock.now();
        self.replan(idx, now, false);
        true
    }

    /// A manual run: a new group now. It bypasses `concurrency`, `starts_at`/`expires_at` and
    /// pausing (as dkron: manual runs skip `isRunnable`), but not `disabled` (dkron refuses to run
    /// a disabled job by hand), except for children, whose parent decides.
    fn run_now(&mut self, name: &str) -> Result<i64, Error> {
        let not_found = || Error::JobNotFound {
            name: name.to_owned(),
        };
        let (idx, slot) = self.slot_named(name).ok_or_else(not_found)?;
        if slot.job.disabled() && !slot.job.is_child() {
            return Err(Error::JobDisabled {
                name: name.to_owned(),
            });
        }
        let now = self.ports.clock.now();
        let group = self.new_group(now);
        add(&self.ports.counters.manual, 1);
        self.launch(idx, LaunchSpec::first(Trigger::Manual, now, group));
        Ok(group)
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Reported(execution) => {
                let Some(run) =
                    self.running
                        .get_mut(execution.job_name.as_str())
                        .and_then(|runs| {
                            runs.iter_mut().find(|r| {
                                r.record.group == execution.group
                                    && r.record.attempt == execution.attempt
                            })
                        })
                else {
                    return;
                };
                run.executions.push(execution.clone());
                let progress =
                    group_progress(&run.executions, execution.attempt, &run.record.targets);
                self.reported(&execution, progress, Decided::Here);
            }
            Event::NotRun {
                job,
                group,
                attempt,
            } => {
                self.take_in_flight(&job, group, attempt);
                self.release_buffered(&job);
            }
            Event::Dropped {
                job,
                at,
                group,
                attempt,
                tracked,
            } => {
                if tracked {
                    self.take_in_flight(&job, group, attempt);
                }
                // A job removed meanwhile has nothing to show its drops on.
                if self.find(&job).is_some() {
                    self.dropped.add(job, at);
                }
            }
        }
    }

    /// Tracks a run another scheduler launched and that still runs, so `forbid` and `replace`
    /// see it (its reports release it, as for a run launched here). Its cancel token reaches
    /// nothing: a `replace` fire cannot stop it.
    pub(crate) fn adopt(&mut self, record: LaunchRecord) {
        let runs = self.running.entry(record.job_name.clone()).or_default();
        if runs
            .iter()
            .any(|r| r.record.group == record.group && r.record.attempt == record.attempt)
        {
            return;
        }
        runs.push(InFlight {
            record,
            cancel: self.root.child_token(),
            executions: Vec::new(),
        });
    }

    /// Forgets the in-flight run of `(job, group, attempt)`; returns it if it was tracked.
    fn take_in_flight(&mut self, job: &str, group: i64, attempt: u32) -> Option<InFlight> {
        let runs = self.running.get_mut(job)?;
        let position = runs
            .iter()
            .position(|r| r.record.group == group && r.record.attempt == attempt)?;
        let run = runs.swap_remove(position);
        if runs.is_empty() {
            self.running.remove(job);
        }
        Some(run)
    }

    /// An execution of a group was reported with the group's `progress`. Once its attempt is
    /// complete, the run is no longer in flight, and the group's status decides: retry the
    /// failed nodes, or run the children and delete an ephemeral job. `decided` says who decides
    /// which children of several parents run: the store that computed `progress`, or this loop.
    fn reported(&mut self, execution: &Execution, mut progress: GroupProgress, decided: Decided) {
        if !progress.attempt_complete {
            return;
        }
        let run = self.take_in_flight(&execution.job_name, execution.group, progress.attempt);
        // The launch as recorded when this scheduler launched it; else (a group another
        // scheduler launched) as the execution describes it.
        let (record, prior) = match run {
            Some(run) => (run.record, run.executions),
            None => (
                LaunchRecord {
                    job_name: execution.job_name.clone(),
                    scheduled_at: execution.scheduled_at.unwrap_or(execution.started_at),
                    group: execution.group,
                    attempt: execution.attempt,
                    targets: Vec::new(),
                    trigger: execution.trigger,
                },
                Vec::new(),
            ),
        };
        let now = self.ports.clock.now();
        let ready = decided.ready(std::mem::take(&mut progress.ready_children));
        let retried = match progress.status {
            JobStatus::Success => {
                // Only children and ephemeral deletion follow a success: the whole job is
                // rebuilt for those alone.
                if let Some((_, slot)) = self
                    .slot_named(&record.job_name)
                    .filter(|(_, slot)| slot.job.has_dependents() || slot.job.ephemeral())
                {
                    let job = slot.job.full();
                    self.succeeded(&job, now, ready.as_deref());
                }
                false
            }
            status @ (JobStatus::Failed | JobStatus::PartiallyFailed) => {
                let retried = self.maybe_retry(&record, progress.failed_nodes, prior, now);
                if !retried {
                    self.failed_for_good(&record.job_name, status, now, ready.as_deref());
                }
                retried
            }
            JobStatus::Untriggered => false,
        };
        if !retried {
            // The group is over: a buffered fire may start.
            self.release_buffered(&record.job_name);
        }
    }

    /// Queues the next attempt of a failed group, if the job has a retry left; returns whether
    /// it did.
    fn maybe_retry(
        &mut self,
        record: &LaunchRecord,
        targets: Vec<String>,
        mut group: Vec<Execution>,
        now: Timestamp,
    ) -> bool {
        // The job's current definition decides (it may have been updated or removed meanwhile).
        let Some((_, slot)) = self.slot_named(&record.job_name) else {
            return false;
        };
        // The whole job: targets are chosen again by its tags.
        let job = slot.job.full();
        if record.attempt > job.retries {
            return false;
        }
        for execution in &mut group {
            // Earlier attempts only matter for the group's status; the sink has their output.
            execution.output = String::new();
        }
        let targets = self.ports.dispatch.retarget(&job, &targets);
        let wait = job.retry_backoff.delay(record.attempt);
        let at = SignedDuration::try_from(wait)
            .ok()
            .and_then(|wait| now.checked_add(wait).ok())
            .unwrap_or(now);
        debug!(job = %job.name, attempt = record.attempt.saturating_add(1), ?wait, "retrying failed run");
        self.delay(
            at,
            Delayed::Retry {
                name: job.name.clone(),
                scheduled_at: record.scheduled_at,
                group: record.group,
                attempt: record.attempt.saturating_add(1),
                targets,
                prior: group,
            },
        );
        true
    }

    /// The group succeeded: run the children, then delete the job if it is ephemeral.
    fn succeeded(&mut self, job: &Job, now: Timestamp, ready: Option<&[String]>) {
        self.run_children(job, JobStatus::Success, now, ready);
        if job.ephemeral && self.remove(&job.name) {
            add(&self.ports.counters.ephemeral_deleted, 1);
            let source = Arc::clone(&self.ports.source);
            let name = job.name.clone();
            self.tracker.spawn(async move {
                if let Err(error) = source.delete_job(&name).await {
                    warn!(job = %name, %error, "deleting ephemeral job failed");
                }
            });
        }
    }
}

/// Records one batch of launches, after the previous batch recorded its own, then dispatches
/// each recorded launch.
async fn launch_batch(
    ctx: Arc<TaskCtx>,
    batch: Vec<Launch>,
    after: Option<oneshot::Receiver<()>>,
    recorded: oneshot::Sender<()>,
    tracker: TaskTracker,
) {
    let counters = &ctx.ports.counters;
    // Before waiting for the previous batch, so it overlaps that batch's recording.
    let batch = whole_jobs(&ctx, batch);
    if let Some(after) = after {
        // An error means the previous batch task ended without recording (only when the
        // runtime shuts down); order no longer matters then.
        let _ = after.await;
    }
    let batch = drop_late(&ctx, batch);
    if batch.is_empty() {
        let _ = recorded.send(());
        return;
    }
    let (records, rest): (Vec<LaunchRecord>, Vec<Pending>) = batch
        .into_iter()
        .map(|launch| (launch.record, launch.rest))
        .unzip();
    let jobs: Vec<Arc<Job>> = rest.iter().map(|pending| pending.job.shared()).collect();
    let fresh = match ctx
        .ports
        .launch_log
        .record_launches_of(&records, &jobs)
        .await
    {
        Ok(fresh) if fresh.len() == records.len() => fresh,
        Ok(fresh) => {
            let (expected, got) = (records.len(), fresh.len());
            warn!(
                expected,
                got, "launch log answered with the wrong count; not dispatching"
            );
            add(&counters.launch_failures, records.len() as u64);
            Vec::new()
        }
        Err(error) => {
            warn!(%error, launches = records.len(), "launch log failed; fires not dispatched");
            add(&counters.launch_failures, records.len() as u64);
            Vec::new()
        }
    };
    // The next batch may record now.
    let _ = recorded.send(());
    for (i, (record, pending)) in records.into_iter().zip(rest).enumerate() {
        match fresh.get(i) {
            Some(true) => {
                let mut task = Box::pin(dispatch(Arc::clone(&ctx), record, pending));
                // Most dispatches only hand work over (RPC, a spawned process) or finish at
                // once: polling here first saves a task per fire in a storm. A pending
                // future moves into its own task, which polls it again with a real waker.
                if poll_once(task.as_mut()).is_pending() {
                    tracker.spawn(task);
                }
            }
            answer => {
                if answer.is_some() {
                    add(&counters.duplicates, 1);
                    debug!(
                        job = %record.job_name,
                        at = %record.scheduled_at,
                        "fire already launched; not dispatching it again"
                    );
                }
                if pending.cancel.is_some() {
                    // The loop is gone only during shutdown, when nothing follows anyway.
                    let _ = ctx.done.send(Event::NotRun {
                        job: record.job_name,
                        group: record.group,
                        attempt: record.attempt,
                    });
                }
            }
        }
    }
}

/// Rebuilds the jobs of the plain fires the loop sent packed and chooses their targets.
fn whole_jobs(ctx: &TaskCtx, mut batch: Vec<Launch>) -> Vec<Launch> {
    for launch in &mut batch {
        if let LaunchJob::Kept(kept) = &launch.rest.job {
            let job = kept.full();
            launch.record.targets = ctx.ports.dispatch.select_targets(&job);
            launch.rest.job = LaunchJob::Whole(job);
        }
    }
    batch
}

/// Drops the timer fires of `batch` that are later than their misfire bound allows, now that
/// they are about to be recorded (see [`crate::misfire`]); tells the loop of each.
fn drop_late(ctx: &TaskCtx, mut batch: Vec<Launch>) -> Vec<Launch> {
    let ports = &ctx.ports;
    let now = ports.clock.now();
    let threshold = ports.misfire_threshold;
    batch.retain_mut(|launch| {
        let Some(timer) = launch.rest.timer else {
            return true;
        };
        let (at, group, attempt) = (
            launch.record.scheduled_at,
            launch.record.group,
            launch.record.attempt,
        );
        let job = &launch.rest.job;
        // Lateness counts from the fire's due instant: a `jitter` delay is asked for, not late.
        let due = job.jittered(at);
        let next_due = timer.next.map(|next| job.jittered(next));
        let verdict = misfire::verdict(job.misfire_policy(), threshold, due, next_due, now);
        if verdict == Verdict::Run {
            return true;
        }
        add(&ports.counters.misfire_dropped, 1);
        let job = std::mem::take(&mut launch.record.job_name);
        debug!(%job, %at, ?verdict, "fire later than its misfire bound; not run");
        // The loop is gone only during shutdown, when nothing follows anyway.
        let _ = ctx.done.send(Event::Dropped {
            job,
            at,
            group,
            attempt,
            tracked: launch.rest.cancel.is_some(),
        });
        false
    });
    batch
}

/// Polls a future once with a waker that does nothing.
fn poll_once(future: Pin<&mut (dyn Future<Output = ()> + Send)>) -> Poll<()> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// Hands one recorded launch to the dispatch. A tracked run that found nothing to run is no
/// longer in flight; everything else follows from its reports.
async fn dispatch(ctx: Arc<TaskCtx>, record: LaunchRecord, pending: Pending) {
    let Pending { job, cancel, .. } = pending;
    let job = job.whole();
    let tracked = cancel.is_some();
    let cancel = cancel.unwrap_or_else(|| ctx.root.clone());
    let ports = &ctx.ports;
    add(&ports.counters.dispatched, 1);
    let (group, attempt) = (record.group, record.attempt);
    let run = Run {
        job: Arc::clone(&job),
        launch: record,
        cancel,
        clock: Arc::clone(&ports.clock),
        reporter: Some(Reporter {
            ctx: Arc::clone(&ctx),
            tracked,
        }),
    };
    if ports.dispatch.dispatch(run).await == Handoff::NothingToRun && tracked {
        let _ = ctx.done.send(Event::NotRun {
            job: job.name.clone(),
            group,
            attempt,
        });
    }
}

/// How a [`Run`] reports in-process: to the sink, and for a tracked run to the loop.
#[derive(Debug, Clone)]
pub(crate) struct Reporter {
    ctx: Arc<TaskCtx>,
    tracked: bool,
}

impl Reporter {
    pub(crate) async fn report(&self, mut execution: Execution) {
        let ports = &self.ctx.ports;
        if let Err(error) = ports.sink.record_execution(&execution).await {
            add(&ports.counters.sink_failures, 1);
            warn!(job = %execution.job_name, %error, "recording an execution failed");
        }
        if self.tracked {
            // The loop only needs the group's shape, not the output.
            execution.output = String::new();
            let _ = self.ctx.done.send(Event::Reported(execution));
        }
    }
}

/// Grows a full `Vec` by half its capacity instead of letting `push` double it.
// Why: the index's memory per job is a goal (≤ 200 B/job); doubling leaves up to 2× slack
// right after a growth step, 1.5× growth at most 1.5×, still amortised O(1) per push.
fn reserve_gently<T>(cells: &mut Vec<T>) {
    if cells.len() == cells.capacity() {
        cells.reserve_exact((cells.capacity() / 2).max(16));
    }
}

/// [`reserve_gently`] for the timer heap.
fn reserve_heap_gently<T: Ord>(heap: &mut BinaryHeap<T>) {
    if heap.len() == heap.capacity() {
        heap.reserve_exact((heap.capacity() / 2).max(16));
    }
}
