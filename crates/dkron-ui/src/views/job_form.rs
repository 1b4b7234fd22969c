//! The create and edit form. Each input is named after the job's JSON field; an error the API's
//! validation (or the cluster) gives is shown under its field, the rest above the form.

use maud::{Markup, html};

use crate::{
    form::{FieldError, JobForm},
    links::segment,
    views::{
        Ctx, job_form_policies,
        layout::{Section, page},
    },
};

/// Fields that have an input of their own; errors about other fields go above the form.
const INPUTS: [&str; 24] = [
    "name",
    "displayname",
    "schedule",
    "timezone",
    "owner",
    "owner_email",
    "parent_job",
    "executor",
    "executor_config.command",
    "executor_config",
    "tags",
    "metadata",
    "retries",
    "concurrency",
    "disabled",
    "ephemeral",
    "jitter",
    "pause_on_failure",
    "run_on",
    "notify",
    "notify.channels",
    "notify.on_success",
    "notify.on_failure",
    "notify.on_recovery",
];

/// The errors of a refused form, shown at their fields.
#[derive(Clone, Copy)]
pub(super) struct Errors<'a>(pub(super) &'a [FieldError]);

impl Errors<'_> {
    /// The messages about `field`, for under its input.
    pub(super) fn at(&self, field: &str) -> Markup {
        html! {
            @for e in self.0.iter().filter(|e| e.field == field) {
                p.field-error data-test="field-error" data-field=(e.field) id=(format!("error-{field}")) { (e.message) }
            }
        }
    }

    /// The id of `field`'s message, for the input's `aria-describedby`, when it has one.
    pub(super) fn described(&self, field: &str) -> Option<String> {
        self.0
            .iter()
            .any(|e| e.field == field)
            .then(|| format!("error-{field}"))
    }
}

/// The form for `form`'s values; `editing` when it changes an existing job (its name is fixed).
/// `preview` is the schedule's explanation rendered on the server (the script refreshes it as
/// the schedule is typed).
pub(crate) fn render(
    ctx: &Ctx,
    form: &JobForm,
    editing: bool,
    errors: &[FieldError],
    preview: &Markup,
) -> Markup {
    let title = if editing {
        format!("Edit job {}", form.name)
    } else {
        "New job".to_owned()
    };
    let action = if editing {
        ctx.link(&format!("jobs/{}/edit", segment(&form.name)))
    } else {
        ctx.link("jobs/new")
    };
    let errs = Errors(errors);
    let error_at = |field: &str| errs.at(field);
    let described = |field: &str| errs.described(field);
    let general: Vec<&FieldError> = errors
        .iter()
        .filter(|e| !INPUTS.contains(&e.field.as_str()))
        .collect();
    let body = html! {
        h1 { (title) }
        @if !general.is_empty() {
            div.errors role="alert" {
                @for e in &general {
                    p.field-error data-test="field-error" data-field=(e.field) { (e.message) }
                }
            }
        }
        @if !errors.is_empty() && general.is_empty() {
            p.errors role="alert" { "The job was not saved: see the fields marked below." }
        }
        form.job method="post" action=(action) data-test="job-form" novalidate {
            div.row {
                div.field {
                    label for="f-name" { "Name" }
                    input id="f-name" name="name" value=(form.name) required readonly[editing]
                        autocomplete="off" aria-describedby=[described("name")];
                    span.hint { "Lower-case letters, digits, - and _." }
                    (error_at("name"))
                }
                div.field {
                    label for="f-displayname" { "Display name" }
                    input id="f-displayname" name="displayname" value=(form.displayname);
                    (error_at("displayname"))
                }
            }
            div.row {
                div.field {
                    label for="f-schedule" { "Schedule" }
                    input id="f-schedule" name="schedule" value=(form.schedule) autocomplete="off"
                        spellcheck="false" aria-describedby=(described("schedule").unwrap_or_else(|| "schedule-preview".to_owned()));
                    span.hint { "Cron with seconds (0 30 2 * * *), @every 10m, @daily, @at <RFC 3339>, @manually…" }
                    (error_at("schedule"))
                    div.preview id="schedule-preview" data-test="schedule-preview" aria-live="polite"
                        data-url=(ctx.link("schedule")) { (preview) }
                }
                div.field {
                    label for="f-timezone" { "Time zone" }
                    input id="f-timezone" name="timezone" value=(form.timezone) placeholder="UTC"
                        autocomplete="off" aria-describedby=[described("timezone")];
                    span.hint { "An IANA name such as Europe/Paris; empty is UTC." }
                    (error_at("timezone"))
                }
            }
            div.row {
                div.field {
                    label for="f-executor" { "Executor" }
                    select id="f-executor" name="executor" {
                        @for known in ["shell", "http"] {
                            option value=(known) selected[form.executor == known] { (known) }
                        }
                        @if !["shell", "http"].contains(&form.executor.as_str()) {
                            option value=(form.executor) selected { (form.executor) }
                        }
                    }
                    (error_at("executor"))
                }
                div.field {
                    label for="f-concurrency" { "Concurrency" }
                    select id="f-concurrency" name="concurrency" {
                        @for policy in ["allow", "forbid", "replace", "buffer_one", "buffer_all"] {
                            option value=(policy) selected[form.concurrency == policy] { (policy) }
                        }
                    }
                    (error_at("concurrency"))
                }
            }
            div.field {
                label for="f-command" { "Command (shell executor)" }
                input id="f-command" name="executor_config.command" value=(form.command)
                    spellcheck="false" aria-describedby=[described("executor_config.command")];
                (error_at("executor_config.command"))
            }
            div.field {
                label for="f-executor-config" { "Other executor settings" }
                textarea id="f-executor-config" name="executor_config" rows="3" spellcheck="false"
                    aria-describedby=[described("executor_config")] { (form.executor_config) }
                span.hint { "One key=value a line: timeout=30s, shell=true, env=A=1,B=2; for http: url=…, method=GET…" }
                (error_at("executor_config"))
            }
            div.row {
                div.field {
                    label for="f-tags" { "Tags" }
                    textarea id="f-tags" name="tags" rows="2" spellcheck="false" aria-describedby=[described("tags")] { (form.tags) }
                    span.hint { "key=value[:count] a line: the nodes to run on." }
                    (error_at("tags"))
                }
                div.field {
                    label for="f-metadata" { "Metadata" }
                    textarea id="f-metadata" name="metadata" rows="2" spellcheck="false" aria-describedby=[described("metadata")] { (form.metadata) }
                    (error_at("metadata"))
                }
            }
            div.row {
                div.field {
                    label for="f-retries" { "Retries" }
                    input id="f-retries" name="retries" value=(form.retries) inputmode="numeric" aria-describedby=[described("retries")];
                    (error_at("retries"))
                }
                div.field {
                    label for="f-parent" { "Parent job" }
                    input id="f-parent" name="parent_job" value=(form.parent_job) autocomplete="off" aria-describedby=[described("parent_job")];
                    span.hint { "A child runs after its parent succeeds, never on its own schedule. Several parents, comma-separated: it runs once each of them succeeded." }
                    (error_at("parent_job"))
                }
            }
            div.row {
                div.field {
                    label for="f-owner" { "Owner" }
                    input id="f-owner" name="owner" value=(form.owner);
                    (error_at("owner"))
                }
                div.field {
                    label for="f-owner-email" { "Owner email" }
                    input id="f-owner-email" name="owner_email" type="email" value=(form.owner_email);
                    (error_at("owner_email"))
                }
            }
            (job_form_policies::render(form, errs))
            div.field.check {
                input id="f-disabled" name="disabled" type="checkbox" value="true" checked[form.disabled];
                label for="f-disabled" { "Disabled" }
                (error_at("disabled"))
            }
            div.field.check {
                input id="f-ephemeral" name="ephemeral" type="checkbox" value="true" checked[form.ephemeral];
                label for="f-ephemeral" { "Ephemeral (deleted after its first successful run)" }
                (error_at("ephemeral"))
            }
            div.actions {
                button.primary type="submit" data-test="submit" { @if editing { "Save" } @else { "Create job" } }
                a.button href=(if editing { ctx.link(&format!("jobs/{}", segment(&form.name))) } else { ctx.link("jobs") }) { "Cancel" }
            }
        }
    };
    page(ctx, &title, "job-form", Section::Jobs, body)
}
