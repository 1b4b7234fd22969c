//! The OpenAPI 3.1 document of this API, written by hand and embedded in the binary.
//!
//! A test checks that it parses and that its paths and methods are exactly those the router
//! serves, so the document cannot drift from the code.

#[cfg(test)]
mod tests;

/// The OpenAPI 3.1 document served at `GET /v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");
