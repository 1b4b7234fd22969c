//! Tests of the shell config: every key, dkron's accepted forms, and what we reject.

use std::time::Duration;

use base64::Engine as _;

use crate::shell::config::{ShellConfig, SuSpec, go_parse_bool};

fn parse(pairs: &[(&str, &str)]) -> Result<ShellConfig, crate::Error> {
    let config = pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    ShellConfig::parse(&config)
}

fn reason(pairs: &[(&str, &str)]) -> (String, String) {
    match parse(pairs) {
        Err(crate::Error::InvalidConfig { key, reason, .. }) => (key.to_owned(), reason),
        other => panic!("expected an invalid config, got {other:?}"),
    }
}

/// Without `shell`, the command is split with shell-word rules; with it, `/bin/sh -c` runs it.
#[test]
fn command_is_split_or_given_to_sh() {
    let direct = parse(&[("command", r#"printf '%s|' "a b" c\ d"#)]).expect("valid");
    assert_eq!(direct.argv, ["printf", "%s|", "a b", "c d"]);

    let shell = parse(&[("command", "echo $HOME | wc -c"), ("shell", "true")]).expect("valid");
    assert_eq!(shell.argv, ["/bin/sh", "-c", "echo $HOME | wc -c"]);

    // Any non-boolean `shell` is false, as in dkron.
    let not_shell = parse(&[("command", "echo hi"), ("shell", "yes")]).expect("valid");
    assert_eq!(not_shell.argv, ["echo", "hi"]);
}

/// A missing command, a blank one, or one with an unbalanced quote is rejected.
#[test]
fn bad_commands_are_rejected() {
    assert_eq!(reason(&[]).0, "command");
    assert_eq!(reason(&[("command", "   ")]).1, "command is missing");
    assert_eq!(reason(&[("command", "echo 'unclosed")]).0, "command");
}

/// `env` is `K=V,K2=V2`; blanks are skipped, values keep `=`, entries without `=` are errors.
#[test]
fn env_pairs() {
    let config = parse(&[("command", "true"), ("env", "A=1, B=x=y,,C=")]).expect("valid");
    let want: Vec<(String, String)> = [("A", "1"), ("B", "x=y"), ("C", "")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(config.env, want);
    assert_eq!(
        reason(&[("command", "true"), ("env", "A=1,NOVALUE")]).0,
        "env"
    );
    assert_eq!(reason(&[("command", "true"), ("env", "=1")]).0, "env");
}

/// `timeout` is a Go duration; zero disables it; negative or garbage is rejected.
#[test]
fn timeout_values() {
    let config = parse(&[("command", "true"), ("timeout", "1m30s")]).expect("valid");
    assert_eq!(
        config.timeout,
        Some((Duration::from_secs(90), "1m30s".to_owned()))
    );
    assert_eq!(
        parse(&[("command", "true"), ("timeout", "0")])
            .expect("valid")
            .timeout,
        None
    );
    assert_eq!(
        parse(&[("command", "true"), ("timeout", "")])
            .expect("valid")
            .timeout,
        None
    );
    assert_eq!(
        reason(&[("command", "true"), ("timeout", "-1s")]).0,
        "timeout"
    );
    assert_eq!(
        reason(&[("command", "true"), ("timeout", "ten seconds")]).0,
        "timeout"
    );
}

/// `mem_limit` uses dkron's size syntax (1024-based units).
#[test]
fn mem_limit_values() {
    let cases = [
        ("1024", 1024),
        ("512KB", 512 * 1024),
        ("1.5G", 3 << 29),
        ("2 mb", 2 << 20),
    ];
    for (text, bytes) in cases {
        let config = parse(&[("command", "true"), ("mem_limit", text)]).expect(text);
        assert_eq!(config.mem_limit, Some(bytes), "{text}");
    }
    for text in ["0", "-5", "12XB", "lots"] {
        assert_eq!(
            reason(&[("command", "true"), ("mem_limit", text)]).0,
            "mem_limit",
            "{text}"
        );
    }
}

/// `payload` is standard base64; line breaks are ignored as by Go's decoder.
#[test]
fn payload_is_base64() {
    let encoded = base64::engine::general_purpose::STANDARD.encode(b"hello payload");
    let wrapped = format!("{}\n{}", &encoded[..8], &encoded[8..]);
    let config = parse(&[("command", "cat"), ("payload", &wrapped)]).expect("valid");
    assert_eq!(config.payload, b"hello payload");
    assert_eq!(
        reason(&[("command", "cat"), ("payload", "not base64!")]).0,
        "payload"
    );
}

/// `su` is `user` or `user:group`.
#[test]
fn su_forms() {
    let config = parse(&[("command", "id"), ("su", "nobody")]).expect("valid");
    assert_eq!(
        config.su,
        Some(SuSpec {
            user: "nobody".to_owned(),
            group: None
        })
    );
    let config = parse(&[("command", "id"), ("su", "nobody:nogroup")]).expect("valid");
    assert_eq!(
        config.su,
        Some(SuSpec {
            user: "nobody".to_owned(),
            group: Some("nogroup".to_owned())
        })
    );
    assert_eq!(reason(&[("command", "id"), ("su", ":wheel")]).0, "su");
    assert_eq!(reason(&[("command", "id"), ("su", "nobody:")]).0, "su");
}

/// Go's `strconv.ParseBool` accepts exactly these spellings.
#[test]
fn go_booleans() {
    for text in ["1", "t", "T", "TRUE", "true", "True"] {
        assert_eq!(go_parse_bool(text), Some(true), "{text}");
    }
    for text in ["0", "f", "F", "FALSE", "false", "False"] {
        assert_eq!(go_parse_bool(text), Some(false), "{text}");
    }
    for text in ["", "yes", "tRUE", " true"] {
        assert_eq!(go_parse_bool(text), None, "{text}");
    }
}

#[tokio::test]
async fn what_the_pipe_holds_at_the_drain_deadline_is_kept() {
    use std::io::Write as _;
    let (reader, mut writer) = std::io::pipe().expect("pipe");
    let text = vec![b'x'; 40_000];
    writer.write_all(&text).expect("write");
    drop(writer);
    let receiver =
        tokio::net::unix::pipe::Receiver::from_owned_fd(std::os::fd::OwnedFd::from(reader))
            .expect("receiver");
    let mut buffer = vec![0u8; 16 * 1024];
    let chunks = super::drain_ready(&receiver, &mut buffer);
    let read = chunks.concat();
    assert!(read == text, "read {} of {} bytes", read.len(), text.len());
    // At end of file it returns nothing, and does not wait.
    assert!(super::drain_ready(&receiver, &mut buffer).is_empty());
}
