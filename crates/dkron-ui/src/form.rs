//! The job form: its fields as typed (so a refused form is shown again as it was), read from a
//! job for editing, and turned into a job for the cluster. Field names are the job's JSON names.

use std::collections::BTreeMap;

use dkron_model::{Concurrency, Job};

use crate::links::Pairs;

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
}

impl JobForm {
    /// A new job's form: shell executor, allowed overlap.
    pub(crate) fn blank() -> JobForm {
        JobForm {
            executor: "shell".to_owned(),
            concurrency: Concurrency::Allow.as_str().to_owned(),
            retries: "0".to_owned(),
            ..JobForm::default()
        }
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
        }
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
        let retries = if self.retries.is_empty() {
            0
        } else {
            self.retries.parse::<u32>().unwrap_or_else(|_| {
                errors.push(FieldError::new(
                    "retries",
                    "retries must be a whole number from 0 to 4294967295",
                ));
                0
            })
        };
        let concurrency = self.concurrency.parse::<Concurrency>().unwrap_or_else(|e| {
            errors.push(FieldError::new("concurrency", e.to_string()));
            Concurrency::Allow
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
        Ok(job)
    }
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
    use dkron_model::{Concurrency, Job};

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
}
