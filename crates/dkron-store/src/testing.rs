//! Helpers for other crates' tests that need on-disk states a normal build never writes
//! (enabled by the `testing` feature; never part of a release build's API).

use std::path::Path;

use crate::{
    Apply, Options, Result, Store,
    keys::{Cf, FormatVersionKey, MetaKey},
};

/// Creates (or opens) a store in `dir` and stamps it with format `version`, as if another
/// version of dkron-rs had written it. Opening it afterwards fails with
/// [`crate::Error::FormatVersion`] unless `version` is [`crate::FORMAT_VERSION`].
///
/// # Errors
/// Any error of [`Store::open`] or of the write.
pub fn stamp_format_version(dir: &Path, version: u32) -> Result<()> {
    let store = Store::open(dir, Options::default())?;
    store.commit(&Apply::durable(), |_, tx| {
        tx.put(Cf::Meta, FormatVersionKey::KEY, version.to_be_bytes());
        Ok(())
    })
}
