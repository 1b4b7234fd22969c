//! The `shell` executor: runs a command in its own process group, captures stdout and stderr
//! interleaved through one pipe, and kills the whole group on timeout, memory limit or
//! cancellation.

use std::{
    io,
    os::fd::OwnedFd,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use tokio::{io::AsyncReadExt as _, io::AsyncWriteExt as _, process::Child};

use crate::{
    BoxFuture, Error, ExecutionOutcome, ExecutionRequest, Executor, ExecutorConfig, TailBuffer,
    executor::Stopped,
};

mod config;
mod group;
#[cfg(test)]
mod tests;

pub(crate) use config::go_parse_bool;
pub use group::{become_subreaper, boot_id, group_leader_start, kill_group_if};

use config::{ShellConfig, SuSpec};

/// How often the group's resident memory is measured when `mem_limit` is set.
const MEM_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long to keep reading the pipe after the group is dead. Only a process that escaped the
/// group (`setsid`) can keep the pipe open that long; its output is not waited for.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);
/// How long to wait for killed leftovers of a group to disappear.
const REAP_WITHIN: Duration = Duration::from_secs(2);
/// A sleep that never fires in practice (a disabled branch still needs a future).
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// Read size of the output pipe.
const READ_CHUNK: usize = 16 * 1024;

/// The `shell` executor. Keys (dkron's): `command`, `shell`, `env`, `cwd`, `su`, `timeout`,
/// `mem_limit`, `payload`. See the crate docs for the guarantees on the process group.
///
/// Differences from dkron, on purpose:
/// - The group is always killed: on timeout, memory limit, cancellation, and after the command
///   exits (processes it left running in its group are killed, not waited for).
/// - `mem_limit` counts the resident memory of every process in the group, polled every 100 ms.
/// - Bad values (`timeout`, `env` entries without `=`, `payload` that is not base64) are
///   rejected by [`Executor::validate`] instead of being half-ignored.
#[derive(Debug, Clone, Default)]
pub struct ShellExecutor {
    _private: (),
}

impl ShellExecutor {
    /// The shell executor.
    pub fn new() -> ShellExecutor {
        ShellExecutor::default()
    }
}

impl Executor for ShellExecutor {
    fn name(&self) -> &'static str {
        "shell"
    }

    fn validate(&self, config: &ExecutorConfig) -> Result<(), Error> {
        ShellConfig::parse(config).map(drop)
    }

    fn execute<'a>(&'a self, request: ExecutionRequest<'a>) -> BoxFuture<'a, ExecutionOutcome> {
        Box::pin(run(request))
    }
}

async fn run(request: ExecutionRequest<'_>) -> ExecutionOutcome {
    let started_at = jiff::Timestamp::now();
    let config = match ShellConfig::parse(request.config) {
        Ok(config) => config,
        Err(err) => return ExecutionOutcome::failed(started_at, err.to_string()),
    };
    let (child, output_pipe) = match spawn(&config, request.job_name) {
        Ok(spawned) => spawned,
        Err(err) => {
            return ExecutionOutcome::failed(
                started_at,
                format!("shell: cannot run `{}`: {err}", config.command),
            );
        }
    };
    supervise(child, output_pipe, &config, &request, started_at).await
}

/// Starts the command as the leader of a new process group, stdout and stderr on one pipe.
fn spawn(
    config: &ShellConfig,
    job_name: &str,
) -> io::Result<(Child, tokio::net::unix::pipe::Receiver)> {
    let (pipe_reader, pipe_writer) = io::pipe()?;
    let stderr_writer = pipe_writer.try_clone()?;

    let mut command = tokio::process::Command::new(&config.argv[0]);
    command
        .args(&config.argv[1..])
        .envs(config.env.iter().map(|(key, value)| (key, value)))
        .env("ENV_JOB_NAME", job_name)
        .stdin(if config.payload.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(pipe_writer)
        .stderr(stderr_writer)
        // Invariant: the child leads its own group, so killing the group reaches every process
        // it forks (unless one deliberately leaves the group).
        .process_group(0);
    if let Some(cwd) = &config.cwd {
        command.current_dir(cwd);
    }
    if let Some(su) = &config.su {
        let (uid, gid) = resolve_su(su)?;
        command.uid(uid).gid(gid);
    }
    die_with_this_process(&mut command);
    let child = command.spawn()?;
    // Why: the command object holds our copies of the pipe's write end; until they are closed the
    // reader would never see end-of-file.
    drop(command);
    let receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(pipe_reader))?;
    Ok((child, receiver))
}

/// Fencing: the command is killed (SIGKILL) when the thread that started it dies, which for a
/// runtime's worker thread means when this process dies. A node that crashed is declared lost
/// and its executions are closed as failed, so their jobs may fire again elsewhere; a command
/// still running there would overlap a `forbid` job and make "failed, node lost" untrue. What
/// the command forked does not inherit this: it is killed by the next start of the node (the
/// ledger of process groups), as before. Linux only (`prctl`).
fn die_with_this_process(command: &mut tokio::process::Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the forked child before exec; it calls only prctl(2) and
    // getppid(2), which are async-signal-safe, and allocates nothing (an `io::Error` from an
    // errno is not boxed).
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            // The parent may have died before prctl: then nobody would signal this child.
            if nix::unistd::getppid() != parent {
                return Err(io::Error::from(nix::errno::Errno::ESRCH));
            }
            Ok(())
        });
    }
}

/// Most reads [`drain_ready`] makes: a pipe holds at most its capacity (64 KiB by default, 1 MiB
/// at most unless raised), so this takes it all, and a process that escaped the group and keeps
/// writing cannot hold the execution.
const DRAIN_READS: usize = 64;

/// Takes, without waiting, what `pipe` holds now, in chunks. Reads the descriptor itself (it is
/// non-blocking): the receiver's own `try_read` answers "would block" whenever tokio has not
/// seen the pipe readable yet, which is exactly the case here.
fn drain_ready(pipe: &tokio::net::unix::pipe::Receiver, buffer: &mut [u8]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    for _ in 0..DRAIN_READS {
        match nix::unistd::read(pipe, buffer) {
            Ok(0) | Err(_) => break,
            Ok(n_read) => chunks.push(buffer[..n_read].to_vec()),
        }
    }
    chunks
}

/// `su` needs root; as anyone else it is refused, unless it names the current user.
fn resolve_su(su: &SuSpec) -> io::Result<(u32, u32)> {
    let not_found = |what: &str, name: &str| {
        io::Error::new(io::ErrorKind::NotFound, format!("su: no {what} `{name}`"))
    };
    let user = nix::unistd::User::from_name(&su.user)
        .map_err(io::Error::from)?
        .ok_or_else(|| not_found("user", &su.user))?;
    let gid = match &su.group {
        Some(group) => {
            nix::unistd::Group::from_name(group)
                .map_err(io::Error::from)?
                .ok_or_else(|| not_found("group", group))?
                .gid
        }
        None => user.gid,
    };
    let euid = nix::unistd::geteuid();
    if !euid.is_root() && (user.uid != euid || gid != nix::unistd::getegid()) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "su: switching user needs the agent to run as root",
        ));
    }
    Ok((user.uid.as_raw(), gid.as_raw()))
}

/// Reads output, feeds stdin, enforces timeout, memory limit and cancellation, and reaps.
async fn supervise(
    mut child: Child,
    mut output_pipe: tokio::net::unix::pipe::Receiver,
    config: &ShellConfig,
    request: &ExecutionRequest<'_>,
    started_at: jiff::Timestamp,
) -> ExecutionOutcome {
    // A spawned child always has a pid until it is reaped, and it has not been waited for yet.
    let pgid = child.id().map_or(0, |pid| pid as i32);
    let mut group_guard = GroupGuard { pgid, armed: true };
    if let Some(progress) = request.progress
        && pgid > 0
    {
        // Why here: the child is not waited for yet, so its `/proc` entry (and pid) stay valid
        // while the sink records the group.
        progress.spawned(pgid);
    }

    let mut output = TailBuffer::new(request.output_limit);
    let mut read_buffer = vec![0u8; READ_CHUNK];
    let mut pipe_open = true;
    let mut status: Option<io::Result<ExitStatus>> = None;
    let mut stopped: Option<Stopped> = None;
    let mut stop_message = String::new();
    let mut drain_deadline = None;

    let stdin = child.stdin.take();
    let stdin_payload = async move {
        if let Some(mut stdin) = stdin {
            // Why: a command that exits without reading its stdin closes the pipe; that is not an
            // error of the execution.
            let _ = stdin.write_all(&config.payload).await;
        }
    };
    tokio::pin!(stdin_payload);
    let mut stdin_done = config.payload.is_empty();

    let timeout = tokio::time::sleep(
        config
            .timeout
            .as_ref()
            .map_or(FAR_FUTURE, |(duration, _)| *duration),
    );
    tokio::pin!(timeout);
    let mut memory_poll = tokio::time::interval(MEM_POLL_INTERVAL);
    memory_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let drain_sleep = tokio::time::sleep(FAR_FUTURE);
    tokio::pin!(drain_sleep);

    loop {
        if status.is_some() && !pipe_open {
            break;
        }
        let running = status.is_none();
        tokio::select! {
            read = output_pipe.read(&mut read_buffer), if pipe_open => match read {
                Ok(0) | Err(_) => pipe_open = false,
                Ok(n_read) => {
                    let chunk = &read_buffer[..n_read];
                    output.push(chunk);
                    if let Some(progress) = request.progress {
                        progress.output(chunk);
                    }
                }
            },
            () = &mut stdin_payload, if !stdin_done => stdin_done = true,
            exit = child.wait(), if running => {
                status = Some(exit);
                // Invariant: nothing of the group outlives the command; leftovers are killed now.
                group::kill_group(pgid);
                let deadline = tokio::time::Instant::now() + DRAIN_AFTER_EXIT;
                drain_sleep.as_mut().reset(deadline);
                drain_deadline = Some(deadline);
            },
            () = &mut timeout, if running && config.timeout.is_some() && stopped.is_none() => {
                let timeout_text = config.timeout.as_ref().map_or("", |(_, text)| text.as_str());
                let killed = group::kill_group(pgid);
                stopped = Some(Stopped::Timeout);
                stop_message = format!(
                    "shell: Job '{}' execution time exceeding defined timeout {timeout_text}. {}",
                    config.command,
                    kill_note(killed),
                );
            },
            () = request.cancel.cancelled(), if running && stopped.is_none() => {
                let killed = group::kill_group(pgid);
                stopped = Some(Stopped::Cancelled);
                stop_message = format!("shell: Job '{}' was cancelled. {}", config.command, kill_note(killed));
            },
            _ = memory_poll.tick(), if running && stopped.is_none() && config.mem_limit.is_some() => {
                let limit = config.mem_limit.unwrap_or(u64::MAX);
                if let Ok(rss) = group::group_rss_bytes(pgid)
                    && rss > limit
                {
                    let killed = group::kill_group(pgid);
                    stopped = Some(Stopped::MemoryLimit);
                    stop_message = format!(
                        "shell: Job '{}' memory usage ({rss} bytes) exceeding defined limit ({limit} bytes). {}",
                        config.command,
                        kill_note(killed),
                    );
                }
            },
            () = &mut drain_sleep, if drain_deadline.is_some() => {
                // Why: on a loaded machine this task may next run long after the deadline, with
                // the command's last output still in the pipe, and `select!` then picks the
                // deadline as often as the read (the soak recorded a success with empty output).
                // What the pipe holds now was written before the deadline: keep it.
                for chunk in drain_ready(&output_pipe, &mut read_buffer) {
                    output.push(&chunk);
                    if let Some(progress) = request.progress {
                        progress.output(&chunk);
                    }
                }
                pipe_open = false;
            },
        }
    }

    let leader_pid = pgid;
    group::reap_group(pgid, leader_pid, REAP_WITHIN).await;
    // The leader is reaped and the group emptied: from here its id may be reused, never signal it.
    group_guard.armed = false;

    let (exit_code, mut error) = match &status {
        Some(Ok(status)) => (status.code(), describe_failure(status)),
        Some(Err(err)) => (
            None,
            Some(format!("shell: waiting for the command failed: {err}")),
        ),
        None => (
            None,
            Some("shell: the command was not waited for".to_owned()),
        ),
    };
    let success = stopped.is_none() && exit_code == Some(0);
    let mut text = output.to_string_lossy();
    if stopped.is_some() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&stop_message);
        error = Some(stop_message);
    }
    ExecutionOutcome {
        success,
        exit_code,
        http_status: None,
        output: text,
        output_truncated: output.truncated(),
        output_total_bytes: output.total_bytes(),
        stopped,
        started_at,
        finished_at: jiff::Timestamp::now(),
        error,
    }
}

fn kill_note(killed: bool) -> &'static str {
    if killed {
        "Job was killed"
    } else {
        "The process group was already gone"
    }
}

fn describe_failure(status: &ExitStatus) -> Option<String> {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(0), _) => None,
        (Some(code), _) => Some(format!("exit status {code}")),
        (None, Some(signal)) => Some(format!("killed by signal {signal}")),
        (None, None) => Some(format!("ended abnormally: {status}")),
    }
}

/// Kills the group if the execution future is dropped before it finished (the caller gave up):
/// the command must not outlive its execution.
#[derive(Debug)]
struct GroupGuard {
    pgid: i32,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed && self.pgid > 0 && group::kill_group(self.pgid) {
            // Why a detached task: `drop` cannot await, and the killed leftovers that were
            // re-parented to this process must still be reaped. It ends within REAP_WITHIN.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(group::reap_group(self.pgid, self.pgid, REAP_WITHIN));
            }
        }
    }
}
