//! [`Slots`]: the index's summaries by slot id, in fixed-size segments.
//!
//! Why not one `Vec`: a vector grows by doubling, so at 100k jobs it holds room for 131k
//! summaries (a third more than used, ~7 MB on every server), and each doubling copies the
//! whole table while the old and new buffers are both alive. Segments waste at most one
//! segment and never move a summary.

/// Summaries per segment: 1,024 × 192 B, one allocation of about 200 KB.
const SEGMENT: usize = 1024;

/// A growable table of `Option<T>` addressed by `u32` ids, allocated [`SEGMENT`] entries at a
/// time.
#[derive(Debug)]
pub(crate) struct Slots<T> {
    segments: Vec<Box<[Option<T>]>>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Slots<T> {
        Slots {
            segments: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slots<T> {
    /// A table holding `items` at ids 0, 1, …
    pub(crate) fn from_items(items: impl IntoIterator<Item = T>) -> Slots<T> {
        let mut slots = Slots::default();
        for item in items {
            let id = slots.push_empty();
            *slots.get_mut(id) = Some(item);
        }
        slots
    }

    /// Ids handed out so far (live or freed).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds an empty slot and returns its id.
    pub(crate) fn push_empty(&mut self) -> u32 {
        if self.len == self.segments.len() * SEGMENT {
            self.segments
                .push(std::iter::repeat_with(|| None).take(SEGMENT).collect());
        }
        self.len += 1;
        // Ids are u32 like the ordered lists' (4 billion jobs is past any store's size).
        (self.len - 1) as u32
    }

    /// The slot `id`; `None` for a freed slot or an id never handed out.
    pub(crate) fn get(&self, id: u32) -> Option<&T> {
        let id = id as usize;
        if id >= self.len {
            return None;
        }
        self.segments[id / SEGMENT][id % SEGMENT].as_ref()
    }

    /// The slot `id` to fill, replace or empty.
    ///
    /// # Panics
    /// If `id` was never handed out by [`Slots::push_empty`] (a bug in the caller).
    pub(crate) fn get_mut(&mut self, id: u32) -> &mut Option<T> {
        let id = id as usize;
        assert!(id < self.len, "slot {id} was never handed out");
        &mut self.segments[id / SEGMENT][id % SEGMENT]
    }

    /// Every live slot's value, in id order.
    #[cfg(test)]
    pub(crate) fn live(&self) -> impl Iterator<Item = &T> {
        self.segments
            .iter()
            .flat_map(|segment| segment.iter())
            .take(self.len)
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_address_their_own_values_across_segments() {
        let count = SEGMENT * 2 + 3;
        let mut slots = Slots::from_items((0..count).map(|i| i * 10));
        assert_eq!(slots.len(), count);
        assert_eq!(slots.segments.len(), 3);
        assert_eq!(slots.get(0), Some(&0));
        assert_eq!(slots.get(SEGMENT as u32), Some(&(SEGMENT * 10)));
        assert_eq!(slots.get(count as u32 - 1), Some(&((count - 1) * 10)));
        assert_eq!(slots.get(count as u32), None, "never handed out");
        *slots.get_mut(5) = None;
        assert_eq!(slots.get(5), None, "freed");
        assert_eq!(slots.live().count(), count - 1);
        let id = slots.push_empty();
        assert_eq!(id as usize, count);
        assert_eq!(slots.get(id), None, "a new slot starts empty");
        *slots.get_mut(id) = Some(7);
        assert_eq!(slots.get(id), Some(&7));
        assert_eq!(slots.segments.len(), 3, "room left in the last segment");
    }
}
