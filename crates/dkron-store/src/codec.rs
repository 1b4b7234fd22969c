//! Value encoding: one version byte, then JSON of the model type.
//!
//! JSON keeps the format readable and tolerant (model structs are `#[serde(default)]`, so fields
//! can be added); the leading byte makes a future change of encoding deliberate.

use serde::{Serialize, de::DeserializeOwned};

use crate::{
    error::{Error, Result},
    keys::{Cf, printable},
};

/// First byte of every structured value this build writes.
pub(crate) const VALUE_VERSION: u8 = 1;

pub(crate) fn encode<T: Serialize>(cf: Cf, value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    out.push(VALUE_VERSION);
    serde_json::to_writer(&mut out, value).map_err(|source| Error::Encode {
        cf: cf.name(),
        source,
    })?;
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(cf: Cf, key: &[u8], bytes: &[u8]) -> Result<T> {
    let corrupt = |reason: String| Error::Corrupt {
        cf: cf.name(),
        key: printable(key),
        reason,
    };
    match bytes.split_first() {
        None => Err(corrupt("empty value".to_owned())),
        Some((&VALUE_VERSION, json)) => {
            serde_json::from_slice(json).map_err(|e| corrupt(e.to_string()))
        }
        Some((version, _)) => Err(corrupt(format!("unknown value version {version}"))),
    }
}

/// Stats value: version byte, successes, failures.
pub(crate) fn encode_day(success: u64, failed: u64) -> [u8; 17] {
    let mut out = [0u8; 17];
    out[0] = VALUE_VERSION;
    out[1..9].copy_from_slice(&success.to_be_bytes());
    out[9..17].copy_from_slice(&failed.to_be_bytes());
    out
}

pub(crate) fn decode_day(key: &[u8], bytes: &[u8]) -> Result<(u64, u64)> {
    let corrupt = |reason: &str| Error::Corrupt {
        cf: Cf::Stats.name(),
        key: printable(key),
        reason: reason.to_owned(),
    };
    if bytes.len() != 17 || bytes[0] != VALUE_VERSION {
        return Err(corrupt("malformed day counters"));
    }
    let success = u64::from_be_bytes(bytes[1..9].try_into().map_err(|_| corrupt("successes"))?);
    let failed = u64::from_be_bytes(bytes[9..17].try_into().map_err(|_| corrupt("failures"))?);
    Ok((success, failed))
}

/// A u64 BE value (counters, versions widened).
pub(crate) fn decode_u64(cf: Cf, key: &[u8], bytes: &[u8]) -> Result<u64> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| Error::Corrupt {
        cf: cf.name(),
        key: printable(key),
        reason: format!("expected 8 bytes, found {}", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(array))
}
