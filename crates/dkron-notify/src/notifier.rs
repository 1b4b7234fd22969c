//! [`Notifier`]: the bounded queue, the worker and the deliveries with their retries.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use dkron_model::{Channel, Execution, Job, NotifyPolicy};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    deliver,
    metrics::{DROPPED, FAILED, RETRIED, SENT},
    settings::{MAX_BACKOFF, Settings},
    template::{Data, render},
};

/// Deliveries in flight at once: a slow endpoint does not hold up the others.
const CONCURRENCY: usize = 8;

/// Whether a finished execution is its run's last word: it succeeded, or it failed and will not
/// be retried (`attempt` counts from 1; a failed attempt `n` is retried while `n <= retries`).
/// Only these notify: dkron does not notify attempts that are retried.
pub fn is_final(job: &Job, execution: &Execution) -> bool {
    execution.success || execution.attempt > job.retries
}

/// What the notifier needs from the history, read when it handles a finished execution.
pub trait Lookup: Send + Sync + fmt::Debug + 'static {
    /// `execution` (reported without its output) as stored, the executions of its group, and
    /// whether the job's previous run (the latest execution of another group) failed.
    fn finished(&self, execution: &Execution) -> Finished;
}

/// A finished execution as the templates and the per-job rule see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The execution, with its output.
    pub execution: Execution,
    /// Its group (dkron's `Report` lists it).
    pub group: Vec<Execution>,
    /// The job's previous run failed: a success is a recovery.
    pub recovered: bool,
}

/// Totals since start (also in the `metrics` facade, by channel).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Deliveries that succeeded.
    pub sent: u64,
    /// Deliveries that failed every attempt.
    pub failed: u64,
    /// Failed attempts that were tried again.
    pub retried: u64,
    /// Events dropped on a full queue.
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    dropped: AtomicU64,
}

#[derive(Debug)]
enum Event {
    Started { job: Arc<Job>, execution: Execution },
    Finished { job: Arc<Job>, execution: Execution },
}

/// One channel's message, rendered.
#[derive(Debug)]
enum Delivery {
    Mail {
        to: String,
        execution: Execution,
        body: String,
    },
    Webhook {
        pre: bool,
        body: String,
    },
    Cronitor {
        execution: Execution,
        state: &'static str,
    },
}

impl Delivery {
    fn channel(&self) -> Channel {
        match self {
            Delivery::Mail { .. } => Channel::Mail,
            Delivery::Webhook { pre: true, .. } => Channel::PreWebhook,
            Delivery::Webhook { pre: false, .. } => Channel::Webhook,
            Delivery::Cronitor { .. } => Channel::Cronitor,
        }
    }
}

/// Sends notifications; cheap to clone. [`Notifier::disabled`] sends nothing.
#[derive(Debug, Clone)]
pub struct Notifier {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    queue: mpsc::Sender<Event>,
    settings: Arc<Settings>,
    counters: Arc<Counters>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

/// What the worker and the deliveries share.
#[derive(Debug)]
struct Context {
    settings: Arc<Settings>,
    lookup: Arc<dyn Lookup>,
    http: reqwest::Client,
    counters: Arc<Counters>,
    stop: CancellationToken,
}

impl Notifier {
    /// A notifier that sends nothing.
    pub fn disabled() -> Notifier {
        Notifier { inner: None }
    }

    /// Starts the worker on the current tokio runtime; with nothing configured, the same as
    /// [`Notifier::disabled`].
    ///
    /// # Errors
    /// When the HTTP client cannot be built (a sentence).
    pub fn start(settings: Settings, lookup: Arc<dyn Lookup>) -> Result<Notifier, String> {
        if !settings.any_finished() && !settings.any_started() {
            return Ok(Notifier::disabled());
        }
        let settings = Arc::new(settings);
        let (queue, events) = mpsc::channel(settings.queue.max(1));
        let counters = Arc::new(Counters::default());
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let context = Arc::new(Context {
            http: deliver::http_client(settings.timeout)?,
            settings: Arc::clone(&settings),
            lookup,
            counters: Arc::clone(&counters),
            stop: stop.clone(),
        });
        tasks.spawn(work(events, context, tasks.clone()));
        Ok(Notifier {
            inner: Some(Arc::new(Inner {
                queue,
                settings,
                counters,
                stop,
                tasks,
            })),
        })
    }

    /// Whether [`Notifier::started`] may send anything: callers skip building events when not.
    pub fn wants_starts(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| i.settings.any_started())
    }

    /// Whether [`Notifier::finished`] may send anything.
    pub fn wants_finishes(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| i.settings.any_finished())
    }

    /// `execution` of `job` is about to start: pre-webhook and Cronitor `run`. Never blocks.
    pub fn started(&self, job: Arc<Job>, execution: Execution) {
        if self.wants_starts() {
            self.enqueue(Event::Started { job, execution });
        }
    }

    /// `execution` of `job` finished and will not be retried ([`is_final`]; the caller
    /// checks). Its output and group are read through the [`Lookup`]. Never blocks.
    pub fn finished(&self, job: Arc<Job>, execution: Execution) {
        if self.wants_finishes() {
            self.enqueue(Event::Finished { job, execution });
        }
    }

    fn enqueue(&self, event: Event) {
        let Some(inner) = &self.inner else { return };
        if inner.queue.try_send(event).is_err() {
            inner.counters.dropped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(DROPPED).increment(1);
            tracing::warn!("notifier: queue full (notify-queue), notification dropped");
        }
    }

    /// Totals since start.
    pub fn stats(&self) -> Stats {
        let Some(inner) = &self.inner else {
            return Stats::default();
        };
        let c = &inner.counters;
        Stats {
            sent: c.sent.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }

    /// Stops taking events and gives deliveries in flight up to `bound` to finish (retries
    /// waiting for their backoff give up); the rest are abandoned.
    pub async fn shutdown(&self, bound: Duration) {
        let Some(inner) = &self.inner else { return };
        inner.stop.cancel();
        inner.tasks.close();
        if tokio::time::timeout(bound, inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("notifier: deliveries still in flight at shutdown were abandoned");
        }
    }
}

/// The worker: takes events in order, renders their deliveries and starts each (bounded).
///
/// An execution's finished deliveries wait until its start deliveries ended (dkron sends the
/// pre-webhook before the job runs, so it always comes first): the start is told when the run
/// is handed over and the end when it is recorded, and a short run's end used to overtake a
/// pre-webhook still being sent or retried.
async fn work(mut events: mpsc::Receiver<Event>, context: Arc<Context>, tasks: TaskTracker) {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    // Executions whose start deliveries are on their way, each with a token cancelled when
    // the last of them ends. Each such delivery holds a slot, so this holds a few entries.
    let mut starting: HashMap<String, CancellationToken> = HashMap::new();
    loop {
        let event = tokio::select! {
            () = context.stop.cancelled() => return,
            event = events.recv() => match event {
                Some(event) => event,
                None => return,
            },
        };
        starting.retain(|_, ended| !ended.is_cancelled());
        let (id, is_start) = match &event {
            Event::Started { execution, .. } => (execution.id(), true),
            Event::Finished { execution, .. } => (execution.id(), false),
        };
        let deliveries = context.deliveries(event);
        let mut ended = None;
        if is_start && !deliveries.is_empty() {
            let token = CancellationToken::new();
            starting.insert(id, token.clone());
            ended = Some(Arc::new(token.drop_guard()));
        } else if let Some(start) = starting.get(&id).cloned() {
            // Waits off the worker, so other executions' notifications go on meanwhile.
            let (context, slots, spawner) =
                (Arc::clone(&context), Arc::clone(&slots), tasks.clone());
            tasks.spawn(async move {
                tokio::select! {
                    () = context.stop.cancelled() => return,
                    () = start.cancelled() => {}
                }
                start_all(deliveries, &context, &slots, &spawner, None).await;
            });
            continue;
        }
        if !start_all(deliveries, &context, &slots, &tasks, ended).await {
            return;
        }
    }
}

/// Starts each delivery once a slot is free; `ended` is held by each until it is done.
/// `false` when the notifier is stopping.
async fn start_all(
    deliveries: Vec<Delivery>,
    context: &Arc<Context>,
    slots: &Arc<Semaphore>,
    tasks: &TaskTracker,
    ended: Option<Arc<tokio_util::sync::DropGuard>>,
) -> bool {
    for delivery in deliveries {
        let slot = tokio::select! {
            () = context.stop.cancelled() => return false,
            slot = Arc::clone(slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return false,
            },
        };
        let context = Arc::clone(context);
        let ended = ended.clone();
        tasks.spawn(async move {
            context.deliver(delivery).await;
            drop(slot);
            drop(ended);
        });
    }
    true
}

impl Context {
    fn deliveries(&self, event: Event) -> Vec<Delivery> {
        let settings = &self.settings;
        let node = settings.reporting_node.as_str();
        let mut out = Vec::new();
        match event {
            Event::Started { job, execution } => {
                let policy = job.notify.clone().unwrap_or_default();
                if settings.cronitor_endpoint.is_some() && policy.uses(Channel::Cronitor) {
                    out.push(Delivery::Cronitor {
                        execution: execution.clone(),
                        state: "run",
                    });
                }
                if let Some(hook) = &settings.pre_webhook
                    && policy.uses(Channel::PreWebhook)
                {
                    let data = Data {
                        execution: &execution,
                        group: &[],
                        reporting_node: node,
                    };
                    out.push(Delivery::Webhook {
                        pre: true,
                        body: render(&hook.payload, &data),
                    });
                }
            }
            Event::Finished { job, execution } => {
                let policy: NotifyPolicy = job.notify.clone().unwrap_or_default();
                let finished = self.lookup.finished(&execution);
                let execution = finished.execution;
                if !policy.wants_finished(execution.success, finished.recovered) {
                    return out;
                }
                let data = Data {
                    execution: &execution,
                    group: &finished.group,
                    reporting_node: node,
                };
                if settings.cronitor_endpoint.is_some() && policy.uses(Channel::Cronitor) {
                    out.push(Delivery::Cronitor {
                        execution: execution.clone(),
                        state: if execution.success {
                            "complete"
                        } else {
                            "fail"
                        },
                    });
                }
                if let Some(mail) = &settings.mail
                    && !job.owner_email.is_empty()
                    && policy.uses(Channel::Mail)
                {
                    let body = if mail.payload.is_empty() {
                        execution.output.clone()
                    } else {
                        render(&mail.payload, &data)
                    };
                    out.push(Delivery::Mail {
                        to: job.owner_email.clone(),
                        execution: execution.clone(),
                        body,
                    });
                }
                if let Some(hook) = &settings.webhook
                    && policy.uses(Channel::Webhook)
                {
                    out.push(Delivery::Webhook {
                        pre: false,
                        body: render(&hook.payload, &data),
                    });
                }
            }
        }
        out
    }

    /// Sends one delivery, retrying with doubling backoff up to `retries` times.
    async fn deliver(&self, delivery: Delivery) {
        let channel = delivery.channel();
        let mut backoff = self.settings.backoff;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = self.attempt(&delivery).await;
            let error = match result {
                Ok(()) => {
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!(SENT, "channel" => channel.as_str()).increment(1);
                    tracing::debug!(%channel, attempt, "notifier: sent");
                    return;
                }
                Err(error) => error,
            };
            if attempt > self.settings.retries || self.stop.is_cancelled() {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(FAILED, "channel" => channel.as_str()).increment(1);
                tracing::warn!(%channel, attempts = attempt, %error, "notifier: notification not delivered");
                return;
            }
            self.counters.retried.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(RETRIED, "channel" => channel.as_str()).increment(1);
            tracing::info!(%channel, attempt, %error, ?backoff, "notifier: delivery failed, retrying");
            tokio::select! {
                () = self.stop.cancelled() => {}
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn attempt(&self, delivery: &Delivery) -> Result<(), String> {
        let settings = &self.settings;
        match delivery {
            Delivery::Mail {
                to,
                execution,
                body,
            } => match &settings.mail {
                Some(mail) => {
                    deliver::mail(mail, to, execution, body.clone(), settings.timeout).await
                }
                None => Ok(()),
            },
            Delivery::Webhook { pre, body } => {
                let hook = if *pre {
                    &settings.pre_webhook
                } else {
                    &settings.webhook
                };
                match hook {
                    Some(hook) => deliver::webhook(&self.http, hook, body.clone()).await,
                    None => Ok(()),
                }
            }
            Delivery::Cronitor { execution, state } => match &settings.cronitor_endpoint {
                Some(endpoint) => deliver::cronitor(&self.http, endpoint, execution, state).await,
                None => Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests;
