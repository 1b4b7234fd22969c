//! The pages, as `maud` markup. Each module renders one page from plain data the routes fetched;
//! none calls the cluster. `layout` is the frame every page shares.

pub(crate) mod backfill;
pub(crate) mod dashboard;
pub(crate) mod error;
pub(crate) mod job;
pub(crate) mod job_form;
mod job_form_policies;
mod job_policies;
pub(crate) mod jobs;
pub(crate) mod layout;
pub(crate) mod login;
pub(crate) mod members;

/// Who is looking, as far as the pages care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Viewer {
    /// Whether write buttons are shown (a write token, or no token needed).
    pub(crate) can_write: bool,
    /// Whether the API takes tokens.
    pub(crate) token_mode: bool,
    /// Whether the request carried a valid token (then pages offer a logout).
    pub(crate) logged_in: bool,
}

/// What every page needs to draw its frame and its links.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    /// The way from the page up to `/ui/`: `""`, `"../"` or `"../../"`.
    pub(crate) base: &'static str,
    pub(crate) viewer: Viewer,
}

impl Ctx {
    /// A link to `path` under `/ui/` (`""`: the dashboard), relative to the page.
    pub(crate) fn link(&self, path: &str) -> String {
        match (self.base, path) {
            ("", "") => "./".to_owned(),
            (base, path) => format!("{base}{path}"),
        }
    }
}
