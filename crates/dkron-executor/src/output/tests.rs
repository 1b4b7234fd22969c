//! Tests of the tail buffer against a naive model.

use crate::TailBuffer;

/// Pushing arbitrary chunk sizes keeps exactly the last `capacity` bytes of the stream.
#[test]
fn keeps_the_tail_of_any_chunking() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |bound: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % bound
    };
    for capacity in [0usize, 1, 2, 7, 64, 1000] {
        let mut buffer = TailBuffer::new(capacity);
        let mut model: Vec<u8> = Vec::new();
        for _ in 0..300 {
            let len = next(2 * capacity as u64 + 3) as usize;
            let chunk: Vec<u8> = (0..len).map(|_| next(256) as u8).collect();
            buffer.push(&chunk);
            model.extend_from_slice(&chunk);
            let want = &model[model.len().saturating_sub(capacity)..];
            assert_eq!(buffer.to_vec(), want, "capacity {capacity}");
            assert_eq!(buffer.total_bytes(), model.len() as u64);
            assert_eq!(buffer.truncated(), model.len() > capacity);
            assert!(buffer.len() <= capacity);
            for n in [0, 1, 5, capacity, capacity + 1] {
                let kept = buffer.to_vec();
                assert_eq!(
                    buffer.last(n),
                    kept[kept.len().saturating_sub(n)..],
                    "last({n})"
                );
            }
        }
    }
}

/// A multi-byte character cut by truncation is dropped, not rendered as U+FFFD.
#[test]
fn lossy_text_drops_a_cut_character_at_the_start() {
    let mut buffer = TailBuffer::new(4);
    buffer.push("aé€".as_bytes()); // 1 + 2 + 3 bytes: the tail is é's 2nd byte + €.
    assert!(buffer.truncated());
    assert_eq!(buffer.to_string_lossy(), "€");

    let mut whole = TailBuffer::new(16);
    whole.push(b"ok \xff");
    assert_eq!(whole.to_string_lossy(), "ok \u{fffd}");
}
