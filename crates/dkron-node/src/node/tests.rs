//! Pure helpers of node start: advertised addresses and the ports file.

use std::net::SocketAddr;

use crate::{
    Ports,
    node::{advertised, write_ports_file},
};

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("socket address")
}

/// The advertised address is the configured host, else the bound IP, else loopback when bound
/// to every interface; IPv6 hosts get brackets.
#[test]
fn advertised_addresses() {
    let cases = [
        (None, "0.0.0.0:8080", "127.0.0.1:8080"),
        (None, "10.0.0.5:6868", "10.0.0.5:6868"),
        (Some("node1.example"), "0.0.0.0:8080", "node1.example:8080"),
        (Some("::1"), "[::]:6868", "[::1]:6868"),
        (None, "[::]:6868", "127.0.0.1:6868"),
    ];
    for (host, bound, expected) in cases {
        assert_eq!(advertised(host, addr(bound)), expected, "{host:?} {bound}");
    }
}

/// The ports file holds both addresses as JSON and leaves no temporary file behind.
#[test]
fn ports_file_is_json_with_both_addresses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = Ports {
        http: addr("127.0.0.1:1234"),
        rpc: addr("127.0.0.1:5678"),
    };
    write_ports_file(dir.path(), ports).expect("write");
    let text = std::fs::read_to_string(dir.path().join(crate::PORTS_FILE)).expect("read");
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(value["http"], "127.0.0.1:1234");
    assert_eq!(value["rpc"], "127.0.0.1:5678");
    let names: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
    assert_eq!(names.len(), 1, "only the ports file");
}
