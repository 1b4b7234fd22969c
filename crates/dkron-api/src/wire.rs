//! dkron's JSON: the only place that knows its field names, null conventions and time format.
//!
//! Model types carry no wire names; each object has a hand-written reader or an output struct
//! built from a model value (`From`), so a change of the wire format never touches the model
//! or the stored encoding.

mod job;
mod notify;
mod time;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use dkron_model::{Execution, Member};
use jiff::tz::TimeZone;
use serde::Serialize;

use self::time::format_or_zero;
pub(crate) use self::{
    job::{BodyError, JobOut, job_from_value, parse_job},
    time::{format_nullable, format_time, parse_time},
};

/// An execution as dkron writes it (`apiExecution`), times in `tz` (the job's zone).
///
/// `id`, `job_name`, `output`, `node_name`, `group` and `attempt` are omitted when empty or
/// zero, as Go's `omitempty` does. `finished_at` of a running execution is Go's zero time.
/// dkron-rs adds `exit_code`, `scheduled_at` (omitted when unknown) and `trigger`.
#[derive(Debug, Serialize)]
pub(crate) struct ExecutionOut<'a> {
    id: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    job_name: &'a str,
    started_at: String,
    finished_at: String,
    success: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    output: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    node_name: &'a str,
    #[serde(skip_serializing_if = "is_zero_i64")]
    group: i64,
    #[serde(skip_serializing_if = "is_zero_u32")]
    attempt: u32,
    output_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_at: Option<String>,
    trigger: &'static str,
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

impl<'a> ExecutionOut<'a> {
    /// Renders `execution` with its times in `tz`.
    pub(crate) fn new(execution: &'a Execution, tz: &TimeZone) -> ExecutionOut<'a> {
        ExecutionOut {
            id: execution.id(),
            job_name: &execution.job_name,
            started_at: format_time(execution.started_at, tz),
            finished_at: format_or_zero(execution.finished_at, tz),
            success: execution.success,
            output: &execution.output,
            node_name: &execution.node_name,
            group: execution.group,
            attempt: execution.attempt,
            output_truncated: execution.output_truncated,
            exit_code: execution.exit_code,
            scheduled_at: format_nullable(execution.scheduled_at, tz),
            trigger: execution.trigger.as_str(),
        }
    }
}

/// Serf's protocol versions as dkron's members report them; constant because there is no Serf
/// here, kept so clients that read them find numbers.
const PROTOCOL: [u8; 6] = [1, 5, 2, 2, 5, 4];

/// A member as dkron writes it: Go's `serf.Member` field names, plus `id` and `statusText` in
/// member lists (react-admin needs an `id`; ours is the node name, stable across calls, where
/// dkron made a fresh UUID on every call).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MemberOut<'a> {
    name: &'a str,
    addr: &'a str,
    port: u16,
    tags: BTreeMap<String, String>,
    status: u8,
    protocol_min: u8,
    protocol_max: u8,
    protocol_cur: u8,
    delegate_min: u8,
    delegate_max: u8,
    delegate_cur: u8,
    #[serde(rename = "id", skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "statusText", skip_serializing_if = "Option::is_none")]
    status_text: Option<&'static str>,
}

impl<'a> MemberOut<'a> {
    /// A member of `/v1/members` (with `id` and `statusText`).
    pub(crate) fn listed(member: &'a Member) -> MemberOut<'a> {
        MemberOut {
            id: Some(&member.name),
            status_text: Some(member.status.as_str()),
            ..MemberOut::bare(member)
        }
    }

    /// A member as `/v1/leader` shows it (Go field names only).
    pub(crate) fn bare(member: &'a Member) -> MemberOut<'a> {
        let [
            protocol_min,
            protocol_max,
            protocol_cur,
            delegate_min,
            delegate_max,
            delegate_cur,
        ] = PROTOCOL;
        MemberOut {
            name: &member.name,
            addr: &member.addr,
            port: member.port,
            tags: member.all_tags(),
            status: member.status.code(),
            protocol_min,
            protocol_max,
            protocol_cur,
            delegate_min,
            delegate_max,
            delegate_cur,
            id: None,
            status_text: None,
        }
    }
}
