//! Tokens: the login form sets an HttpOnly cookie the access layer accepts on UI paths; a read
//! token sees no write button and cannot write; protected mode still serves loopback only.

use std::net::SocketAddr;

use axum::http::{Method, StatusCode};
use dkron_api::{Access, ApiToken};

use crate::support::{Reply, app_with, send, send_from, shell_job};

const READ: &str = "read-token-0123456789";
const WRITE: &str = "write-token-0123456789";

fn tokens() -> Access {
    Access::with_tokens(vec![
        ApiToken::parse(&format!("read:{READ}")).expect("valid"),
        ApiToken::parse(&format!("write:{WRITE}")).expect("valid"),
    ])
}

async fn get_with_cookie(router: &axum::Router, path: &str, token: &str) -> Reply {
    let cookie = format!("theme=x; dkron_token={token}");
    send(router, Method::GET, path, None, &[("cookie", &cookie)]).await
}

async fn post_with_cookie(router: &axum::Router, path: &str, body: &str, token: &str) -> Reply {
    let cookie = format!("dkron_token={token}");
    send(
        router,
        Method::POST,
        path,
        Some(body),
        &[
            ("cookie", &cookie),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
    )
    .await
}

const WRITE_HOOKS: [&str; 6] = [
    "data-test=\"run-now\"",
    "data-test=\"toggle\"",
    "data-test=\"delete\"",
    "data-test=\"edit\"",
    "data-test=\"new-job\"",
    "data-test=\"cancel-execution\"",
];

#[tokio::test]
async fn without_a_token_a_page_sends_the_browser_to_the_login_form() {
    let (router, _) = app_with(tokens());
    for (path, login) in [
        ("/ui/", "login"),
        ("/ui/jobs", "login"),
        ("/ui/jobs/backup", "../login"),
        ("/ui/jobs/backup/edit", "../../login"),
    ] {
        let reply = send(&router, Method::GET, path, None, &[]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(reply.header("location"), Some(login), "{path}");
    }
    // The form, its post and the assets need none.
    let reply = send(&router, Method::GET, "/ui/login", None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .text()
            .contains("<form class=\"job\" method=\"post\" action=\"login\" data-test=\"login\">")
    );
    assert!(reply.text().contains("name=\"token\""));
    assert!(
        !reply.text().contains("data-test=\"logout\""),
        "not logged in yet"
    );
    let reply = send(&router, Method::GET, "/ui/assets/app.css", None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    // A write without a token is refused, not redirected.
    let reply = send(&router, Method::POST, "/ui/jobs/new", Some("name=x"), &[]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_logout_clears_it() {
    let (router, _) = app_with(tokens());
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let reply = send(
        &router,
        Method::POST,
        "/ui/login",
        Some("token=wrong-token-0123456789"),
        &form,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.text().contains("data-field=\"token\""));
    assert!(reply.header("set-cookie").is_none());

    let body = format!("token={WRITE}");
    let reply = send(&router, Method::POST, "/ui/login", Some(&body), &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), Some("./"));
    assert_eq!(
        reply.header("set-cookie"),
        Some(format!("dkron_token={WRITE}; HttpOnly; SameSite=Strict").as_str())
    );

    let reply = send(&router, Method::POST, "/ui/logout", None, &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), Some("login"));
    let cookie = reply.header("set-cookie").expect("cleared");
    assert!(cookie.starts_with("dkron_token=; Max-Age=0"), "{cookie}");
}

#[tokio::test]
async fn a_read_token_sees_no_write_button_and_cannot_write() {
    let (router, fake) = app_with(tokens());
    fake.put(shell_job("backup"));
    fake.add_execution(dkron_model::Execution {
        job_name: "backup".into(),
        started_at: jiff::Timestamp::now(),
        node_name: "node1".into(),
        ..dkron_model::Execution::default()
    });
    for path in ["/ui/", "/ui/jobs", "/ui/jobs/backup", "/ui/members"] {
        let reply = get_with_cookie(&router, path, READ).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        for hook in WRITE_HOOKS {
            assert!(!reply.text().contains(hook), "{path} shows {hook}");
        }
        assert!(reply.text().contains("read-only"), "{path}");
        assert!(reply.text().contains("data-test=\"logout\""), "{path}");
    }
    let reply = post_with_cookie(&router, "/ui/jobs/backup/run", "", READ).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(fake.lock().runs.is_empty());

    // A write token sees them all and may use them.
    let reply = get_with_cookie(&router, "/ui/jobs/backup", WRITE).await;
    for hook in WRITE_HOOKS.iter().filter(|h| !h.contains("new-job")) {
        assert!(reply.text().contains(hook), "missing {hook}");
    }
    let reply = post_with_cookie(&router, "/ui/jobs/backup/run", "", WRITE).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(fake.lock().runs, ["backup"]);
}

#[tokio::test]
async fn the_cookie_is_accepted_on_ui_paths_only() {
    let (router, _) = app_with(tokens());
    let reply = get_with_cookie(&router, "/v1/jobs", WRITE).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = get_with_cookie(&router, "/ui/jobs", "not-a-token-0123456789").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn protected_mode_serves_the_ui_to_loopback_only() {
    let (router, _) = app_with(Access::Protected);
    let far = Some(SocketAddr::from(([10, 0, 0, 2], 5000)));
    let reply = send_from(&router, far, Method::GET, "/ui/", None, &[]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = send_from(&router, far, Method::GET, "/ui/login", None, &[]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = send(&router, Method::GET, "/ui/", None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(!reply.text().contains("data-test=\"logout\""));
    // Without tokens there is nothing to log in to.
    let reply = send(&router, Method::GET, "/ui/login", None, &[]).await;
    assert!(reply.text().contains("nothing to log in to"));
}
