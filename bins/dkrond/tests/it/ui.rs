//! The web UI in a real browser (issue 14): headless chromium against a real `dkrond`, pages
//! found by the `data-test` hooks of the UI contract. A job's whole life through the UI, paging
//! and search over 1,000 jobs, a form error at its field, long and running executions, a read
//! token's view, and a screenshot of each main view in both themes (`<target>/ui-screenshots/`).
//!
//! Skipped with one line where chromium is missing; failing in CI (`browser.rs`).

use std::{
    collections::BTreeSet,
    net::SocketAddr,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use thirtyfour::{By, Key};

use crate::{
    browser::{Browser, WAIT, attr, fill, text},
    support::{Dkrond, request_with_headers, wait_for},
};

/// The UI's URL for `path` (relative to `/ui/`).
fn ui(node: &Dkrond, path: &str) -> String {
    format!("http://{}/ui/{path}", node.http)
}

/// A shell job as the REST API takes it.
fn shell_job(name: &str, command: &str) -> Value {
    json!({
        "name": name,
        "schedule": "@every 1h",
        "executor": "shell",
        "executor_config": { "command": command },
    })
}

/// Creates `jobs` through `POST /v1/restore`, in chunks from four concurrent clients (the
/// fastest honest path: every job goes through validation and Raft like a create), with
/// `headers` (a token); returns how long it took.
fn create_jobs(addr: SocketAddr, jobs: Vec<Value>, headers: &[(&str, &str)]) -> Duration {
    let started = Instant::now();
    let chunk = jobs.len().div_ceil(4).max(1);
    std::thread::scope(|scope| {
        for part in jobs.chunks(chunk) {
            scope.spawn(move || {
                let body = Value::Array(part.to_vec()).to_string();
                let mut all = vec![("Content-Type", "application/json")];
                all.extend_from_slice(headers);
                let reply =
                    request_with_headers(addr, "POST", "/v1/restore", body.as_bytes(), &all);
                assert_eq!(reply.status, 200, "{}", reply.text());
                let results: Vec<String> = reply
                    .json()
                    .as_str()
                    .and_then(|inner| serde_json::from_str(inner).ok())
                    .unwrap_or_else(|| panic!("restore results: {}", reply.text()));
                assert_eq!(results.len(), part.len());
                assert!(
                    results.iter().all(|r| r.starts_with("success create ")),
                    "{results:?}"
                );
            });
        }
    });
    started.elapsed()
}

/// `GET /v1/jobs/{name}` status and body.
fn rest_job(node: &Dkrond, name: &str) -> (u16, Value) {
    let reply = node.get(&format!("/v1/jobs/{name}"));
    let body = if reply.status == 200 {
        reply.json()
    } else {
        Value::Null
    };
    (reply.status, body)
}

/// The `data-job` names of the rows on the jobs page shown.
async fn row_names(browser: &Browser) -> Vec<String> {
    let mut names = Vec::new();
    for row in browser.hooks("job-row").await {
        names.push(attr(&row, "data-job").await);
    }
    names
}

/// Reloads the job page until an execution row satisfies `want` (by its `data-status`);
/// returns that row's status.
async fn wait_for_execution(browser: &Browser, what: &str, want: impl Fn(&str) -> bool) -> String {
    browser
        .wait_until(what, Duration::from_secs(30), || async {
            browser.driver().refresh().await.ok()?;
            browser.wait_page("job").await;
            for row in browser.hooks("execution-row").await {
                let status = attr(&row, "data-status").await;
                if want(&status) {
                    return Some(status);
                }
            }
            None
        })
        .await
}

/// Clicks the element with hook `name` (a link or a form's submit), accepting a confirm
/// dialog if it asks one, and waits for the page it loads.
async fn press(browser: &Browser, name: &str) {
    browser.click_to_load(name).await;
}

/// Create a job through the form, see it listed, open it, run it, see the execution and its
/// output, disable it, delete it; the REST API agrees at every step.
#[test]
fn a_job_created_through_the_form_runs_and_is_disabled_and_deleted() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let node = Dkrond::start();
    browser.run(async {
        browser.goto(&ui(&node, "jobs/new")).await;
        browser.wait_page("job-form").await;
        let form = browser.hook("job-form").await;
        for (field, value) in [
            ("name", "from-the-form"),
            ("displayname", "Made in a browser"),
            ("schedule", "@every 1h"),
            ("executor", "shell"),
            ("executor_config.command", "echo hello-from-the-ui"),
        ] {
            fill(&form, field, value)
                .await
                .unwrap_or_else(|e| panic!("fill {field}: {e}"));
        }
        press(&browser, "submit").await;
        browser
            .wait_until("the job to be stored", WAIT, || async {
                (rest_job(&node, "from-the-form").0 == 200).then_some(())
            })
            .await;
        let (_, stored) = rest_job(&node, "from-the-form");
        assert_eq!(stored["displayname"], "Made in a browser");
        assert_eq!(stored["schedule"], "@every 1h");
        assert_eq!(stored["executor"], "shell");
        assert_eq!(
            stored["executor_config"]["command"],
            "echo hello-from-the-ui"
        );
        assert_eq!(stored["disabled"], false);

        // Listed, and its row links to its page.
        browser.goto(&ui(&node, "jobs")).await;
        browser.wait_page("jobs").await;
        assert_eq!(row_names(&browser).await, ["from-the-form"]);
        assert_eq!(browser.hook_text("jobs-total").await, "1");
        let row = browser.hook("job-row").await;
        row.find(By::Css("a"))
            .await
            .expect("a link in the row")
            .click()
            .await
            .expect("open the job");
        browser.wait_page("job").await;
        assert!(browser.url().await.contains("/ui/jobs/from-the-form"));
        assert_eq!(browser.hook_text("job-name").await, "from-the-form");
        assert!(!browser.hook_text("schedule-words").await.is_empty());
        assert_eq!(
            browser.hooks("next-fire").await.len(),
            5,
            "the next 5 fires"
        );
        assert_eq!(browser.hook_text("job-enabled").await, "true");

        // Run it: the execution appears with its output.
        press(&browser, "run-now").await;
        let status = wait_for_execution(&browser, "the run to finish", |s| s != "running").await;
        assert_eq!(status, "success");
        let outputs = browser.hooks("execution-output").await;
        let mut seen = Vec::new();
        for output in &outputs {
            seen.push(text(output).await);
        }
        assert!(
            seen.iter().any(|o| o.contains("hello-from-the-ui")),
            "the output is shown: {seen:?}"
        );
        let (_, stored) = rest_job(&node, "from-the-form");
        assert_eq!(stored["success_count"], 1);

        // Disable it.
        browser.goto(&ui(&node, "jobs/from-the-form")).await;
        assert_eq!(browser.hook_text("toggle").await, "Disable");
        press(&browser, "toggle").await;
        browser
            .wait_until("the job page to say disabled", WAIT, || async {
                browser.goto(&ui(&node, "jobs/from-the-form")).await;
                (browser.hook_text("job-enabled").await == "false").then_some(())
            })
            .await;
        assert_eq!(browser.hook_text("toggle").await, "Enable");
        assert_eq!(rest_job(&node, "from-the-form").1["disabled"], true);

        // Delete it (the UI asks first, on a page of its own).
        press(&browser, "delete").await;
        browser.wait_page("confirm-delete").await;
        press(&browser, "confirm-delete").await;
        browser
            .wait_until("the job to be deleted", WAIT, || async {
                (rest_job(&node, "from-the-form").0 == 404).then_some(())
            })
            .await;
        browser.goto(&ui(&node, "jobs")).await;
        browser.wait_page("jobs").await;
        assert!(row_names(&browser).await.is_empty());
        assert_eq!(browser.hook_text("jobs-total").await, "0");
    });
}

/// 1,000 jobs: pages of 25 by default, the pager walks every job once (keeping `per_page`),
/// the search box and the enabled filter narrow the total.
#[test]
fn a_thousand_jobs_are_paged_and_searched() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let node = Dkrond::start();
    let jobs: Vec<Value> = (0..1000)
        .map(|i| {
            let mut job = shell_job(&format!("bulk-{i:04}"), "true");
            job["schedule"] = json!("@manually");
            job["displayname"] = json!(format!("Team {} report", i % 8));
            job["disabled"] = json!(i % 10 == 0);
            job
        })
        .collect();
    let took = create_jobs(node.http, jobs, &[]);
    crate::browser::say(&format!(
        "ui: 1,000 jobs created through /v1/restore in {took:?}"
    ));

    browser.run(async {
        browser.goto(&ui(&node, "jobs")).await;
        browser.wait_page("jobs").await;
        assert_eq!(browser.hook_text("jobs-total").await, "1000");
        assert_eq!(browser.hook_text("page-number").await, "1");
        let first = row_names(&browser).await;
        assert_eq!(first.len(), 25, "25 rows per page by default");

        press(&browser, "pager-next").await;
        browser
            .wait_until("page 2", WAIT, || async {
                (browser.hook_text("page-number").await == "2").then_some(())
            })
            .await;
        let second = row_names(&browser).await;
        assert_eq!(second.len(), 25);
        assert!(
            second.iter().all(|n| !first.contains(n)),
            "page 2 is new rows"
        );
        press(&browser, "pager-prev").await;
        browser
            .wait_until("back on page 1", WAIT, || async {
                (browser.hook_text("page-number").await == "1").then_some(())
            })
            .await;
        assert_eq!(row_names(&browser).await, first);

        // 100 per page: ten pages through the pager show every job exactly once.
        browser.goto(&ui(&node, "jobs?per_page=100")).await;
        let mut all = BTreeSet::new();
        for page in 1..=10 {
            browser
                .wait_until(&format!("page {page}"), WAIT, || async {
                    (browser.hook_text("page-number").await == page.to_string()).then_some(())
                })
                .await;
            let names = row_names(&browser).await;
            assert_eq!(names.len(), 100, "page {page}");
            all.extend(names);
            if page < 10 {
                press(&browser, "pager-next").await;
            }
        }
        assert_eq!(all.len(), 1000, "every job once");
        assert_eq!(all.first().map(String::as_str), Some("bulk-0000"));
        assert_eq!(all.last().map(String::as_str), Some("bulk-0999"));

        // Search by name through the form.
        browser.goto(&ui(&node, "jobs")).await;
        let search = browser.hook("jobs-search").await;
        let q = search
            .find(By::Css("input[name=\"q\"]"))
            .await
            .expect("the search input");
        q.send_keys("bulk-004").await.expect("type");
        q.send_keys(Key::Enter).await.expect("submit");
        browser
            .wait_until("10 matches", WAIT, || async {
                (browser.hook_text("jobs-total").await == "10").then_some(())
            })
            .await;
        let names = row_names(&browser).await;
        let expected: Vec<String> = (40..50).map(|i| format!("bulk-{i:04}")).collect();
        assert_eq!(
            names.iter().cloned().collect::<BTreeSet<_>>(),
            expected.into_iter().collect::<BTreeSet<_>>()
        );

        // Search by display name, then page within the results (the pager keeps `q`).
        browser.goto(&ui(&node, "jobs?q=Team%203%20report")).await;
        assert_eq!(browser.hook_text("jobs-total").await, "125");
        press(&browser, "pager-next").await;
        browser
            .wait_until("page 2 of the results", WAIT, || async {
                (browser.hook_text("page-number").await == "2").then_some(())
            })
            .await;
        assert_eq!(browser.hook_text("jobs-total").await, "125");
        for name in row_names(&browser).await {
            let n: usize = name
                .trim_start_matches("bulk-")
                .parse()
                .expect("a bulk job");
            assert_eq!(n % 8, 3, "{name} is not in team 3");
        }

        // The enabled filter.
        browser.goto(&ui(&node, "jobs?enabled=false")).await;
        assert_eq!(browser.hook_text("jobs-total").await, "100");
        browser
            .goto(&ui(&node, "jobs?enabled=true&q=bulk-00"))
            .await;
        assert_eq!(browser.hook_text("jobs-total").await, "90");
    });
}

/// A bad schedule is refused by the API and shown at its field; nothing is stored. The schedule
/// is explained live as it is typed.
#[test]
fn a_bad_schedule_is_shown_at_its_field_and_the_schedule_is_explained_as_typed() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let node = Dkrond::start();
    browser.run(async {
        browser.goto(&ui(&node, "jobs/new")).await;
        browser.wait_page("job-form").await;
        let form = browser.hook("job-form").await;

        // Live explanation: it follows what is typed, without a submit.
        fill(&form, "schedule", "@every 90s").await.expect("type");
        let every = browser
            .wait_until("a preview of @every 90s", WAIT, || async {
                let text = browser.hook_text("schedule-preview").await;
                (!text.is_empty()).then_some(text)
            })
            .await;
        fill(&form, "schedule", "0 30 9 * * 1-5")
            .await
            .expect("type");
        let weekdays = browser
            .wait_until("the preview to follow the schedule", WAIT, || async {
                let text = browser.hook_text("schedule-preview").await;
                (!text.is_empty() && text != every).then_some(text)
            })
            .await;
        assert_ne!(every, weekdays);
        assert_eq!(
            browser.page().await,
            "job-form",
            "the preview did not submit"
        );

        for (field, value) in [
            ("name", "bad-schedule"),
            ("schedule", "every banana"),
            ("executor", "shell"),
            ("executor_config.command", "true"),
        ] {
            fill(&form, field, value)
                .await
                .unwrap_or_else(|e| panic!("fill {field}: {e}"));
        }
        press(&browser, "submit").await;
        let error = browser.hook("field-error").await;
        assert_eq!(attr(&error, "data-field").await, "schedule");
        assert!(!text(&error).await.is_empty(), "the error says something");
        browser.wait_page("job-form").await;
        browser.screenshot_page("form-error").await;
        assert_eq!(rest_job(&node, "bad-schedule").0, 404, "nothing stored");
        assert!(row_names(&browser).await.is_empty());
    });
}

/// Long output is cut until "show all"; a running execution can be cancelled from its page.
#[test]
fn long_output_is_shown_whole_on_demand_and_a_running_execution_is_cancelled() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let node = Dkrond::start();
    // About 230 kB of output, under the default output limit (256000 bytes).
    create_jobs(
        node.http,
        vec![
            shell_job("long-output", "seq 1 40000"),
            shell_job("sleeper", "sleep 120"),
        ],
        &[],
    );
    assert_eq!(node.post("/v1/jobs/long-output", "").status, 200);
    browser.run(async {
        browser.goto(&ui(&node, "jobs/long-output")).await;
        wait_for_execution(&browser, "the long run to finish", |s| s == "success").await;
        let before = text(&browser.hook("execution-output").await).await;
        press(&browser, "output-show-all").await;
        let after = browser
            .wait_until("the whole output", WAIT, || async {
                let mut longest = String::new();
                for output in browser.hooks("execution-output").await {
                    let shown = text(&output).await;
                    if shown.len() > longest.len() {
                        longest = shown;
                    }
                }
                (longest.len() > before.len()).then_some(longest)
            })
            .await;
        let lines: Vec<&str> = after.lines().map(str::trim).collect();
        assert_eq!(lines.first(), Some(&"1"), "from the first line");
        assert_eq!(lines.last(), Some(&"40000"), "to the last line");
        assert_eq!(lines.len(), 40000);

        browser.goto(&ui(&node, "jobs/sleeper")).await;
        press(&browser, "run-now").await;
        wait_for_execution(&browser, "the sleeper to run", |s| s == "running").await;
        press(&browser, "cancel-execution").await;
        let status = wait_for_execution(&browser, "the cancellation", |s| s != "running").await;
        assert_ne!(status, "success");
    });
    let executions = node.get("/v1/jobs/sleeper/executions").json();
    let execution = &executions[0];
    assert_eq!(execution["success"], false, "{executions}");
    assert!(!execution["finished_at"].is_null(), "{executions}");
}

const READ: &str = "read-token-0123456789abcdef";
const WRITE: &str = "write-token-0123456789abcdef";

/// With tokens, the UI shows nothing before a token is given; a read token sees jobs but no
/// write action; a write token sees them all.
#[test]
fn a_read_token_sees_no_write_buttons() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let read = format!("read:{READ}");
    let write = format!("write:{WRITE}");
    let node = Dkrond::start_in(dir, &["--api-token", &read, "--api-token", &write]);
    let bearer = format!("Bearer {WRITE}");
    create_jobs(
        node.http,
        vec![shell_job("guarded", "echo guarded")],
        &[("Authorization", &bearer)],
    );
    let reply = request_with_headers(
        node.http,
        "POST",
        "/v1/jobs/guarded",
        b"",
        &[("Authorization", &bearer)],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    wait_for("the run to finish", WAIT, || {
        let list = request_with_headers(
            node.http,
            "GET",
            "/v1/jobs/guarded/executions",
            b"",
            &[("Authorization", &bearer)],
        );
        let body = list.json();
        body[0]["finished_at"].is_string().then_some(())
    });

    let write_hooks = ["run-now", "toggle", "delete", "edit"];
    browser.run(async {
        browser.goto(&ui(&node, "jobs")).await;
        assert!(
            row_names(&browser).await.is_empty(),
            "no job is shown without a token"
        );

        login(&browser, &node, READ).await;
        browser.goto(&ui(&node, "jobs")).await;
        browser.wait_page("jobs").await;
        assert_eq!(row_names(&browser).await, ["guarded"]);
        assert!(browser.hooks("new-job").await.is_empty(), "new-job link");
        browser.goto(&ui(&node, "jobs/guarded")).await;
        browser.wait_page("job").await;
        assert_eq!(browser.hook_text("job-name").await, "guarded");
        assert!(!browser.hooks("execution-row").await.is_empty());
        for name in write_hooks.iter().chain(&["cancel-execution"]) {
            assert!(
                browser.hooks(name).await.is_empty(),
                "a read token sees {name}"
            );
        }

        // The same pages with a write token have them (so the check above can fail).
        login(&browser, &node, WRITE).await;
        browser.goto(&ui(&node, "jobs")).await;
        browser.wait_page("jobs").await;
        assert!(!browser.hooks("new-job").await.is_empty());
        browser.goto(&ui(&node, "jobs/guarded")).await;
        browser.wait_page("job").await;
        for name in write_hooks {
            assert!(
                !browser.hooks(name).await.is_empty(),
                "a write token misses {name}"
            );
        }
    });
}

/// Gives `token` to the UI's login form.
async fn login(browser: &Browser, node: &Dkrond, token: &str) {
    browser.goto(&ui(node, "login")).await;
    browser.wait_page("login").await;
    let form = browser.hook("login").await;
    fill(&form, "token", token).await.expect("type the token");
    form.find(By::Css("[type=\"submit\"]"))
        .await
        .expect("a submit button")
        .click()
        .await
        .expect("log in");
    browser
        .wait_until("the login to complete", WAIT, || async {
            (browser.page().await != "login").then_some(())
        })
        .await;
}

/// Each main view in both themes, saved whole as `<view>-<theme>.png`, and at a phone's width
/// (`<view>-phone.png`) where none may scroll sideways; the dashboard and members hooks hold
/// what the node says.
#[test]
fn each_main_view_in_light_and_dark_is_screenshotted() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let node = Dkrond::start();
    let jobs = (0..30)
        .map(|i| {
            let mut job = shell_job(&format!("report-{i:02}"), "echo nightly report done");
            job["displayname"] = json!(format!("Nightly report {i}"));
            job["schedule"] = json!(format!("0 {i} 3 * * *"));
            job["timezone"] = json!("Europe/Berlin");
            job
        })
        .collect();
    create_jobs(node.http, jobs, &[]);
    for _ in 0..3 {
        assert_eq!(node.post("/v1/jobs/report-00", "").status, 200);
    }
    wait_for("three runs", WAIT, || {
        let body = node.get("/v1/jobs/report-00/executions").json();
        let done = body.as_array().map_or(0, |list| {
            list.iter().filter(|e| e["finished_at"].is_string()).count()
        });
        (done == 3).then_some(())
    });

    let views = [
        ("dashboard", "", "dashboard"),
        ("jobs", "jobs", "jobs"),
        ("job", "jobs/report-00", "job"),
        ("form", "jobs/new", "job-form"),
        ("members", "members", "members"),
    ];
    browser.run(async {
        let mut saved = Vec::new();
        for theme in ["light", "dark"] {
            for (view, path, page) in views {
                browser.goto(&ui(&node, path)).await;
                browser.wait_page(page).await;
                use_theme(&browser, theme).await;
                saved.push(browser.screenshot_page(&format!("{view}-{theme}")).await);
            }
        }
        assert_eq!(saved.len(), 10);

        // On a phone (390 CSS px): no view makes a person scroll sideways.
        browser.phone().await;
        let mut too_wide = Vec::new();
        for (view, path, page) in views {
            browser.goto(&ui(&node, path)).await;
            browser.wait_page(page).await;
            browser.screenshot_page(&format!("{view}-phone")).await;
            if browser.scrolls_sideways().await {
                too_wide.push(view);
            }
        }
        browser.desktop().await;
        assert!(too_wide.is_empty(), "wider than a phone: {too_wide:?}");

        browser.goto(&ui(&node, "")).await;
        browser.wait_page("dashboard").await;
        assert!(browser.hook_text("leader").await.contains("test-node"));
        assert_eq!(browser.hook_text("node-count").await, "1");
        assert_eq!(browser.hook_text("job-count").await, "30");
        let chart = browser.hook("stats-chart").await;
        let is_svg = chart.tag_name().await.unwrap_or_default() == "svg"
            || chart.find(By::Css("svg")).await.is_ok();
        assert!(is_svg, "the stats chart is an inline svg");
        browser.hook("running-now").await;

        browser.goto(&ui(&node, "members")).await;
        browser.wait_page("members").await;
        let rows = browser.hooks("member-row").await;
        assert_eq!(rows.len(), 1);
        assert_eq!(attr(&rows[0], "data-member").await, "test-node");
        assert!(
            rows[0]
                .find(crate::browser::hook("leader-mark"))
                .await
                .is_ok(),
            "the leader is marked"
        );
    });
}

/// Switches the page shown to `theme` with the toggle (the choice is kept for later pages).
async fn use_theme(browser: &Browser, theme: &str) {
    if browser.theme().await != theme {
        // The toggle is a script on the page: no new page to wait for.
        let toggle = browser.hook("theme-toggle").await;
        toggle.click().await.expect("click the theme toggle");
        browser
            .wait_until(&format!("the {theme} theme"), WAIT, || async {
                (browser.theme().await == theme).then_some(())
            })
            .await;
    }
}

/// Ticks or clears the checkbox with element id `id`.
async fn tick(browser: &Browser, id: &str, on: bool) {
    let field = browser
        .driver()
        .find(By::Id(id))
        .await
        .unwrap_or_else(|e| panic!("checkbox {id}: {e}"));
    if field.is_selected().await.expect("read checkbox") != on {
        field.click().await.expect("click checkbox");
    }
}

/// Jitter, pause_on_failure and a notification rule set through the form read back through the
/// REST API, survive an untouched edit, and the job page says them; its backfill form launches
/// the schedule's instants (issue 16). Screenshots of the form and the pages in both themes.
#[test]
fn jitter_and_notify_set_through_the_form_read_back_through_the_api() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let node = Dkrond::start();
    let want_notify = json!({
        "channels": ["webhook"], "on_success": false, "on_failure": true, "on_recovery": true,
    });
    browser.run(async {
        browser.goto(&ui(&node, "jobs/new")).await;
        browser.wait_page("job-form").await;
        let form = browser.hook("job-form").await;
        for (field, value) in [
            ("name", "hourly-report"),
            ("schedule", "0 0 * * * *"),
            ("executor", "shell"),
            ("executor_config.command", "echo backfilled"),
            ("jitter", "90s"),
            ("pause_on_failure", "2"),
            ("notify", "custom"),
            ("notify.on_success", "false"),
        ] {
            fill(&form, field, value)
                .await
                .unwrap_or_else(|e| panic!("fill {field}: {e}"));
        }
        for channel in ["mail", "pre_webhook", "cronitor"] {
            tick(&browser, &format!("f-notify-{channel}"), false).await;
        }
        tick(&browser, "f-notify-webhook", true).await;
        for theme in ["light", "dark"] {
            use_theme(&browser, theme).await;
            browser
                .screenshot_page(&format!("form-policies-{theme}"))
                .await;
        }
        use_theme(&browser, "light").await;
        press(&browser, "submit").await;
        browser
            .wait_until("the job to be stored", WAIT, || async {
                (rest_job(&node, "hourly-report").0 == 200).then_some(())
            })
            .await;
        let (_, stored) = rest_job(&node, "hourly-report");
        assert_eq!(stored["jitter"], "90s");
        assert_eq!(stored["pause_on_failure"], 2);
        assert_eq!(stored["run_on"], "success");
        assert_eq!(stored["notify"], want_notify);

        // The job page says them in words.
        browser.wait_page("job").await;
        assert!(
            browser
                .hook_text("jitter-words")
                .await
                .contains("up to 1 min 30 s"),
            "{}",
            browser.hook_text("jitter-words").await
        );
        assert_eq!(
            browser.hook_text("notify-words").await,
            "Notifications on webhook: the first success after a failed run and every failure."
        );
        assert!(
            browser
                .hook_text("pause-words")
                .await
                .contains("after 2 consecutive")
        );

        // An edit that does not touch them keeps them.
        press(&browser, "edit").await;
        browser.wait_page("job-form").await;
        let form = browser.hook("job-form").await;
        fill(&form, "displayname", "Hourly report")
            .await
            .expect("type");
        press(&browser, "submit").await;
        browser
            .wait_until("the edit to be stored", WAIT, || async {
                (rest_job(&node, "hourly-report").1["displayname"] == "Hourly report").then_some(())
            })
            .await;
        let (_, stored) = rest_job(&node, "hourly-report");
        assert_eq!(stored["jitter"], "90s");
        assert_eq!(stored["pause_on_failure"], 2);
        assert_eq!(stored["notify"], want_notify);

        // Backfill three hours from the job page.
        browser.goto(&ui(&node, "jobs/hourly-report")).await;
        browser.wait_page("job").await;
        for theme in ["light", "dark"] {
            use_theme(&browser, theme).await;
            browser
                .screenshot_page(&format!("job-policies-{theme}"))
                .await;
        }
        use_theme(&browser, "light").await;
        let backfill = browser.hook("backfill-form").await;
        fill(&backfill, "from", "2026-01-20 01:00")
            .await
            .expect("type");
        fill(&backfill, "to", "2026-01-20 03:00")
            .await
            .expect("type");
        press(&browser, "backfill-submit").await;
        browser.wait_page("backfill").await;
        let launched = browser.hook("backfill-launched").await;
        assert_eq!(attr(&launched, "data-count").await, "3");
        assert_eq!(browser.hooks("backfill-instant").await.len(), 3);
        browser.screenshot_page("backfill-light").await;
        wait_for("three backfilled runs", WAIT, || {
            let body = node.get("/v1/jobs/hourly-report/executions").json();
            let list = body.as_array().cloned().unwrap_or_default();
            let backfilled = list
                .iter()
                .filter(|e| e["trigger"] == "backfill" && e["success"] == true)
                .count();
            (backfilled == 3).then_some(())
        });

        // A range ending before it starts is refused at its field; nothing more runs.
        let backfill = browser.hook("backfill-form").await;
        fill(&backfill, "from", "2026-01-20 05:00")
            .await
            .expect("type");
        fill(&backfill, "to", "2026-01-20 04:00")
            .await
            .expect("type");
        press(&browser, "backfill-submit").await;
        browser.wait_page("backfill").await;
        let error = browser.hook("field-error").await;
        assert_eq!(attr(&error, "data-field").await, "to");
        let body = node.get("/v1/jobs/hourly-report/executions").json();
        assert_eq!(body.as_array().map_or(0, Vec::len), 3);
    });
}
