//! The outbox's record framing: `[kind: u8][len: u32 LE][sum: u64 LE][payload: len bytes]`,
//! where `sum` is a 64-bit FNV-1a of the kind, the length and the payload. A segment is a run of
//! frames; reading stops at the first frame that is short or does not check, which is where a
//! crash in the middle of an append (a torn tail) leaves a segment.

/// Bytes before a frame's payload.
pub(super) const HEADER: usize = 1 + 4 + 8;
/// Largest payload read back: a length above it is garbage, not a record (an execution is at
/// most a few MiB: its output is capped by `max-output-limit`).
const MAX_PAYLOAD: usize = 256 << 20;

/// What a frame says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A finished execution to hold (payload: its JSON).
    Push = 1,
    /// A held execution a server took (payload: its key).
    Ack = 2,
}

/// `payload` framed as `kind`.
pub(super) fn encode(kind: Kind, payload: &[u8]) -> Vec<u8> {
    // The caller never frames more than MAX_PAYLOAD: an execution's JSON, or a key.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut frame = Vec::with_capacity(HEADER + payload.len());
    frame.push(kind as u8);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&checksum(kind as u8, len, payload).to_le_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// One frame read back: its kind, and where its payload starts in the segment.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Frame<'a> {
    pub(super) kind: Kind,
    pub(super) offset: u64,
    pub(super) payload: &'a [u8],
}

/// The frames of `segment`, in order, and the length of its valid prefix (shorter than the
/// segment when its tail is torn or corrupt).
pub(super) fn decode(segment: &[u8]) -> (Vec<Frame<'_>>, usize) {
    let mut frames = Vec::new();
    let mut at = 0;
    while let Some((frame, next)) = decode_at(segment, at) {
        frames.push(frame);
        at = next;
    }
    (frames, at)
}

/// The frame at `at` and where the next one starts, or `None` when there is no whole, valid
/// frame there.
fn decode_at(segment: &[u8], at: usize) -> Option<(Frame<'_>, usize)> {
    let header = segment.get(at..at.checked_add(HEADER)?)?;
    let kind = match header[0] {
        1 => Kind::Push,
        2 => Kind::Ack,
        _ => return None,
    };
    let len = u32::from_le_bytes(header[1..5].try_into().ok()?);
    let sum = u64::from_le_bytes(header[5..13].try_into().ok()?);
    let size = usize::try_from(len)
        .ok()
        .filter(|&size| size <= MAX_PAYLOAD)?;
    let start = at + HEADER;
    let payload = segment.get(start..start.checked_add(size)?)?;
    if checksum(kind as u8, len, payload) != sum {
        return None;
    }
    let frame = Frame {
        kind,
        offset: u64::try_from(start).ok()?,
        payload,
    };
    Some((frame, start + size))
}

fn checksum(kind: u8, len: u32, payload: &[u8]) -> u64 {
    let hash = fnv1a_64(OFFSET, &[kind]);
    let hash = fnv1a_64(hash, &len.to_le_bytes());
    fnv1a_64(hash, payload)
}

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, 64 bits, continued from `hash`: stable across builds and Rust versions (unlike
/// `DefaultHasher`), which data read back after an upgrade needs.
pub(super) fn fnv1a_64(hash: u64, bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// A fresh FNV-1a 64 of `bytes`.
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_64(OFFSET, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment() -> Vec<u8> {
        let mut segment = encode(Kind::Push, b"{\"a\":1}");
        segment.extend(encode(Kind::Ack, b"key"));
        segment.extend(encode(Kind::Push, b""));
        segment
    }

    #[test]
    fn frames_come_back_in_order_with_their_offsets() {
        let segment = segment();
        let (frames, valid) = decode(&segment);
        assert_eq!(valid, segment.len());
        let kinds: Vec<_> = frames.iter().map(|f| (f.kind, f.payload)).collect();
        assert_eq!(
            kinds,
            [
                (Kind::Push, &b"{\"a\":1}"[..]),
                (Kind::Ack, &b"key"[..]),
                (Kind::Push, &b""[..])
            ]
        );
        assert_eq!(frames[0].offset, HEADER as u64);
        let at = usize::try_from(frames[1].offset).expect("small");
        assert_eq!(&segment[at..at + 3], b"key");
    }

    /// Every cut of the last frame (a crash mid-append) keeps exactly the frames before it.
    #[test]
    fn a_torn_tail_is_cut_at_the_last_whole_frame() {
        let segment = segment();
        let whole = decode(&segment[..segment.len() - HEADER]).1;
        for cut in whole..segment.len() {
            let (frames, valid) = decode(&segment[..cut]);
            assert_eq!(frames.len(), 2, "cut at {cut}");
            assert_eq!(valid, whole, "cut at {cut}");
        }
    }

    /// A flipped byte anywhere in a frame ends the valid prefix at that frame.
    #[test]
    fn a_corrupt_frame_ends_the_valid_prefix() {
        let clean = segment();
        let first = HEADER + 7;
        for at in first..first + HEADER + 3 {
            let mut segment = clean.clone();
            segment[at] ^= 0x40;
            let (frames, valid) = decode(&segment);
            assert_eq!(frames.len(), 1, "flip at {at}");
            assert_eq!(valid, first, "flip at {at}");
        }
        assert_eq!(decode(&[0xff; 40]).0, []);
        assert_eq!(decode(&[]).1, 0);
    }
}
