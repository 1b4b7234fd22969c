//! The outbox of earlier versions: one JSON file per execution (`<job>.<id>.json`, escaped),
//! written through a `.tmp` file and a rename. [`super::Outbox::open`] imports such files into
//! its segments once, so an agent upgraded with results still waiting delivers them.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use dkron_model::Execution;

use super::frame::fnv1a;

/// Suffix of an execution's file.
pub(super) const SUFFIX: &str = ".json";
/// Suffix of a file being written: never read back.
pub(super) const TEMPORARY_SUFFIX: &str = ".tmp";
/// Longest escaped stem kept whole; longer ones were cut and end with a hash.
const MAX_STEM: usize = 200;
/// How much of a too-long stem was kept before the hash.
const LONG_STEM_PREFIX: usize = 160;

/// Reads a legacy file: the execution it holds, if it is readable and holds the execution its
/// name says.
pub(super) fn read(path: &Path) -> Result<Execution, String> {
    let bytes = std::fs::read(path).map_err(|error| error.to_string())?;
    let execution: Execution = serde_json::from_slice(&bytes).map_err(|error| error.to_string())?;
    let name = path.file_name().and_then(|name| name.to_str());
    if name != Some(file_name(&execution).as_str()) {
        return Err(format!(
            "holds execution {} of job {}, not the one it is named after",
            execution.id(),
            execution.job_name
        ));
    }
    Ok(execution)
}

/// The legacy files in `dir` (named `*.json`), sorted by name.
pub(super) fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.ends_with(SUFFIX))
        })
        .collect();
    files.sort();
    files
}

/// The file name a legacy outbox gave `execution`: `<job>.<id>.json`, each part escaped (bytes
/// outside `[A-Za-z0-9_-]` as `%XX`); a stem longer than [`MAX_STEM`] was cut and ends with `~`
/// and a 64-bit FNV-1a hash of the job and id.
pub(super) fn file_name(execution: &Execution) -> String {
    let id = execution.id();
    let mut stem = String::new();
    escape_into(&mut stem, &execution.job_name);
    stem.push('.');
    escape_into(&mut stem, &id);
    if stem.len() > MAX_STEM {
        // The stem is ASCII, so any byte index is a character boundary.
        stem.truncate(LONG_STEM_PREFIX);
        let key = [execution.job_name.as_bytes(), b"\0", id.as_bytes()].concat();
        let _ = write!(stem, "~{:016x}", fnv1a(&key));
    }
    stem.push_str(SUFFIX);
    stem
}

fn escape_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}
