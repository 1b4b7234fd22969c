//! The cluster key a node runs with: given (`--encrypt`), remembered in the data dir, or, for
//! a single server on its first start, generated. No node serves peer RPC without one.

use std::{
    io::{Read, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use base64::Engine as _;

use crate::{Error, NodeConfig};

/// Name of the file, in the data dir, holding the cluster key the node runs with (mode 0600).
/// Operator commands on the same machine read it (`dkrond leave --data-dir …`).
pub const CLUSTER_KEY_FILE: &str = "cluster.key";

/// A new random 16-byte key, base64 (standard alphabet, padded): dkron's gossip key format,
/// what `dkrond keygen` prints.
///
/// # Errors
/// When the system's random source cannot be read.
pub fn generate_cluster_key() -> std::io::Result<String> {
    let mut key = [0u8; 16];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(key))
}

/// The key stored in `data_dir`, if any.
///
/// # Errors
/// [`Error::Io`] when the file exists but cannot be read or is empty.
pub fn read_cluster_key(data_dir: &Path) -> Result<Option<String>, Error> {
    let path = data_dir.join(CLUSTER_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(Some(text.trim().to_owned())),
        Ok(_) => Err(Error::Io {
            context: format!("cluster key file {} is empty", path.display()),
            source: std::io::Error::from(std::io::ErrorKind::InvalidData),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            context: format!("cannot read cluster key file {}", path.display()),
            source,
        }),
    }
}

/// The key `config`'s node runs with, stored in its data dir.
///
/// - Given (`config.cluster_key`): it wins over a stored one, which is rewritten. Why: the
///   operator's explicit setting is the truth (a rotation); the file only remembers it.
/// - Not given, stored: the stored one (a restart).
/// - Not given, none stored, a single server creating its cluster (server, bootstrap-expect 1,
///   nothing to join): a new one, stored.
/// - Otherwise ([`Error::NoClusterKey`]): servers of a larger cluster and agents must all
///   share the one key, which only the operator can hand them.
///
/// # Errors
/// [`Error::NoClusterKey`]; [`Error::Io`] when the key file cannot be read or written.
pub(crate) fn resolve(config: &NodeConfig) -> Result<String, Error> {
    let data_dir = &config.data_dir;
    let stored = read_cluster_key(data_dir)?;
    let key = match (&config.cluster_key, stored) {
        (Some(given), Some(stored)) if *given == stored => return Ok(stored),
        (Some(given), stored) => {
            if stored.is_some() {
                tracing::info!(
                    "the cluster key given differs from the one stored in the data dir: using and storing the one given"
                );
            }
            given.clone()
        }
        (None, Some(stored)) => return Ok(stored),
        (None, None) if config.server && config.bootstrap_expect == 1 && config.join.is_empty() => {
            let key = generate_cluster_key().map_err(|source| Error::Io {
                context: "cannot generate a cluster key".to_owned(),
                source,
            })?;
            tracing::info!(
                path = %data_dir.join(CLUSTER_KEY_FILE).display(),
                "generated a cluster key for this single server; give it to other nodes with --encrypt"
            );
            key
        }
        (None, None) => {
            return Err(Error::NoClusterKey {
                path: data_dir.join(CLUSTER_KEY_FILE),
            });
        }
    };
    write_key(data_dir, &key)?;
    Ok(key)
}

/// Writes `key` to the data dir's key file, readable by the owner only, atomically (a
/// temporary file created 0600, synced, renamed over).
fn write_key(data_dir: &Path, key: &str) -> Result<(), Error> {
    let path = data_dir.join(CLUSTER_KEY_FILE);
    let temporary: PathBuf = data_dir.join(format!("{CLUSTER_KEY_FILE}.tmp"));
    let io = |source| Error::Io {
        context: format!("cannot write cluster key file {}", path.display()),
        source,
    };
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(io)?;
    // The umask cannot widen 0600, but a filesystem may ignore the mode: set it explicitly.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    file.write_all(format!("{key}\n").as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&temporary, &path).map_err(io)
}

#[cfg(test)]
mod tests;
