//! The job form: its fields as typed (so a refused form is shown again as it was), read from a
//! job for editing, and turned into a job for the cluster. Field names are the job's JSON names.

use std::{collections::BTreeMap, time::Duration};

use dkron_model::{Channel, Concurrency, Job, NotifyPolicy, RunOn};

use crate::{fmt, links::Pairs};

/// One problem with a submitted form, shown next to `field` (a JSON field name; empty: the
/// form as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: String,
    pub(crate) message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The key of the shell command inside `executor_config`, which gets a field of its own.
pub(crate) const COMMAND: &str = "command";

/// The form's values as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct JobForm {
    pub(crate) name: String,
    pub(crate) displayname: String,
    pub(crate) schedule: String,
    pub(crate) timezone: String,
    pub(crate) owner: String,
    pub(crate) owner_email: String,
    pub(crate) parent_job: String,
    pub(crate) executor: String,
    /// `executor_config.command`.
    pub(crate) command: String,
    /// The rest of `executor_config`, one `key=value` a line.
    pub(crate) executor_config: String,
    pub(crate) tags: String,
    pub(crate) metadata: String,
    pub(crate) retries: String,
    pub(crate) concurrency: String,
    pub(crate) disabled: bool,
    pub(crate) ephemeral: bool,
    /// A Go duration; empty for none.
    pub(crate) jitter: String,
    pub(crate) pause_on_failure: String,
    pub(crate) run_on: String,
    /// [`NOTIFY_DEFAULT`] (no `notify`: the servers' rule) or [`NOTIFY_CUSTOM`] (the fields below).
    pub(crate) notify: String,
    /// `notify.channels`: the checked channels' names (all of them stand for `null`).
    pub(crate) notify_channels: Vec<String>,
    pub(crate) notify_on_success: bool,
    pub(crate) notify_on_failure: bool,
    pub(crate) notify_on_recovery: bool,
}

/// The `notify` choice for no policy of the job's own.
pub(crate) const NOTIFY_DEFAULT: &str = "default";
/// The `notify` choice for the policy in the `notify.*` fields.
pub(crate) const NOTIFY_CUSTOM: &str = "custom";

impl JobForm {
    /// A new job's form: shell executor, allowed overlap.
    pub(crate) fn blank() -> JobForm {
        JobForm {
            executor: "shell".to_owned(),
            concurrency: Concurrency::Allow.as_str().to_owned(),
            retries: "0".to_owned(),
            pause_on_failure: "0".to_owned(),
            run_on: RunOn::Success.as_str().to_owned(),
            ..JobForm::default()
        }
        .with_notify(None)
    }

    /// The `notify` fields for `policy`; without one, every box is checked (the servers' rule),
    /// so that choosing "custom" starts from it.
    fn with_notify(mut self, policy: Option<&NotifyPolicy>) -> JobForm {
        let shown = policy.cloned().unwrap_or_default();
        let channels = shown.channels.unwrap_or_else(|| Channel::ALL.to_vec());
        self.notify = if policy.is_some() {
            NOTIFY_CUSTOM
        } else {
            NOTIFY_DEFAULT
        }
        .to_owned();
        self.notify_channels = channels.iter().map(|c| c.as_str().to_owned()).collect();
        self.notify_on_success = shown.on_success;
        self.notify_on_failure = shown.on_failure;
        self.notify_on_recovery = shown.on_recovery;
        self
    }

    /// The form filled from a stored job.
    pub(crate) fn from_job(job: &Job) -> JobForm {
        let mut config = job.executor_config.clone();
        let command = config.remove(COMMAND).unwrap_or_default();
        JobForm {
            name: job.name.clone(),
            displayname: job.display_name.clone(),
            schedule: job.schedule.clone(),
            timezone: job.timezone.clone(),
            owner: job.owner.clone(),
            owner_email: job.owner_email.clone(),
            parent_job: job.parents().collect::<Vec<_>>().join(", "),
            executor: job.executor.clone(),
            command,
            executor_config: lines(&config),
            tags: lines(&job.tags),
            metadata: lines(&job.metadata),
            retries: job.retries.to_string(),
            concurrency: job.concurrency.as_str().to_owned(),
            disabled: job.disabled,
            ephemeral: job.ephemeral,
            jitter: fmt::go_duration(job.jitter),
            pause_on_failure: job.pause_on_failure.to_string(),
            run_on: job.run_on.as_str().to_owned(),
            ..JobForm::default()
        }
        .with_notify(job.notify.as_ref())
    }

    /// The form as submitted (`application/x-www-form-urlencoded`); a checkbox is on when sent.
    pub(crate) fn from_pairs(pairs: &Pairs) -> JobForm {
        let text = |key: &str| pairs.get(key).unwrap_or_default().to_owned();
        JobForm {
            name: text("name").trim().to_owned(),
            displayname: text("displayname"),
            schedule: text("schedule").trim().to_owned(),
            timezone: text("timezone").trim().to_owned(),
            owner: text("owner"),
            owner_email: text("owner_email").trim().to_owned(),
            parent_job: text("parent_job").trim().to_owned(),
            executor: text("executor").trim().to_owned(),
            command: text("executor_config.command"),
            executor_config: text("executor_config"),
            tags: text("tags"),
            metadata: text("metadata"),
            retries: text("retries").trim().to_owned(),
            concurrency: text("concurrency").trim().to_owned(),
            disabled: pairs.get("disabled").is_some(),
            ephemeral: pairs.get("ephemeral").is_some(),
            jitter: text("jitter").trim().to_owned(),
            pause_on_failure: text("pause_on_failure").trim().to_owned(),
            run_on: text("run_on").trim().to_owned(),
            notify: text("notify").trim().to_owned(),
            notify_channels: pairs.all("notify.channels").map(str::to_owned).collect(),
            notify_on_success: pairs.get("notify.on_success").is_some(),
            notify_on_failure: pairs.get("notify.on_failure").is_some(),
            notify_on_recovery: pairs.get("notify.on_recovery").is_some(),
        }
    }

    /// Writes the parent field over `job`'s parents: one name is `parent_job`, several
    /// (comma-separated) are `parent_jobs`.
    pub(crate) fn set_parents(&self, job: &mut Job) {
        job.parent_job = None;
        job.parent_jobs = self
            .parent_job
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        job.normalize_parents();
    }

    /// `job` with the form's fields written over it (the fields the form does not show stay as
    /// they are), or every problem the form has. The job's own rules
    /// ([`Job::validate`]) are checked by the caller, as the API does.
    pub(crate) fn apply(&self, mut job: Job) -> Result<Job, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut keyed = |field: &str, text: &str| {
            key_values(text).unwrap_or_else(|message| {
                errors.push(FieldError::new(field, message));
                BTreeMap::new()
            })
        };
        let mut config = keyed("executor_config", &self.executor_config);
        let tags = keyed("tags", &self.tags);
        let metadata = keyed("metadata", &self.metadata);
        if !self.command.trim().is_empty() {
            config.insert(COMMAND.to_owned(), self.command.clone());
        }
        let retries = count("retries", &self.retries, &mut errors);
        let concurrency = self.concurrency.parse::<Concurrency>().unwrap_or_else(|e| {
            errors.push(FieldError::new("concurrency", e.to_string()));
            Concurrency::Allow
        });
        let jitter = jitter(&self.jitter).unwrap_or_else(|message| {
            errors.push(FieldError::new("jitter", message));
            Duration::ZERO
        });
        let pause_on_failure = count("pause_on_failure", &self.pause_on_failure, &mut errors);
        let run_on = self.run_on.parse::<RunOn>().unwrap_or_else(|e| {
            errors.push(FieldError::new("run_on", e.to_string()));
            RunOn::Success
        });
        let notify = self.notify_policy().unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        job.name.clone_from(&self.name);
        job.display_name.clone_from(&self.displayname);
        job.schedule.clone_from(&self.schedule);
        job.timezone.clone_from(&self.timezone);
        job.owner.clone_from(&self.owner);
        job.owner_email.clone_from(&self.owner_email);
        self.set_parents(&mut job);
        job.executor.clone_from(&self.executor);
        job.executor_config = config;
        job.tags = tags;
        job.metadata = metadata;
        job.retries = retries;
        job.concurrency = concurrency;
        job.disabled = self.disabled;
        job.ephemeral = self.ephemeral;
        job.jitter = jitter;
        job.pause_on_failure = pause_on_failure;
        job.run_on = run_on;
        job.notify = notify;
        Ok(job)
    }

    /// The `notify` fields as a policy; `None` for the servers' rule.
    fn notify_policy(&self) -> Result<Option<NotifyPolicy>, FieldError> {
        match self.notify.as_str() {
            "" | NOTIFY_DEFAULT => return Ok(None),
            NOTIFY_CUSTOM => {}
            other => {
                return Err(FieldError::new(
                    "notify",
                    format!("unknown choice {other:?}: {NOTIFY_DEFAULT} or {NOTIFY_CUSTOM}"),
                ));
            }
        }
        let mut channels = Vec::new();
        for name in &self.notify_channels {
            let channel = name
                .parse::<Channel>()
                .map_err(|message| FieldError::new("notify.channels", message))?;
            if !channels.contains(&channel) {
                channels.push(channel);
            }
        }
        // Every channel checked is the same as no list (all); keep the stored form short.
        let channels = (channels.len() < Channel::ALL.len()).then(|| {
            channels.sort();
            channels
        });
        Ok(Some(NotifyPolicy {
            channels,
            on_success: self.notify_on_success,
            on_failure: self.notify_on_failure,
            on_recovery: self.notify_on_recovery,
        }))
    }
}

/// A whole number field (`retries`, `pause_on_failure`); empty is 0.
fn count(field: &str, text: &str, errors: &mut Vec<FieldError>) -> u32 {
    if text.is_empty() {
        return 0;
    }
    text.parse::<u32>().unwrap_or_else(|_| {
        errors.push(FieldError::new(
            field,
            format!("{field} must be a whole number from 0 to 4294967295"),
        ));
        0
    })
}

/// `jitter`: a Go duration (`30s`, `5m`, `1h30m`); empty for none. Its upper bound is the
/// model's ([`Job::validate`]).
fn jitter(text: &str) -> Result<Duration, String> {
    if text.is_empty() {
        return Ok(Duration::ZERO);
    }
    let parsed = dkron_cron::parse_go_duration(text).map_err(|e| e.to_string())?;
    Duration::try_from(parsed).map_err(|_| "jitter must not be negative".to_owned())
}

/// A map as `key=value` lines.
fn lines(map: &BTreeMap<String, String>) -> String {
    map.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// `key=value` lines (blank lines ignored) into a map; the first bad line is the error.
fn key_values(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected key=value", number + 1));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("line {}: the key is empty", number + 1));
        }
        map.insert(key.to_owned(), value.trim().to_owned());
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use dkron_model::{Channel, Concurrency, Job, NotifyPolicy, RunOn};

    use super::{FieldError, JobForm};
    use crate::links::Pairs;

    fn submitted(body: &str) -> JobForm {
        JobForm::from_pairs(&Pairs::parse(body.as_bytes()))
    }

    #[test]
    fn a_submitted_form_becomes_a_job() {
        let form = submitted(
            "name=+backup+&displayname=Nightly&schedule=0+30+2+*+*+*&timezone=Europe%2FParis\
             &executor=shell&executor_config.command=echo+hi&executor_config=timeout%3D1m\
             &tags=role%3Dweb%0D%0A%0D%0Adc%3Deu&metadata=team%3Dops&retries=2\
             &concurrency=forbid&disabled=on",
        );
        let job = form.apply(Job::default()).expect("valid form");
        assert_eq!(job.name, "backup");
        assert_eq!(job.display_name, "Nightly");
        assert_eq!(job.schedule, "0 30 2 * * *");
        assert_eq!(job.timezone, "Europe/Paris");
        assert_eq!(job.executor_config["command"], "echo hi");
        assert_eq!(job.executor_config["timeout"], "1m");
        assert_eq!(job.tags["role"], "web");
        assert_eq!(job.tags["dc"], "eu");
        assert_eq!(job.metadata["team"], "ops");
        assert_eq!(job.retries, 2);
        assert_eq!(job.concurrency, Concurrency::Forbid);
        assert!(job.disabled);
        assert!(!job.ephemeral);
        assert_eq!(job.parent_job, None);
    }

    #[test]
    fn editing_keeps_what_the_form_does_not_show() {
        let mut stored = Job::new("backup");
        stored.history_limit = Some(7);
        stored.processors.insert("log".into(), Default::default());
        stored
            .executor_config
            .insert("command".into(), "old".into());
        stored.tags.insert("role".into(), "web".into());
        let mut form = JobForm::from_job(&stored);
        assert_eq!(form.command, "old");
        assert_eq!(form.tags, "role=web\n");
        form.command = "new".into();
        let job = form.apply(stored.clone()).expect("valid");
        assert_eq!(job.history_limit, Some(7));
        assert!(job.processors.contains_key("log"));
        assert_eq!(job.executor_config["command"], "new");
        // A form read from a job and applied unchanged gives the job back.
        assert_eq!(JobForm::from_job(&stored).apply(stored.clone()), Ok(stored));
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let form = submitted("name=x&retries=-1&concurrency=sometimes&tags=novalue&metadata=%3Dv");
        let errors = form.apply(Job::default()).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["tags", "metadata", "retries", "concurrency"]);
        assert_eq!(
            errors[0],
            FieldError::new("tags", "line 1: expected key=value")
        );
        assert_eq!(errors[1].message, "line 1: the key is empty");
    }

    #[test]
    fn run_policies_and_notify_become_the_job_fields() {
        let form = submitted(
            "name=child&parent_job=parent&concurrency=allow&jitter=1h30m&pause_on_failure=3\
             &run_on=always&notify=custom&notify.channels=webhook&notify.channels=mail\
             &notify.on_failure=true&notify.on_recovery=true",
        );
        let job = form.apply(Job::default()).expect("valid form");
        assert_eq!(job.jitter, Duration::from_secs(5400));
        assert_eq!(job.pause_on_failure, 3);
        assert_eq!(job.run_on, RunOn::Always);
        assert_eq!(
            job.notify,
            Some(NotifyPolicy {
                channels: Some(vec![Channel::Mail, Channel::Webhook]),
                on_success: false,
                on_failure: true,
                on_recovery: true,
            })
        );
    }

    #[test]
    fn the_default_notify_choice_is_no_policy_and_all_channels_are_no_list() {
        let defaults = submitted(
            "name=x&concurrency=allow&notify=default&notify.channels=mail&notify.on_success=true",
        );
        let job = defaults.apply(Job::default()).expect("valid");
        assert_eq!(job.notify, None);
        assert_eq!(job.jitter, Duration::ZERO);
        assert_eq!(job.pause_on_failure, 0);
        assert_eq!(job.run_on, RunOn::Success);
        // A form without these fields at all (an older page, a script) gives the defaults too.
        assert_eq!(
            submitted("name=x&concurrency=allow").apply(Job::default()),
            Ok(job)
        );
        let every = submitted(
            "name=x&concurrency=allow&notify=custom&notify.channels=mail&notify.channels=webhook\
             &notify.channels=pre_webhook&notify.channels=cronitor",
        );
        let policy = every.apply(Job::default()).expect("valid").notify;
        let expected = NotifyPolicy {
            channels: None,
            on_success: false,
            on_failure: false,
            on_recovery: false,
        };
        assert_eq!(policy, Some(expected));
        // No channel checked: a policy that sends nothing, not the default.
        let none = submitted("name=x&concurrency=allow&notify=custom&notify.on_failure=true");
        let policy = none
            .apply(Job::default())
            .expect("valid")
            .notify
            .expect("custom");
        assert_eq!(policy.channels, Some(Vec::new()));
    }

    #[test]
    fn editing_keeps_the_policies_and_the_notify_rule() {
        let mut stored = Job::new("child");
        stored.parent_job = Some("parent".into());
        stored.jitter = Duration::from_millis(2500);
        stored.pause_on_failure = 4;
        stored.run_on = RunOn::Failure;
        stored.notify = Some(NotifyPolicy {
            channels: Some(vec![Channel::Cronitor]),
            on_success: false,
            ..NotifyPolicy::default()
        });
        let form = JobForm::from_job(&stored);
        assert_eq!(form.jitter, "2500ms");
        assert_eq!(form.notify, "custom");
        assert_eq!(form.notify_channels, ["cronitor"]);
        assert_eq!(form.apply(stored.clone()), Ok(stored.clone()));
        // The servers' default, and a policy with every key at its default, both survive.
        for notify in [None, Some(NotifyPolicy::default())] {
            let job = Job {
                notify,
                ..stored.clone()
            };
            assert_eq!(JobForm::from_job(&job).apply(job.clone()), Ok(job));
        }
        // A new job's form starts with everything checked and no policy.
        let blank = JobForm::blank();
        assert_eq!(blank.notify, "default");
        assert_eq!(blank.notify_channels.len(), Channel::ALL.len());
        assert!(blank.notify_on_success && blank.notify_on_failure && blank.notify_on_recovery);
    }

    #[test]
    fn bad_policies_are_reported_at_their_fields() {
        let form = submitted(
            "name=x&concurrency=allow&jitter=soon&pause_on_failure=-2&run_on=sometimes\
             &notify=custom&notify.channels=sms",
        );
        let errors = form.apply(Job::default()).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["jitter", "pause_on_failure", "run_on", "notify.channels"]
        );
        assert!(errors[3].message.contains("sms"), "{:?}", errors[3]);
        let negative = submitted("name=x&concurrency=allow&jitter=-5m");
        let errors = negative.apply(Job::default()).expect_err("invalid");
        assert_eq!(
            errors,
            [FieldError::new("jitter", "jitter must not be negative")]
        );
        let choice = submitted("name=x&concurrency=allow&notify=sometimes");
        let errors = choice.apply(Job::default()).expect_err("invalid");
        assert_eq!(errors[0].field, "notify");
    }
}
