//! The dashboard: leader, nodes, jobs by status, executions per day, what runs now.

use dkron_api::DayStats;
use dkron_model::Execution;
use jiff::Timestamp;
use maud::{Markup, html};

use crate::{
    chart, fmt,
    links::{segment, with_query},
    views::{
        Ctx,
        layout::{Section, page},
    },
};

/// What the dashboard shows.
#[derive(Debug, Clone)]
pub(crate) struct Dashboard {
    pub(crate) node: String,
    pub(crate) leader: Option<String>,
    pub(crate) members: usize,
    pub(crate) alive: usize,
    pub(crate) jobs: usize,
    /// `(status query value, label, count)`.
    pub(crate) by_status: Vec<(&'static str, &'static str, usize)>,
    pub(crate) disabled: usize,
    pub(crate) paused: bool,
    pub(crate) days: Vec<DayStats>,
    pub(crate) running: Vec<Execution>,
    pub(crate) now: Timestamp,
}

pub(crate) fn render(ctx: &Ctx, d: &Dashboard) -> Markup {
    let body = html! {
        h1 { "Dashboard" }
        @if d.paused {
            p.errors role="status" { "Job submissions are paused on this cluster." }
        }
        section.cards aria-label="Cluster" {
            div.card {
                div.label { "Leader" }
                div.value data-test="leader" { (d.leader.as_deref().unwrap_or("none")) }
            }
            div.card {
                div.label { "Nodes" }
                div.value { span data-test="node-count" { (d.members) } }
                div.muted { (d.alive) " alive" }
            }
            div.card {
                div.label { "Jobs" }
                div.value { a href=(ctx.link("jobs")) data-test="job-count" { (d.jobs) } }
                div.muted { (d.disabled) " disabled" }
            }
            div.card {
                div.label { "Running now" }
                div.value { (d.running.len()) }
                div.muted { "on node " (d.node) }
            }
        }
        h2 { "Jobs by status" }
        ul.statuses.panel data-test="jobs-by-status" {
            @for (value, label, count) in &d.by_status {
                li {
                    a href=(ctx.link(&with_query("jobs", &[("status", value)]))) {
                        span class=(format!("status status-{value}")) { (label) } ": " (count)
                    }
                }
            }
            li { a href=(ctx.link(&with_query("jobs", &[("enabled", "false")]))) { "disabled: " (d.disabled) } }
        }
        h2 { "Executions per day" }
        div.panel {
            (chart::executions_per_day(&d.days))
            div.legend aria-hidden="true" { span.ok { "succeeded" } span.failed { "failed" } }
        }
        h2 { "Running now" }
        div data-test="running-now" {
            @if d.running.is_empty() {
                p.muted { "Nothing is running." }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr { th { "Job" } th { "Node" } th { "Started" } th { "Running for" } } }
                        tbody {
                            @for e in &d.running {
                                tr {
                                    td.name { a href=(ctx.link(&format!("jobs/{}", segment(&e.job_name)))) { (e.job_name) } }
                                    td { (e.node_name) }
                                    td { time datetime=(fmt::machine(e.started_at)) { (fmt::utc(e.started_at)) } }
                                    td { (fmt::duration(d.now.duration_since(e.started_at))) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(ctx, "Dashboard", "dashboard", Section::Dashboard, body)
}
