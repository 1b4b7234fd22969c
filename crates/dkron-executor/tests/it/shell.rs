//! The shell executor against real processes: exit codes, output, env, timeouts and memory
//! limits that kill whole process trees, cancellation, and no leftovers.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use base64::Engine as _;
use bytes::Bytes;
use dkron_executor::{
    ExecutionOutcome, ExecutionRequest, Executor, OutputSink, ShellExecutor, Stopped,
};
use tokio_util::sync::CancellationToken;

use crate::support::{config, group_members, wait_until_group_empty};

async fn run(pairs: &[(&str, &str)]) -> ExecutionOutcome {
    dkron_executor::become_subreaper().expect("subreaper");
    let config = config(pairs);
    ShellExecutor::new()
        .execute(ExecutionRequest::new("test-job", &config))
        .await
}

/// The first output line of a command that starts with `echo $$`: its process group id.
fn pgid_of(outcome: &ExecutionOutcome) -> i32 {
    outcome
        .output
        .lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .expect("first line is the pgid")
}

/// A successful command: exit 0, its output, timestamps in order.
#[tokio::test]
async fn success_with_output() {
    let outcome = run(&[("command", "echo hello")]).await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(outcome.output, "hello\n");
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.stopped, None);
    assert!(outcome.started_at <= outcome.finished_at);
}

/// A failing command reports its exit code and keeps its output; stderr is captured.
#[tokio::test]
async fn failure_keeps_exit_code_and_output() {
    let outcome = run(&[("command", "echo oops >&2; exit 3"), ("shell", "true")]).await;
    assert!(!outcome.success);
    assert_eq!(outcome.exit_code, Some(3));
    assert_eq!(outcome.output, "oops\n");
    assert_eq!(outcome.error.as_deref(), Some("exit status 3"));
    // As dkron's agent stores it: the error line, then the output.
    assert_eq!(outcome.output_with_error(), "exit status 3\noops\n");
}

/// stdout and stderr share one pipe, so their order is kept.
#[tokio::test]
async fn stdout_and_stderr_interleave_in_order() {
    let outcome = run(&[
        ("command", "printf a; printf b >&2; printf c; printf d >&2"),
        ("shell", "true"),
    ])
    .await;
    assert_eq!(outcome.output, "abcd");
}

/// Without `shell`, arguments are split with shell-word rules and no shell is involved.
#[tokio::test]
async fn direct_execution_splits_words() {
    let outcome = run(&[("command", r#"printf '%s|' "a b" c $HOME"#)]).await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.output, "a b|c|$HOME|");
}

/// A command that cannot start fails with an error and no output.
#[tokio::test]
async fn missing_program_is_an_error() {
    let outcome = run(&[("command", "/nonexistent/program --flag")]).await;
    assert!(!outcome.success);
    assert_eq!(outcome.exit_code, None);
    assert_eq!(outcome.output, "");
    assert!(
        outcome
            .error
            .as_deref()
            .is_some_and(|error| error.contains("/nonexistent/program")),
        "{outcome:?}"
    );

    let outcome = run(&[("command", "true"), ("cwd", "/nonexistent/dir")]).await;
    assert!(!outcome.success);
    assert!(outcome.error.is_some());
}

/// A bad config is reported in the outcome, not by a panic.
#[tokio::test]
async fn bad_config_is_reported() {
    let outcome = run(&[("command", "true"), ("timeout", "forever")]).await;
    assert!(!outcome.success);
    assert!(
        outcome
            .error
            .as_deref()
            .is_some_and(|error| error.contains("timeout")),
        "{outcome:?}"
    );
}

/// `env` pairs and `ENV_JOB_NAME` reach the command, the parent's env is inherited, `cwd` is
/// honoured, and `payload` arrives on stdin.
#[tokio::test]
async fn env_cwd_and_payload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path().canonicalize().expect("canonical");
    let payload = base64::engine::general_purpose::STANDARD.encode("line from stdin\n");
    let outcome = run(&[
        (
            "command",
            "echo \"$FOO $BAR $ENV_JOB_NAME ${PATH:+has-path}\"; pwd; cat",
        ),
        ("shell", "true"),
        ("env", "FOO=foo,BAR=b=r"),
        ("cwd", cwd.to_str().expect("utf-8 path")),
        ("payload", &payload),
    ])
    .await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(
        outcome.output,
        format!(
            "foo b=r test-job has-path\n{}\nline from stdin\n",
            cwd.display()
        )
    );
}

/// A payload larger than a pipe buffer is written while output is read (no deadlock).
#[tokio::test]
async fn large_payload_streams_through() {
    let data = "0123456789".repeat(50_000);
    let payload = base64::engine::general_purpose::STANDARD.encode(&data);
    let outcome = run(&[("command", "wc -c"), ("payload", &payload)]).await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.output.trim(), "500000");
}

/// Counts bytes streamed to the progress sink.
#[derive(Default)]
struct CountingSink(AtomicU64);

impl OutputSink for CountingSink {
    fn output(&self, chunk: &[u8]) {
        self.0.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
}

/// 10 MB of output keeps exactly the last `output_limit` bytes, says it was truncated, counts
/// every byte, and streams all of it to the progress sink.
#[tokio::test]
async fn output_tail_is_bounded() {
    dkron_executor::become_subreaper().expect("subreaper");
    let config = config(&[
        (
            "command",
            "head -c 10000000 /dev/zero | tr '\\0' x; printf END",
        ),
        ("shell", "true"),
    ]);
    let sink = CountingSink::default();
    let request = ExecutionRequest::new("big", &config).with_progress(&sink);
    let outcome = ShellExecutor::new().execute(request).await;
    assert!(outcome.success, "{:?}", outcome.error);
    assert_eq!(outcome.output.len(), dkron_executor::DEFAULT_OUTPUT_LIMIT);
    assert!(outcome.output.ends_with("xxxEND"));
    assert!(outcome.output_truncated);
    assert_eq!(outcome.output_total_bytes, 10_000_003);
    assert_eq!(sink.0.load(Ordering::Relaxed), 10_000_003);

    let small = ExecutionRequest::new("small", &config).with_output_limit(10);
    let outcome = ShellExecutor::new().execute(small).await;
    assert_eq!(outcome.output, "xxxxxxxEND");
}

/// On timeout the whole process tree is killed (not only the shell), promptly, with dkron's
/// message, and nothing of the group is left, zombies included.
#[tokio::test]
async fn timeout_kills_the_process_tree() {
    let began = Instant::now();
    let outcome = run(&[
        ("command", "echo $$; sleep 100 & sleep 100 & wait"),
        ("shell", "true"),
        ("timeout", "300ms"),
    ])
    .await;
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "took {:?}",
        began.elapsed()
    );
    assert!(!outcome.success);
    assert_eq!(outcome.stopped, Some(Stopped::Timeout));
    assert_eq!(outcome.exit_code, None, "killed by a signal");
    assert!(
        outcome.output.ends_with(
            "shell: Job 'echo $$; sleep 100 & sleep 100 & wait' execution time exceeding defined timeout 300ms. Job was killed"
        ),
        "{}",
        outcome.output
    );
    // The stop message is already the last line; it is not repeated.
    assert_eq!(outcome.output_with_error(), outcome.output);
    let pgid = pgid_of(&outcome);
    assert_eq!(group_members(pgid), [], "processes left in group {pgid}");
}

/// When the command exits but leaves background processes in its group, they are killed and
/// reaped; the execution does not wait for them (they hold the output pipe).
#[tokio::test]
async fn leftovers_of_a_finished_command_are_killed() {
    let began = Instant::now();
    let outcome = run(&[
        ("command", "echo $$; sleep 100 & sleep 100 & exit 0"),
        ("shell", "true"),
    ])
    .await;
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "took {:?}",
        began.elapsed()
    );
    assert!(outcome.success, "{outcome:?}");
    let pgid = pgid_of(&outcome);
    assert_eq!(group_members(pgid), [], "processes left in group {pgid}");
}

/// A process tree whose resident memory exceeds `mem_limit` is killed with dkron's message.
#[tokio::test]
async fn mem_limit_kills_the_tree() {
    // The shell holds ~64 MB in a variable (in a child), then sleeps; the limit is 16 MB.
    let command = "echo $$; (x=$(head -c 64000000 /dev/zero | tr '\\0' a); sleep 100) & wait";
    let began = Instant::now();
    let outcome = run(&[
        ("command", command),
        ("shell", "true"),
        ("mem_limit", "16MB"),
        ("timeout", "60s"),
    ])
    .await;
    assert!(
        began.elapsed() < Duration::from_secs(30),
        "took {:?}",
        began.elapsed()
    );
    assert_eq!(outcome.stopped, Some(Stopped::MemoryLimit), "{outcome:?}");
    assert!(!outcome.success);
    assert!(
        outcome
            .output
            .contains("exceeding defined limit (16777216 bytes). Job was killed"),
        "{}",
        outcome.output
    );
    let pgid = pgid_of(&outcome);
    assert_eq!(group_members(pgid), [], "processes left in group {pgid}");

    // Under the limit nothing happens.
    let outcome = run(&[("command", "echo fine"), ("mem_limit", "1GB")]).await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.output, "fine\n");
}

/// Cancelling the token mid-run kills the group and reports `Cancelled` with the output so far.
#[tokio::test]
async fn cancel_mid_run() {
    dkron_executor::become_subreaper().expect("subreaper");
    let config = config(&[
        (
            "command",
            "echo $$; echo started; sleep 100 & sleep 100; wait",
        ),
        ("shell", "true"),
    ]);
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let cancel = CancellationToken::new();
    let request = ExecutionRequest::new("cancel-me", &config)
        .with_cancel(cancel.clone())
        .with_progress(&sender);
    let executor = ShellExecutor::new();
    let began = Instant::now();
    let (outcome, ()) = tokio::join!(executor.execute(request), async {
        let mut seen = Vec::new();
        while !String::from_utf8_lossy(&seen).contains("started") {
            let chunk = receiver.recv().await.expect("output before the end");
            seen.extend_from_slice(&chunk);
        }
        cancel.cancel();
    });
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "took {:?}",
        began.elapsed()
    );
    assert_eq!(outcome.stopped, Some(Stopped::Cancelled));
    assert!(!outcome.success);
    assert!(outcome.output.contains("started\n"));
    assert!(
        outcome.output.ends_with("was cancelled. Job was killed"),
        "{}",
        outcome.output
    );
    let pgid = pgid_of(&outcome);
    assert_eq!(group_members(pgid), [], "processes left in group {pgid}");
}

/// Dropping an execution future (the caller gave up) still kills and reaps the group.
#[tokio::test]
async fn dropping_the_execution_kills_the_group() {
    dkron_executor::become_subreaper().expect("subreaper");
    let config = config(&[
        ("command", "echo $$; sleep 100 & sleep 100; wait"),
        ("shell", "true"),
    ]);
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let request = ExecutionRequest::new("dropped", &config).with_progress(&sender);
    let executor = ShellExecutor::new();
    let execution = executor.execute(request);
    let pgid = tokio::select! {
        _ = execution => panic!("the command should still be running"),
        chunk = receiver.recv() => {
            let text = String::from_utf8(chunk.expect("pgid line").to_vec()).expect("utf-8");
            text.lines().next().and_then(|line| line.parse::<i32>().ok()).expect("pgid")
        }
    };
    // The execution future is dropped here.
    wait_until_group_empty("the dropped group is gone", pgid, Duration::from_secs(10)).await;
}

/// `su` runs the command as another user (root only; otherwise it is refused).
#[tokio::test]
async fn su_switches_user() {
    let outcome = run(&[("command", "id -un"), ("su", "nobody")]).await;
    if nix::unistd::geteuid().is_root() {
        assert!(outcome.success, "{outcome:?}");
        assert_eq!(outcome.output, "nobody\n");
    } else {
        assert!(!outcome.success);
        assert!(
            outcome
                .error
                .as_deref()
                .is_some_and(|error| error.contains("root")),
            "{outcome:?}"
        );
    }
    let outcome = run(&[("command", "id -un"), ("su", "no-such-user-dkron")]).await;
    assert!(!outcome.success);
    assert!(
        outcome
            .error
            .as_deref()
            .is_some_and(|error| error.contains("no-such-user-dkron")),
        "{outcome:?}"
    );
}

/// Many concurrent executions each get their own output (bounded: 40 runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_executions_are_independent() {
    dkron_executor::become_subreaper().expect("subreaper");
    let executor = Arc::new(ShellExecutor::new());
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..40 {
        let executor = Arc::clone(&executor);
        tasks.spawn(async move {
            let config = config(&[("command", &format!("echo run-{index}"))]);
            let outcome = executor
                .execute(ExecutionRequest::new("many", &config))
                .await;
            (index, outcome)
        });
    }
    let mut n_done = 0;
    while let Some(joined) = tasks.join_next().await {
        let (index, outcome) = joined.expect("task");
        assert!(outcome.success, "{outcome:?}");
        assert_eq!(outcome.output, format!("run-{index}\n"));
        n_done += 1;
    }
    assert_eq!(n_done, 40);
}

/// Records what [`OutputSink::spawned`] reported: the group id and its leader's start time, read
/// in the call (the leader is not reaped yet, so `/proc` still has it).
#[derive(Default)]
struct SpawnSink {
    spawned: std::sync::Mutex<Vec<(i32, Option<u64>)>>,
    notify: tokio::sync::Notify,
}

impl OutputSink for SpawnSink {
    fn output(&self, _chunk: &[u8]) {}

    fn spawned(&self, pgid: i32) {
        let start = dkron_executor::group_leader_start(pgid);
        self.spawned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((pgid, start));
        self.notify.notify_one();
    }
}

impl SpawnSink {
    fn seen(&self) -> Vec<(i32, Option<u64>)> {
        self.spawned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The sink learns the command's process group once, as it starts; even a command that exits
/// at once still has its leader's start time readable in the call.
#[tokio::test]
async fn the_sink_learns_the_process_group_at_spawn() {
    dkron_executor::become_subreaper().expect("subreaper");
    let echo = config(&[("command", "echo $$"), ("shell", "true")]);
    let sink = SpawnSink::default();
    let outcome = ShellExecutor::new()
        .execute(ExecutionRequest::new("spawn-hook", &echo).with_progress(&sink))
        .await;
    assert!(outcome.success, "{outcome:?}");
    let pgid = pgid_of(&outcome);
    let seen = sink.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, pgid);
    assert!(
        seen[0].1.is_some(),
        "leader start time unreadable: {seen:?}"
    );

    // A command that cannot start spawns no group, so the sink hears nothing.
    let missing = config(&[("command", "/no/such/program-dkron")]);
    let sink = SpawnSink::default();
    let outcome = ShellExecutor::new()
        .execute(ExecutionRequest::new("spawn-hook", &missing).with_progress(&sink))
        .await;
    assert!(!outcome.success);
    assert_eq!(sink.seen(), []);
}

/// `kill_group_if` kills a running group only when the recorded leader start time matches: a
/// wrong start time (a reused pgid) leaves it running.
#[tokio::test]
async fn kill_group_if_checks_the_leader_start_time() {
    dkron_executor::become_subreaper().expect("subreaper");
    let config = config(&[
        ("command", "sleep 100 & sleep 100; wait"),
        ("shell", "true"),
    ]);
    let sink = SpawnSink::default();
    let executor = ShellExecutor::new();
    let request = ExecutionRequest::new("orphan", &config).with_progress(&sink);
    let began = Instant::now();
    let (outcome, ()) = tokio::join!(executor.execute(request), async {
        while sink.seen().is_empty() {
            sink.notify.notified().await;
        }
        let (pgid, start) = sink.seen()[0];
        let start = start.expect("leader start time");
        assert!(!dkron_executor::kill_group_if(pgid, start.wrapping_add(1)));
        assert!(!group_members(pgid).is_empty(), "a wrong start time killed");
        assert!(dkron_executor::kill_group_if(pgid, start));
    });
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "took {:?}",
        began.elapsed()
    );
    assert!(!outcome.success);
    assert_eq!(outcome.error.as_deref(), Some("killed by signal 9"));
    let pgid = sink.seen()[0].0;
    assert_eq!(group_members(pgid), [], "processes left in group {pgid}");
}
