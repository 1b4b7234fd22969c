//! A job's schedule explained: in words (dkron-cron's description) and as its next fire
//! instants in the job's zone, within its `starts_at`/`expires_at` window. The job page and the
//! form's live preview both use it.

use dkron_model::{Job, RunOn};
use jiff::Timestamp;
use maud::{Markup, html};
use serde::Serialize;

use crate::fmt;

/// Fires listed on the job page and in the preview.
pub(crate) const NEXT_FIRES: usize = 5;

/// What a schedule means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Explanation {
    /// The schedule in words, or why it is not valid.
    pub(crate) words: Result<String, String>,
    /// The zone the fires are shown in (`UTC` when the job names none).
    pub(crate) zone: String,
    /// The next fires after now, formatted in that zone.
    pub(crate) fires: Vec<(Timestamp, String)>,
}

/// Explains `job`'s schedule as of `now`.
pub(crate) fn explain(job: &Job, now: Timestamp) -> Explanation {
    let schedule = match job.job_schedule() {
        Ok(Some(schedule)) => schedule,
        // A child job: its parent triggers it.
        Ok(None) => {
            return Explanation {
                words: Ok(format!(
                    "runs when {} {} (the schedule is not used)",
                    match job.parents().collect::<Vec<_>>().as_slice() {
                        [one] => format!("its parent job {one}"),
                        several => format!("each of its parent jobs {}", several.join(", ")),
                    },
                    match job.run_on {
                        RunOn::Success => "succeeds",
                        RunOn::Failure => "fails",
                        RunOn::Always => "ends",
                    }
                )),
                zone: "UTC".to_owned(),
                fires: Vec::new(),
            };
        }
        Err(error) => {
            return Explanation {
                words: Err(error.to_string()),
                zone: String::new(),
                fires: Vec::new(),
            };
        }
    };
    let tz = schedule.time_zone().clone();
    // Jittered instants: when the job will really start (as `/next`).
    let fires = job
        .upcoming_fires(&schedule, now, NEXT_FIRES)
        .into_iter()
        .map(|fire| (fire, fmt::zoned(fire, &tz)))
        .collect();
    Explanation {
        words: Ok(schedule.schedule().describe().to_string()),
        zone: tz.iana_name().unwrap_or("UTC").to_owned(),
        fires,
    }
}

impl Explanation {
    /// The preview under the form's schedule field.
    pub(crate) fn preview(&self) -> Markup {
        html! {
            @match &self.words {
                Ok(words) => {
                    p { (words) }
                    @if !self.fires.is_empty() {
                        ul { @for (_, fire) in &self.fires { li { (fire) } } }
                    }
                }
                Err(error) => p.preview-error { (error) },
            }
        }
    }

    /// The preview as JSON for the script (`GET /ui/schedule`).
    pub(crate) fn json(&self) -> PreviewJson {
        match &self.words {
            Ok(words) => PreviewJson {
                description: words.clone(),
                error: None,
                next: self.fires.iter().map(|(_, f)| f.clone()).collect(),
            },
            Err(error) => PreviewJson {
                description: String::new(),
                error: Some(error.clone()),
                next: Vec::new(),
            },
        }
    }
}

/// The JSON answer of the schedule preview route.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PreviewJson {
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    next: Vec<String>,
}

#[cfg(test)]
mod tests {
    use dkron_model::Job;
    use jiff::Timestamp;

    use super::explain;

    fn job(schedule: &str, timezone: &str) -> Job {
        let mut job = Job::new("j");
        job.schedule = schedule.to_owned();
        job.timezone = timezone.to_owned();
        job
    }

    #[test]
    fn fires_are_listed_in_the_jobs_zone() {
        let now: Timestamp = "2026-07-01T00:00:00Z".parse().expect("valid");
        let explained = explain(&job("0 30 9 * * *", "Europe/Paris"), now);
        assert_eq!(explained.words.as_deref(), Ok("every day at 09:30"));
        assert_eq!(explained.zone, "Europe/Paris");
        let fires: Vec<&str> = explained.fires.iter().map(|(_, f)| f.as_str()).collect();
        assert_eq!(fires.len(), 5);
        assert_eq!(fires[0], "2026-07-01 09:30:00 CEST (+02:00)");
        assert_eq!(fires[4], "2026-07-05 09:30:00 CEST (+02:00)");
    }

    #[test]
    fn bad_schedules_and_children_say_why() {
        let now = Timestamp::UNIX_EPOCH;
        let bad = explain(&job("61 * * * * *", ""), now);
        assert!(bad.words.is_err(), "{bad:?}");
        assert!(bad.fires.is_empty());
        let zone = explain(&job("@daily", "Mars/Olympus"), now);
        assert!(
            zone.words
                .expect_err("unknown zone")
                .contains("Mars/Olympus")
        );
        let mut child = job("", "");
        child.parent_job = Some("parent".into());
        let child = explain(&child, now);
        assert!(
            child
                .words
                .expect("explained")
                .contains("parent job parent")
        );
        assert!(child.fires.is_empty());
        let manual = explain(&job("@manually", ""), now);
        assert!(manual.words.is_ok());
        assert!(manual.fires.is_empty());
    }
}
