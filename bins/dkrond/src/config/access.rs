//! The HTTP API's access settings: `api-tokens` (`--api-token`, `DKRON_API_TOKEN`),
//! `api-token-file` and `insecure-open-api`, and how they combine into a [`Access`].

use std::path::Path;

use dkron_api::{Access, ApiToken};

use crate::config::{RawConfig, Value};

/// Who may use the HTTP API: the tokens of `api-tokens` and `api-token-file` (each from the
/// first layer that sets it), else open with `insecure-open-api`, else protected mode.
pub(super) fn resolve_access(layers: &[RawConfig; 3], problems: &mut Vec<String>) -> Access {
    let first = |get: fn(&RawConfig) -> Option<&Vec<ApiToken>>| {
        layers.iter().find_map(get).cloned().unwrap_or_default()
    };
    let mut tokens = first(|l| l.api_tokens.as_ref());
    tokens.extend(first(|l| l.api_token_file.as_ref()));
    let open = layers
        .iter()
        .find_map(|l| l.insecure_open_api)
        .unwrap_or(false);
    if open && !tokens.is_empty() {
        problems.push(
            "insecure-open-api contradicts the API tokens configured (api-tokens, api-token-file): remove one or the other".to_owned(),
        );
    }
    match (tokens.is_empty(), open) {
        (false, _) => Access::Tokens(tokens),
        (true, true) => Access::Open,
        (true, false) => Access::Protected,
    }
}

/// API tokens (`[read:|write:]SECRET`), a list or one text with commas. Messages say which
/// token by position, never by content.
pub(super) fn to_tokens(value: &Value) -> Result<Vec<ApiToken>, String> {
    let items: Vec<String> = match value {
        Value::List(items) => items.clone(),
        Value::Text(text) => text.split(',').map(str::to_owned).collect(),
        Value::Int(_) | Value::Bool(_) | Value::Map(_) => {
            return Err("expected API tokens such as read:SECRET or write:SECRET".to_owned());
        }
    };
    items
        .iter()
        .filter(|item| !item.trim().is_empty())
        .enumerate()
        .map(|(index, item)| {
            ApiToken::parse(item).map_err(|error| format!("API token {}: {error}", index + 1))
        })
        .collect()
}

/// The tokens of an `api-token-file`: one per line as `--api-token`, blank lines and `#`
/// comments ignored. Why the file must be its owner's only (as ssh requires of private keys):
/// it holds the secrets that allow running commands on every node.
pub(super) fn read_token_file(path: &Path) -> Result<Vec<ApiToken>, String> {
    use std::os::unix::fs::PermissionsExt as _;
    let shown = path.display();
    let metadata =
        std::fs::metadata(path).map_err(|error| format!("cannot read {shown}: {error}"))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{shown} is accessible to other users (mode {mode:o}): it holds API tokens, make it its owner's only (chmod 600 {shown})"
        ));
    }
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("cannot read {shown}: {error}"))?;
    let tokens = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(number, line)| {
            ApiToken::parse(line).map_err(|error| format!("{shown} line {number}: {error}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if tokens.is_empty() {
        return Err(format!("{shown} holds no API token"));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests;
