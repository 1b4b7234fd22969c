//! [`Ceilings`]: server-wide upper bounds on what a job may ask for, so no client can grow
//! history, output, retries or key sizes without limit.

use crate::{Error, Job};

#[cfg(test)]
mod tests;

/// The largest values a written job may hold, from the node's configuration. Checked when a
/// job is written ([`Job::check_ceilings`]), not when it is applied: a job stored before a
/// ceiling was lowered keeps running as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ceilings {
    /// Largest `history_limit` (setting `max-history-limit`).
    pub history_limit: u32,
    /// Largest `output_limit`, in bytes (setting `max-output-limit`).
    pub output_limit: u64,
    /// Largest `retries` (setting `max-retries`).
    pub retries: u32,
    /// Longest `name` and `displayname`, in characters (setting `max-job-name-length`).
    pub name_length: usize,
}

impl Ceilings {
    /// The defaults: 1000 executions kept per job (ten times dkron's fixed 100), 1 MiB of
    /// output per execution (four times dkron's 256 000 bytes; an execution travels whole in
    /// a Raft entry), 100 retries, names of 255 characters (a file name's usual limit).
    pub const DEFAULT: Ceilings = Ceilings {
        history_limit: 1000,
        output_limit: 1 << 20,
        retries: 100,
        name_length: 255,
    };
}

impl Job {
    /// Checks the job's `name`, `display_name`, `history_limit`, `output_limit` and `retries`
    /// against `ceilings`; returns the first one above its ceiling.
    ///
    /// # Errors
    /// [`Error::AboveCeiling`] naming the field, its value, the ceiling and the setting.
    pub fn check_ceilings(&self, ceilings: &Ceilings) -> Result<(), Error> {
        let above = |field: &'static str, value: u64, max: u64, setting: &'static str| {
            if value > max {
                Err(Error::AboveCeiling {
                    field,
                    value,
                    max,
                    setting,
                })
            } else {
                Ok(())
            }
        };
        let name_max = ceilings.name_length as u64;
        above(
            "name",
            self.name.chars().count() as u64,
            name_max,
            "max-job-name-length",
        )?;
        above(
            "displayname",
            self.display_name.chars().count() as u64,
            name_max,
            "max-job-name-length",
        )?;
        if let Some(limit) = self.history_limit {
            above(
                "history_limit",
                u64::from(limit),
                u64::from(ceilings.history_limit),
                "max-history-limit",
            )?;
        }
        if let Some(limit) = self.output_limit {
            above(
                "output_limit",
                limit,
                ceilings.output_limit,
                "max-output-limit",
            )?;
        }
        above(
            "retries",
            u64::from(self.retries),
            u64::from(ceilings.retries),
            "max-retries",
        )
    }

    /// Resets the fields the cluster maintains (`success_count`, `error_count`,
    /// `last_success`, `last_error`, `status`, `next`, `dependent_jobs`, `skipped_count`,
    /// `last_skipped`, `parent_ends`) to a new job's
    /// values: what a client sends for them is accepted for compatibility and ignored, and
    /// the stored values win when the job is merged with its stored version.
    pub fn clear_server_fields(&mut self) {
        self.success_count = 0;
        self.error_count = 0;
        self.last_success = None;
        self.last_error = None;
        self.status = crate::JobStatus::Untriggered;
        self.next = None;
        self.dependent_jobs.clear();
        self.skipped_count = 0;
        self.last_skipped = None;
        self.parent_ends.clear();
    }
}
