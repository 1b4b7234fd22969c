//! An in-memory [`Cluster`] with dkron's store rules (a trimmed copy of dkron-api's test fake),
//! and helpers to drive the UI mounted as the node mounts it: through `dkron_api::router_with`.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
};

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::ConnectInfo,
    http::{HeaderMap, Method, Request, StatusCode},
};
use dkron_api::{
    Access, ApiOptions, BoxFuture, Cluster, ClusterError, DayStats, ExecQuery, Health, JobQuery,
    NodeInfo, Page, UpsertOptions,
};
use dkron_model::{Execution, Job, Member, MemberStatus, Trigger};
use dkron_ui::UiOptions;
use jiff::{Timestamp, civil::Date};
use serde_json::Value;
use tokio::sync::Notify;
use tower::ServiceExt;

/// State of the fake cluster; tests read and change it directly.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) jobs: BTreeMap<String, Job>,
    pub(crate) executions: BTreeMap<String, Vec<Execution>>,
    pub(crate) members: Vec<Member>,
    pub(crate) leader: Option<String>,
    pub(crate) is_leader: bool,
    pub(crate) paused: bool,
    pub(crate) stats: Vec<DayStats>,
    pub(crate) healthy: bool,
    pub(crate) left: bool,
    /// Names passed to `run_job`, in order (also by `?runoncreate`).
    pub(crate) runs: Vec<String>,
    /// When set, `get_job` and `list_jobs` fail with it.
    pub(crate) fail_reads: Option<ClusterError>,
    /// Whether manual runs stay running until [`FakeCluster::release`] is notified.
    pub(crate) hold_runs: bool,
    /// Clock for execution start times: advanced by one second per run.
    pub(crate) clock: i64,
    /// Output a running execution has so far, by id: what `busy` reports (the node's memory),
    /// not what the store holds.
    pub(crate) live_output: BTreeMap<String, String>,
    /// Every `list_jobs` query, in order (the UI must ask for pages, never for everything).
    pub(crate) job_queries: Vec<JobQuery>,
}

/// The fake: a [`State`] behind a mutex, plus a notifier that finishes held runs.
#[derive(Debug)]
pub(crate) struct FakeCluster {
    pub(crate) name: String,
    pub(crate) state: Mutex<State>,
    pub(crate) release: Notify,
}

impl FakeCluster {
    /// A healthy single-node cluster `node1`, leader of itself.
    pub(crate) fn new() -> Arc<FakeCluster> {
        let me = Member {
            name: "node1".into(),
            addr: "127.0.0.1".into(),
            port: 8946,
            rpc_addr: "127.0.0.1:6868".into(),
            server: true,
            region: "global".into(),
            datacenter: "dc1".into(),
            version: "0.1.0".into(),
            ..Member::default()
        };
        let agent = Member {
            name: "agent1".into(),
            addr: "127.0.0.2".into(),
            port: 8946,
            status: MemberStatus::Failed,
            ..Member::default()
        };
        Arc::new(FakeCluster {
            name: "node1".into(),
            state: Mutex::new(State {
                members: vec![me, agent],
                leader: Some("node1".into()),
                is_leader: true,
                healthy: true,
                clock: 1_650_914_821,
                ..State::default()
            }),
            release: Notify::new(),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has already failed.
        self.state.lock().expect("fake cluster lock")
    }

    /// Stores a job directly (bypassing the API).
    pub(crate) fn put(&self, job: Job) {
        self.lock().jobs.insert(job.name.clone(), job);
    }

    /// Stores an execution directly.
    pub(crate) fn add_execution(&self, execution: Execution) {
        self.lock()
            .executions
            .entry(execution.job_name.clone())
            .or_default()
            .push(execution);
    }

    fn reads_fail(&self) -> Result<(), ClusterError> {
        match self.lock().fail_reads.clone() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn upsert(&self, mut job: Job, options: UpsertOptions) -> Result<Job, ClusterError> {
        let mut state = self.lock();
        if state.paused {
            return Err(ClusterError::Paused);
        }
        if let Some(parent) = job.parent_job.clone()
            && !state.jobs.contains_key(&parent)
        {
            return Err(ClusterError::ParentNotFound { parent });
        }
        let old_parent = state
            .jobs
            .get(&job.name)
            .and_then(|stored| stored.parent_job.clone());
        if let Some(stored) = state.jobs.get(&job.name) {
            job.merge_server_fields(stored);
        }
        if job.next.is_none() {
            job.next = job.next_fire_after(Timestamp::now());
        }
        if old_parent != job.parent_job
            && let Some(old) = old_parent.and_then(|p| state.jobs.get_mut(&p))
        {
            old.remove_dependent(&job.name);
        }
        if let Some(parent) = job.parent_job.as_ref().and_then(|p| state.jobs.get_mut(p)) {
            parent.add_dependent(&job.name);
        }
        state.jobs.insert(job.name.clone(), job.clone());
        if options.run_on_create {
            state.runs.push(job.name.clone());
        }
        Ok(job)
    }

    fn start_run(self: &Arc<Self>, name: &str) -> Result<Job, ClusterError> {
        let mut state = self.lock();
        let job = state
            .jobs
            .get(name)
            .cloned()
            .ok_or_else(|| ClusterError::job_not_found(name))?;
        if job.disabled && !job.is_child() {
            return Err(ClusterError::JobDisabled { job: job.name });
        }
        state.clock += 1;
        let execution = Execution {
            job_name: job.name.clone(),
            started_at: Timestamp::from_second(state.clock).expect("in range"),
            node_name: "node1".into(),
            group: state.clock * 1_000_000_000,
            attempt: 1,
            trigger: Trigger::Manual,
            ..Execution::default()
        };
        let id = execution.id();
        state.runs.push(job.name.clone());
        state
            .executions
            .entry(job.name.clone())
            .or_default()
            .push(execution);
        let hold = state.hold_runs;
        drop(state);
        // The run finishes in the background: at once, or when the test releases it.
        let me = Arc::clone(self);
        let job_name = job.name.clone();
        let finish = async move {
            if hold {
                me.release.notified().await;
            }
            let mut state = me.lock();
            if let Some(e) = state
                .executions
                .get_mut(&job_name)
                .and_then(|list| list.iter_mut().find(|e| e.id() == id))
            {
                e.finished_at = Some(e.started_at);
                e.success = true;
                e.output = "ran\n".into();
            }
        };
        tokio::spawn(finish);
        Ok(job)
    }
}

/// The handle the router gets: the trait needs `Arc<Self>` to spawn background work.
#[derive(Debug, Clone)]
pub(crate) struct Handle(pub(crate) Arc<FakeCluster>);

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

impl Cluster for Handle {
    fn node_name(&self) -> &str {
        &self.0.name
    }

    fn node_info(&self) -> BoxFuture<'_, Result<NodeInfo, ClusterError>> {
        let mut tags = BTreeMap::new();
        tags.insert("role".to_owned(), "dkron".to_owned());
        tags.insert("server".to_owned(), "true".to_owned());
        ready(Ok(NodeInfo {
            name: self.0.name.clone(),
            version: "0.1.0".into(),
            tags,
            stats: BTreeMap::new(),
        }))
    }

    fn health(&self) -> BoxFuture<'_, Health> {
        let state = self.0.lock();
        ready(Health {
            healthy: state.healthy,
            issues: if state.healthy {
                Vec::new()
            } else {
                vec!["plugin x has exited".into()]
            },
            leader: Some(state.is_leader),
        })
    }

    fn list_jobs(&self, query: JobQuery) -> BoxFuture<'_, Result<Page<Job>, ClusterError>> {
        self.0.lock().job_queries.push(query.clone());
        let result = self
            .0
            .reads_fail()
            .map(|()| query.apply_borrowed(&mut self.0.lock().jobs.values()));
        ready(result)
    }

    fn get_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        if name == "panic" {
            panic!("the fake cluster panics on the job named panic");
        }
        let result = self.0.reads_fail().and_then(|()| {
            self.0
                .lock()
                .jobs
                .get(&name)
                .cloned()
                .ok_or_else(|| ClusterError::job_not_found(name))
        });
        ready(result)
    }

    fn upsert_job(
        &self,
        job: Job,
        options: UpsertOptions,
    ) -> BoxFuture<'_, Result<Job, ClusterError>> {
        ready(self.0.upsert(job, options))
    }

    fn delete_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        let mut state = self.0.lock();
        let result = match state.jobs.get(&name) {
            None => Err(ClusterError::job_not_found(name)),
            Some(job) if !job.dependent_jobs.is_empty() => Err(ClusterError::HasDependents {
                job: name,
                dependents: job.dependent_jobs.clone(),
            }),
            Some(_) => {
                let job = state.jobs.remove(&name).expect("present");
                state.executions.remove(&name);
                if let Some(parent) = job.parent_job.as_ref().and_then(|p| state.jobs.get_mut(p)) {
                    parent.remove_dependent(&name);
                }
                Ok(job)
            }
        };
        ready(result)
    }

    fn run_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        ready(self.0.start_run(&name))
    }

    fn toggle_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        let mut state = self.0.lock();
        let result = match state.jobs.get_mut(&name) {
            None => Err(ClusterError::job_not_found(name)),
            Some(job) => {
                job.disabled = !job.disabled;
                Ok(job.clone())
            }
        };
        ready(result)
    }

    fn list_executions(
        &self,
        job: String,
        query: ExecQuery,
    ) -> BoxFuture<'_, Result<Page<Execution>, ClusterError>> {
        let list = self
            .0
            .lock()
            .executions
            .get(&job)
            .cloned()
            .unwrap_or_default();
        ready(Ok(query.apply(list)))
    }

    fn get_execution(
        &self,
        job: String,
        id: String,
    ) -> BoxFuture<'_, Result<Execution, ClusterError>> {
        let state = self.0.lock();
        let found = state
            .executions
            .get(&job)
            .and_then(|list| list.iter().find(|e| e.id() == id))
            .cloned();
        ready(found.ok_or(ClusterError::ExecutionNotFound { job, id }))
    }

    fn delete_executions(&self, job: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        let mut state = self.0.lock();
        state.executions.remove(&job);
        let result = match state.jobs.get_mut(&job) {
            None => Err(ClusterError::job_not_found(job)),
            Some(stored) => {
                stored.success_count = 0;
                stored.error_count = 0;
                stored.last_success = None;
                stored.last_error = None;
                Ok(stored.clone())
            }
        };
        ready(result)
    }

    fn cancel_execution(
        &self,
        job: String,
        id: String,
    ) -> BoxFuture<'_, Result<Execution, ClusterError>> {
        let state = self.0.lock();
        let found = state
            .executions
            .get(&job)
            .and_then(|list| list.iter().find(|e| e.id() == id))
            .cloned();
        let result = match found {
            None => Err(ClusterError::ExecutionNotFound { job, id }),
            Some(e) if !e.is_running() => Err(ClusterError::ExecutionFinished { job, id }),
            Some(e) => Ok(e),
        };
        ready(result)
    }

    fn members(&self) -> BoxFuture<'_, Result<Vec<Member>, ClusterError>> {
        ready(Ok(self.0.lock().members.clone()))
    }

    fn leader(&self) -> BoxFuture<'_, Result<Option<Member>, ClusterError>> {
        let state = self.0.lock();
        let leader = state
            .leader
            .as_ref()
            .and_then(|name| state.members.iter().find(|m| &m.name == name))
            .cloned();
        ready(Ok(leader))
    }

    fn is_leader(&self) -> BoxFuture<'_, bool> {
        ready(self.0.lock().is_leader)
    }

    fn busy(&self) -> BoxFuture<'_, Result<Vec<Execution>, ClusterError>> {
        let state = self.0.lock();
        let running = state
            .executions
            .values()
            .flatten()
            .filter(|e| e.is_running())
            .cloned()
            .map(|mut e| {
                if let Some(live) = state.live_output.get(&e.id()) {
                    live.clone_into(&mut e.output);
                }
                e
            })
            .collect();
        ready(Ok(running))
    }

    fn paused(&self) -> BoxFuture<'_, Result<bool, ClusterError>> {
        ready(Ok(self.0.lock().paused))
    }

    fn set_paused(&self, paused: bool) -> BoxFuture<'_, Result<bool, ClusterError>> {
        self.0.lock().paused = paused;
        ready(Ok(paused))
    }

    fn stats(&self, from: Date, to: Date) -> BoxFuture<'_, Result<Vec<DayStats>, ClusterError>> {
        let stats = self
            .0
            .lock()
            .stats
            .iter()
            .filter(|s| s.date >= from && s.date <= to)
            .copied()
            .collect();
        ready(Ok(stats))
    }

    fn leave(&self) -> BoxFuture<'_, Result<(), ClusterError>> {
        self.0.lock().left = true;
        ready(Ok(()))
    }
}

/// The UI mounted as the node mounts it (behind the API's layers), over a fresh fake.
pub(crate) fn app() -> (Router, Arc<FakeCluster>) {
    app_with(Access::default())
}

/// [`app`] with `access`.
pub(crate) fn app_with(access: Access) -> (Router, Arc<FakeCluster>) {
    let fake = FakeCluster::new();
    let cluster: Arc<dyn Cluster> = Arc::new(Handle(Arc::clone(&fake)));
    let ui = dkron_ui::router(
        Arc::clone(&cluster),
        UiOptions::default().with_access(access.clone()),
    );
    let options = ApiOptions::default().with_ui(true).with_access(access);
    (dkron_api::router_with(cluster, options, ui), fake)
}

/// A response read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `data-test` hooks present, as `(hook, count)` checks read better than substrings.
    pub(crate) fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The peer address of requests sent with [`send`]: loopback, which protected mode (the
/// default) serves.
const LOOPBACK_PEER: ([u8; 4], u16) = ([127, 0, 0, 1], 40000);

/// Sends one request through the router (no socket) from a loopback peer and reads the whole
/// response.
pub(crate) async fn send(
    router: &Router,
    method: Method,
    uri: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let peer = Some(SocketAddr::from(LOOPBACK_PEER));
    send_from(router, peer, method, uri, body, headers).await
}

/// [`send`] from `peer`, as `serve` gives it; `None`: without a peer address.
pub(crate) async fn send_from(
    router: &Router,
    peer: Option<SocketAddr>,
    method: Method,
    uri: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(peer) = peer {
        request = request.extension(ConnectInfo(peer));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .expect("valid request");
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body readable")
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

pub(crate) async fn get(router: &Router, uri: &str) -> Reply {
    send(router, Method::GET, uri, None, &[]).await
}

/// A form post from the UI's own page (as a browser sends it: with its `Origin`).
pub(crate) async fn post_form(router: &Router, uri: &str, body: &str) -> Reply {
    send(
        router,
        Method::POST,
        uri,
        Some(body),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ],
    )
    .await
}

/// A valid shell job named `name`, stored directly.
pub(crate) fn shell_job(name: &str) -> Job {
    let mut job = Job::new(name);
    job.schedule = "@every 1m".into();
    job.executor = "shell".into();
    job.executor_config
        .insert("command".into(), "echo hi".into());
    job
}

pub(crate) fn ts(text: &str) -> Timestamp {
    text.parse().expect("valid timestamp")
}
