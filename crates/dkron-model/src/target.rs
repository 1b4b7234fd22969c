//! Tag targeting: which members run a fire (dkron's `getTargetNodes`, `reference/dkron.md` §4.4).

use std::collections::BTreeMap;

use rand::{Rng, RngCore};

use crate::Member;

#[cfg(test)]
mod tests;

/// A job's `tags` split into what to match and how many nodes to take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// Tag key → value every target must carry (the `:count` suffixes removed).
    pub tags: BTreeMap<String, String>,
    /// Most targets to pick; `None` = every qualifying member. A malformed count gives
    /// `Some(0)`, so the fire has no target (dkron returns an error and runs nowhere).
    pub limit: Option<usize>,
}

impl TargetSpec {
    /// Parses `"tag": "value[:count]"` entries.
    ///
    /// As in dkron: a value is cut at its first `:`; a count is read only when the value has
    /// exactly one `:`; the smallest count across tags wins; a count that is not an integer
    /// selects nothing; a negative count selects nothing.
    pub fn parse(tags: &BTreeMap<String, String>) -> TargetSpec {
        let mut limit: Option<usize> = None;
        let mut malformed = false;
        let tags = tags
            .iter()
            .map(|(key, value)| {
                let mut parts = value.split(':');
                let bare = parts.next().unwrap_or_default();
                let rest: Vec<&str> = parts.collect();
                if let [count] = rest.as_slice() {
                    // Go's strconv.Atoi: optional sign, decimal digits.
                    match count.parse::<i64>() {
                        Ok(n) => {
                            let n = usize::try_from(n).unwrap_or(0);
                            limit = Some(limit.map_or(n, |l| l.min(n)));
                        }
                        Err(_) => malformed = true,
                    }
                }
                (key.clone(), bare.to_owned())
            })
            .collect();
        TargetSpec {
            tags,
            limit: if malformed { Some(0) } else { limit },
        }
    }

    /// Whether `member` carries every tag of the spec with exactly the given value.
    pub fn matches(&self, member: &Member) -> bool {
        self.tags
            .iter()
            .all(|(key, value)| member.tag(key).is_some_and(|v| v == value.as_str()))
    }
}

/// Picks the members a fire of a job with `tags` runs on.
///
/// Qualifying members are alive, in `region`, and match every tag ([`TargetSpec::matches`]).
/// If at most `limit` qualify, all are returned in `members` order; otherwise `limit` distinct
/// ones are drawn uniformly at random with `rng` (partial Fisher–Yates), in draw order. Empty
/// `tags` select every alive member of the region.
pub fn select_targets<'m>(
    tags: &BTreeMap<String, String>,
    members: &'m [Member],
    region: &str,
    rng: &mut dyn RngCore,
) -> Vec<&'m Member> {
    let spec = TargetSpec::parse(tags);
    let mut qualifying: Vec<&Member> = members
        .iter()
        .filter(|m| m.is_alive() && m.region == region && spec.matches(m))
        .collect();
    let Some(limit) = spec.limit else {
        return qualifying;
    };
    if qualifying.len() <= limit {
        return qualifying;
    }
    let n = qualifying.len();
    for i in 0..limit {
        let j = rng.random_range(i..n);
        qualifying.swap(i, j);
    }
    qualifying.truncate(limit);
    qualifying
}
