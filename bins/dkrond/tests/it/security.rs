//! Who may use the HTTP API, against real `dkrond` processes: cross-origin writes, tokens and
//! roles, configuration refused at start, and protected mode seen from another address: a
//! client in a network namespace the test creates (skipped, with the reason printed, where
//! the machine does not allow it).

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    os::unix::fs::PermissionsExt as _,
    process::{Command, Output},
};

use crate::{
    netns::TestNet,
    support::{BIN, Dkrond, agent_command, request, request_with_headers},
};

const READ: &str = "read-token-0123456789abcdef";
const WRITE: &str = "write-token-0123456789abcdef";

/// A shell job, as a web page would send it.
fn shell_job(name: &str) -> String {
    format!(
        r#"{{"name":"{name}","schedule":"@every 1h","executor":"shell","executor_config":{{"command":"echo owned"}}}}"#
    )
}

fn job_names(node: &Dkrond) -> Vec<String> {
    let list = node.get("/v1/jobs");
    assert_eq!(list.status, 200, "{}", list.text());
    list.json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|job| job["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A web page's cross-site `text/plain` POST (no preflight) is refused and creates nothing;
/// its preflight gets no grant, the API's own origin's does; curl's form POST still works.
#[test]
fn cross_origin_text_plain_post_is_refused() {
    let node = Dkrond::start();
    let evil = [
        ("Content-Type", "text/plain"),
        ("Origin", "http://evil.example"),
    ];
    let body = shell_job("evil");
    let refused = request_with_headers(node.http, "POST", "/v1/jobs", body.as_bytes(), &evil);
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(job_names(&node).is_empty(), "nothing created");

    let preflight = |origin: &str| {
        request_with_headers(
            node.http,
            "OPTIONS",
            "/v1/jobs",
            b"",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "authorization,content-type",
                ),
            ],
        )
    };
    let other = preflight("http://evil.example");
    assert_eq!(other.status, 403);
    assert_eq!(other.headers.get("access-control-allow-origin"), None);
    let own_origin = format!("http://{}", node.http);
    let own = preflight(&own_origin);
    assert_eq!(own.status, 200);
    assert_eq!(
        own.headers.get("access-control-allow-origin"),
        Some(&own_origin)
    );
    assert_eq!(
        own.headers
            .get("access-control-allow-headers")
            .map(String::as_str),
        Some("authorization,content-type")
    );

    let curl = node.post("/v1/jobs", &shell_job("from-curl"));
    assert_eq!(curl.status, 201, "{}", curl.text());
    assert_eq!(job_names(&node), ["from-curl"]);
}

/// With tokens (a flag and a token file): no token or a wrong one is 401, from loopback too;
/// a read token reads and gets 403 on a write; a write token writes; `/health` is open and
/// `/metrics` is not; the log names the mode and never a token.
#[test]
fn tokens_and_roles() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("tokens");
    std::fs::write(&file, format!("# deploys\nwrite:{WRITE}\n")).expect("token file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let file = file.display().to_string();
    let read_token = format!("read:{READ}");
    let node = Dkrond::start_in(
        dir,
        &["--api-token", &read_token, "--api-token-file", &file],
    );
    let call = |method: &str, path: &str, body: &str, token: Option<&str>| {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        request_with_headers(node.http, method, path, body.as_bytes(), &headers)
    };

    let bare = call("GET", "/v1/jobs", "", None);
    assert_eq!(bare.status, 401, "{}", bare.text());
    assert!(
        bare.headers
            .get("www-authenticate")
            .is_some_and(|c| c.starts_with("Bearer"))
    );
    assert_eq!(
        call("GET", "/v1/jobs", "", Some("wrong-token-0123456789")).status,
        401
    );
    assert_eq!(call("GET", "/metrics", "", None).status, 401);
    assert_eq!(call("GET", "/health", "", None).status, 200);

    let job = shell_job("deploy");
    let denied = call("POST", "/v1/jobs", &job, Some(READ));
    assert_eq!(denied.status, 403, "{}", denied.text());
    let listed = call("GET", "/v1/jobs", "", Some(READ));
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.json(),
        serde_json::json!([]),
        "the refused write changed nothing"
    );
    let created = call("POST", "/v1/jobs", &job, Some(WRITE));
    assert_eq!(created.status, 201, "{}", created.text());
    let listed = call("GET", "/v1/jobs/deploy", "", Some(READ));
    assert_eq!(listed.status, 200);
    assert_eq!(call("GET", "/metrics", "", Some(READ)).status, 200);

    let log = node.log();
    assert!(log.contains("1 read and 1 write tokens"), "{log}");
    assert!(
        !log.contains(READ) && !log.contains(WRITE),
        "a token in the log:\n{log}"
    );
}

/// A too-short token and a token file others can read stop dkrond before it starts, with a
/// message that does not repeat the token.
#[test]
fn bad_token_configuration_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("tokens");
    std::fs::write(&file, format!("{WRITE}\n")).expect("token file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let file = file.display().to_string();
    let data = dir.path().join("data").display().to_string();
    let cases = [
        (["--api-token", "short-secret"], "at least 16 characters"),
        (["--api-token-file", file.as_str()], "chmod 600"),
    ];
    for (flags, expected) in cases {
        let out = Command::new(BIN)
            .args([
                "agent",
                "--server",
                "--bootstrap-expect",
                "1",
                "--data-dir",
                &data,
            ])
            .args(["--http-addr", "127.0.0.1:0", "--rpc-port", "0"])
            .args(flags)
            .env_remove("DKRON_API_TOKEN")
            .output()
            .expect("run dkrond");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
        assert!(
            !stderr.contains("short-secret") && !stderr.contains(WRITE),
            "{stderr}"
        );
    }
}

/// Protected mode end to end: on one listener (every interface), a client in another
/// network namespace (a non-loopback address) gets the 403 with how to configure a token, for
/// reads and writes, and nothing is created; `/health` answers it; loopback is served.
#[test]
fn protected_mode_refuses_other_addresses() {
    let Some(netns) = client_netns() else {
        return;
    };
    let node = netns.start_dkrond(Ipv4Addr::UNSPECIFIED, &[]);
    let read = netns.curl(&node, "GET", "/v1/jobs", None, None);
    assert_eq!(read.status, 403, "{}", read.body);
    assert!(
        read.body.contains("--api-token") && read.body.contains("--insecure-open-api"),
        "{}",
        read.body
    );
    let write = netns.curl(&node, "POST", "/v1/jobs", Some(&shell_job("far")), None);
    assert_eq!(write.status, 403, "{}", write.body);
    assert_eq!(netns.curl(&node, "GET", "/health", None, None).status, 200);

    let loopback = SocketAddr::from(([127, 0, 0, 1], node.http.port()));
    let list = request(loopback, "GET", "/v1/jobs", None);
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.json(), serde_json::json!([]), "nothing created");
    let log = node.log();
    assert!(log.contains("protected mode"), "{log}");
}

/// With a token, the same client is served: 401 without it, 201 and 200 with it.
#[test]
fn tokens_serve_other_addresses() {
    let Some(netns) = client_netns() else {
        return;
    };
    let token = format!("write:{WRITE}");
    let node = netns.start_dkrond(netns.host_ip, &["--api-token", &token]);
    let bare = netns.curl(&node, "GET", "/v1/jobs", None, None);
    assert_eq!(bare.status, 401, "{}", bare.body);
    let created = netns.curl(
        &node,
        "POST",
        "/v1/jobs",
        Some(&shell_job("far")),
        Some(WRITE),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let listed = netns.curl(&node, "GET", "/v1/jobs/far", None, Some(WRITE));
    assert_eq!(listed.status, 200, "{}", listed.body);
}

/// `--insecure-open-api` serves the client without a token, and says so with a warning.
#[test]
fn insecure_open_api_serves_other_addresses() {
    let Some(netns) = client_netns() else {
        return;
    };
    let node = netns.start_dkrond(netns.host_ip, &["--insecure-open-api"]);
    let created = netns.curl(&node, "POST", "/v1/jobs", Some(&shell_job("open")), None);
    assert_eq!(created.status, 201, "{}", created.body);
    let log = node.log();
    let warning = log
        .lines()
        .find(|l| l.contains("--insecure-open-api"))
        .unwrap_or_default();
    assert!(warning.contains("WARN"), "{log}");
}

/// A network namespace on a bridge, for a client at another address than the server's
/// (`host_ip`, the bridge's); `None`, with the reason printed, where the machine does not allow
/// it.
fn client_netns() -> Option<Netns> {
    if !Command::new("which")
        .arg("curl")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("skipped: `curl` is not installed");
        return None;
    }
    match TestNet::create(1) {
        Ok(net) => Some(Netns {
            host_ip: net.host_ip,
            net,
        }),
        Err(reason) => {
            eprintln!("skipped: {reason}");
            None
        }
    }
}

/// A client namespace (see [`client_netns`]).
#[derive(Debug)]
struct Netns {
    net: TestNet,
    host_ip: Ipv4Addr,
}

/// What curl got.
#[derive(Debug)]
struct CurlReply {
    status: u16,
    body: String,
}

impl Netns {
    /// A single server whose API listens on `ip` (the bridge's address, or every
    /// interface), with `extra` flags.
    fn start_dkrond(&self, ip: Ipv4Addr, extra: &[&str]) -> Dkrond {
        let dir = tempfile::tempdir().expect("temp dir");
        let http = SocketAddr::new(IpAddr::V4(ip), 0).to_string();
        let mut command = agent_command(&dir.path().join("data"), &http);
        command.args(extra);
        Dkrond::spawn(dir, command)
    }

    /// One request from inside the namespace with curl, with an optional body (curl's form
    /// content type, as the seed's examples) and bearer token.
    fn curl(
        &self,
        node: &Dkrond,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
    ) -> CurlReply {
        let url = format!("http://{}:{}{path}", self.host_ip, node.http.port());
        let mut args = vec![
            "-sS",
            "--max-time",
            "20",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-X",
            method,
        ];
        let auth = token.map(|t| format!("Authorization: Bearer {t}"));
        if let Some(auth) = &auth {
            args.extend(["-H", auth.as_str()]);
        }
        if let Some(body) = body {
            args.extend(["--data-binary", body]);
        }
        args.push(&url);
        let out: Output = self.net.output(0, "curl", &args);
        assert!(
            out.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').expect("curl wrote the status");
        CurlReply {
            status: status.trim().parse().expect("a status code"),
            body: body.to_owned(),
        }
    }
}
