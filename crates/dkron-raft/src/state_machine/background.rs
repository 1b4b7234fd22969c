//! How a snapshot is built without taking the CPU from the node's live work: on a thread at
//! the lowest CPU priority.
//!
//! Every server reaches the snapshot trigger at about the same point of the log. At normal
//! priority, three exports of a 200 MB state took both cores for seconds: runs due meanwhile
//! started up to a second late (docs/benchmarks.md, "Where the goals stand after process
//! slots, background snapshots and a decision-only scheduler slot").
//! The export reads one point in time, so it can wait for idle CPU.

/// Lowers the calling thread's CPU priority to nice 19. A thread cannot take that back, so
/// only a thread of its own may call it (not a pooled one).
pub(super) fn lower_this_threads_priority() {
    // On Linux the nice value is per thread: this one only.
    let this_thread = rustix::thread::gettid();
    if let Err(error) = rustix::process::setpriority_process(Some(this_thread), 19) {
        tracing::debug!(%error, "cannot lower the snapshot thread's priority; building at normal priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The snapshot thread lowers its own CPU priority to the lowest, and only its own.
    #[test]
    fn the_snapshot_thread_runs_at_the_lowest_priority() {
        let before = rustix::process::getpriority_process(None).expect("this thread's nice value");
        let lowered = std::thread::spawn(|| {
            lower_this_threads_priority();
            rustix::process::getpriority_process(Some(rustix::thread::gettid()))
                .expect("the thread's nice value")
        })
        .join()
        .expect("the thread ends");
        assert_eq!(lowered, 19);
        assert_eq!(
            rustix::process::getpriority_process(None).expect("this thread's nice value"),
            before,
            "only the snapshot thread is lowered"
        );
    }
}
