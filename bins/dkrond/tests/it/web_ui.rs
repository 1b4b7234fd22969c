//! The web UI served by a real dkrond: `/` sends a browser there, the pages render from the
//! node's state, a form post creates a job and a run shows its execution, tokens log in with
//! a cookie, and `--ui=false` serves none of it. (The browser-driven tests live elsewhere.)

use std::time::Duration;

use crate::support::{Dkrond, Reply, request_with_headers, wait_for};

/// A form post as a browser on the UI's own origin sends it.
fn post_form(node: &Dkrond, path: &str, body: &str, cookie: Option<&str>) -> Reply {
    let origin = format!("http://{}", node.http);
    let mut headers = vec![
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", origin.as_str()),
    ];
    if let Some(cookie) = cookie {
        headers.push(("Cookie", cookie));
    }
    request_with_headers(node.http, "POST", path, body.as_bytes(), &headers)
}

fn get_with(node: &Dkrond, path: &str, headers: &[(&str, &str)]) -> Reply {
    request_with_headers(node.http, "GET", path, b"", headers)
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).map(String::as_str)
}

#[test]
fn the_ui_is_served_and_drives_the_node() {
    let node = Dkrond::start();
    let root = get_with(&node, "/", &[("Accept", "text/html,application/xhtml+xml")]);
    assert_eq!(root.status, 303);
    assert_eq!(header(&root, "location"), Some("ui/"));
    let bare = node.get("/ui");
    assert_eq!(bare.status, 308);
    assert_eq!(header(&bare, "location"), Some("ui/"));

    let dashboard = node.get("/ui/");
    assert_eq!(dashboard.status, 200, "{}", dashboard.text());
    let html = dashboard.text();
    assert!(html.contains("data-test=\"page-dashboard\""), "{html}");
    assert!(html.contains("data-test=\"leader\">test-node<"), "{html}");
    assert!(html.contains("<svg data-test=\"stats-chart\""), "{html}");
    let csp = header(&dashboard, "content-security-policy").expect("CSP");
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    let css = node.get("/ui/assets/app.css");
    assert_eq!(css.status, 200);
    assert!(header(&css, "cache-control").is_some_and(|c| c.contains("max-age")));

    // Create through the form, as a person would.
    let form = "name=hello&displayname=Hello&schedule=%40every+1h&timezone=&executor=shell\
                &executor_config.command=echo+hello+from+the+ui&executor_config=&tags=\
                &metadata=&retries=0&concurrency=allow&parent_job=&owner=&owner_email=";
    let created = post_form(&node, "/ui/jobs/new", form, None);
    assert_eq!(created.status, 303, "{}", created.text());
    assert_eq!(header(&created, "location"), Some("hello?done=saved"));
    let stored = node.get("/v1/jobs/hello").json();
    assert_eq!(
        stored["executor_config"]["command"],
        "echo hello from the ui"
    );
    let list = node.get("/ui/jobs?q=hel").text();
    assert!(list.contains("data-job=\"hello\""), "{list}");
    assert!(list.contains("data-test=\"jobs-total\">1<"), "{list}");

    // A bad schedule is shown at its field, and nothing is written.
    let bad = form
        .replace("name=hello", "name=broken")
        .replace("%40every+1h", "not+a+schedule");
    let refused = post_form(&node, "/ui/jobs/new", &bad, None);
    assert_eq!(refused.status, 400);
    assert!(
        refused.text().contains("data-field=\"schedule\""),
        "{}",
        refused.text()
    );
    assert_eq!(node.get("/v1/jobs/broken").status, 404);

    // Run it and see the execution with its output on the job page.
    let run = post_form(&node, "/ui/jobs/hello/run", "", None);
    assert_eq!(run.status, 303, "{}", run.text());
    let page = wait_for("the run on the job page", Duration::from_secs(30), || {
        let page = node.get("/ui/jobs/hello").text();
        page.contains("data-status=\"success\"").then_some(page)
    });
    assert!(page.contains("hello from the ui"), "{page}");
    assert!(page.contains("data-test=\"next-fire\""), "{page}");

    let members = node.get("/ui/members").text();
    assert!(members.contains("data-member=\"test-node\""), "{members}");
    assert!(members.contains("data-test=\"leader-mark\""), "{members}");

    // Delete asks first, then deletes.
    let ask = post_form(&node, "/ui/jobs/hello/delete", "", None);
    assert!(ask.text().contains("data-test=\"confirm-delete\""));
    let deleted = post_form(&node, "/ui/jobs/hello/delete", "confirm=yes", None);
    assert_eq!(deleted.status, 303);
    assert_eq!(node.get("/v1/jobs/hello").status, 404);
}

#[test]
fn tokens_log_in_with_a_cookie_and_read_tokens_get_no_write_buttons() {
    let read = "read-token-for-the-ui-0123";
    let write = "write-token-for-the-ui-0123";
    let node = Dkrond::start_in(
        tempfile::tempdir().expect("temp dir"),
        &[
            "--api-token",
            &format!("read:{read}"),
            "--api-token",
            &format!("write:{write}"),
        ],
    );
    let job = r#"{"name":"backup","schedule":"@every 1h","executor":"shell","executor_config":{"command":"true"}}"#;
    let bearer = format!("Bearer {write}");
    let created = request_with_headers(
        node.http,
        "POST",
        "/v1/jobs",
        job.as_bytes(),
        &[("Authorization", bearer.as_str())],
    );
    assert_eq!(created.status, 201, "{}", created.text());

    let page = node.get("/ui/jobs/backup");
    assert_eq!(page.status, 303);
    assert_eq!(header(&page, "location"), Some("../login"));
    assert!(node.get("/ui/login").text().contains("data-test=\"login\""));

    let login = post_form(&node, "/ui/login", &format!("token={read}"), None);
    assert_eq!(login.status, 303, "{}", login.text());
    let cookie = header(&login, "set-cookie").expect("cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let read_cookie = cookie.split(';').next().expect("pair").to_owned();
    let page = get_with(&node, "/ui/jobs/backup", &[("Cookie", &read_cookie)]);
    assert_eq!(page.status, 200);
    for hook in ["run-now", "toggle", "delete", "edit"] {
        assert!(
            !page.text().contains(&format!("data-test=\"{hook}\"")),
            "{hook}"
        );
    }
    let refused = post_form(&node, "/ui/jobs/backup/run", "", Some(&read_cookie));
    assert_eq!(refused.status, 403);

    let write_cookie = format!("dkron_token={write}");
    let page = get_with(&node, "/ui/jobs/backup", &[("Cookie", &write_cookie)]);
    assert!(page.text().contains("data-test=\"run-now\""));
    let toggled = post_form(&node, "/ui/jobs/backup/toggle", "", Some(&write_cookie));
    assert_eq!(toggled.status, 303, "{}", toggled.text());
    let stored = request_with_headers(
        node.http,
        "GET",
        "/v1/jobs/backup",
        b"",
        &[("Authorization", bearer.as_str())],
    );
    assert_eq!(stored.json()["disabled"], true);
    // The cookie is for the UI only.
    let api = get_with(&node, "/v1/jobs", &[("Cookie", &write_cookie)]);
    assert_eq!(api.status, 401);
    // The token never reaches the log.
    assert!(!node.log().contains(write) && !node.log().contains(read));
}

#[test]
fn ui_false_serves_no_ui() {
    let node = Dkrond::start_in(tempfile::tempdir().expect("temp dir"), &["--ui=false"]);
    assert_eq!(node.get("/ui/").status, 404);
    assert_eq!(get_with(&node, "/", &[("Accept", "text/html")]).status, 404);
}
