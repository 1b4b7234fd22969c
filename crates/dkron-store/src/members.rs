//! Cluster members as replicated state: status transitions and tags committed by the leader,
//! so every server answers `/v1/members` from its replica.

use dkron_model::Member;
use rocksdb::IteratorMode;

use crate::{
    Apply, Store, WriteGroup, codec,
    error::Result,
    group::Tx,
    keys::{self, Cf},
};

impl Store {
    /// Creates or replaces a member (keyed by name).
    ///
    /// # Errors
    /// [`crate::Error::InvalidName`], storage errors.
    pub fn set_member(&self, member: &Member, apply: &Apply) -> Result<()> {
        self.commit(apply, |_, tx| plan_set_member(tx, member))
    }

    /// Forgets a member; returns it if it was stored (removing an unknown member is not an
    /// error: the outcome is the same).
    ///
    /// # Errors
    /// Storage errors.
    pub fn remove_member(&self, name: &str, apply: &Apply) -> Result<Option<Member>> {
        self.commit(apply, |_, tx| plan_remove_member(tx, name))
    }

    /// One member by name.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`], [`crate::Error::Rocks`].
    pub fn member(&self, name: &str) -> Result<Option<Member>> {
        let Some(bytes) = self.get(Cf::Members, name.as_bytes())? else {
            return Ok(None);
        };
        codec::decode(Cf::Members, name.as_bytes(), &bytes).map(Some)
    }

    /// Every member, in name order.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`], [`crate::Error::Rocks`].
    pub fn members(&self) -> Result<Vec<Member>> {
        let mut members = Vec::new();
        for item in self
            .db()
            .iterator_cf(self.cf(Cf::Members), IteratorMode::Start)
        {
            let (key, value) = item?;
            members.push(codec::decode(Cf::Members, &key, &value)?);
        }
        Ok(members)
    }
}

impl WriteGroup<'_> {
    /// [`Store::set_member`] in this group.
    ///
    /// # Errors
    /// As [`Store::set_member`].
    pub fn set_member(&mut self, member: &Member) -> Result<()> {
        self.run(|_, tx| plan_set_member(tx, member))
    }

    /// [`Store::remove_member`] in this group.
    ///
    /// # Errors
    /// As [`Store::remove_member`].
    pub fn remove_member(&mut self, name: &str) -> Result<Option<Member>> {
        self.run(|_, tx| plan_remove_member(tx, name))
    }
}

fn plan_set_member(tx: &mut Tx<'_>, member: &Member) -> Result<()> {
    keys::check_name(&member.name)?;
    tx.put(
        Cf::Members,
        member.name.as_bytes(),
        codec::encode(Cf::Members, member)?,
    );
    Ok(())
}

fn plan_remove_member(tx: &mut Tx<'_>, name: &str) -> Result<Option<Member>> {
    let Some(bytes) = tx.get(Cf::Members, name.as_bytes())? else {
        return Ok(None);
    };
    let previous = codec::decode(Cf::Members, name.as_bytes(), &bytes)?;
    tx.delete(Cf::Members, name.as_bytes());
    Ok(Some(previous))
}
