//! The job page's run policies and notification rule, in words.

use dkron_model::{Channel, Concurrency, Job, NotifyPolicy, RunOn};
use jiff::SignedDuration;
use maud::{Markup, html};

use crate::{fmt, links::segment, views::Ctx};

/// The panel: one sentence per policy, each with the field's value in parentheses.
pub(super) fn render(ctx: &Ctx, job: &Job) -> Markup {
    html! {
        section.panel aria-label="Run policies and notifications" data-test="policies" {
            ul.policies {
                li data-test="concurrency-words" { (concurrency(job.concurrency)) }
                li data-test="jitter-words" { (jitter(job)) }
                li data-test="pause-words" { (pause(job)) }
                @if let Some(parent) = job.parent_job.as_deref().filter(|p| !p.is_empty()) {
                    li data-test="run-on-words" {
                        "Runs after its parent "
                        a href=(ctx.link(&format!("jobs/{}", segment(parent)))) { (parent) }
                        " " (run_on(job.run_on))
                    }
                }
                li data-test="notify-words" { (notify(job.notify.as_ref())) }
            }
        }
    }
}

fn concurrency(policy: Concurrency) -> String {
    let words = match policy {
        Concurrency::Allow => "A fire runs even while a run of the job is going",
        Concurrency::Forbid => "A fire is skipped while a run of the job is going",
        Concurrency::Replace => "A fire cancels the run that is going, then starts",
        Concurrency::BufferOne => {
            "A fire while a run is going waits and starts when it ends; later ones meanwhile are skipped"
        }
        Concurrency::BufferAll => {
            "Fires while a run is going wait (up to 1000) and start one after the other, oldest first"
        }
    };
    format!("{words} (concurrency: {}).", policy.as_str())
}

fn jitter(job: &Job) -> String {
    if job.jitter.is_zero() {
        return "Timed fires start at their scheduled time (no jitter).".to_owned();
    }
    let span = SignedDuration::try_from(job.jitter).unwrap_or(SignedDuration::MAX);
    format!(
        "Each timed fire starts up to {} after its scheduled time, the same delay on every server (jitter: {}).",
        fmt::duration(span),
        fmt::go_duration(job.jitter)
    )
}

fn pause(job: &Job) -> String {
    match job.pause_on_failure {
        0 => "Failed runs never disable the job (pause_on_failure: 0).".to_owned(),
        n => format!(
            "The cluster disables the job after {n} consecutive failed runs; {} so far (pause_on_failure: {n}).",
            job.consecutive_failures
        ),
    }
}

fn run_on(policy: RunOn) -> &'static str {
    match policy {
        RunOn::Success => "succeeds (run_on: success).",
        RunOn::Failure => "fails, once its retries are used up (run_on: failure).",
        RunOn::Always => "ends, whatever the outcome (run_on: always).",
    }
}

/// `notify` in words: which channels, and which finished runs.
fn notify(policy: Option<&NotifyPolicy>) -> String {
    let Some(policy) = policy else {
        return "Notifications: the servers' default, every configured channel for every finished run (notify: none)."
            .to_owned();
    };
    let channels = match policy.channels.as_deref() {
        None => "every configured channel".to_owned(),
        Some([]) => {
            return "Notifications: none, no channel is chosen (notify.channels: []).".to_owned();
        }
        Some(list) => list
            .iter()
            .map(|c| Channel::as_str(*c))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut when = Vec::new();
    if policy.on_success {
        when.push("every success");
    } else if policy.on_recovery {
        when.push("the first success after a failed run");
    }
    if policy.on_failure {
        when.push("every failure");
    }
    let when = if when.is_empty() {
        "no finished run (starts still go to pre_webhook and cronitor)".to_owned()
    } else {
        when.join(" and ")
    };
    format!("Notifications on {channels}: {when}.")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use dkron_model::{Channel, Concurrency, Job, NotifyPolicy};

    use super::{concurrency, jitter, notify, pause};

    #[test]
    fn notify_reads_as_channels_and_outcomes() {
        assert!(notify(None).contains("servers' default"));
        let failures = NotifyPolicy {
            channels: Some(vec![Channel::Mail, Channel::Webhook]),
            on_success: false,
            ..NotifyPolicy::default()
        };
        assert_eq!(
            notify(Some(&failures)),
            "Notifications on mail, webhook: the first success after a failed run and every failure."
        );
        let everything = NotifyPolicy::default();
        assert_eq!(
            notify(Some(&everything)),
            "Notifications on every configured channel: every success and every failure."
        );
        let silent = NotifyPolicy {
            channels: Some(Vec::new()),
            ..NotifyPolicy::default()
        };
        assert!(notify(Some(&silent)).starts_with("Notifications: none"));
        let starts_only = NotifyPolicy {
            on_success: false,
            on_failure: false,
            on_recovery: false,
            ..NotifyPolicy::default()
        };
        assert!(notify(Some(&starts_only)).contains("no finished run"));
    }

    #[test]
    fn policies_read_with_their_values() {
        let mut job = Job::new("x");
        assert!(jitter(&job).contains("no jitter"));
        job.jitter = Duration::from_secs(300);
        assert!(jitter(&job).contains("up to 5 min 00 s") && jitter(&job).contains("jitter: 5m"));
        assert!(pause(&job).contains("never"));
        job.pause_on_failure = 3;
        job.consecutive_failures = 1;
        assert!(pause(&job).contains("after 3 consecutive failed runs; 1 so far"));
        assert!(concurrency(Concurrency::BufferOne).ends_with("(concurrency: buffer_one)."));
    }
}
