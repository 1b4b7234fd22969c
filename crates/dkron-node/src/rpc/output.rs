//! `GET /node/output/{id}`: the live output of an execution running on the receiving node, for
//! a server that relays it to an API client (`live::Follow`).
//!
//! The body is newline-delimited JSON [`RelayFrame`]s, a [`RelayFrame::Ping`] every [`PING`]
//! while nothing else goes: so a relaying server that went away is noticed (the write fails and
//! the subscription is dropped), and the server notices a node that went silent (its read
//! timeout). Output is sent in pieces of at most [`PIECE`] bytes, so a line stays small.

use std::{convert::Infallible, time::Duration};

use axum::{
    body::{Body, Bytes},
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
};
use dkron_api::{OutputEvent, OutputStream};
use futures_util::{Stream, StreamExt, stream};
use serde::{Deserialize, Serialize};

use super::{Answer, RpcSlot, admit, client::CallError, refused};
use crate::runner::End;

/// The route (`{id}` is an execution id).
pub(crate) const OUTPUT_PATH: &str = "/node/output/{id}";

/// The path of the route for execution `id`, without the parameter.
pub(crate) const OUTPUT_PREFIX: &str = "/node/output";

/// How often a quiet relay sends a ping.
pub(crate) const PING: Duration = Duration::from_secs(10);

/// Largest piece of output text in one frame.
const PIECE: usize = 64 * 1024;

/// Largest frame line a server accepts (a piece, JSON-escaped: at most 6 bytes per byte).
pub(crate) const MAX_LINE: usize = 6 * PIECE + 1024;

/// One line of the relay body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RelayFrame {
    Output(String),
    Lagged(u64),
    End(End),
    Interrupted(String),
    Ping,
}

impl RelayFrame {
    fn of(event: OutputEvent) -> RelayFrame {
        match event {
            OutputEvent::Output(text) => RelayFrame::Output(text),
            OutputEvent::Lagged { skipped } => RelayFrame::Lagged(skipped),
            OutputEvent::End {
                success,
                finished_at,
                exit_code,
            } => RelayFrame::End(End {
                success,
                finished_at,
                exit_code,
            }),
            OutputEvent::Interrupted(reason) => RelayFrame::Interrupted(reason),
        }
    }

    /// The API event, `None` for a ping.
    pub(crate) fn event(self) -> Option<OutputEvent> {
        Some(match self {
            RelayFrame::Output(text) => OutputEvent::Output(text),
            RelayFrame::Lagged(skipped) => OutputEvent::Lagged { skipped },
            RelayFrame::End(end) => OutputEvent::End {
                success: end.success,
                finished_at: end.finished_at,
                exit_code: end.exit_code,
            },
            RelayFrame::Interrupted(reason) => OutputEvent::Interrupted(reason),
            RelayFrame::Ping => return None,
        })
    }

    fn line(&self) -> Bytes {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }
}

/// Splits `text` into pieces of at most [`PIECE`] bytes, at character boundaries.
fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > PIECE {
        let mut at = PIECE;
        while !rest.is_char_boundary(at) {
            at -= 1;
        }
        out.push(rest[..at].to_owned());
        rest = &rest[at..];
    }
    out.push(rest.to_owned());
    out
}

/// `events` as relay frames, with a ping whenever `every` passes without one.
fn frames(events: OutputStream, every: Duration) -> impl Stream<Item = RelayFrame> + Send {
    let events = events.flat_map(|event| {
        let frames: Vec<RelayFrame> = match event {
            OutputEvent::Output(text) => {
                pieces(&text).into_iter().map(RelayFrame::Output).collect()
            }
            other => vec![RelayFrame::of(other)],
        };
        stream::iter(frames)
    });
    stream::unfold(Box::pin(events), move |mut events| async move {
        match tokio::time::timeout(every, events.next()).await {
            Ok(Some(frame)) => Some((frame, events)),
            Ok(None) => None,
            Err(_) => Some((RelayFrame::Ping, events)),
        }
    })
}

pub(super) async fn output(
    State(slot): State<std::sync::Arc<RpcSlot>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    let state = admit(&slot, &headers)?;
    let permit = state
        .streams
        .permit()
        .map_err(|reason| refused(StatusCode::SERVICE_UNAVAILABLE, reason))?;
    let Some(subscription) = state.runner.subscribe(&id) else {
        return Err(refused(StatusCode::NOT_FOUND, "not running here"));
    };
    let events = state
        .streams
        .bound(crate::live::local_events(subscription), permit);
    let body = frames(events, PING).map(|frame| Ok::<_, Infallible>(frame.line()));
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(body),
    )
        .into_response())
}

/// Reads a relay body into API events; a body that ends or breaks before the end becomes
/// [`OutputEvent::Interrupted`].
pub(crate) fn relayed(target: String, response: reqwest::Response) -> OutputStream {
    struct Reader {
        target: String,
        response: reqwest::Response,
        buffer: Vec<u8>,
        done: bool,
    }
    let reader = Reader {
        target,
        response,
        buffer: Vec::new(),
        done: false,
    };
    Box::pin(stream::unfold(reader, |mut reader| async move {
        if reader.done {
            return None;
        }
        loop {
            if let Some(newline) = reader.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = reader.buffer.drain(..=newline).collect();
                let frame = match serde_json::from_slice::<RelayFrame>(&line) {
                    Ok(frame) => frame,
                    Err(error) => RelayFrame::Interrupted(format!(
                        "bad output frame from {}: {error}",
                        reader.target
                    )),
                };
                reader.done = matches!(frame, RelayFrame::End(_) | RelayFrame::Interrupted(_));
                match frame.event() {
                    Some(event) => return Some((event, reader)),
                    None => continue,
                }
            }
            if reader.buffer.len() > MAX_LINE {
                reader.done = true;
                let reason = format!("an output frame from {} is too long", reader.target);
                return Some((OutputEvent::Interrupted(reason), reader));
            }
            let reason = match reader.response.chunk().await {
                Ok(Some(chunk)) => {
                    reader.buffer.extend_from_slice(&chunk);
                    continue;
                }
                Ok(None) => format!("{} ended the output stream early", reader.target),
                Err(error) => CallError::Unreachable {
                    target: reader.target.clone(),
                    reason: dkron_raft::error_chain(&error),
                }
                .to_string(),
            };
            reader.done = true;
            return Some((OutputEvent::Interrupted(reason), reader));
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_output_is_cut_into_pieces_at_character_boundaries() {
        let text = format!("{}€{}", "a".repeat(PIECE - 1), "b".repeat(PIECE));
        let cut = pieces(&text);
        assert_eq!(cut.concat(), text);
        assert!(
            cut.iter().all(|p| p.len() <= PIECE),
            "{:?}",
            cut.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_eq!(cut[0].len(), PIECE - 1, "the euro sign is not split");
        assert_eq!(pieces(""), [""]);
    }

    #[tokio::test]
    async fn a_quiet_relay_pings_and_frames_round_trip() {
        let events: OutputStream = Box::pin(
            stream::iter([OutputEvent::Output("x\n".to_owned())]).chain(stream::pending()),
        );
        // The source never ends: whatever the machine's load, the next frame is a ping.
        let mut frames = Box::pin(frames(events, Duration::from_millis(20)));
        assert_eq!(
            frames.next().await,
            Some(RelayFrame::Output("x\n".to_owned()))
        );
        assert_eq!(frames.next().await, Some(RelayFrame::Ping));
        let end = RelayFrame::End(End {
            success: true,
            finished_at: None,
            exit_code: Some(0),
        });
        let line = end.line();
        assert!(line.ends_with(b"\n"));
        let back: RelayFrame = serde_json::from_slice(&line).expect("frame");
        assert_eq!(
            back.event(),
            Some(OutputEvent::End {
                success: true,
                finished_at: None,
                exit_code: Some(0)
            })
        );
        assert_eq!(RelayFrame::Ping.event(), None);
    }
}
