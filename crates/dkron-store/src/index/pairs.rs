//! [`Pairs`]: a job's metadata as the index keeps it, in two allocations whatever its size.
//!
//! Why: a summary is kept per job on every server, and a boxed string per key and per value
//! (plus the array of pairs) made metadata the largest part of it (docs/benchmarks.md, "Memory
//! per stored job").

use std::collections::BTreeMap;

/// Sorted key/value pairs: every key and value in one string, and where each one ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pairs {
    text: Box<str>,
    /// End offsets in `text`: key 0, value 0, key 1, value 1, …
    ends: Box<[u32]>,
}

impl Pairs {
    /// `None` only if the pairs exceed 4 GiB of text (the index then keeps no metadata for
    /// the job, which matches no metadata filter).
    pub(crate) fn of(map: &BTreeMap<String, String>) -> Option<Pairs> {
        let mut text = String::new();
        let mut ends = Vec::with_capacity(map.len() * 2);
        for (key, value) in map {
            for s in [key, value] {
                text.push_str(s);
                ends.push(u32::try_from(text.len()).ok()?);
            }
        }
        Some(Pairs {
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
        })
    }

    fn len(&self) -> usize {
        self.ends.len() / 2
    }

    /// The `i`th string (keys even, values odd); empty if out of range (never, by
    /// construction).
    fn string(&self, i: usize) -> &str {
        let start = match i.checked_sub(1) {
            Some(before) => self.ends.get(before).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// The value of `key`, by binary search over the sorted keys.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.string(2 * mid).cmp(key) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Some(self.string(2 * mid + 1)),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_key_finds_its_value_and_no_other_key_matches() {
        let source = map(&[
            ("team", "ops"),
            ("", "empty key"),
            ("empty", ""),
            ("ünï", "cødé ✓"),
            ("tier", "1"),
        ]);
        let pairs = Pairs::of(&source).unwrap();
        for (key, value) in &source {
            assert_eq!(pairs.get(key), Some(value.as_str()), "{key}");
        }
        for absent in ["teams", "tea", "zzz", "a", "opsteam"] {
            assert_eq!(pairs.get(absent), None, "{absent}");
        }
    }

    #[test]
    fn no_metadata_matches_nothing() {
        let pairs = Pairs::of(&BTreeMap::new()).unwrap();
        assert_eq!(pairs, Pairs::default());
        assert_eq!(pairs.get(""), None);
        assert_eq!(pairs.get("team"), None);
    }

    #[test]
    fn one_pair_at_each_end_of_the_order() {
        for source in [map(&[("a", "1")]), map(&[("a", "1"), ("b", "2")])] {
            let pairs = Pairs::of(&source).unwrap();
            for (key, value) in &source {
                assert_eq!(pairs.get(key), Some(value.as_str()));
            }
        }
    }
}
