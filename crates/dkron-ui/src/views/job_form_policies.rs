//! The job form's run policies (`jitter`, `pause_on_failure`, `run_on`) and notification rule
//! (`notify`), each input named after its JSON field as in the rest of the form.

use dkron_model::{Channel, RunOn};
use maud::{Markup, html};

use crate::{
    form::{JobForm, NOTIFY_CUSTOM, NOTIFY_DEFAULT},
    views::job_form::Errors,
};

/// What each channel does, beside its box.
fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Mail => "mail (to the owner email)",
        Channel::Webhook => "webhook (after each run)",
        Channel::PreWebhook => "pre_webhook (before each run)",
        Channel::Cronitor => "cronitor",
    }
}

pub(super) fn render(form: &JobForm, errs: Errors<'_>) -> Markup {
    let custom = form.notify == NOTIFY_CUSTOM;
    html! {
        fieldset data-test="run-policies" {
            legend { "Run policies" }
            div.row {
                div.field {
                    label for="f-jitter" { "Jitter" }
                    input id="f-jitter" name="jitter" value=(form.jitter) placeholder="none"
                        autocomplete="off" spellcheck="false" aria-describedby=[errs.described("jitter")];
                    span.hint { "A Go duration up to 24h (30s, 5m, 1h30m): each timed fire starts up to this much late, the same delay on every server. Empty: none." }
                    (errs.at("jitter"))
                }
                div.field {
                    label for="f-pause-on-failure" { "Pause on failure" }
                    input id="f-pause-on-failure" name="pause_on_failure" value=(form.pause_on_failure)
                        inputmode="numeric" aria-describedby=[errs.described("pause_on_failure")];
                    span.hint { "Disable the job after this many failed runs in a row; 0: never." }
                    (errs.at("pause_on_failure"))
                }
            }
            div.field {
                label for="f-run-on" { "Runs when its parent" }
                select id="f-run-on" name="run_on" aria-describedby=[errs.described("run_on")] {
                    @for (value, words) in [
                        (RunOn::Success, "succeeded (success)"),
                        (RunOn::Failure, "failed (failure)"),
                        (RunOn::Always, "ended, whatever the outcome (always)"),
                    ] {
                        option value=(value.as_str()) selected[form.run_on == value.as_str()] { (words) }
                    }
                }
                span.hint { "Only for a job with a parent job; any other job keeps “succeeded”." }
                (errs.at("run_on"))
            }
        }
        fieldset data-test="notify" {
            legend { "Notifications" }
            div.field {
                label for="f-notify" { "Rule" }
                select id="f-notify" name="notify" aria-describedby=[errs.described("notify")] {
                    option value=(NOTIFY_DEFAULT) selected[!custom] { "The servers' default: every configured channel, every finished run" }
                    option value=(NOTIFY_CUSTOM) selected[custom] { "This job's own rule, below" }
                }
                span.hint { "The boxes below count only with this job's own rule." }
                (errs.at("notify"))
            }
            div.field {
                span.label id="l-notify-channels" { "Channels" }
                div.checks role="group" aria-labelledby="l-notify-channels" {
                    @for channel in Channel::ALL {
                        @let id = format!("f-notify-{}", channel.as_str());
                        span.check {
                            input id=(id) name="notify.channels" type="checkbox" value=(channel.as_str())
                                checked[form.notify_channels.iter().any(|c| c == channel.as_str())];
                            label for=(id) { (channel_label(channel)) }
                        }
                    }
                }
                span.hint { "Only channels the servers configure send anything; none checked: no notification." }
                (errs.at("notify.channels"))
            }
            div.field {
                span.label id="l-notify-when" { "Notify a finished run that" }
                div.checks role="group" aria-labelledby="l-notify-when" {
                    @for (name, words, on) in [
                        ("notify.on_success", "succeeded", form.notify_on_success),
                        ("notify.on_failure", "failed (retries used up)", form.notify_on_failure),
                        ("notify.on_recovery", "succeeded after a failed run", form.notify_on_recovery),
                    ] {
                        @let id = format!("f-{}", name.replace('.', "-"));
                        span.check {
                            input id=(id) name=(name) type="checkbox" value="true" checked[on];
                            label for=(id) { (words) }
                        }
                    }
                }
                (errs.at("notify.on_success"))
                (errs.at("notify.on_failure"))
                (errs.at("notify.on_recovery"))
            }
        }
    }
}
