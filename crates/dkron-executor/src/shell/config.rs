//! The shell executor's `executor_config` keys, parsed and checked once.

use std::{path::PathBuf, time::Duration};

use base64::Engine as _;

use crate::{Error, ExecutorConfig};

const COMPONENT: &str = "shell";

/// A parsed shell config. Everything that can be checked without the target machine is checked
/// here (the `su` user is looked up at run time: it may exist only on the agent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShellConfig {
    /// The text of `command`, for messages.
    pub(crate) command: String,
    /// Program and arguments.
    pub(crate) argv: Vec<String>,
    /// Extra environment, in order (later entries win).
    pub(crate) env: Vec<(String, String)>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) su: Option<SuSpec>,
    /// The timeout and its text as the user wrote it (dkron's message repeats it).
    pub(crate) timeout: Option<(Duration, String)>,
    pub(crate) mem_limit: Option<u64>,
    pub(crate) payload: Vec<u8>,
}

/// `su`: `user` or `user:group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SuSpec {
    pub(crate) user: String,
    pub(crate) group: Option<String>,
}

impl ShellConfig {
    pub(crate) fn parse(config: &ExecutorConfig) -> Result<ShellConfig, Error> {
        let get = |key: &str| config.get(key).map(String::as_str).unwrap_or("");

        let command = get("command");
        if command.trim().is_empty() {
            return Err(Error::invalid(COMPONENT, "command", "command is missing"));
        }
        let argv = if go_parse_bool(get("shell")).unwrap_or(false) {
            vec!["/bin/sh".to_owned(), "-c".to_owned(), command.to_owned()]
        } else {
            let words = shell_words::split(command)
                .map_err(|err| Error::invalid(COMPONENT, "command", err.to_string()))?;
            if words.is_empty() {
                return Err(Error::invalid(COMPONENT, "command", "command is missing"));
            }
            words
        };

        let env = parse_env(get("env"))?;
        let cwd = match get("cwd") {
            "" => None,
            cwd => Some(PathBuf::from(cwd)),
        };
        let su = match get("su") {
            "" => None,
            su => Some(parse_su(su)?),
        };
        let timeout = match get("timeout").trim() {
            "" => None,
            text => parse_timeout(text)?.map(|duration| (duration, text.to_owned())),
        };
        let mem_limit = match get("mem_limit").trim() {
            "" => None,
            text => Some(
                dkron_model::parse_mem_limit(text)
                    .map_err(|err| Error::invalid(COMPONENT, "mem_limit", err.to_string()))?,
            ),
        };
        let payload = match get("payload") {
            "" => Vec::new(),
            text => {
                // Why: Go's base64 decoder skips line breaks; users paste wrapped base64.
                let compact: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact.as_bytes())
                    .map_err(|err| {
                        Error::invalid(COMPONENT, "payload", format!("not base64: {err}"))
                    })?
            }
        };

        Ok(ShellConfig {
            command: command.to_owned(),
            argv,
            env,
            cwd,
            su,
            timeout,
            mem_limit,
            payload,
        })
    }
}

/// `env`: `K=V,K2=V2`. Values cannot contain commas (dkron's format). Blank entries are ignored;
/// an entry without `=` is an error (dkron would pass it on as a meaningless variable).
fn parse_env(text: &str) -> Result<Vec<(String, String)>, Error> {
    let mut env = Vec::new();
    for entry in text.split(',') {
        let entry = entry.trim_start();
        if entry.trim().is_empty() {
            continue;
        }
        match entry.split_once('=') {
            Some((key, value)) if !key.is_empty() => env.push((key.to_owned(), value.to_owned())),
            _ => {
                return Err(Error::invalid(
                    COMPONENT,
                    "env",
                    format!("entry `{entry}` is not KEY=value"),
                ));
            }
        }
    }
    Ok(env)
}

fn parse_su(text: &str) -> Result<SuSpec, Error> {
    let (user, group) = match text.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (text, None),
    };
    if user.is_empty() || group.is_some_and(str::is_empty) {
        return Err(Error::invalid(
            COMPONENT,
            "su",
            format!("`{text}` is not `user` or `user:group`"),
        ));
    }
    Ok(SuSpec {
        user: user.to_owned(),
        group: group.map(str::to_owned),
    })
}

/// A Go duration; zero means no timeout (as in dkron), a negative one is rejected.
fn parse_timeout(text: &str) -> Result<Option<Duration>, Error> {
    let duration = dkron_cron::parse_go_duration(text)
        .map_err(|err| Error::invalid(COMPONENT, "timeout", err.to_string()))?;
    crate::executor::timeout_limit(COMPONENT, text, duration)
}

/// Go's `strconv.ParseBool`.
pub(crate) fn go_parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
