//! Bounded output capture: keep the last N bytes of a stream, count everything seen.

#[cfg(test)]
mod tests;

/// A ring buffer that keeps the *tail* of everything pushed into it.
///
/// Invariant: it never holds more than `capacity` bytes; [`TailBuffer::total_bytes`] counts every
/// byte ever pushed, so `truncated()` is exact.
#[derive(Debug, Clone)]
pub struct TailBuffer {
    /// Storage; grows up to `capacity`, then is overwritten in place.
    bytes: Vec<u8>,
    capacity: usize,
    /// Index of the oldest byte once `bytes` is full (0 while it is still growing).
    head: usize,
    total_bytes: u64,
}

impl TailBuffer {
    /// An empty buffer that will keep at most `capacity` bytes.
    pub fn new(capacity: usize) -> TailBuffer {
        TailBuffer {
            bytes: Vec::new(),
            capacity,
            head: 0,
            total_bytes: 0,
        }
    }

    /// Appends `data`, dropping the oldest bytes beyond the capacity.
    pub fn push(&mut self, data: &[u8]) {
        self.total_bytes = self.total_bytes.saturating_add(data.len() as u64);
        if self.capacity == 0 || data.is_empty() {
            return;
        }
        if data.len() >= self.capacity {
            self.bytes.clear();
            self.bytes
                .extend_from_slice(&data[data.len() - self.capacity..]);
            self.head = 0;
            return;
        }
        let room = self.capacity - self.bytes.len();
        let n_append = room.min(data.len());
        self.bytes.extend_from_slice(&data[..n_append]);
        let mut rest = &data[n_append..];
        // Why: once full, overwrite the oldest bytes in place instead of shifting the buffer.
        while !rest.is_empty() {
            let n_copy = rest.len().min(self.capacity - self.head);
            self.bytes[self.head..self.head + n_copy].copy_from_slice(&rest[..n_copy]);
            self.head = (self.head + n_copy) % self.capacity;
            rest = &rest[n_copy..];
        }
    }

    /// The maximum number of bytes kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of bytes currently kept.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Every byte ever pushed, kept or not.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Whether some pushed bytes were dropped.
    pub fn truncated(&self) -> bool {
        self.total_bytes > self.bytes.len() as u64
    }

    /// The kept bytes, oldest first.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len());
        out.extend_from_slice(&self.bytes[self.head..]);
        out.extend_from_slice(&self.bytes[..self.head]);
        out
    }

    /// The last `n` kept bytes (all of them when fewer are kept), oldest first: the newest
    /// output without copying the whole tail.
    pub fn last(&self, n: usize) -> Vec<u8> {
        let n = n.min(self.bytes.len());
        // The kept bytes are `bytes[head..]` then `bytes[..head]`; the newest end at `head`.
        let mut out = Vec::with_capacity(n);
        if n <= self.head {
            out.extend_from_slice(&self.bytes[self.head - n..self.head]);
        } else {
            let from_end = n - self.head;
            out.extend_from_slice(&self.bytes[self.bytes.len() - from_end..]);
            out.extend_from_slice(&self.bytes[..self.head]);
        }
        out
    }

    /// The kept bytes as text: invalid UTF-8 becomes U+FFFD, and when the buffer was truncated a
    /// character cut in half at the start is dropped rather than shown as garbage.
    pub fn to_string_lossy(&self) -> String {
        let bytes = self.to_vec();
        let mut start = 0;
        if self.truncated() {
            // A UTF-8 sequence is at most 4 bytes: skip at most 3 continuation bytes.
            while start < bytes.len().min(3) && (bytes[start] & 0b1100_0000) == 0b1000_0000 {
                start += 1;
            }
        }
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }
}
