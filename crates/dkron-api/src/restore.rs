//! `POST /v1/restore`: the uploaded backup file, its jobs, and the order to write them in.

use std::collections::{BTreeMap, BTreeSet};

use dkron_model::Job;
use serde_json::Value;

use crate::{Cluster, ClusterError, reply::Failure, wire::job_from_value};

#[cfg(test)]
mod tests;

/// The backup file of a restore request: the `file` field of a `multipart/form-data` body, or
/// (dkron-rs) the body itself when it is a JSON array.
pub(crate) fn file_of(content_type: &str, body: &[u8]) -> Result<Vec<u8>, Failure> {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "multipart/form-data" {
        let boundary = boundary_of(content_type)
            .ok_or_else(|| Failure::Restore("multipart/form-data without a boundary".to_owned()))?;
        return multipart_field(body, &boundary, "file").ok_or(Failure::MissingFile);
    }
    if body.trim_ascii_start().starts_with(b"[") {
        return Ok(body.to_vec());
    }
    Err(Failure::Restore(
        "expected multipart/form-data with a \"file\" field holding a JSON array of jobs"
            .to_owned(),
    ))
}

fn boundary_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty())
    })
}

/// The content of the first part named `field` (RFC 7578), or `None`.
fn multipart_field(body: &[u8], boundary: &str, field: &str) -> Option<Vec<u8>> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut starts = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&body[at..], delimiter) {
        let position = at + found;
        // A delimiter counts only at the start of the body or of a line.
        if position == 0 || body[..position].ends_with(b"\r\n") || body[..position].ends_with(b"\n")
        {
            starts.push(position);
        }
        at = position + delimiter.len();
    }
    for pair in starts.windows(2) {
        let part = &body[pair[0] + delimiter.len()..pair[1]];
        let Some(part) = part
            .strip_prefix(b"\r\n")
            .or_else(|| part.strip_prefix(b"\n"))
        else {
            continue;
        };
        let part = part
            .strip_suffix(b"\r\n")
            .or_else(|| part.strip_suffix(b"\n"))
            .unwrap_or(part);
        let (head, content) = match find(part, b"\r\n\r\n") {
            Some(i) => (&part[..i], &part[i + 4..]),
            None => match find(part, b"\n\n") {
                Some(i) => (&part[..i], &part[i + 2..]),
                None => continue,
            },
        };
        let head = String::from_utf8_lossy(head);
        let named = head.lines().any(|line| {
            let lower = line.to_ascii_lowercase();
            lower.starts_with("content-disposition:")
                && (lower.contains(&format!("name=\"{field}\""))
                    || lower.contains(&format!("name={field};"))
                    || lower.trim_end().ends_with(&format!("name={field}")))
        });
        if named {
            return Some(content.to_vec());
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(i) = haystack[from..].iter().position(|&b| b == first) {
        let start = from + i;
        if haystack[start..].starts_with(needle) {
            return Some(start);
        }
        from = start + 1;
    }
    None
}

/// The jobs of a backup file (a JSON array of job objects), each read like a request body (not
/// yet validated: as in dkron, an invalid job fails alone, not the whole file). Counters in the
/// file are kept, so a restore preserves history counts.
pub(crate) fn parse_jobs(file: &[u8]) -> Result<Vec<Job>, Failure> {
    let value: Value = serde_json::from_slice(file)
        .map_err(|e| Failure::Restore(format!("Unable to parse backup file: {e}.")))?;
    let Value::Array(items) = value else {
        return Err(Failure::Restore(
            "Unable to parse backup file: expected a JSON array of jobs.".to_owned(),
        ));
    };
    items
        .iter()
        .map(|item| job_from_value(item).map_err(Failure::Body))
        .collect()
}

/// Orders `jobs` so that every parent comes before its children. A parent must be in the file
/// or already stored; a cycle within the file refuses the whole restore.
pub(crate) async fn parents_first(
    jobs: Vec<Job>,
    cluster: &dyn Cluster,
) -> Result<Vec<Job>, Failure> {
    let in_file: BTreeSet<String> = jobs.iter().map(|j| j.name.clone()).collect();
    let named: Vec<(&Job, &str)> = jobs
        .iter()
        .flat_map(|job| job.parents().map(move |parent| (job, parent)))
        .collect();
    for (job, parent) in named {
        if in_file.contains(parent) {
            continue;
        }
        match cluster.get_job(parent.to_owned()).await {
            Ok(_) => {}
            Err(ClusterError::JobNotFound { .. }) => {
                return Err(Failure::Restore(format!(
                    "parent job {parent} of job {} is neither in the file nor stored",
                    job.name
                )));
            }
            Err(other) => return Err(other.into()),
        }
    }
    order(jobs, &in_file)
}

fn order(jobs: Vec<Job>, in_file: &BTreeSet<String>) -> Result<Vec<Job>, Failure> {
    let mut pending: BTreeMap<usize, Job> = jobs.into_iter().enumerate().collect();
    let mut written: BTreeSet<String> = BTreeSet::new();
    let mut ordered = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready: Vec<usize> = pending
            .iter()
            .filter(|(_, job)| {
                job.parents()
                    .all(|parent| !in_file.contains(parent) || written.contains(parent))
            })
            .map(|(&i, _)| i)
            .collect();
        if ready.is_empty() {
            let names: Vec<&str> = pending.values().map(|j| j.name.as_str()).collect();
            return Err(Failure::Restore(format!(
                "parent chain forms a cycle among jobs {}",
                names.join(", ")
            )));
        }
        for i in ready {
            if let Some(job) = pending.remove(&i) {
                written.insert(job.name.clone());
                ordered.push(job);
            }
        }
    }
    Ok(ordered)
}
