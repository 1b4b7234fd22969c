//! Query strings and links: react-admin's list parameters, `?pretty`, and relative `Location`s.

use std::collections::BTreeMap;

use dkron_model::{JobSort, JobStatus};

use crate::{ExecQuery, ExecSort, JobQuery, reply::Failure};

#[cfg(test)]
mod tests;

/// The decoded pairs of a query string, in order.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes a raw query string (`None` = no query).
    pub(crate) fn parse(raw: Option<&str>) -> Params {
        Params(
            raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    /// The first value of `key` (gin's `c.Query`).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` is present, with any value (dkron's `?pretty`, `?runoncreate`).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// `?pretty`.
    pub(crate) fn pretty(&self) -> bool {
        self.has("pretty")
    }

    /// A non-negative integer parameter; absent or empty gives `None`.
    pub(crate) fn index(&self, key: &str) -> Result<Option<usize>, Failure> {
        match self.get(key).map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => text.parse::<usize>().map(Some).map_err(|_| Failure::Query {
                param: key.to_owned(),
                message: format!("expected a non-negative integer, found \"{text}\""),
            }),
        }
    }

    /// `GET /v1/jobs` parameters.
    pub(crate) fn job_query(&self) -> Result<JobQuery, Failure> {
        let mut query = JobQuery::default();
        let mut metadata = BTreeMap::new();
        for (key, value) in &self.0 {
            if let Some(inner) = key
                .strip_prefix("metadata[")
                .and_then(|k| k.strip_suffix(']'))
            {
                metadata.insert(inner.to_owned(), value.clone());
            }
        }
        query.metadata = metadata;
        query.text = self.get("q").filter(|q| !q.is_empty()).map(str::to_owned);
        query.status = match self.get("status").filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => Some(text.parse::<JobStatus>().map_err(|_| Failure::Query {
                param: "status".to_owned(),
                message: format!(
                    "unknown status \"{text}\", use success, failed, partially_failed or untriggered"
                ),
            })?),
        };
        query.disabled = match self.get("disabled").filter(|s| !s.is_empty()) {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(text) => {
                return Err(Failure::Query {
                    param: "disabled".to_owned(),
                    message: format!("expected true or false, found \"{text}\""),
                });
            }
        };
        query.names = self
            .all("id")
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(text) = self.get("_sort").filter(|s| !s.is_empty()) {
            query.sort = JobSort::from_query(text).ok_or_else(|| Failure::Query {
                param: "_sort".to_owned(),
                message: format!(
                    "cannot sort jobs by \"{text}\", use one of {}",
                    JobSort::QUERY_NAMES.join(", ")
                ),
            })?;
        }
        query.descending = self.get("_order") == Some("DESC");
        query.start = self.index("_start")?.unwrap_or(0);
        query.end = self.index("_end")?;
        Ok(query)
    }

    /// Execution list parameters: unknown `_sort` keys keep the default order, `_order` is
    /// descending unless `ASC`.
    pub(crate) fn exec_query(&self) -> Result<ExecQuery, Failure> {
        Ok(ExecQuery {
            sort: self
                .get("_sort")
                .and_then(ExecSort::from_query)
                .unwrap_or_default(),
            descending: self.get("_order") != Some("ASC"),
            start: self.index("_start")?.unwrap_or(0),
            end: self.index("_end")?,
        })
    }
}

/// A relative reference from the resource at `from` to the one at `to` (both absolute paths as
/// the router sees them), so that a client behind a reverse proxy that strips or adds a path
/// prefix resolves it to the right place.
pub(crate) fn relative_link(from: &str, to: &str) -> String {
    // The "directory" of `from`: everything up to and including its last '/'.
    let from_dir: Vec<&str> = match from.rfind('/') {
        Some(i) => from[..i].split('/').filter(|s| !s.is_empty()).collect(),
        None => Vec::new(),
    };
    let to_segments: Vec<&str> = to.split('/').filter(|s| !s.is_empty()).collect();
    let common = from_dir
        .iter()
        .zip(&to_segments)
        .take_while(|(a, b)| a == b)
        .count()
        // Keep at least the last segment of `to` to write, or the link would end in '/'.
        .min(to_segments.len().saturating_sub(1));
    let mut link = "../".repeat(from_dir.len() - common);
    link.push_str(&to_segments[common..].join("/"));
    if link.is_empty() {
        link.push_str("./");
    }
    link
}

/// Percent-encodes one path segment (job names may hold any lower-case Unicode letter).
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
