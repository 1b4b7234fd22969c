//! The backfill form (on the job page, and again on its result page) and the page that says
//! what a backfill launched or why it was refused.

use dkron_model::{BackfillOverlap, Job};
use jiff::{Timestamp, tz::TimeZone};
use maud::{Markup, html};

use crate::{
    backfill::BackfillForm,
    fmt,
    form::FieldError,
    links::segment,
    views::{
        Ctx,
        job_form::Errors,
        layout::{Section, page},
    },
};

/// The form posting to the job's backfill route; `zone` names the zone times are read in.
pub(crate) fn form(
    ctx: &Ctx,
    job: &str,
    zone: &str,
    form: &BackfillForm,
    errors: &[FieldError],
) -> Markup {
    let errs = Errors(errors);
    let general: Vec<&FieldError> = errors
        .iter()
        .filter(|e| !["from", "to", "overlap"].contains(&e.field.as_str()))
        .collect();
    html! {
        @for e in &general {
            p.errors.field-error role="alert" data-test="field-error" data-field=(e.field) { (e.message) }
        }
        form.job.backfill method="post" action=(ctx.link(&format!("jobs/{}/backfill", segment(job))))
            data-test="backfill-form" novalidate {
            div.row {
                div.field {
                    label for="b-from" { "From" }
                    input id="b-from" name="from" value=(form.from) autocomplete="off" spellcheck="false"
                        aria-describedby=[errs.described("from")];
                    (errs.at("from"))
                }
                div.field {
                    label for="b-to" { "To" }
                    input id="b-to" name="to" value=(form.to) autocomplete="off" spellcheck="false"
                        aria-describedby=[errs.described("to")];
                    (errs.at("to"))
                }
                div.field {
                    label for="b-overlap" { "Overlap" }
                    select id="b-overlap" name="overlap" aria-describedby=[errs.described("overlap")] {
                        @for (value, words) in [
                            (BackfillOverlap::Allow, "all at once (allow)"),
                            (BackfillOverlap::Skip, "the first only (skip)"),
                            (BackfillOverlap::BufferAll, "one after the other (buffer_all)"),
                        ] {
                            option value=(value.as_str()) selected[form.overlap == value.as_str()] { (words) }
                        }
                    }
                    (errs.at("overlap"))
                }
            }
            p.hint {
                "Runs the schedule's instants from–to (both included) now, each as a run of its own. "
                "Times are in " (zone) " (YYYY-MM-DD HH:MM), or RFC 3339 with an offset."
            }
            div.actions {
                button type="submit" data-test="backfill-submit" { "Backfill" }
            }
        }
    }
}

/// The name of the zone the job's times are read in.
pub(crate) fn zone_name(job: &Job) -> &str {
    if job.timezone.is_empty() {
        "UTC"
    } else {
        &job.timezone
    }
}

/// The answer to a backfill: the instants `launched` (in the job's zone `tz`), or, when
/// `errors` is not empty, why nothing ran; the form follows, as submitted.
pub(crate) fn render(
    ctx: &Ctx,
    job: &Job,
    tz: &TimeZone,
    submitted: &BackfillForm,
    errors: &[FieldError],
    launched: &[Timestamp],
) -> Markup {
    let me = format!("jobs/{}", segment(&job.name));
    let title = format!("Backfill {}", job.name);
    let zone = zone_name(job);
    let body = html! {
        h1 { (title) }
        @if errors.is_empty() {
            @if launched.is_empty() {
                p.notice role="status" data-test="backfill-launched" data-count="0" {
                    "Nothing launched: the range holds no scheduled instant (or, with skip, a run is going)."
                }
            } @else {
                p.notice role="status" data-test="backfill-launched" data-count=(launched.len()) {
                    "Launched " (launched.len()) " run" @if launched.len() > 1 { "s" } " ("
                    (if submitted.overlap.is_empty() { BackfillOverlap::Allow.as_str() } else { &submitted.overlap })
                    "); they are listed among the job's executions as they start."
                }
                ol.fires {
                    @for at in launched {
                        li data-test="backfill-instant" { time datetime=(fmt::machine(*at)) { (fmt::zoned(*at, tz)) } }
                    }
                }
            }
        } @else {
            p.errors role="alert" { "Nothing was launched." }
        }
        p { a href=(ctx.link(&format!("{me}#executions"))) data-test="back-to-job" { "Back to " (job.name) } }
        h2 { "Another backfill" }
        (form(ctx, &job.name, zone, submitted, errors))
    };
    page(ctx, &title, "backfill", Section::Jobs, body)
}
