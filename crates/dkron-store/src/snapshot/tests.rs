//! The checksum is the standard CRC-32.

use super::*;

/// Known answer: CRC-32 of "123456789" is 0xCBF43926.
#[test]
fn crc32_known_answer() {
    let mut crc = Crc32::new();
    crc.update(b"1234");
    crc.update(b"56789");
    assert_eq!(crc.finish(), 0xCBF4_3926);
}
