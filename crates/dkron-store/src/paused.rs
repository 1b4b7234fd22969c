//! The cluster's paused flag (dkron's `/v1/pause`), as replicated state: set through Raft like
//! any other command, read by every server from its replica, carried by snapshots.

use crate::{
    Apply, Store,
    error::{Error, Result},
    keys::{Cf, MetaKey, PausedKey, printable},
};

impl Store {
    /// Pauses (`true`) or unpauses the cluster.
    ///
    /// # Errors
    /// Storage errors.
    pub fn set_paused(&self, paused: bool, apply: &Apply) -> Result<()> {
        self.commit(apply, |batch, _changes| {
            batch.put_cf(self.cf(Cf::Meta), PausedKey::KEY, [u8::from(paused)]);
            Ok(())
        })
    }

    /// Whether the cluster is paused (never set: not paused).
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`], [`crate::Error::Rocks`].
    pub fn paused(&self) -> Result<bool> {
        match self.meta_get::<PausedKey>()? {
            Some(bytes) => decode_paused(&bytes),
            None => Ok(false),
        }
    }
}

pub(crate) fn decode_paused(bytes: &[u8]) -> Result<bool> {
    match bytes {
        [0] => Ok(false),
        [1] => Ok(true),
        _ => Err(Error::Corrupt {
            cf: Cf::Meta.name(),
            key: printable(PausedKey::KEY),
            reason: format!("paused flag is not one byte 0 or 1 ({} bytes)", bytes.len()),
        }),
    }
}

#[cfg(test)]
mod tests;
