//! Relative links and query strings. Every link the UI writes is relative to the page, so the
//! UI works under any path prefix a reverse proxy adds.

/// Decoded `key=value` pairs of a query string or a form body, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pairs(Vec<(String, String)>);

impl Pairs {
    /// Parses `application/x-www-form-urlencoded` text (a query string or a form body).
    pub(crate) fn parse(text: &[u8]) -> Pairs {
        Pairs(
            form_urlencoded::parse(text)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order (a group of checkboxes sharing a name).
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, trimmed, `None` when absent or blank.
    pub(crate) fn non_blank(&self, key: &str) -> Option<&str> {
        self.get(key).map(str::trim).filter(|v| !v.is_empty())
    }
}

/// Percent-encodes one path segment (job names may hold any lower-case Unicode letter;
/// execution ids hold the node name).
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `path?k=v&…` for the pairs whose value is not empty (just `path` when none is left).
pub(crate) fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        query.append_pair(key, value);
    }
    let query = query.finish();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::{Pairs, segment, with_query};

    #[test]
    fn pairs_decode_and_trim() {
        let pairs = Pairs::parse(b"q=a+b%2Fc&empty=&blank=%20%20&q=second");
        assert_eq!(pairs.get("q"), Some("a b/c"));
        assert_eq!(pairs.get("empty"), Some(""));
        assert_eq!(pairs.non_blank("blank"), None);
        assert_eq!(pairs.non_blank("q"), Some("a b/c"));
        assert_eq!(pairs.get("missing"), None);
        assert_eq!(pairs.all("q").collect::<Vec<_>>(), ["a b/c", "second"]);
    }

    #[test]
    fn segments_and_queries_are_encoded() {
        assert_eq!(segment("job-1_x"), "job-1_x");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
        assert_eq!(segment("é"), "%C3%A9");
        assert_eq!(
            with_query("jobs", &[("q", "a&b"), ("status", ""), ("page", "2")]),
            "jobs?q=a%26b&page=2"
        );
        assert_eq!(with_query("jobs", &[("q", "")]), "jobs");
    }
}
