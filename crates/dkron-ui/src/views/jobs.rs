//! The jobs list: search and filters, sortable columns, one page of jobs, the pager.

use dkron_api::Page;
use dkron_model::{Job, JobSort, JobStatus};
use maud::{Markup, html};

use crate::{
    fmt,
    form::FieldError,
    links::{segment, with_query},
    list::{ListParams, status_param},
    views::{
        Ctx,
        layout::{Section, page},
    },
};

const STATUSES: [JobStatus; 4] = [
    JobStatus::Untriggered,
    JobStatus::Success,
    JobStatus::Failed,
    JobStatus::PartiallyFailed,
];

/// The list page for `params`; `errors` are the parameters that were refused.
pub(crate) fn render(
    ctx: &Ctx,
    params: &ListParams,
    jobs: &Page<Job>,
    errors: &[FieldError],
) -> Markup {
    let link_to_page = |n: usize| {
        let pairs = params.pairs_for_page(n);
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        with_query("jobs", &pairs)
    };
    let last = params.last_page(jobs.total);
    let body = html! {
        h1 { "Jobs" }
        @if ctx.viewer.can_write {
            div.actions { a.button.primary href=(ctx.link("jobs/new")) data-test="new-job" { "New job" } }
        }
        @if !errors.is_empty() {
            div.errors role="alert" {
                @for e in errors {
                    p data-test="field-error" data-field=(e.field) { (e.message) }
                }
            }
        }
        form.filters method="get" action="jobs" data-test="jobs-search" role="search" {
            label { "Search" input type="search" name="q" value=(params.q) placeholder="name or display name"; }
            label {
                "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES {
                        option value=(status_param(s)) selected[params.status == Some(s)] { (status_param(s)) }
                    }
                }
            }
            label {
                "Enabled"
                select name="enabled" {
                    option value="" { "any" }
                    option value="true" selected[params.enabled == Some(true)] { "enabled" }
                    option value="false" selected[params.enabled == Some(false)] { "disabled" }
                }
            }
            @if params.sort != JobSort::Name { input type="hidden" name="sort" value=(params.sort.as_str()); }
            @if params.descending { input type="hidden" name="order" value="desc"; }
            button type="submit" { "Search" }
        }
        p.muted {
            span data-test="jobs-total" { (jobs.total) } " matching"
            @if jobs.total == 1 { " job" } @else { " jobs" }
        }
        div.table-wrap {
            table {
                thead {
                    tr {
                        (sort_header(params, JobSort::Name, "Name", false))
                        (sort_header(params, JobSort::DisplayName, "Display name", true))
                        (sort_header(params, JobSort::Schedule, "Schedule", false))
                        th { "Status" }
                        th { "Enabled" }
                        (sort_header(params, JobSort::LastSuccess, "Last success", true))
                        (sort_header(params, JobSort::LastError, "Last error", true))
                        (sort_header(params, JobSort::Next, "Next", false))
                    }
                }
                tbody {
                    @for job in &jobs.items {
                        tr data-test="job-row" data-job=(job.name) {
                            td.name { a href=(ctx.link(&format!("jobs/{}", segment(&job.name)))) { (job.name) } }
                            td.hide-narrow { (job.display_name) }
                            td { code { (job.schedule) } }
                            td { span class=(format!("status status-{}", status_param(job.status))) { (status_param(job.status)) } }
                            td { @if job.disabled { "no" } @else { "yes" } }
                            td.hide-narrow { (when(job.last_success)) }
                            td.hide-narrow { (when(job.last_error)) }
                            td { (when(job.next)) }
                        }
                    }
                    @if jobs.items.is_empty() {
                        tr { td colspan="8" .muted { "No jobs on this page." } }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if params.page > 1 {
                a.button href=(link_to_page(params.page - 1)) data-test="pager-prev" rel="prev" { "← Previous" }
            }
            span { "Page " span data-test="page-number" { (params.page) } " of " (last) }
            @if params.page < last {
                a.button href=(link_to_page(params.page + 1)) data-test="pager-next" rel="next" { "Next →" }
            }
        }
    };
    page(ctx, "Jobs", "jobs", Section::Jobs, body)
}

/// A column header that sorts by `key`: ascending first, descending when already ascending.
/// `narrow_hidden`: the column is left out on a phone's width.
fn sort_header(params: &ListParams, key: JobSort, label: &str, narrow_hidden: bool) -> Markup {
    let active = params.sort == key;
    let descending = active && !params.descending;
    let next = ListParams {
        sort: key,
        descending,
        ..params.clone()
    };
    let pairs = next.pairs_for_page(1);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sorted = match (active, params.descending) {
        (false, _) => None,
        (true, false) => Some("ascending"),
        (true, true) => Some("descending"),
    };
    html! {
        th.hide-narrow[narrow_hidden] aria-sort=[sorted] {
            a href=(with_query("jobs", &pairs)) {
                (label)
                @if let Some(direction) = sorted { @if direction == "ascending" { " ▲" } @else { " ▼" } }
            }
        }
    }
}

fn when(at: Option<jiff::Timestamp>) -> Markup {
    html! {
        @match at {
            Some(at) => time datetime=(fmt::machine(at)) { (fmt::utc(at)) },
            None => span.muted { "never" },
        }
    }
}
