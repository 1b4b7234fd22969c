//! `syslog`: the output to the local syslog daemon, RFC 3164 datagrams on its unix socket.

use std::{os::unix::net::UnixDatagram, path::PathBuf, time::Duration};

use crate::{
    Error,
    processor::{Processor, ProcessorConfig, ProcessorInput, forward, validate_forward},
};

/// Facility `cron` (9), as dkron.
const FACILITY_CRON: u8 = 9;
const SEVERITY_ERR: u8 = 3;
const SEVERITY_INFO: u8 = 6;
/// Longest message text per datagram; longer lines are split. Well under every syslog daemon's
/// datagram limit.
const MAX_LINE: usize = 2048;

/// `syslog`: sends the output to the local syslog socket, one message per line, facility `cron`,
/// tag `dkron`, severity `info` for a success and `err` for a failure (dkron: always `info`).
/// Each message starts with `job=<name> execution=<id>:` so a run's lines can be found again.
/// Without `forward`, the stored output becomes `Output in syslog`.
#[derive(Debug, Clone)]
pub struct SyslogProcessor {
    socket: PathBuf,
}

impl SyslogProcessor {
    /// The usual local syslog socket.
    pub const DEFAULT_SOCKET: &'static str = "/dev/log";

    /// Sends to the syslog datagram socket at `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> SyslogProcessor {
        SyslogProcessor {
            socket: socket.into(),
        }
    }

    fn send_all(&self, execution: &ProcessorInput) -> std::io::Result<()> {
        let socket = UnixDatagram::unbound()?;
        // Why: a stuck syslog daemon must not hold up the caller forever.
        socket.set_write_timeout(Some(Duration::from_secs(1)))?;
        let severity = if execution.success {
            SEVERITY_INFO
        } else {
            SEVERITY_ERR
        };
        let priority = FACILITY_CRON * 8 + severity;
        let timestamp = jiff::ZonedDateTime::now()
            .strftime("%b %e %H:%M:%S")
            .to_string();
        let prefix = format!(
            "<{priority}>{timestamp} dkron[{}]: job={} execution={}: ",
            std::process::id(),
            execution.job_name,
            execution.id()
        );
        let output = execution.output.trim_end_matches('\n');
        if output.is_empty() {
            socket.send_to(format!("{prefix}(no output)").as_bytes(), &self.socket)?;
            return Ok(());
        }
        for line in output.split('\n') {
            for piece in split_at_char_boundaries(line.trim_end_matches('\r'), MAX_LINE) {
                socket.send_to(format!("{prefix}{piece}").as_bytes(), &self.socket)?;
            }
        }
        Ok(())
    }
}

/// Splits `text` into pieces of at most `max` bytes without cutting a character.
fn split_at_char_boundaries(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    pieces.push(rest);
    pieces
}

impl Processor for SyslogProcessor {
    fn name(&self) -> &'static str {
        "syslog"
    }

    fn validate(&self, config: &ProcessorConfig) -> Result<(), Error> {
        validate_forward("syslog", config)
    }

    fn process(
        &self,
        execution: &mut ProcessorInput,
        config: &ProcessorConfig,
    ) -> Result<(), Error> {
        self.send_all(execution)
            .map_err(|source| Error::ProcessorIo {
                processor: "syslog",
                path: self.socket.clone(),
                source,
            })?;
        if !forward(config) {
            execution.output = "Output in syslog".to_owned();
        }
        Ok(())
    }
}
