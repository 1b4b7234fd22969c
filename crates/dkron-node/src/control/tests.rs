//! The operator calls: their answers' shape and their failures.

use std::time::Duration;

use super::*;

/// A Raft member becomes a control peer with its name, id and RPC address.
#[test]
fn raft_peers_convert() {
    let peer = Peer::from(dkron_raft::Peer {
        id: 7,
        node: dkron_raft::NodeInfo {
            name: "b".to_owned(),
            rpc_addr: "10.0.0.2:6868".to_owned(),
            api_addr: "10.0.0.2:8080".to_owned(),
        },
        voter: true,
        leader: false,
    });
    assert_eq!(
        peer,
        Peer {
            name: "b".to_owned(),
            id: 7,
            rpc_addr: "10.0.0.2:6868".to_owned(),
            voter: true,
            leader: false,
        }
    );
}

/// A server that is not there is an error naming its address, within the timeout.
#[tokio::test]
async fn an_absent_server_is_an_error_naming_it() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let error = list_peers(&addr, &Credentials::default(), Duration::from_secs(5))
        .await
        .expect_err("nobody listens");
    assert!(error.to_string().contains(&addr), "{error}");
    let error = remove_peer(
        &addr,
        &Credentials::key(Some("key")),
        "a",
        Duration::from_secs(5),
    )
    .await
    .expect_err("nobody listens");
    assert!(error.to_string().contains(&addr), "{error}");
}
