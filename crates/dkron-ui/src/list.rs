//! The jobs list's query (`q`, `status`, `enabled`, `sort`, `order`, `page`, `per_page`) and its
//! translation into a [`JobQuery`] page: the cluster pages, sorts and filters; the UI never
//! holds more than one page of jobs.

use dkron_api::JobQuery;
use dkron_model::{JobSort, JobStatus};

use crate::{form::FieldError, links::Pairs};

/// Jobs on a page unless `per_page` says otherwise.
pub(crate) const DEFAULT_PER_PAGE: usize = 25;
/// Most jobs on one page.
pub(crate) const MAX_PER_PAGE: usize = 200;

/// The list's parameters, as understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListParams {
    /// Substring of the name or display name.
    pub(crate) q: String,
    pub(crate) status: Option<JobStatus>,
    pub(crate) enabled: Option<bool>,
    pub(crate) sort: JobSort,
    pub(crate) descending: bool,
    /// 1-based.
    pub(crate) page: usize,
    pub(crate) per_page: usize,
}

impl Default for ListParams {
    fn default() -> ListParams {
        ListParams {
            q: String::new(),
            status: None,
            enabled: None,
            sort: JobSort::Name,
            descending: false,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

impl ListParams {
    /// Reads the query string; each bad parameter is an error at its name, and the defaults
    /// stand in for it.
    pub(crate) fn parse(pairs: &Pairs) -> (ListParams, Vec<FieldError>) {
        let mut params = ListParams::default();
        let mut errors = Vec::new();
        if let Some(q) = pairs.non_blank("q") {
            q.clone_into(&mut params.q);
        }
        if let Some(status) = pairs.non_blank("status") {
            match status.parse::<JobStatus>() {
                Ok(status) => params.status = Some(status),
                Err(_) => errors.push(FieldError::new(
                    "status",
                    "status must be one of untriggered, success, failed, partially_failed",
                )),
            }
        }
        match pairs.non_blank("enabled") {
            None => {}
            Some("true") => params.enabled = Some(true),
            Some("false") => params.enabled = Some(false),
            Some(_) => errors.push(FieldError::new("enabled", "enabled must be true or false")),
        }
        if let Some(sort) = pairs.non_blank("sort") {
            match JobSort::from_query(sort) {
                Some(sort) => params.sort = sort,
                None => errors.push(FieldError::new(
                    "sort",
                    format!("sort must be one of {}", JobSort::QUERY_NAMES.join(", ")),
                )),
            }
        }
        match pairs
            .non_blank("order")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("asc") => {}
            Some("desc") => params.descending = true,
            Some(_) => errors.push(FieldError::new("order", "order must be asc or desc")),
        }
        if let Some(page) = pairs.non_blank("page") {
            match page.parse::<usize>() {
                Ok(page) if page >= 1 => params.page = page,
                _ => errors.push(FieldError::new(
                    "page",
                    "page must be a whole number from 1",
                )),
            }
        }
        if let Some(per_page) = pairs.non_blank("per_page") {
            match per_page.parse::<usize>() {
                Ok(n) if (1..=MAX_PER_PAGE).contains(&n) => params.per_page = n,
                _ => errors.push(FieldError::new(
                    "per_page",
                    format!("per_page must be a whole number from 1 to {MAX_PER_PAGE}"),
                )),
            }
        }
        (params, errors)
    }

    /// The cluster query for this page.
    pub(crate) fn query(&self) -> JobQuery {
        let start = (self.page - 1).saturating_mul(self.per_page);
        JobQuery {
            text: (!self.q.is_empty()).then(|| self.q.clone()),
            status: self.status,
            disabled: self.enabled.map(|enabled| !enabled),
            sort: self.sort,
            descending: self.descending,
            start,
            end: Some(start.saturating_add(self.per_page)),
            ..JobQuery::default()
        }
    }

    /// The query-string pairs that reproduce these parameters on another `page` (defaults left
    /// out, so links stay short).
    pub(crate) fn pairs_for_page(&self, page: usize) -> Vec<(&'static str, String)> {
        let mut pairs = vec![("q", self.q.clone())];
        pairs.push((
            "status",
            self.status.map(status_param).unwrap_or_default().to_owned(),
        ));
        pairs.push((
            "enabled",
            self.enabled.map(|e| e.to_string()).unwrap_or_default(),
        ));
        if self.sort != JobSort::Name {
            pairs.push(("sort", self.sort.as_str().to_owned()));
        }
        if self.descending {
            pairs.push(("order", "desc".to_owned()));
        }
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        if self.per_page != DEFAULT_PER_PAGE {
            pairs.push(("per_page", self.per_page.to_string()));
        }
        pairs
    }

    /// The number of the last page for `total` matching jobs (1 when none match).
    pub(crate) fn last_page(&self, total: usize) -> usize {
        total.div_ceil(self.per_page).max(1)
    }
}

/// The `status` query value of a status (`untriggered` for never run).
pub(crate) fn status_param(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Untriggered => "untriggered",
        other => other.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use dkron_model::{JobSort, JobStatus};

    use super::{ListParams, status_param};
    use crate::links::Pairs;

    fn parse(query: &str) -> (ListParams, Vec<String>) {
        let (params, errors) = ListParams::parse(&Pairs::parse(query.as_bytes()));
        (params, errors.into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn defaults_page_through_names() {
        let (params, errors) = parse("");
        assert!(errors.is_empty());
        let query = params.query();
        assert!(query.is_plain_name_page(), "{query:?}");
        assert_eq!((query.start, query.end), (0, Some(25)));
    }

    #[test]
    fn filters_sort_and_pages_become_a_job_query() {
        let (params, errors) =
            parse("q=db&status=failed&enabled=true&sort=next&order=DESC&page=3&per_page=10");
        assert!(errors.is_empty(), "{errors:?}");
        let query = params.query();
        assert_eq!(query.text.as_deref(), Some("db"));
        assert_eq!(query.status, Some(JobStatus::Failed));
        assert_eq!(query.disabled, Some(false));
        assert_eq!(query.sort, JobSort::Next);
        assert!(query.descending);
        assert_eq!((query.start, query.end), (20, Some(30)));
        let pairs = params.pairs_for_page(4);
        assert!(pairs.contains(&("page", "4".to_owned())), "{pairs:?}");
        assert!(pairs.contains(&("per_page", "10".to_owned())), "{pairs:?}");
        assert_eq!(params.last_page(0), 1);
        assert_eq!(params.last_page(21), 3);
    }

    #[test]
    fn bad_parameters_are_named() {
        let (params, errors) =
            parse("status=bogus&enabled=maybe&sort=size&order=up&page=0&per_page=100000");
        assert_eq!(
            errors,
            ["status", "enabled", "sort", "order", "page", "per_page"]
        );
        assert_eq!(params, ListParams::default());
        let (params, errors) = parse("page=18446744073709551615&per_page=200");
        assert!(errors.is_empty());
        let query = params.query();
        assert_eq!(query.start, usize::MAX);
        assert_eq!(query.end, Some(usize::MAX));
        assert_eq!(status_param(JobStatus::Untriggered), "untriggered");
    }
}
