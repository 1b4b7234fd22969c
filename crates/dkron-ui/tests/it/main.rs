//! The UI mounted behind the API's layers over an in-memory cluster: every page's contract hooks
//! (`docs/` and the browser tests select by them), the writes, and the token login.

mod access;
mod actions;
mod pages;
mod policies;
mod support;
