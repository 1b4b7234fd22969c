//! Job validation: dkron's rules and messages (`reference/dkron.md` §2.3), plus ours.

use crate::{Error, Job, MAX_JITTER, MisfirePolicy, RunOn, job::time_zone_named};

#[cfg(test)]
mod tests;

/// Longest parent chain [`validate_parent_chain`] follows before giving up.
pub const MAX_PARENT_CHAIN: usize = 1000;

impl Job {
    /// Checks the job on its own, in dkron's order, returning the first problem:
    ///
    /// 1. name not empty, only `\p{Ll}`, `0-9`, `_`, `-` ([`validate_name`]);
    /// 2. `parent_job` is not the job itself, and `parent_jobs` is well formed (no empty,
    ///    repeated or own name, at most [`crate::MAX_PARENTS`], not beside a different
    ///    `parent_job`);
    /// 3. the schedule parses (with `~` derived from the name) when it is non-empty or the job
    ///    has no parent;
    /// 4. the time zone exists;
    /// 5. for `executor == "shell"`: `executor_config.timeout` is a Go duration and
    ///    `executor_config.mem_limit` a positive size ([`parse_mem_limit`]);
    /// 6. dkron-rs: `retry_backoff.initial <= retry_backoff.max`, a `catch_up` window is not
    ///    zero, `history_limit != Some(0)`, `jitter <= MAX_JITTER`, and a `run_on` other than
    ///    `success` only on a child.
    ///
    /// `concurrency` and `misfire_policy` are typed, so their checks happen when text is parsed
    /// ([`std::str::FromStr`]). Cycles across jobs need the other jobs: see
    /// [`validate_parent_chain`]. Like dkron, this does not check that the executor exists, tag
    /// syntax, processors, or `starts_at < expires_at`.
    ///
    /// # Errors
    /// The first failed rule, as an [`Error`] whose `Display` is dkron's reason text.
    pub fn validate(&self) -> Result<(), Error> {
        validate_name(&self.name)?;
        if self.parent_job.as_deref() == Some(self.name.as_str()) {
            return Err(Error::SelfParent);
        }
        self.validate_parents()?;
        if !self.schedule.is_empty() || !self.is_child() {
            dkron_cron::Schedule::parse_for_job(&self.schedule, &self.name)
                .map_err(|error| Error::Schedule { error })?;
        }
        time_zone_named(&self.timezone)?;
        if self.executor == "shell" {
            if let Some(timeout) = self.executor_config.get("timeout")
                && dkron_cron::parse_go_duration(timeout).is_err()
            {
                return Err(Error::InvalidTimeout {
                    value: timeout.clone(),
                });
            }
            if let Some(limit) = self.executor_config.get("mem_limit") {
                parse_mem_limit(limit)?;
            }
        }
        if self.retry_backoff.initial > self.retry_backoff.max {
            return Err(Error::InvalidRetryBackoff {
                initial: self.retry_backoff.initial,
                max: self.retry_backoff.max,
            });
        }
        if let MisfirePolicy::CatchUp { window } = self.misfire_policy
            && window.is_zero()
        {
            return Err(Error::InvalidMisfirePolicy {
                value: self.misfire_policy.to_string(),
            });
        }
        if self.history_limit == Some(0) {
            return Err(Error::InvalidHistoryLimit);
        }
        if self.jitter > MAX_JITTER {
            return Err(Error::InvalidJitter {
                value: format!("{:?}", self.jitter),
            });
        }
        if self.run_on != RunOn::Success && !self.is_child() {
            return Err(Error::RunOnWithoutParent {
                value: self.run_on.to_string(),
            });
        }
        Ok(())
    }
}

/// Checks a job name: non-empty; only Unicode lower-case letters (general category `Ll`), ASCII
/// digits, `_` and `-`. No length limit (as dkron).
///
/// # Errors
/// [`Error::EmptyName`], or [`Error::IllegalNameChar`] naming the first bad character.
pub fn validate_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::EmptyName);
    }
    match name.chars().find(|&c| !is_name_char(c)) {
        Some(ch) => Err(Error::IllegalNameChar { ch }),
        None => Ok(()),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_digit() || c == '_' || c == '-' || is_lowercase_letter(c)
}

/// Unicode general category `Ll`. std's `is_lowercase` is the wider `Lowercase` property, which
/// is `Ll` plus `Other_Lowercase` (ordinal indicators, modifier letters, small roman numerals,
/// circled letters…), so those are subtracted. Table: `Other_Lowercase` of Unicode 17
/// `PropList.txt` (std's version in Rust 1.95); checked against Python's `unicodedata`
/// categories for every code point up to Unicode 14. dkron (Go) is on Unicode 15, so letters added
/// since are accepted here and rejected there.
fn is_lowercase_letter(c: char) -> bool {
    const OTHER_LOWERCASE: &[(char, char)] = &[
        ('\u{00AA}', '\u{00AA}'),
        ('\u{00BA}', '\u{00BA}'),
        ('\u{02B0}', '\u{02B8}'),
        ('\u{02C0}', '\u{02C1}'),
        ('\u{02E0}', '\u{02E4}'),
        ('\u{0345}', '\u{0345}'),
        ('\u{037A}', '\u{037A}'),
        ('\u{10FC}', '\u{10FC}'),
        ('\u{1D2C}', '\u{1D6A}'),
        ('\u{1D78}', '\u{1D78}'),
        ('\u{1D9B}', '\u{1DBF}'),
        ('\u{2071}', '\u{2071}'),
        ('\u{207F}', '\u{207F}'),
        ('\u{2090}', '\u{209C}'),
        ('\u{2170}', '\u{217F}'),
        ('\u{24D0}', '\u{24E9}'),
        ('\u{2C7C}', '\u{2C7D}'),
        ('\u{A69C}', '\u{A69D}'),
        ('\u{A770}', '\u{A770}'),
        ('\u{A7F1}', '\u{A7F4}'),
        ('\u{A7F8}', '\u{A7F9}'),
        ('\u{AB5C}', '\u{AB5F}'),
        ('\u{AB69}', '\u{AB69}'),
        ('\u{10780}', '\u{10780}'),
        ('\u{10783}', '\u{10785}'),
        ('\u{10787}', '\u{107B0}'),
        ('\u{107B2}', '\u{107BA}'),
        ('\u{1E030}', '\u{1E06D}'),
    ];
    c.is_lowercase()
        && !OTHER_LOWERCASE
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// Walks the parent graph from `job` (`parent_job` and `parent_jobs` links) and rejects a cycle
/// (dkron does not detect them).
///
/// `parents_of(name)` returns the stored parents of another job (empty if it has none or does
/// not exist: existence is the store's check). `job` itself is taken as given, so this
/// validates a job *before* it is written. Each job is expanded once, so a diamond costs no
/// more than a chain.
///
/// # Errors
/// [`Error::ParentCycle`] with the path walked (e.g. `a -> b -> a`), or
/// [`Error::ParentChainTooLong`] after visiting [`MAX_PARENT_CHAIN`] jobs.
pub fn validate_parent_chain(
    job: &Job,
    parents_of: &dyn Fn(&str) -> Vec<String>,
) -> Result<(), Error> {
    let too_long = || Error::ParentChainTooLong {
        job: job.name.clone(),
        max: MAX_PARENT_CHAIN,
    };
    // Depth-first, iterative: `path` is the walk from `job`, `pending[i]` the parents of
    // `path[i]` still to follow; `done` holds jobs whose ancestry is known to be acyclic.
    let mut path = vec![job.name.clone()];
    let mut first: Vec<String> = job.parents().map(str::to_owned).collect();
    first.reverse();
    let mut pending = vec![first];
    let mut done = std::collections::HashSet::new();
    let mut visited = 1usize;
    while let Some(next) = pending.last_mut() {
        let Some(parent) = next.pop() else {
            pending.pop();
            if let Some(finished) = path.pop() {
                done.insert(finished);
            }
            continue;
        };
        if parent.is_empty() || done.contains(&parent) {
            continue;
        }
        if path.contains(&parent) {
            path.push(parent);
            return Err(Error::ParentCycle { chain: path });
        }
        visited += 1;
        if visited > MAX_PARENT_CHAIN {
            return Err(too_long());
        }
        let mut grand: Vec<String> = parents_of(&parent);
        grand.reverse();
        path.push(parent);
        pending.push(grand);
    }
    Ok(())
}

/// Parses the shell executor's `mem_limit`: a positive size in bytes, written as a number
/// (fraction allowed) with an optional unit `B`, `K`/`KB`, `M`/`MB`, `G`/`GB`, `T`/`TB`
/// (case-insensitive, 1024-based). Surrounding and inner blanks are ignored.
///
/// # Errors
/// [`Error::InvalidMemLimit`] for anything else, zero, or more than `u64::MAX` bytes.
pub fn parse_mem_limit(text: &str) -> Result<u64, Error> {
    let invalid = |reason: &str| Error::InvalidMemLimit {
        value: text.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" => 10,
        "M" | "MB" => 20,
        "G" | "GB" => 30,
        "T" | "TB" => 40,
        _ => return Err(invalid(&format!("unknown unit \"{}\"", unit.trim()))),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid("expected a number followed by an optional unit"));
    }
    let too_large = || invalid("size too large");
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    let mut bytes = whole.checked_mul(1 << shift).ok_or_else(too_large)?;
    // Fraction digits past the 19th are ignored: worth far less than a byte for every unit up
    // to TB (2^40 < 10^19), and it keeps 19 digits shifted by 40 bits inside a u128.
    let fraction = &fraction[..fraction.len().min(19)];
    if !fraction.is_empty() {
        let digits: u128 = fraction.parse().map_err(|_| too_large())?;
        let scale = 10u128.pow(u32::try_from(fraction.len()).unwrap_or(19));
        bytes = bytes
            .checked_add((digits << shift) / scale)
            .ok_or_else(too_large)?;
    }
    let bytes = u64::try_from(bytes).map_err(|_| too_large())?;
    if bytes == 0 {
        return Err(invalid("size must be positive"));
    }
    Ok(bytes)
}
