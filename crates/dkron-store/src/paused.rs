//! The cluster's paused flag (dkron's `/v1/pause`), as replicated state: set through Raft like
//! any other command, read by every server from its replica, carried by snapshots.

use crate::{
    Apply, Store, WriteGroup,
    error::{Error, Result},
    group::Tx,
    keys::{Cf, MetaKey, PausedKey, printable},
};

impl Store {
    /// Pauses (`true`) or unpauses the cluster.
    ///
    /// # Errors
    /// Storage errors.
    pub fn set_paused(&self, paused: bool, apply: &Apply) -> Result<()> {
        self.commit(apply, |_, tx| {
            plan_set_paused(tx, paused);
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

impl WriteGroup<'_> {
    /// [`Store::set_paused`] in this group.
    ///
    /// # Errors
    /// As [`Store::set_paused`].
    pub fn set_paused(&mut self, paused: bool) -> Result<()> {
        self.run(|_, tx| {
            plan_set_paused(tx, paused);
            Ok(())
        })
    }
}

fn plan_set_paused(tx: &mut Tx<'_>, paused: bool) {
    tx.put(Cf::Meta, PausedKey::KEY, [u8::from(paused)]);
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
