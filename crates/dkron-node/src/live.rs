//! Following an execution's output from any server (`Cluster::execution_output`): from this
//! node's runner when it runs here, relayed from the node that runs it over node RPC
//! (`rpc::output`) otherwise, and from the store once it finished.
//!
//! Bounded: a node serves at most `max-output-streams` streams at once ([`OutputStreams`]),
//! API and relay alike, and every stream ends when the node stops. A follower that reads too
//! slowly loses chunks (the runner's ring) rather than growing memory.

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use dkron_api::{ClusterError, OutputEvent, OutputStream, stored_output};
use dkron_model::Member;
use futures_util::{StreamExt, stream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast::error::RecvError};
use tokio_util::sync::CancellationToken;

use crate::{
    handles::Handles,
    rpc::client::{CallError, NodeClient},
    runner::{End, Frame, Runner, Subscription},
};

/// Default `max-output-streams`.
pub const DEFAULT_MAX_OUTPUT_STREAMS: usize = 64;

/// How long a running execution that no node serves yet (a hand-over in flight) or any more
/// (its report in flight) is looked for before the stream gives up.
const SETTLE: Duration = Duration::from_secs(15);

/// Pause between two looks while settling.
const SETTLE_POLL: Duration = Duration::from_millis(250);

/// The output streams a node serves at once, and the token that ends them when it stops.
#[derive(Debug, Clone)]
pub(crate) struct OutputStreams {
    slots: Arc<Semaphore>,
    max: usize,
    stop: CancellationToken,
}

impl OutputStreams {
    pub(crate) fn new(max: usize, stop: CancellationToken) -> OutputStreams {
        OutputStreams {
            slots: Arc::new(Semaphore::new(max)),
            max,
            stop,
        }
    }

    /// A slot for one more stream, or why not.
    pub(crate) fn permit(&self) -> Result<OwnedSemaphorePermit, String> {
        Arc::clone(&self.slots).try_acquire_owned().map_err(|_| {
            format!(
                "this node already serves {} output streams (max-output-streams)",
                self.max
            )
        })
    }

    /// `events`, holding `permit` while it lasts and ending when the node stops (with
    /// [`OutputEvent::Interrupted`] unless it had ended already).
    pub(crate) fn bound(&self, events: OutputStream, permit: OwnedSemaphorePermit) -> OutputStream {
        let stop = self.stop.clone();
        let ended = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&ended);
        let events = events
            .take_until(stop.clone().cancelled_owned())
            .map(move |event| {
                if matches!(event, OutputEvent::End { .. } | OutputEvent::Interrupted(_)) {
                    seen.store(true, Ordering::Relaxed);
                }
                event
            });
        let stopping = stream::once(async move {
            (stop.is_cancelled() && !ended.load(Ordering::Relaxed))
                .then(|| OutputEvent::Interrupted("the node serving it is stopping".to_owned()))
        })
        .filter_map(std::future::ready);
        Box::pin(events.chain(stopping).map(move |event| {
            // Why: the slot is held as long as the stream is, and released when it is dropped.
            let _held = &permit;
            event
        }))
    }
}

/// What following needs of a server: the store, this node's runner, other nodes' RPC.
#[derive(Debug, Clone)]
pub(crate) struct Follow {
    pub(crate) handles: Arc<Handles>,
    pub(crate) runner: Arc<Runner>,
    pub(crate) client: NodeClient,
    pub(crate) streams: OutputStreams,
}

impl Follow {
    /// The output of execution `id` of `job`; see the module docs.
    pub(crate) async fn follow(
        &self,
        job: String,
        id: String,
    ) -> Result<OutputStream, ClusterError> {
        let store = &self.handles.store;
        let Some(execution) = store.execution(&job, &id).map_err(ClusterError::internal)? else {
            if store.job(&job).map_err(ClusterError::internal)?.is_none() {
                return Err(ClusterError::job_not_found(job));
            }
            return Err(ClusterError::ExecutionNotFound { job, id });
        };
        if !execution.is_running() {
            return Ok(stored_output(&execution));
        }
        let permit = self.streams.permit().map_err(ClusterError::unavailable)?;
        let this = self.clone();
        let events = stream::once(async move { this.running(job, id).await }).flatten();
        Ok(self.streams.bound(Box::pin(events), permit))
    }

    /// The stream of a running execution: from here, from the node that runs it, or from the
    /// store once it is recorded as finished.
    async fn running(self, job: String, id: String) -> OutputStream {
        let deadline = Instant::now() + SETTLE;
        loop {
            if let Some(subscription) = self.runner.subscribe(&id) {
                return local_events(subscription);
            }
            let execution = match self.handles.store.execution(&job, &id) {
                Ok(Some(execution)) => execution,
                Ok(None) => return interrupted("the execution was deleted"),
                Err(error) => return interrupted(format!("cannot read the execution: {error}")),
            };
            if !execution.is_running() {
                return stored_output(&execution);
            }
            if execution.node_name != self.handles.name()
                && let Some(member) = self.alive_member(&execution.node_name)
            {
                match self.client.output(&member.rpc_addr, &id).await {
                    Ok(events) => return events,
                    // Not running there (yet, or any more): look again.
                    Err(CallError::Status { status: 404, .. }) => {}
                    Err(error) => return interrupted(error.to_string()),
                }
            }
            if Instant::now() >= deadline {
                return interrupted(format!(
                    "execution {id} is recorded as running on {} but no node serves its output",
                    execution.node_name
                ));
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }

    fn alive_member(&self, name: &str) -> Option<Member> {
        let member = self.handles.store.member(name).ok().flatten();
        member.filter(Member::is_alive)
    }
}

fn interrupted(reason: impl Into<String>) -> OutputStream {
    Box::pin(stream::iter([OutputEvent::Interrupted(reason.into())]))
}

/// The events of an execution that runs on this node.
pub(crate) fn local_events(subscription: Subscription) -> OutputStream {
    let Subscription {
        so_far,
        truncated,
        end,
        frames,
    } = subscription;
    let mut text = Utf8Carry::default();
    let mut pending = VecDeque::new();
    // A truncated tail may begin inside a character: skip its continuation bytes.
    let skip = if truncated {
        so_far
            .iter()
            .take(3)
            .take_while(|b| (*b & 0b1100_0000) == 0b1000_0000)
            .count()
    } else {
        0
    };
    let first = text.feed(&so_far[skip..]);
    if !first.is_empty() {
        pending.push_back(OutputEvent::Output(first));
    }
    let done = end.is_some();
    if let Some(end) = end {
        push_end(&mut pending, &mut text, end);
    }
    let state = (frames, text, pending, done);
    Box::pin(stream::unfold(
        state,
        |(mut frames, mut text, mut pending, mut done)| async move {
            loop {
                if let Some(event) = pending.pop_front() {
                    return Some((event, (frames, text, pending, done)));
                }
                if done {
                    return None;
                }
                match frames.recv().await {
                    Ok(Frame::Output(chunk)) => {
                        let decoded = text.feed(&chunk);
                        if !decoded.is_empty() {
                            pending.push_back(OutputEvent::Output(decoded));
                        }
                    }
                    Ok(Frame::End(end)) => {
                        push_end(&mut pending, &mut text, end);
                        done = true;
                    }
                    Err(RecvError::Lagged(skipped)) => {
                        // A character cut by the gap cannot be completed.
                        text.flush();
                        pending.push_back(OutputEvent::Lagged { skipped });
                    }
                    Err(RecvError::Closed) => {
                        pending.push_back(OutputEvent::Interrupted(
                            "the runner stopped following the execution".to_owned(),
                        ));
                        done = true;
                    }
                }
            }
        },
    ))
}

fn push_end(pending: &mut VecDeque<OutputEvent>, text: &mut Utf8Carry, end: End) {
    let rest = text.flush();
    if !rest.is_empty() {
        pending.push_back(OutputEvent::Output(rest));
    }
    pending.push_back(OutputEvent::End {
        success: end.success,
        finished_at: end.finished_at,
        exit_code: end.exit_code,
    });
}

/// Decodes UTF-8 split across chunks: an incomplete character at the end of a chunk waits for
/// the next one instead of becoming U+FFFD twice; invalid bytes become U+FFFD.
#[derive(Debug, Default)]
pub(crate) struct Utf8Carry {
    carry: Vec<u8>,
}

impl Utf8Carry {
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> String {
        let mut input = std::mem::take(&mut self.carry);
        input.extend_from_slice(bytes);
        let mut out = String::with_capacity(input.len());
        let mut rest = input.as_slice();
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    out.push_str(valid);
                    break;
                }
                Err(error) => {
                    let (valid, after) = rest.split_at(error.valid_up_to());
                    out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match error.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                        None => {
                            // Incomplete at the end: at most 3 bytes wait for the next chunk.
                            self.carry = after.to_vec();
                            break;
                        }
                    }
                }
            }
        }
        out
    }

    /// What is left (an incomplete character), as U+FFFD.
    pub(crate) fn flush(&mut self) -> String {
        let carry = std::mem::take(&mut self.carry);
        String::from_utf8_lossy(&carry).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Live;

    fn end(success: bool) -> End {
        End {
            success,
            finished_at: None,
            exit_code: None,
        }
    }

    #[tokio::test]
    async fn a_local_follower_gets_the_output_so_far_then_new_text_then_the_end() {
        let live = Arc::new(Live::new(1000));
        live.push(b"line 1\n");
        let mut events = local_events(live.subscribe());
        assert_eq!(
            events.next().await,
            Some(OutputEvent::Output("line 1\n".to_owned()))
        );
        // A character split across two reads arrives whole.
        let euro = "€".as_bytes();
        live.push(&[b"line 2 ".as_slice(), &euro[..1]].concat());
        live.push(&euro[1..]);
        live.finish(end(true));
        let rest: Vec<OutputEvent> = events.collect().await;
        assert_eq!(
            rest,
            [
                OutputEvent::Output("line 2 ".to_owned()),
                OutputEvent::Output("€".to_owned()),
                OutputEvent::End {
                    success: true,
                    finished_at: None,
                    exit_code: None
                },
            ]
        );
    }

    #[tokio::test]
    async fn a_truncated_tail_starts_at_a_whole_character_and_a_finished_one_ends_at_once() {
        let live = Live::new(4);
        live.push("x€ab".as_bytes()); // the tail keeps the euro sign's last two bytes, "ab"
        live.finish(end(false));
        let events: Vec<OutputEvent> = local_events(live.subscribe()).collect().await;
        assert_eq!(
            events,
            [
                OutputEvent::Output("ab".to_owned()),
                OutputEvent::End {
                    success: false,
                    finished_at: None,
                    exit_code: None
                },
            ]
        );
    }

    #[tokio::test]
    async fn a_follower_that_fell_behind_is_told_and_still_gets_the_end() {
        let live = Live::new(1000);
        let events = local_events(live.subscribe());
        for i in 0..500 {
            live.push(format!("{i}\n").as_bytes());
        }
        live.finish(end(true));
        let events: Vec<OutputEvent> = events.collect().await;
        assert!(
            matches!(events.first(), Some(OutputEvent::Lagged { skipped }) if *skipped > 0),
            "{:?}",
            events.first()
        );
        assert!(matches!(
            events.last(),
            Some(OutputEvent::End { success: true, .. })
        ));
        assert!(
            events.len() < 100,
            "the ring bounds what is kept: {}",
            events.len()
        );
    }

    #[tokio::test]
    async fn streams_past_the_limit_are_refused_and_a_dropped_stream_frees_its_slot() {
        let stop = CancellationToken::new();
        let streams = OutputStreams::new(1, stop.clone());
        let permit = streams.permit().expect("a slot");
        let held = streams.bound(Box::pin(stream::pending()), permit);
        let refused = streams.permit().expect_err("no slot left");
        assert!(refused.contains("max-output-streams"), "{refused}");
        drop(held);
        let permit = streams.permit().expect("freed");
        let mut held = streams.bound(Box::pin(stream::pending()), permit);
        stop.cancel();
        assert!(
            matches!(held.next().await, Some(OutputEvent::Interrupted(reason)) if reason.contains("stopping")),
            "a stopping node ends its streams, saying why"
        );
        assert_eq!(held.next().await, None);
        // A stream that ended before the node stopped gets nothing more.
        let stop = CancellationToken::new();
        let streams = OutputStreams::new(1, stop.clone());
        let permit = streams.permit().expect("a slot");
        let done = stream::iter([OutputEvent::End {
            success: true,
            finished_at: None,
            exit_code: None,
        }]);
        let mut events = streams.bound(Box::pin(done), permit);
        assert!(matches!(events.next().await, Some(OutputEvent::End { .. })));
        stop.cancel();
        assert_eq!(events.next().await, None);
    }

    #[test]
    fn characters_split_across_chunks_are_joined() {
        let text = "añb€c😀";
        let bytes = text.as_bytes();
        for cut in 0..=bytes.len() {
            let mut carry = Utf8Carry::default();
            let mut out = carry.feed(&bytes[..cut]);
            out.push_str(&carry.feed(&bytes[cut..]));
            out.push_str(&carry.flush());
            assert_eq!(out, text, "cut at {cut}");
        }
        let mut carry = Utf8Carry::default();
        assert_eq!(carry.feed(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(carry.feed(b"\xe2\x82"), "");
        assert_eq!(carry.flush(), "\u{fffd}");
    }
}
