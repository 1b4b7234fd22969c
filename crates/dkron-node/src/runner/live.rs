//! [`Live`]: the output of one running execution as it comes, for whoever follows it.
//!
//! The runner feeds every chunk the executor reads into the execution's `Live`: a tail bounded
//! by the job's output limit (what a follower who arrives late sees first) and a broadcast of
//! the chunks to the followers already there. A follower's [`Subscription`] starts with the
//! tail and continues with the broadcast, with no chunk missed or repeated between them (both
//! are taken under the lock that [`Live::push`] holds). The broadcast is a bounded ring shared
//! by all followers: one that falls behind loses the oldest chunks (and is told how many), it
//! never makes the others or the execution wait, and memory does not grow with it. With no
//! follower nothing is copied for the broadcast. The stored output is the executor's own and
//! does not depend on any of this.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use dkron_executor::TailBuffer;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Chunks a follower may fall behind by before it loses the oldest (the executor reads at most
/// 16 KiB at a time, so at most 1 MiB per execution however many follow it).
const RING: usize = 64;

/// How an execution ended, as its followers are told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct End {
    pub(crate) success: bool,
    pub(crate) finished_at: Option<Timestamp>,
    pub(crate) exit_code: Option<i32>,
}

/// What the broadcast carries.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    /// Output bytes, in order (not split at character boundaries).
    Output(Arc<[u8]>),
    /// The execution finished; nothing follows.
    End(End),
}

/// A follower's start: the output so far, and the rest as it comes.
#[derive(Debug)]
pub(crate) struct Subscription {
    /// The kept tail of the output so far (at most the output limit).
    pub(crate) so_far: Vec<u8>,
    /// Whether older output was dropped from `so_far` (it may then begin inside a character).
    pub(crate) truncated: bool,
    /// Set when the execution had already finished: `frames` then carries nothing.
    pub(crate) end: Option<End>,
    pub(crate) frames: broadcast::Receiver<Frame>,
}

/// The live output of one execution; see the module docs.
#[derive(Debug)]
pub(crate) struct Live {
    state: Mutex<State>,
    frames: broadcast::Sender<Frame>,
}

#[derive(Debug)]
struct State {
    tail: TailBuffer,
    /// Length of the newest chunk (what `/v1/busy` shows, as dkron).
    last_chunk: usize,
    end: Option<End>,
}

impl Live {
    /// Keeps at most `limit` bytes of output for late followers.
    pub(crate) fn new(limit: usize) -> Live {
        let (frames, _) = broadcast::channel(RING);
        Live {
            state: Mutex::new(State {
                tail: TailBuffer::new(limit),
                last_chunk: 0,
                end: None,
            }),
            frames,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Each critical section leaves the state whole: poisoning cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a chunk of output. Never blocks on followers.
    pub(crate) fn push(&self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        let mut state = self.state();
        state.tail.push(chunk);
        state.last_chunk = chunk.len();
        // Under the lock, so a subscription gets each chunk either in its tail or as a frame.
        if self.frames.receiver_count() > 0 {
            let _ = self.frames.send(Frame::Output(Arc::from(chunk)));
        }
    }

    /// Adds `line` on a line of its own (a stop or refusal message the stored output holds).
    pub(crate) fn push_line(&self, line: &str) {
        let starts_line = {
            let state = self.state();
            state.tail.is_empty() || state.tail.last(1) == b"\n"
        };
        let text = if starts_line {
            line.to_owned()
        } else {
            format!("\n{line}")
        };
        self.push(text.as_bytes());
    }

    /// Marks the execution finished and tells the followers.
    pub(crate) fn finish(&self, end: End) {
        let mut state = self.state();
        state.end = Some(end.clone());
        // Invariant: `End` is the last frame sent, and a lagging receiver loses the oldest
        // frames, never the newest, so every follower sees it.
        let _ = self.frames.send(Frame::End(end));
    }

    /// Starts following: the output so far, then each new chunk.
    pub(crate) fn subscribe(&self) -> Subscription {
        let state = self.state();
        Subscription {
            so_far: state.tail.to_vec(),
            truncated: state.tail.truncated(),
            end: state.end.clone(),
            frames: self.frames.subscribe(),
        }
    }

    /// The newest chunk, as text (`/v1/busy` shows it, as dkron).
    pub(crate) fn latest(&self) -> String {
        let state = self.state();
        String::from_utf8_lossy(&state.tail.last(state.last_chunk)).into_owned()
    }

    /// How many follow it now.
    #[cfg(test)]
    pub(crate) fn followers(&self) -> usize {
        self.frames.receiver_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use broadcast::error::TryRecvError;

    fn end(success: bool) -> End {
        End {
            success,
            finished_at: None,
            exit_code: Some(i32::from(!success)),
        }
    }

    fn output(frame: Result<Frame, TryRecvError>) -> Vec<u8> {
        match frame {
            Ok(Frame::Output(bytes)) => bytes.to_vec(),
            other => panic!("expected output, got {other:?}"),
        }
    }

    #[test]
    fn a_follower_gets_the_tail_then_every_later_chunk_once() {
        let live = Live::new(8);
        live.push(b"hello ");
        live.push(b"world");
        let mut first = live.subscribe();
        assert_eq!(first.so_far, b"lo world", "the tail, bounded by the limit");
        assert!(first.truncated);
        assert_eq!(first.end, None);
        live.push(b"!");
        let mut second = live.subscribe();
        assert_eq!(second.so_far, b"o world!");
        live.push(b"?");
        live.finish(end(true));
        assert_eq!(output(first.frames.try_recv()), b"!");
        assert_eq!(output(first.frames.try_recv()), b"?");
        assert!(matches!(first.frames.try_recv(), Ok(Frame::End(e)) if e.success));
        assert_eq!(output(second.frames.try_recv()), b"?", "nothing repeated");
        assert!(matches!(second.frames.try_recv(), Ok(Frame::End(_))));
        assert!(matches!(second.frames.try_recv(), Err(TryRecvError::Empty)));
    }

    #[test]
    fn after_the_end_a_follower_gets_the_tail_and_the_end_at_once() {
        let live = Live::new(100);
        live.push(b"all of it");
        live.finish(end(false));
        let late = live.subscribe();
        assert_eq!(late.so_far, b"all of it");
        assert!(!late.truncated);
        assert_eq!(late.end, Some(end(false)));
    }

    #[test]
    fn a_slow_follower_loses_the_oldest_chunks_but_never_the_end() {
        let live = Live::new(16);
        let mut slow = live.subscribe();
        for i in 0..RING * 3 {
            live.push(format!("{i}\n").as_bytes());
        }
        live.finish(end(true));
        match slow.frames.try_recv() {
            Err(TryRecvError::Lagged(skipped)) => assert!(skipped >= (RING * 2) as u64),
            other => panic!("expected a lag, got {other:?}"),
        }
        let mut last = None;
        while let Ok(frame) = slow.frames.try_recv() {
            last = Some(frame);
        }
        assert!(matches!(last, Some(Frame::End(e)) if e.success));
    }

    #[test]
    fn without_followers_nothing_is_broadcast_and_latest_is_the_newest_chunk() {
        let live = Live::new(4);
        assert_eq!(live.followers(), 0);
        live.push(b"first chunk");
        live.push(b"ab");
        assert_eq!(live.latest(), "ab");
        live.push(b"0123456789");
        assert_eq!(live.latest(), "6789", "at most what the tail keeps");
        let mut follower = live.subscribe();
        assert!(
            matches!(follower.frames.try_recv(), Err(TryRecvError::Empty)),
            "chunks pushed before anyone followed were not queued"
        );
        assert_eq!(live.followers(), 1);
    }

    #[test]
    fn a_line_is_added_on_a_line_of_its_own() {
        let live = Live::new(100);
        live.push_line("refused");
        assert_eq!(live.subscribe().so_far, b"refused");
        let live = Live::new(100);
        live.push(b"partial");
        live.push_line("stopped");
        assert_eq!(live.subscribe().so_far, b"partial\nstopped");
        let live = Live::new(100);
        live.push(b"done\n");
        live.push_line("stopped");
        assert_eq!(live.subscribe().so_far, b"done\nstopped");
    }
}
