//! The one buffer a packed [`super::KeptJob`] keeps the fields its decisions never read in.
//!
//! Integers and lengths are LEB128 varints (a zero count or an empty string is one byte),
//! strings are a length then UTF-8 bytes, an `Option` is a `0` byte or a `1` byte then the
//! value, a map is an entry count then its keys and values in order. No field names and no
//! version: the buffer lives in memory only, written and read by this build.

use std::{collections::BTreeMap, time::Duration};

use dkron_model::JobStatus;
use jiff::Timestamp;

/// Appends to the buffer being built.
#[derive(Debug, Default)]
pub(super) struct Writer(pub(super) Vec<u8>);

impl Writer {
    pub(super) fn u64(&mut self, mut value: u64) {
        while value >= 0x80 {
            // The low seven bits, with the "more follows" bit set.
            self.0.push((value & 0x7f) as u8 | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn len(&mut self, len: usize) {
        self.u64(len as u64);
    }

    pub(super) fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    pub(super) fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.0.push(0),
            Some(s) => {
                self.0.push(1);
                self.str(s);
            }
        }
    }

    pub(super) fn strs(&mut self, list: &[String]) {
        self.len(list.len());
        for s in list {
            self.str(s);
        }
    }

    /// A map: its entry count, then each key and its value as `value` writes it.
    fn entries<V>(&mut self, map: &BTreeMap<String, V>, mut value: impl FnMut(&mut Self, &V)) {
        self.len(map.len());
        for (key, v) in map {
            self.str(key);
            value(self, v);
        }
    }

    pub(super) fn map(&mut self, map: &BTreeMap<String, String>) {
        self.entries(map, |w, value| w.str(value));
    }

    pub(super) fn nested(&mut self, maps: &BTreeMap<String, BTreeMap<String, String>>) {
        self.entries(maps, Writer::map);
    }

    pub(super) fn statuses(&mut self, map: &BTreeMap<String, JobStatus>) {
        self.entries(map, |w, status| w.status(*status));
    }

    pub(super) fn status(&mut self, status: JobStatus) {
        self.0.push(status_byte(status));
    }

    pub(super) fn time(&mut self, at: Option<Timestamp>) {
        match at {
            None => self.0.push(0),
            Some(at) => {
                self.0.push(1);
                // Zigzag: a time before 1970 stays short too.
                let second = at.as_second();
                self.u64(((second << 1) ^ (second >> 63)) as u64);
                self.u64(u64::from(at.subsec_nanosecond().unsigned_abs()));
                self.0.push(u8::from(at.subsec_nanosecond() < 0));
            }
        }
    }

    pub(super) fn duration(&mut self, d: Duration) {
        self.u64(d.as_secs());
        self.u64(u64::from(d.subsec_nanos()));
    }

    pub(super) fn opt_u64(&mut self, value: Option<u64>) {
        match value {
            None => self.0.push(0),
            Some(value) => {
                self.0.push(1);
                self.u64(value);
            }
        }
    }
}

/// Reads what [`Writer`] wrote, in the same order; `None` for anything it could not have
/// written (cut short, a bad varint, invalid UTF-8, an unknown status).
#[derive(Debug)]
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    pub(super) fn u64(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            // The tenth byte may carry only the top bit.
            if shift == 63 && bits > 1 {
                return None;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    pub(super) fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.u64()?).ok()
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }

    pub(super) fn string(&mut self) -> Option<String> {
        let len = self.len()?;
        let (bytes, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(std::str::from_utf8(bytes).ok()?.to_owned())
    }

    fn flag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    pub(super) fn opt_string(&mut self) -> Option<Option<String>> {
        Some(match self.flag()? {
            false => None,
            true => Some(self.string()?),
        })
    }

    pub(super) fn strings(&mut self) -> Option<Vec<String>> {
        let count = self.len()?;
        // Each string takes at least a byte: a damaged count cannot reserve more than that.
        let mut list = Vec::with_capacity(count.min(self.0.len()));
        for _ in 0..count {
            list.push(self.string()?);
        }
        Some(list)
    }

    /// A map written by [`Writer::entries`], each value read by `value`.
    fn entries<V>(
        &mut self,
        mut value: impl FnMut(&mut Self) -> Option<V>,
    ) -> Option<BTreeMap<String, V>> {
        let entries = self.len()?;
        let mut map = BTreeMap::new();
        for _ in 0..entries {
            let key = self.string()?;
            map.insert(key, value(self)?);
        }
        Some(map)
    }

    pub(super) fn map(&mut self) -> Option<BTreeMap<String, String>> {
        self.entries(Self::string)
    }

    pub(super) fn nested(&mut self) -> Option<BTreeMap<String, BTreeMap<String, String>>> {
        self.entries(Self::map)
    }

    pub(super) fn statuses(&mut self) -> Option<BTreeMap<String, JobStatus>> {
        self.entries(Self::status)
    }

    pub(super) fn status(&mut self) -> Option<JobStatus> {
        status_of(self.byte()?)
    }

    pub(super) fn time(&mut self) -> Option<Option<Timestamp>> {
        if !self.flag()? {
            return Some(None);
        }
        let zigzag = self.u64()?;
        let second = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
        let nanos = i32::try_from(self.u64()?).ok()?;
        let nanos = if self.flag()? { -nanos } else { nanos };
        Timestamp::new(second, nanos).ok().map(Some)
    }

    pub(super) fn duration(&mut self) -> Option<Duration> {
        let secs = self.u64()?;
        let nanos = self.u32()?;
        (nanos < 1_000_000_000).then(|| Duration::new(secs, nanos))
    }

    pub(super) fn opt_u64(&mut self) -> Option<Option<u64>> {
        Some(match self.flag()? {
            false => None,
            true => Some(self.u64()?),
        })
    }
}

fn status_byte(status: JobStatus) -> u8 {
    match status {
        JobStatus::Untriggered => 0,
        JobStatus::Success => 1,
        JobStatus::Failed => 2,
        JobStatus::PartiallyFailed => 3,
    }
}

fn status_of(byte: u8) -> Option<JobStatus> {
    Some(match byte {
        0 => JobStatus::Untriggered,
        1 => JobStatus::Success,
        2 => JobStatus::Failed,
        3 => JobStatus::PartiallyFailed,
        _ => return None,
    })
}
