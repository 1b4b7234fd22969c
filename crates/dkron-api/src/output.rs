//! The live output of an execution as server-sent events (a dkron-rs extension):
//! `GET /v1/jobs/{job}/executions/{execution}/stream`, and the web UI's twin under `/ui/`.
//!
//! A [`Cluster`](crate::Cluster) answers with an [`OutputStream`] of [`OutputEvent`]s; this
//! module writes them as `text/event-stream`:
//!
//! | event | data |
//! |---|---|
//! | `output` | output text, in order; the first holds what was output before the stream began (at most the job's output limit) |
//! | `lagged` | `{"skipped":N}`: the client read too slowly and N chunks were dropped |
//! | `end` | `{"success":bool,"finished_at":RFC 3339 or null,"exit_code":N or null}`; the stream then ends |
//! | `interrupted` | why the output cannot be followed further (the node running it went away); the stream then ends |
//!
//! A comment line (`: keep-alive`) goes out every [`KEEP_ALIVE`] while nothing else does, so
//! proxies keep the connection and a client that went away is noticed (the write fails and the
//! stream is dropped).

use std::{convert::Infallible, pin::Pin, time::Duration};

use axum::response::{
    IntoResponse, Response,
    sse::{Event, KeepAlive, Sse},
};
use dkron_model::Execution;
use futures_util::{Stream, StreamExt, stream};
use jiff::Timestamp;

/// How often a quiet stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One thing that happened to an execution's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputEvent {
    /// Output text, in order. The first holds what was output before the stream began.
    Output(String),
    /// The reader fell behind and `skipped` chunks of output were dropped for it.
    Lagged {
        /// How many chunks were dropped.
        skipped: u64,
    },
    /// The execution finished; nothing follows.
    End {
        /// Whether it succeeded.
        success: bool,
        /// When it finished, if known.
        finished_at: Option<Timestamp>,
        /// A shell command's exit code, if it exited.
        exit_code: Option<i32>,
    },
    /// The output cannot be followed further (why); nothing follows. The stored execution
    /// says how it ended once it is recorded.
    Interrupted(String),
}

/// What [`Cluster::execution_output`](crate::Cluster::execution_output) returns: the events of
/// one execution's output, ending after [`OutputEvent::End`] or [`OutputEvent::Interrupted`].
/// Dropping it stops following (the client went away).
pub type OutputStream = Pin<Box<dyn Stream<Item = OutputEvent> + Send + 'static>>;

/// The stream of a recorded execution: its stored output, then its end when it finished, or
/// [`OutputEvent::Interrupted`] when it runs (nothing follows a running one's stored output).
pub fn stored_output(execution: &Execution) -> OutputStream {
    let mut events = Vec::with_capacity(2);
    if !execution.output.is_empty() {
        events.push(OutputEvent::Output(execution.output.clone()));
    }
    events.push(match execution.finished_at {
        Some(finished_at) => OutputEvent::End {
            success: execution.success,
            finished_at: Some(finished_at),
            exit_code: execution.exit_code,
        },
        None => OutputEvent::Interrupted(
            "the live output of this execution is not available".to_owned(),
        ),
    });
    Box::pin(stream::iter(events))
}

/// `events` as a `text/event-stream` response (see the module docs).
pub fn output_response(events: OutputStream) -> Response {
    let events = events.map(|event| Ok::<_, Infallible>(sse_event(&event)));
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response();
    // Why: a buffering reverse proxy (nginx) would hold the events back until the end.
    response.headers_mut().insert(
        axum::http::HeaderName::from_static("x-accel-buffering"),
        axum::http::HeaderValue::from_static("no"),
    );
    response
}

fn sse_event(event: &OutputEvent) -> Event {
    match event {
        OutputEvent::Output(text) => Event::default().event("output").data(text),
        OutputEvent::Lagged { skipped } => Event::default()
            .event("lagged")
            .data(serde_json::json!({ "skipped": skipped }).to_string()),
        OutputEvent::End {
            success,
            finished_at,
            exit_code,
        } => {
            // A struct, not `json!`: its field order does not depend on serde_json's features.
            #[derive(serde::Serialize)]
            struct EndData {
                success: bool,
                finished_at: Option<String>,
                exit_code: Option<i32>,
            }
            let data = EndData {
                success: *success,
                finished_at: finished_at.map(|at| at.to_string()),
                exit_code: *exit_code,
            };
            Event::default()
                .event("end")
                .data(serde_json::to_string(&data).unwrap_or_default())
        }
        OutputEvent::Interrupted(reason) => Event::default().event("interrupted").data(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(events: Vec<OutputEvent>) -> String {
        let response = output_response(Box::pin(stream::iter(events)));
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn events_are_written_as_sse_with_multi_line_output_split_into_data_lines() {
        let at: Timestamp = "2026-12-05T00:00:01Z".parse().expect("timestamp");
        let body = body_of(vec![
            OutputEvent::Output("one\ntwo\n".to_owned()),
            OutputEvent::Lagged { skipped: 3 },
            OutputEvent::End {
                success: true,
                finished_at: Some(at),
                exit_code: Some(0),
            },
        ])
        .await;
        assert_eq!(
            body,
            "event: output\ndata: one\ndata: two\ndata: \n\n\
             event: lagged\ndata: {\"skipped\":3}\n\n\
             event: end\ndata: {\"success\":true,\"finished_at\":\"2026-12-05T00:00:01Z\",\"exit_code\":0}\n\n"
        );
    }

    #[tokio::test]
    async fn a_stored_execution_gives_its_output_then_its_end_or_an_interruption() {
        let mut execution = Execution {
            output: "done".to_owned(),
            success: false,
            exit_code: Some(2),
            finished_at: Some(Timestamp::UNIX_EPOCH),
            ..Execution::default()
        };
        let events: Vec<OutputEvent> = stored_output(&execution).collect().await;
        assert_eq!(
            events,
            [
                OutputEvent::Output("done".to_owned()),
                OutputEvent::End {
                    success: false,
                    finished_at: Some(Timestamp::UNIX_EPOCH),
                    exit_code: Some(2),
                }
            ]
        );
        execution.finished_at = None;
        execution.output.clear();
        let events: Vec<OutputEvent> = stored_output(&execution).collect().await;
        assert!(
            matches!(events.as_slice(), [OutputEvent::Interrupted(_)]),
            "{events:?}"
        );
    }
}
