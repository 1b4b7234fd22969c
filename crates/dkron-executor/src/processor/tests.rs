//! Tests of the processors: what they write, where, and the `forward` rule.

use std::{
    collections::BTreeMap,
    io::Write,
    os::unix::net::UnixDatagram,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::{
    Error, FilesProcessor, LogProcessor, Processor, ProcessorConfig, ProcessorInput,
    ProcessorRegistry, SyslogProcessor,
};

fn execution(success: bool, output: &str) -> ProcessorInput {
    ProcessorInput {
        job_name: "backup".to_owned(),
        started_at: jiff::Timestamp::from_second(1_700_000_000).expect("valid timestamp"),
        success,
        output: output.to_owned(),
        node_name: "node1".to_owned(),
        ..ProcessorInput::default()
    }
}

fn config(pairs: &[(&str, &str)]) -> ProcessorConfig {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8")
    }
}

/// `log` writes successes to one writer and failures to the other, between markers, and replaces
/// the output unless `forward` is true.
#[test]
fn log_processor_writes_between_markers() {
    let (success, failure) = (Captured::default(), Captured::default());
    let processor = LogProcessor::with_writers(
        Arc::new(Mutex::new(success.clone())),
        Arc::new(Mutex::new(failure.clone())),
    );

    let mut ok = execution(true, "all good");
    processor.process(&mut ok, &config(&[])).expect("processed");
    assert_eq!(ok.output, "Output in dkron log");
    assert_eq!(
        success.text(),
        format!(
            "----- BEGIN OUTPUT job=backup execution={} -----\nall good\n----- END OUTPUT -----\n",
            ok.id()
        )
    );
    assert_eq!(failure.text(), "");

    let mut failed = execution(false, "boom");
    processor
        .process(&mut failed, &config(&[("forward", "true")]))
        .expect("processed");
    assert_eq!(failed.output, "boom");
    assert!(failure.text().contains("\nboom\n----- END OUTPUT -----\n"));
}

/// `files` writes `<log_dir>/<execution id>.log`, creating the directory, and stores the path
/// unless forwarding; `log_dir` in the config overrides the default.
#[test]
fn files_processor_writes_one_file_per_execution() {
    let dir = tempfile::tempdir().expect("tempdir");
    let processor = FilesProcessor::new(dir.path().join("default"));

    let mut first = execution(true, "line 1\nline 2\n");
    processor
        .process(&mut first, &config(&[]))
        .expect("processed");
    let path = dir
        .path()
        .join("default")
        .join(format!("{}.log", first.id()));
    assert_eq!(
        std::fs::read_to_string(&path).expect("file written"),
        "line 1\nline 2\n"
    );
    assert_eq!(first.output, path.display().to_string());

    let custom = dir.path().join("custom");
    let mut second = execution(false, "kept");
    let custom_text = custom.display().to_string();
    processor
        .process(
            &mut second,
            &config(&[("log_dir", &custom_text), ("forward", "1")]),
        )
        .expect("processed");
    assert_eq!(
        std::fs::read_to_string(custom.join(format!("{}.log", second.id()))).expect("file"),
        "kept"
    );
    assert_eq!(second.output, "kept");
}

/// A files processor that cannot write reports an IO error and leaves the output alone.
#[test]
fn files_processor_failure_keeps_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").expect("file");
    let processor = FilesProcessor::new(&blocker);
    let mut exec = execution(true, "precious");
    let err = processor
        .process(&mut exec, &config(&[]))
        .expect_err("cannot create a dir over a file");
    assert!(
        matches!(
            err,
            Error::ProcessorIo {
                processor: "files",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(exec.output, "precious");
}

/// `syslog` sends RFC 3164 datagrams, facility cron, one per line, to the socket it was given.
#[test]
fn syslog_processor_sends_datagrams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket_path = dir.path().join("log.sock");
    let receiver = UnixDatagram::bind(&socket_path).expect("bind");
    receiver
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let processor = SyslogProcessor::new(&socket_path);

    let mut exec = execution(true, "first\nsecond\n");
    processor
        .process(&mut exec, &config(&[]))
        .expect("processed");
    assert_eq!(exec.output, "Output in syslog");
    let mut buffer = [0u8; 4096];
    let mut messages = Vec::new();
    for _ in 0..2 {
        let n_read = receiver.recv(&mut buffer).expect("a datagram");
        messages.push(String::from_utf8_lossy(&buffer[..n_read]).into_owned());
    }
    // Facility cron (9) * 8 + severity info (6).
    for (message, line) in messages.iter().zip(["first", "second"]) {
        assert!(message.starts_with("<78>"), "{message}");
        let tail = format!(
            " dkron[{}]: job=backup execution={}: {line}",
            std::process::id(),
            exec.id()
        );
        assert!(message.ends_with(&tail), "{message}");
    }

    let mut failed = execution(false, "bad");
    processor
        .process(&mut failed, &config(&[("forward", "true")]))
        .expect("processed");
    assert_eq!(failed.output, "bad");
    let n_read = receiver.recv(&mut buffer).expect("a datagram");
    // Severity err (3) for a failure.
    assert!(buffer[..n_read].starts_with(b"<75>"));
}

/// Without a listening socket the syslog processor fails and keeps the output.
#[test]
fn syslog_processor_without_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let processor = SyslogProcessor::new(dir.path().join("missing.sock"));
    let mut exec = execution(true, "kept");
    let err = processor
        .process(&mut exec, &config(&[]))
        .expect_err("no socket");
    assert!(
        matches!(
            err,
            Error::ProcessorIo {
                processor: "syslog",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(exec.output, "kept");
}

/// The registry validates names and `forward`, and applies processors in name order, continuing
/// after a failure.
#[test]
fn registry_applies_in_name_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (success, failure) = (Captured::default(), Captured::default());
    let mut registry = ProcessorRegistry::new();
    registry.register(Arc::new(FilesProcessor::new(dir.path())));
    registry.register(Arc::new(LogProcessor::with_writers(
        Arc::new(Mutex::new(success.clone())),
        Arc::new(Mutex::new(failure)),
    )));
    registry.register(Arc::new(SyslogProcessor::new(
        dir.path().join("missing.sock"),
    )));

    let mut processors = BTreeMap::new();
    processors.insert("log".to_owned(), config(&[("forward", "true")]));
    processors.insert("files".to_owned(), config(&[]));
    processors.insert("syslog".to_owned(), config(&[]));
    registry.validate(&processors).expect("valid");

    let mut exec = execution(true, "original");
    let errors = registry.apply(&processors, &mut exec);
    // files (replaces output with its path) runs before log, which then logs the path; syslog fails.
    assert_eq!(errors.len(), 1);
    let path = dir
        .path()
        .join(format!("{}.log", exec.id()))
        .display()
        .to_string();
    assert_eq!(exec.output, path);
    assert!(success.text().contains(&path));

    processors.insert("email".to_owned(), config(&[]));
    assert!(matches!(
        registry.validate(&processors),
        Err(Error::UnknownProcessor { .. })
    ));
    processors.remove("email");
    processors.insert("log".to_owned(), config(&[("forward", "maybe")]));
    assert!(matches!(
        registry.validate(&processors),
        Err(Error::InvalidConfig { key: "forward", .. })
    ));
}
