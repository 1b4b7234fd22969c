//! Bytes a Raft peer sends or answers, and records the log store reads back: every decoder
//! either refuses them or returns a value that re-encodes stably; none panics.
//!
//! Input: one byte choosing the decoder (`a`ppend, `v`ote, `s`napshot, `j`oin, `f`orward,
//! `r`emove-peer, stor`e`d record, re`p`ly; any other byte tries them all), then the body.
#![no_main]

use dkron_raft::fuzz::{Decoder, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let chosen = match selector {
        b'a' => Some(Decoder::Append),
        b'v' => Some(Decoder::Vote),
        b's' => Some(Decoder::Snapshot),
        b'j' => Some(Decoder::Join),
        b'f' => Some(Decoder::Forward),
        b'r' => Some(Decoder::RemovePeer),
        b'e' => Some(Decoder::Stored),
        b'p' => Some(Decoder::Reply),
        _ => None,
    };
    let decoders = match chosen {
        Some(decoder) => vec![decoder],
        None => Decoder::ALL.to_vec(),
    };
    for decoder in decoders {
        if let Err(problem) = decode(decoder, body) {
            panic!("{decoder:?}: {problem}");
        }
    }
});
