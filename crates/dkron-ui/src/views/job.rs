//! The job page: every field, the schedule in words with the next fires in the job's zone, the
//! actions, and the job's executions with their output. Also the delete confirmation.

use dkron_api::Page;
use dkron_model::{Execution, Job};
use jiff::Timestamp;
use maud::{Markup, html};

use crate::{
    backfill::BackfillForm,
    fmt,
    links::{segment, with_query},
    list::status_param,
    views::{
        Ctx, backfill, job_policies,
        layout::{Section, page},
    },
};

/// Characters of output shown before "show all".
pub(crate) const OUTPUT_PREVIEW_CHARS: usize = 2000;

/// What the job page shows.
#[derive(Debug, Clone)]
pub(crate) struct JobPage {
    pub(crate) job: Job,
    /// The schedule in words, or why it cannot be read.
    pub(crate) schedule_words: String,
    /// The zone the fires are shown in.
    pub(crate) zone: String,
    /// The next fires, formatted in the job's zone.
    pub(crate) fires: Vec<(Timestamp, String)>,
    pub(crate) executions: Page<Execution>,
    /// 1-based page of executions.
    pub(crate) exec_page: usize,
    pub(crate) exec_per_page: usize,
    /// An execution whose whole output is shown (from `?full=<id>`).
    pub(crate) full: Option<Execution>,
    /// What the last action did.
    pub(crate) notice: Option<&'static str>,
    pub(crate) now: Timestamp,
}

pub(crate) fn render(ctx: &Ctx, p: &JobPage) -> Markup {
    let job = &p.job;
    let me = format!("jobs/{}", segment(&job.name));
    let action = |what: &str| ctx.link(&format!("{me}/{what}"));
    let body = html! {
        h1 data-test="job-name" { (job.name) }
        @if !job.display_name.is_empty() { p.muted { (job.display_name) } }
        @if let Some(notice) = p.notice { p.notice role="status" data-test="notice" { (notice) } }
        @if !job.paused_reason.is_empty() {
            p.notice role="status" data-test="paused-reason" { "Disabled by the cluster: " (job.paused_reason) }
        }
        @if ctx.viewer.can_write {
            div.actions {
                form method="post" action=(action("run")) {
                    button.primary type="submit" data-test="run-now" { "Run now" }
                }
                form method="post" action=(action("toggle")) {
                    button type="submit" data-test="toggle" { @if job.disabled { "Enable" } @else { "Disable" } }
                }
                a.button href=(action("edit")) data-test="edit" { "Edit" }
                form method="post" action=(action("delete")) {
                    button.danger type="submit" data-test="delete" { "Delete" }
                }
            }
        }
        section.panel aria-label="Schedule" {
            p { "Schedule " code { (job.schedule) } ": " strong data-test="schedule-words" { (p.schedule_words) } }
            @if p.fires.is_empty() {
                p.muted data-test="next-fires" { "No upcoming fires." }
            } @else {
                p { "Next fires (" (p.zone) "):" }
                ol.fires data-test="next-fires" {
                    @for (at, text) in &p.fires {
                        li data-test="next-fire" { time datetime=(fmt::machine(*at)) { (text) } }
                    }
                }
            }
        }
        h2 { "Run policies and notifications" }
        (job_policies::render(ctx, job))
        h2 id="executions" { "Executions" }
        section data-test="executions" data-live="" aria-live="polite" {
            (executions(ctx, p, &me))
        }
        @if ctx.viewer.can_write && !job.is_child() {
            h2 id="backfill" { "Backfill" }
            @let tz = job.time_zone().unwrap_or(jiff::tz::TimeZone::UTC);
            section.panel aria-label="Backfill" {
                (backfill::form(ctx, &job.name, backfill::zone_name(job), &BackfillForm::last_day(p.now, &tz), &[]))
            }
        }
        h2 { "Fields" }
        div.panel { (fields(ctx, job)) }
    };
    page(ctx, &job.name, "job", Section::Jobs, body)
}

fn fields(ctx: &Ctx, job: &Job) -> Markup {
    let time = |at: Option<Timestamp>| at.map_or_else(|| "never".to_owned(), fmt::utc);
    html! {
        dl.fields {
            dt { "Name" } dd { (job.name) }
            dt { "Display name" } dd { (job.display_name) }
            dt { "Enabled" } dd { span data-test="job-enabled" { (!job.disabled) } }
            dt { "Status" } dd { span class=(format!("status status-{}", status_param(job.status))) { (status_param(job.status)) } }
            dt { "Schedule" } dd { code { (job.schedule) } }
            dt { "Time zone" } dd { @if job.timezone.is_empty() { "UTC (none set)" } @else { (job.timezone) } }
            dt { "Executor" } dd { (job.executor) }
            dt { "Executor config" } dd { (map(&job.executor_config)) }
            dt { "Owner" } dd { (job.owner) @if !job.owner_email.is_empty() { " <" (job.owner_email) ">" } }
            dt { "Parent jobs" } dd {
                @for parent in job.parents() {
                    a.tag href=(ctx.link(&format!("jobs/{}", segment(parent)))) { (parent) }
                }
                @if !job.is_child() { span.muted { "none" } }
            }
            dt { "Dependent jobs" } dd {
                @for child in &job.dependent_jobs {
                    a.tag href=(ctx.link(&format!("jobs/{}", segment(child)))) { (child) }
                }
                @if job.dependent_jobs.is_empty() { span.muted { "none" } }
            }
            dt { "Tags" } dd { (map(&job.tags)) }
            dt { "Metadata" } dd { (map(&job.metadata)) }
            dt { "Retries" } dd { (job.retries) }
            dt { "Ephemeral" } dd { (job.ephemeral) }
            dt { "Successes / errors" } dd { (job.success_count) " / " (job.error_count) }
            dt { "Last success" } dd { (time(job.last_success)) }
            dt { "Last error" } dd { (time(job.last_error)) }
            dt { "Next" } dd { (time(job.next)) }
            dt { "Starts at" } dd { (time(job.starts_at).replace("never", "any time")) }
            dt { "Expires at" } dd { (time(job.expires_at).replace("never", "never expires")) }
            dt { "Misfire policy" } dd { (job.misfire_policy.name()) }
            dt { "Fires skipped (too late)" } dd {
                span data-test="job-skipped" { (job.skipped_count) }
                @if let Some(last) = job.last_skipped { ", latest " (time(Some(last))) }
            }
            dt { "History limit" } dd { (job.history_limit.map_or_else(|| "server default".to_owned(), |n| n.to_string())) }
            dt { "Output limit" } dd { (job.output_limit.map_or_else(|| "server default".to_owned(), |n| format!("{n} bytes"))) }
            dt { "Processors" } dd {
                @for (name, config) in &job.processors { span.tag { (name) } (map(config)) }
                @if job.processors.is_empty() { span.muted { "none" } }
            }
        }
    }
}

fn map(map: &std::collections::BTreeMap<String, String>) -> Markup {
    html! {
        @if map.is_empty() {
            span.muted { "none" }
        } @else {
            @for (k, v) in map { span.tag { code { (k) "=" (v) } } }
        }
    }
}

fn executions(ctx: &Ctx, p: &JobPage, me: &str) -> Markup {
    let last = p.executions.total.div_ceil(p.exec_per_page).max(1);
    let page_link = |n: usize| with_query("", &[("epage", &n.to_string())]) + "#executions";
    html! {
        p.muted { (p.executions.total) " retained, newest first." }
        @for e in &p.executions.items {
            @let id = e.id();
            @let full = p.full.as_ref().filter(|f| f.id() == id);
            @let status = if e.is_running() { "running" } else if e.success { "success" } else { "failed" };
            article.panel data-test="execution-row" data-execution=(id) data-status=(status) id=(format!("exec-{id}")) {
                div.actions {
                    span class=(format!("status status-{status}")) { (status) }
                    span { "node " strong { (e.node_name) } }
                    span { "started " time datetime=(fmt::machine(e.started_at)) { (fmt::utc(e.started_at)) } }
                    span {
                        @match e.finished_at {
                            Some(end) => { "took " (fmt::duration(end.duration_since(e.started_at))) }
                            None => { "running for " (fmt::duration(p.now.duration_since(e.started_at))) }
                        }
                    }
                    span.muted { "attempt " (e.attempt) ", " (e.trigger.as_str()) }
                    @if let Some(code) = e.exit_code { span.muted { "exit code " (code) } }
                    @if e.is_running() && ctx.viewer.can_write {
                        form method="post" action=(ctx.link(&format!("{me}/executions/{}/cancel", segment(&id)))) {
                            button.danger type="submit" data-test="cancel-execution" { "Cancel" }
                        }
                    }
                }
                @let stream = e.is_running().then(|| ctx.link(&format!("{me}/executions/{}/stream", segment(&id))));
                (output(e, full, &id, p.exec_page, stream.as_deref()))
            }
        }
        @if p.executions.items.is_empty() { p.muted { "No executions on this page." } }
        @if last > 1 {
            nav.pager aria-label="Execution pages" {
                @if p.exec_page > 1 { a.button href=(page_link(p.exec_page - 1)) { "← Newer" } }
                span { "Page " (p.exec_page) " of " (last) }
                @if p.exec_page < last { a.button href=(page_link(p.exec_page + 1)) { "Older →" } }
            }
        }
    }
}

/// The output of `e`: its tail when long, with a link to show all of it; all of it when
/// `full` (the execution fetched whole) is given. A running one's carries the URL of its event
/// stream, which the script follows.
fn output(
    e: &Execution,
    full: Option<&Execution>,
    id: &str,
    exec_page: usize,
    stream: Option<&str>,
) -> Markup {
    let text = full.map_or(e.output.as_str(), |f| f.output.as_str());
    let chars = text.chars().count();
    let shown = if full.is_none() && chars > OUTPUT_PREVIEW_CHARS {
        let skip = text
            .char_indices()
            .nth(chars - OUTPUT_PREVIEW_CHARS)
            .map_or(0, |(i, _)| i);
        &text[skip..]
    } else {
        text
    };
    let cut = shown.len() < text.len();
    html! {
        @if text.is_empty() && e.is_running() {
            pre data-test="execution-output" data-stream=[stream] { span.muted { "(no output yet)" } }
        } @else {
            @if e.is_running() {
                p.muted { "Output of the running execution (followed live with scripts on; without them, the latest the node has read); all of it is stored when it ends." }
            }
            @if cut { p.muted { "Last " (OUTPUT_PREVIEW_CHARS) " of " (chars) " characters." } }
            pre data-test="execution-output" data-stream=[stream] { (shown) }
            @if cut {
                a href=(format!("{}#exec-{id}", with_query("", &[("epage", &exec_page.to_string()), ("full", id)]))) data-test="output-show-all" { "Show all output" }
            }
            @if e.output_truncated { p.muted { "The node kept only the end of this output (output limit)." } }
        }
    }
}

/// The confirmation asked before deleting `job`.
pub(crate) fn confirm_delete(ctx: &Ctx, job: &Job) -> Markup {
    let me = format!("jobs/{}", segment(&job.name));
    let body = html! {
        h1 { "Delete job " (job.name) "?" }
        p { "The job and all its retained executions are deleted. This cannot be undone." }
        div.actions {
            form method="post" action=(ctx.link(&format!("{me}/delete"))) {
                input type="hidden" name="confirm" value="yes";
                button.danger type="submit" data-test="confirm-delete" { "Delete " (job.name) }
            }
            a.button href=(ctx.link(&me)) data-test="cancel-delete" { "Keep it" }
        }
    };
    page(ctx, "Delete job", "confirm-delete", Section::Jobs, body)
}
