use super::*;

#[test]
fn an_accepted_job_reads_back_from_its_own_json() {
    let body = br#"{"name":"backup","schedule":"0 30 2 * * *","timezone":"Europe/Berlin",
        "executor":"shell","executor_config":{"command":"backup.sh","timeout":"1h"},
        "retry_backoff":{"initial":"1s","max":"60s"},"misfire_policy":"catch_up:10m"}"#;
    let job = decode_job(body).expect("a valid job");
    let encoded = encode_job(&job).expect("encodes");
    let again = decode_job(&encoded).expect("its own JSON is accepted");
    assert_eq!(again, job);
    assert_eq!(encode_job(&again).expect("encodes"), encoded);
}

#[test]
fn bodies_the_route_refuses_are_refused() {
    assert!(decode_job(b"").is_err());
    assert!(decode_job(b"[]").is_err());
    assert!(decode_job(br#"{"name":"Upper Case","schedule":"@daily"}"#).is_err());
    assert!(decode_job(br#"{"name":"a","schedule":"0 61 * * * *"}"#).is_err());
}
