//! The scenarios: each starts its nodes and the sink, creates its jobs through the API, watches
//! the sink and the nodes' RSS once a second with a progress line, and returns a [`Report`].

use std::{
    io::Write as _,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use tokio::task::JoinSet;

use crate::{
    Args, Report, Result, Scenario, get_json, http_client, post,
    procs::{Cluster, Node},
    report::{self, RssSample, Second, Summary},
    sink::{Sink, now_ns},
};

const NS: i64 = 1_000_000_000;
/// Seconds after the measured window during which late fires still count.
const GRACE_S: u64 = 3;
/// failover: how long the harness watches after the kill.
const AFTER_KILL_S: u64 = 20;

pub(crate) async fn run(args: &Args, bin: &std::path::Path) -> Result<Report> {
    match args.scenario {
        Scenario::Sustain => sustain(args, bin, args.jobs.unwrap_or(1000), 1).await,
        Scenario::Scale => sustain(args, bin, args.jobs.unwrap_or(100_000), 60).await,
        Scenario::Failover => failover(args, bin).await,
        Scenario::ColdStart | Scenario::Memory => stored(args, bin).await,
        Scenario::Overload => overload(args, bin).await,
    }
}

/// Job `index`'s name.
fn job_name(index: usize) -> String {
    format!("lg-{index:06}")
}

/// A job as the harness stores it: `http` GET of the sink's `/j/<index>`, run by the nodes
/// tagged `pool=<pool>`, with a description and metadata that bring its JSON to about 430 B
/// (perf-anchors (f) asks for dkron-like job definitions of about 600 B).
fn job_body(index: usize, schedule: &str, pool: &str, sink: std::net::SocketAddr) -> String {
    json!({
        "name": job_name(index),
        "displayname": format!("loadgen job {index}"),
        "schedule": schedule,
        "owner": "loadgen",
        "owner_email": "loadgen@example.invalid",
        "executor": "http",
        "executor_config": {
            "method": "GET",
            "url": format!("http://{sink}/j/{index}"),
            "expectCode": "200",
            "timeout": "30",
        },
        "tags": {"pool": pool},
        "metadata": {
            "team": "load-harness",
            "purpose": "end-to-end lateness, missed and duplicated fires, counted at a local sink",
            "ticket": "issue-15",
        },
        "retries": 0,
    })
    .to_string()
}

/// Creates jobs `range` with `clients` concurrent clients, with a progress line.
async fn create_jobs(
    client: &reqwest::Client,
    server: &Node,
    range: std::ops::Range<usize>,
    clients: usize,
    rate: Option<f64>,
    body: Arc<dyn Fn(usize) -> String + Send + Sync>,
) -> Result<Duration> {
    let start = Instant::now();
    let first = range.start;
    let next = Arc::new(AtomicUsize::new(range.start));
    let done = Arc::new(AtomicUsize::new(0));
    let url = server.url("/v1/jobs");
    let mut set: JoinSet<Result<()>> = JoinSet::new();
    for _ in 0..clients.max(1) {
        let (client, next, done, url, body, end) = (
            client.clone(),
            next.clone(),
            done.clone(),
            url.clone(),
            body.clone(),
            range.end,
        );
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    return Ok(());
                }
                if let Some(rate) = rate.filter(|r| *r > 0.0) {
                    let at = Duration::from_secs_f64((i - first) as f64 / rate);
                    tokio::time::sleep_until((start + at).into()).await;
                }
                post(&client, &url, body(i))
                    .await
                    .map_err(|e| format!("job {i}: {e}"))?;
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let total = range.len();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            joined = set.join_next() => match joined {
                None => break,
                Some(result) => result.map_err(|e| e.to_string())??,
            },
            _ = tick.tick() => {
                let n = done.load(Ordering::Relaxed);
                progress(&format!(
                    "creating jobs {n}/{total} ({:.0}/s)",
                    n as f64 / start.elapsed().as_secs_f64().max(1e-3)
                ));
            }
        }
    }
    let took = start.elapsed();
    progress(&format!(
        "created {total} jobs in {:.1} s ({:.0}/s)",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    ));
    eprintln!();
    Ok(took)
}

fn progress(line: &str) {
    let mut err = std::io::stderr();
    let _ = write!(err, "\r\x1b[2K{line}");
    let _ = err.flush();
}

/// Watches for `seconds`: once a second samples the RSS of every live node and one API read on
/// `cluster.servers[api_on()]`, and prints a progress line.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site per phase; a context struct would have to borrow the cluster across the kill"
)]
async fn watch(
    client: &reqwest::Client,
    cluster: &Cluster,
    sink: &Sink,
    zero_ns: i64,
    seconds: u64,
    label: &str,
    samples: &mut Vec<RssSample>,
    api_on: usize,
) {
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut seen = sink.since(usize::MAX).0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < end {
        tick.tick().await;
        let (len, fresh) = sink.since(seen);
        seen = len;
        let mut late: Vec<f64> = fresh
            .iter()
            .map(|a| a.at_ns.rem_euclid(NS) as f64 / 1e6)
            .collect();
        late.sort_by(f64::total_cmp);
        let nodes = cluster.servers.iter().chain(cluster.agent.as_ref());
        let mb: Vec<(String, f64)> = nodes
            .map(|n| (n.name.clone(), n.rss().map_or(f64::NAN, |b| b as f64 / 1e6)))
            .collect();
        let api_start = Instant::now();
        let api = get_json(client, &cluster.servers[api_on].url("/v1/jobs/lg-000000")).await;
        let api_ms = if api.is_ok() {
            api_start.elapsed().as_secs_f64() * 1000.0
        } else {
            f64::NAN
        };
        let write_ms = probe_write(client, &cluster.servers[api_on]).await;
        let skipped = skipped_total(client, &cluster.servers[api_on]).await;
        let t = (now_ns() - zero_ns) as f64 / 1e9;
        progress(&format!(
            "{label}: t={t:.0}s, {} fires in the last second, their p99 {:.0} ms past the second; RSS {}; API GET {api_ms:.1} ms, upsert {write_ms:.1} ms; {skipped} skipped",
            fresh.len(),
            report::quantile(&late, 0.99),
            mb.iter()
                .map(|(n, v)| format!("{n} {v:.0} MB"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
        samples.push(RssSample {
            t,
            mb,
            api_ms,
            write_ms,
            skipped,
        });
    }
    eprintln!();
}

/// How long one job upsert takes on `server` (a disabled `@manually` job that never runs), in
/// ms; NaN when it fails or takes more than 5 s.
async fn probe_write(client: &reqwest::Client, server: &Node) -> f64 {
    let body = json!({
        "name": "lg-write-probe",
        "schedule": "@manually",
        "disabled": true,
        "executor": "shell",
        "executor_config": {"command": "true"},
    })
    .to_string();
    let start = Instant::now();
    match tokio::time::timeout(
        Duration::from_secs(5),
        post(client, &server.url("/v1/jobs"), body),
    )
    .await
    {
        Ok(Ok(())) => start.elapsed().as_secs_f64() * 1000.0,
        _ => f64::NAN,
    }
}

/// `dkron_scheduler_fires_skipped_total` from `server`'s `/metrics` (0 before the first skip,
/// NaN when unreadable). Counted by the leader that skipped: read it on the leader.
async fn skipped_total(client: &reqwest::Client, server: &Node) -> f64 {
    let text = match client
        .get(server.url("/metrics"))
        .timeout(Duration::from_secs(1))
        .send()
        .await
    {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => return f64::NAN,
    };
    text.lines()
        .find_map(|l| l.strip_prefix("dkron_scheduler_fires_skipped_total "))
        .map_or(0.0, |v| v.trim().parse().unwrap_or(f64::NAN))
}

/// Fields every report's JSON shares.
fn base_json(
    args: &Args,
    jobs: usize,
    summary: &Summary,
    seconds: &[Second],
    rss: &[RssSample],
) -> serde_json::Value {
    json!({
        "scenario": args.scenario.name(),
        "jobs": jobs,
        "date": jiff::Timestamp::now().to_string(),
        "loadavg_end": loadavg(),
        "summary": report::summary_json(summary),
        "seconds": report::seconds_json(seconds),
        "rss": report::rss_json(rss),
    })
}

fn summary_rows(summary: &Summary) -> Vec<(String, String)> {
    vec![
        ("fires expected".into(), summary.expected.to_string()),
        (
            "arrived at the sink".into(),
            format!(
                "{} ({:.3}%)",
                summary.arrivals,
                100.0 * summary.arrivals as f64 / summary.expected.max(1) as f64
            ),
        ),
        (
            "missed (expected − arrived)".into(),
            summary.missed.to_string(),
        ),
        (
            "collisions (a 2nd arrival in a job's second: ≥ 1 s late or duplicate)".into(),
            summary.duplicates.to_string(),
        ),
        (
            "lateness p50 / p99 / max (mod 1 s if collisions)".into(),
            format!(
                "{:.1} / {:.1} / {:.1} ms",
                summary.p50_ms, summary.p99_ms, summary.max_ms
            ),
        ),
    ]
}

/// What the execution records of a sample of jobs show.
#[derive(Clone, Copy, Debug, Default)]
struct Records {
    /// Executions beyond the first with the same `scheduled_at` and `attempt`.
    duplicates: u64,
    checked: u64,
    /// The earliest `started_at` (ns) of an execution scheduled at or after `after_ns`.
    first_start_after: Option<i64>,
}

/// Reads the execution records of `sample` jobs spread over `0..jobs` (each job's retained
/// history).
async fn records(
    client: &reqwest::Client,
    server: &Node,
    jobs: usize,
    sample: usize,
    after_ns: i64,
) -> Records {
    let mut out = Records::default();
    let step = (jobs / sample.max(1)).max(1);
    let time = |v: &serde_json::Value| -> Option<i64> {
        let t: jiff::Timestamp = v.as_str()?.parse().ok()?;
        i64::try_from(t.as_nanosecond()).ok()
    };
    for index in (0..jobs).step_by(step).take(sample) {
        let url = server.url(&format!("/v1/jobs/{}/executions", job_name(index)));
        let Ok(list) = get_json(client, &url).await else {
            continue;
        };
        let mut seen = std::collections::HashSet::new();
        for e in list.as_array().into_iter().flatten() {
            out.checked += 1;
            let key = (
                e["scheduled_at"].to_string(),
                e["attempt"].as_i64().unwrap_or(0),
            );
            if !seen.insert(key) {
                out.duplicates += 1;
            }
            if let (Some(scheduled), Some(started)) =
                (time(&e["scheduled_at"]), time(&e["started_at"]))
                && scheduled >= after_ns
            {
                out.first_start_after =
                    Some(out.first_start_after.map_or(started, |f| f.min(started)));
            }
        }
    }
    out
}

/// The leader's own view from `/metrics`: for the scheduler lateness and Raft commit
/// histograms, the observation count and mean, and the share of observations at or under each
/// bucket bound. Tells where end-to-end lateness goes (timer → start vs commit vs the rest).
async fn leader_metrics(client: &reqwest::Client, server: &Node) -> serde_json::Value {
    let Ok(response) = client.get(server.url("/metrics")).send().await else {
        return serde_json::Value::Null;
    };
    let text = response.text().await.unwrap_or_default();
    let mut out = serde_json::Map::new();
    for name in [
        "dkron_scheduler_lateness_seconds",
        "dkron_raft_commit_seconds",
    ] {
        let value = |suffix: &str| -> f64 {
            text.lines()
                .filter(|l| l.starts_with(&format!("{name}{suffix}")))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        let (sum, count) = (value("_sum"), value("_count"));
        let buckets: Vec<serde_json::Value> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{name}_bucket")))
            .filter_map(|l| {
                let le = l.split("le=\"").nth(1)?.split('"').next()?.to_owned();
                let n: f64 = l.rsplit(' ').next()?.parse().ok()?;
                Some(json!({"le": le, "share": n / count.max(1.0)}))
            })
            .collect();
        out.insert(
            name.to_owned(),
            json!({"count": count, "mean_ms": sum / count.max(1.0) * 1000.0, "buckets": buckets}),
        );
    }
    serde_json::Value::Object(out)
}

/// One table row from [`leader_metrics`]: count, mean and the share within 50 ms / 1 s.
fn metrics_row(metrics: &serde_json::Value, name: &str, label: &str) -> (String, String) {
    let m = &metrics[name];
    if m["count"].as_f64().unwrap_or(0.0) < 1.0 {
        // The scheduler lateness histogram lives on the node that runs a fire: for agent runs
        // that is the agent, which serves no `/metrics`.
        return (label.to_owned(), "no observations on the leader".to_owned());
    }
    let share = |le: &str| {
        m["buckets"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["le"] == le))
            .and_then(|b| b["share"].as_f64())
            .unwrap_or(f64::NAN)
            * 100.0
    };
    (
        label.to_owned(),
        format!(
            "{} observations, mean {:.1} ms, {:.1}% ≤ 50 ms, {:.1}% ≤ 1 s",
            m["count"].as_f64().unwrap_or(0.0),
            m["mean_ms"].as_f64().unwrap_or(f64::NAN),
            share("0.05"),
            share("1")
        ),
    )
}

/// RSS (MB) of `name` in the first sample at or after `t`, and in the last sample.
fn rss_growth(rss: &[RssSample], name: &str, t: f64) -> (f64, f64) {
    let of = |s: &RssSample| {
        s.mb.iter()
            .find(|(n, _)| n == name)
            .map_or(f64::NAN, |(_, v)| *v)
    };
    let first = rss.iter().find(|s| s.t >= t).map_or(f64::NAN, of);
    let last = rss.last().map_or(f64::NAN, of);
    (first, last)
}

fn api_row(rss: &[RssSample]) -> (String, String) {
    let mut ms: Vec<f64> = rss
        .iter()
        .map(|s| s.api_ms)
        .filter(|v| v.is_finite())
        .collect();
    let failed = rss.len() - ms.len();
    ms.sort_by(f64::total_cmp);
    (
        "API GET (1/s) p50 / max, failed".into(),
        format!(
            "{:.1} / {:.1} ms, {failed} of {}",
            report::quantile(&ms, 0.5),
            ms.last().copied().unwrap_or(f64::NAN),
            rss.len()
        ),
    )
}

/// The upserts timed once a second (`probe_write`): p50 / p99 / max, and how many failed or
/// took over 5 s.
fn write_row(rss: &[RssSample]) -> (String, String) {
    let mut ms: Vec<f64> = rss
        .iter()
        .map(|s| s.write_ms)
        .filter(|v| v.is_finite())
        .collect();
    let failed = rss.len() - ms.len();
    ms.sort_by(f64::total_cmp);
    (
        "API upsert (1/s) p50 / p99 / max, failed or > 5 s".into(),
        format!(
            "{:.1} / {:.1} / {:.1} ms, {failed} of {}",
            report::quantile(&ms, 0.5),
            report::quantile(&ms, 0.99),
            ms.last().copied().unwrap_or(f64::NAN),
            rss.len()
        ),
    )
}

/// `sustain` (period 1 s) and `scale` (period 60 s): N jobs `@every <period>s` on 3 servers and
/// 1 agent that runs them all.
async fn sustain(args: &Args, bin: &std::path::Path, jobs: usize, period: i64) -> Result<Report> {
    let client = http_client();
    let sink = Sink::start().await?;
    let cluster = Cluster::start(bin, &client, 3, true).await?;
    match sustain_on(args, &client, &cluster, &sink, jobs, period).await {
        Ok(report) if args.keep => {
            eprintln!("{}", cluster.fail("done; --keep"));
            Ok(report)
        }
        Ok(report) => Ok(report),
        Err(error) => Err(cluster.fail(&error)),
    }
}

async fn sustain_on(
    args: &Args,
    client: &reqwest::Client,
    cluster: &Cluster,
    sink: &Sink,
    jobs: usize,
    period: i64,
) -> Result<Report> {
    let leader = cluster.leader(client).await?;
    let load_start = loadavg();
    let zero_ns = now_ns();
    let schedule = format!("@every {period}s");
    let addr = sink.addr;
    let created = create_jobs(
        client,
        &cluster.servers[leader],
        0..jobs,
        args.clients,
        // Spread over one period (scale), so every second of it fires as many jobs.
        (period > 1).then(|| args.create_rate.unwrap_or(jobs as f64 / period as f64)),
        Arc::new(move |i| job_body(i, &schedule, "agent", addr)),
    )
    .await?;
    let duration = args.duration.unwrap_or(if period == 1 { 300 } else { 120 });
    // A 60 s job first fires a period after its creation: the window starts once all have.
    let warmup = args.warmup + if period > 1 { period as u64 } else { 0 };
    let mut rss = Vec::new();
    watch(
        client, cluster, sink, zero_ns, warmup, "warm-up", &mut rss, leader,
    )
    .await;
    let from_s = now_ns() / NS + 1;
    let to_s = from_s + duration as i64;
    let left = u64::try_from(to_s * NS - now_ns()).unwrap_or(0) / 1_000_000_000 + GRACE_S;
    watch(
        client,
        cluster,
        sink,
        zero_ns,
        left,
        "measuring",
        &mut rss,
        leader,
    )
    .await;
    let Records {
        duplicates: dups,
        checked,
        ..
    } = records(client, &cluster.servers[leader], jobs, 50, 0).await;
    let metrics = leader_metrics(client, &cluster.servers[leader]).await;
    let arrivals = sink.snapshot();
    let due = due_per_second(&arrivals, jobs, period);
    let (summary, seconds) = report::analyse(&arrivals, zero_ns / NS, from_s, to_s, &|s| due(s));
    let leader_name = cluster.servers[leader].name.clone();
    let (rss_from, rss_to) = rss_growth(&rss, &leader_name, (from_s * NS - zero_ns) as f64 / 1e9);
    let (agent_from, agent_to) = rss_growth(&rss, "a1", (from_s * NS - zero_ns) as f64 / 1e9);
    let mut rows = vec![
        (
            "jobs".into(),
            format!("{jobs} × @every {period}s, http, on agent a1; 3 servers"),
        ),
        (
            "job creation".into(),
            format!(
                "{:.1} s ({:.0}/s)",
                created.as_secs_f64(),
                jobs as f64 / created.as_secs_f64()
            ),
        ),
        (
            "measured".into(),
            format!("{duration} s after {warmup} s of warm-up"),
        ),
    ];
    rows.extend(summary_rows(&summary));
    rows.push((
        "duplicates in the execution records".into(),
        format!("{dups} in {checked} executions of 50 jobs"),
    ));
    rows.push((
        format!("leader {leader_name} RSS start → end"),
        format!("{rss_from:.0} → {rss_to:.0} MB"),
    ));
    rows.push(metrics_row(
        &metrics,
        "dkron_scheduler_lateness_seconds",
        "leader: scheduled → execution start (whole run)",
    ));
    rows.push(metrics_row(
        &metrics,
        "dkron_raft_commit_seconds",
        "leader: Raft commit (whole run)",
    ));
    rows.push((
        "agent a1 RSS start → end".into(),
        format!("{agent_from:.0} → {agent_to:.0} MB"),
    ));
    rows.push(api_row(&rss));
    rows.push(write_row(&rss));
    rows.push((
        "load average start / end".into(),
        format!("{load_start} / {}", loadavg()),
    ));
    let mut json = base_json(args, jobs, &summary, &seconds, &rss);
    json["period_s"] = json!(period);
    json["record_duplicates"] = json!({"duplicates": dups, "executions_checked": checked});
    json["leader_metrics"] = metrics;
    json["leader"] = json!(leader_name);
    json["job_creation_s"] = json!(created.as_secs_f64());
    json["loadavg_start"] = json!(load_start);
    let title = format!(
        "{}: {jobs} jobs @every {period}s, 3 servers + 1 agent",
        args.scenario.name()
    );
    Ok(Report {
        headline: format!("{jobs} jobs @every {period}s for {duration} s"),
        rows,
        json,
        svg: report::svg(&title, &seconds, &rss),
    })
}

/// How many fires are due in each second. Period 1: every job. Longer periods: a job's phase
/// (its scheduled second modulo the period) comes from its arrivals; a job that never arrived
/// still counts once per period, at phase 0, so it shows as missed.
fn due_per_second(
    arrivals: &[crate::sink::Arrival],
    jobs: usize,
    period: i64,
) -> impl Fn(i64) -> u64 {
    let mut by_phase = vec![0u64; usize::try_from(period).unwrap_or(1)];
    if period == 1 {
        by_phase[0] = jobs as u64;
    } else {
        let mut phase: Vec<Option<i64>> = vec![None; jobs];
        for a in arrivals {
            if let Some(p) = phase.get_mut(a.job as usize) {
                p.get_or_insert((a.at_ns / NS).rem_euclid(period));
            }
        }
        for p in phase {
            by_phase[usize::try_from(p.unwrap_or(0)).unwrap_or(0)] += 1;
        }
    }
    move |second: i64| by_phase[usize::try_from(second.rem_euclid(period)).unwrap_or(0)]
}

/// `failover`: the sustain load, then SIGKILL of the leader; per run a fresh cluster.
async fn failover(args: &Args, bin: &std::path::Path) -> Result<Report> {
    let jobs = args.jobs.unwrap_or(1000);
    let mut rows = Vec::new();
    let mut runs_json = Vec::new();
    let mut kill_to_fire = Vec::new();
    let mut leader_to_fire = Vec::new();
    let mut last_svg = String::new();
    for run in 1..=args.runs.max(1) {
        let client = http_client();
        let sink = Sink::start().await?;
        let mut cluster = Cluster::start(bin, &client, 3, true).await?;
        let figures = match failover_once(args, &client, &mut cluster, &sink, jobs).await {
            Ok(figures) => figures,
            Err(error) => return Err(cluster.fail(&error)),
        };
        kill_to_fire.push(figures.kill_to_fire_ms);
        leader_to_fire.push(figures.kill_to_fire_ms - figures.kill_to_leader_ms);
        rows.push((
            format!("run {run}: kill→leader / kill→next fire / leader→next fire"),
            format!(
                "{:.0} / {:.0} / {:.0} ms (next fire: the first recorded start of a fire scheduled after the kill; first arrival at the sink after it {:.0} ms; killed {} {:.0} ms after a tick; new leader {})",
                figures.kill_to_leader_ms,
                figures.kill_to_fire_ms,
                figures.kill_to_fire_ms - figures.kill_to_leader_ms,
                figures.kill_to_arrival_ms,
                figures.killed,
                figures.kill_offset_ms,
                figures.new_leader
            ),
        ));
        rows.push((
            format!("run {run}: from 5 s before the kill to {} s after", AFTER_KILL_S - 2),
            format!(
                "{} expected, {} missed (skipped ticks), {} collisions; p99 {:.0} ms; {} duplicates in {} execution records of 50 jobs",
                figures.summary.expected, figures.summary.missed, figures.summary.duplicates, figures.summary.p99_ms,
                figures.record_dups.0, figures.record_dups.1
            ),
        ));
        runs_json.push(json!({
            "kill_to_leader_ms": figures.kill_to_leader_ms,
            "kill_to_fire_ms": report::finite(figures.kill_to_fire_ms),
            "kill_to_first_arrival_ms": figures.kill_to_arrival_ms,
            "kill_offset_ms": figures.kill_offset_ms,
            "killed": figures.killed,
            "new_leader": figures.new_leader,
            "record_duplicates": figures.record_dups.0,
            "record_executions_checked": figures.record_dups.1,
            "summary": report::summary_json(&figures.summary),
            "seconds": report::seconds_json(&figures.seconds),
            "rss": report::rss_json(&figures.rss),
        }));
        last_svg = report::svg(
            &format!("failover run {run}: {jobs} jobs @every 1s, leader killed at t=0"),
            &figures.seconds,
            &figures.rss,
        );
    }
    let median = |mut v: Vec<f64>| {
        v.retain(|x| x.is_finite());
        v.sort_by(f64::total_cmp);
        report::quantile(&v, 0.5)
    };
    rows.push((
        "median kill→next fire / leader→next fire".into(),
        format!(
            "{:.0} / {:.0} ms (etcd failover here: 1,530 ms; ratio {:.2})",
            median(kill_to_fire.clone()),
            median(leader_to_fire),
            median(kill_to_fire) / 1530.0
        ),
    ));
    rows.push(("load average".into(), loadavg()));
    Ok(Report {
        headline: format!(
            "{jobs} jobs @every 1s, kill -9 of the leader, {} run(s)",
            args.runs.max(1)
        ),
        rows,
        json: json!({"scenario": "failover", "jobs": jobs, "runs": runs_json, "loadavg_end": loadavg(),
            "date": jiff::Timestamp::now().to_string()}),
        svg: last_svg,
    })
}

struct FailoverFigures {
    /// Duplicates and executions checked in the records of 50 jobs.
    record_dups: (u64, u64),
    killed: String,
    new_leader: String,
    kill_offset_ms: f64,
    kill_to_leader_ms: f64,
    /// The first arrival at the sink after the kill: any fire, also one launched before it.
    kill_to_arrival_ms: f64,
    /// The earliest recorded start of a fire scheduled after the kill (NaN: none within
    /// [`AFTER_KILL_S`]).
    kill_to_fire_ms: f64,
    summary: Summary,
    seconds: Vec<Second>,
    rss: Vec<RssSample>,
}

async fn failover_once(
    args: &Args,
    client: &reqwest::Client,
    cluster: &mut Cluster,
    sink: &Sink,
    jobs: usize,
) -> Result<FailoverFigures> {
    let leader = cluster.leader(client).await?;
    let addr = sink.addr;
    create_jobs(
        client,
        &cluster.servers[leader],
        0..jobs,
        args.clients,
        None,
        Arc::new(move |i| job_body(i, "@every 1s", "agent", addr)),
    )
    .await?;
    let mut rss = Vec::new();
    let pre_ns = now_ns();
    watch(
        client,
        cluster,
        sink,
        pre_ns,
        args.warmup,
        "warm-up",
        &mut rss,
        leader,
    )
    .await;
    // Kill 0.4 s after a tick: mid-second, as a kill at a random time most often is.
    let now = now_ns();
    let kill_at = (now / NS + 1) * NS + 400_000_000;
    tokio::time::sleep(Duration::from_nanos(
        u64::try_from(kill_at - now).unwrap_or(0),
    ))
    .await;
    let killed = cluster.servers[leader].name.clone();
    let kill_ns = now_ns();
    cluster.servers[leader].kill();
    let survivors: Vec<usize> = (0..cluster.servers.len())
        .filter(|&i| i != leader)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let new_leader = loop {
        let mut named = Vec::new();
        for &on in &survivors {
            named.push(cluster.leader_seen_by(client, on).await);
        }
        if let Some(Some(l)) = named.first()
            && *l != leader
            && named.iter().all(|n| *n == Some(*l))
        {
            break *l;
        }
        if Instant::now() > deadline {
            return Err("no new leader within 30 s of the kill".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let leader_ns = now_ns();
    watch(
        client,
        cluster,
        sink,
        kill_ns,
        AFTER_KILL_S,
        "after the kill",
        &mut rss,
        new_leader,
    )
    .await;
    let seen = records(client, &cluster.servers[new_leader], jobs, 50, kill_ns).await;
    let record_dups = (seen.duplicates, seen.checked);
    // None: no fire scheduled after the kill had started within the watch (reported as such).
    let first_start = seen.first_start_after;
    let arrivals = sink.snapshot();
    let next_fire = arrivals
        .iter()
        .filter(|a| a.at_ns > kill_ns)
        .map(|a| a.at_ns)
        .min()
        .ok_or(format!(
            "no fire reached the sink within {AFTER_KILL_S} s of the kill"
        ))?;
    let from_s = kill_ns / NS - 5;
    let to_s = kill_ns / NS + i64::try_from(AFTER_KILL_S).unwrap_or(20) - 2;
    let (summary, seconds) =
        report::analyse(&arrivals, kill_ns / NS, from_s, to_s, &|_| jobs as u64);
    for sample in &mut rss {
        sample.t -= (kill_ns - pre_ns) as f64 / 1e9;
    }
    Ok(FailoverFigures {
        record_dups,
        new_leader: cluster.servers[new_leader].name.clone(),
        killed,
        kill_offset_ms: kill_ns.rem_euclid(NS) as f64 / 1e6,
        kill_to_leader_ms: (leader_ns - kill_ns) as f64 / 1e6,
        kill_to_arrival_ms: (next_fire - kill_ns) as f64 / 1e6,
        kill_to_fire_ms: first_start.map_or(f64::NAN, |f| (f - kill_ns) as f64 / 1e6),
        summary,
        seconds,
        rss: rss.into_iter().filter(|s| s.t >= -5.0).collect(),
    })
}

/// `memory` and `cold-start`: N stored jobs on one server (it runs them itself), 100 of them
/// `@every 1s` and the rest `@every 1h`. memory: RSS before and after, and after a restart.
/// cold-start also: kill -9, restart, time to the ports file, the first API read and the
/// first fire at the sink, `--runs` times.
async fn stored(args: &Args, bin: &std::path::Path) -> Result<Report> {
    let client = http_client();
    let sink = Sink::start().await?;
    let mut cluster = Cluster::start(bin, &client, 1, false).await?;
    match stored_on(args, &client, &mut cluster, &sink).await {
        Ok(report) => Ok(report),
        Err(error) => Err(cluster.fail(&error)),
    }
}

async fn stored_on(
    args: &Args,
    client: &reqwest::Client,
    cluster: &mut Cluster,
    sink: &Sink,
) -> Result<Report> {
    const FAST: usize = 100;
    let jobs = args.jobs.unwrap_or(100_000).max(FAST + 1);
    cluster.leader(client).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_empty = cluster.servers[0].rss().unwrap_or(0);
    let addr = sink.addr;
    let body_size = job_body(0, "@every 1h", "server", addr).len();
    let created = create_jobs(
        client,
        &cluster.servers[0],
        0..jobs,
        args.clients,
        None,
        Arc::new(move |i| {
            let schedule = if i < FAST { "@every 1s" } else { "@every 1h" };
            job_body(i, schedule, "server", addr)
        }),
    )
    .await?;
    // Let the write path's buffers settle before reading RSS.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_full = cluster.servers[0].rss().unwrap_or(0);
    let disk = cluster.disk_usage(0);
    let per_job = |rss: u64| rss.saturating_sub(rss_empty) as f64 / jobs as f64;
    let mut rows = vec![
        (
            "jobs".into(),
            format!(
                "{jobs} on 1 server ({FAST} @every 1s, the rest @every 1h), http, {body_size} B of JSON each"
            ),
        ),
        (
            "job creation".into(),
            format!(
                "{:.1} s ({:.0}/s)",
                created.as_secs_f64(),
                jobs as f64 / created.as_secs_f64()
            ),
        ),
        (
            "RSS empty → with the jobs".into(),
            format!(
                "{:.1} → {:.1} MB",
                rss_empty as f64 / 1e6,
                rss_full as f64 / 1e6
            ),
        ),
        (
            "RSS per stored job".into(),
            format!(
                "{:.0} B (etcd here 1.4–2.2 KB; ratio {:.2} to 2.2 KB)",
                per_job(rss_full),
                per_job(rss_full) / 2200.0
            ),
        ),
        (
            "data dir on disk".into(),
            format!("{:.1} MB", disk as f64 / 1e6),
        ),
    ];
    let mut json = json!({"scenario": args.scenario.name(), "jobs": jobs, "job_json_bytes": body_size,
        "rss_empty": rss_empty, "rss_with_jobs": rss_full, "rss_per_job": per_job(rss_full),
        "disk_bytes": disk, "job_creation_s": created.as_secs_f64(), "loadavg_start": loadavg()});
    let mut restarts = Vec::new();
    let runs = if args.scenario == Scenario::ColdStart {
        args.runs.max(1)
    } else {
        1
    };
    let mut rss = Vec::new();
    for run in 1..=runs {
        cluster.servers[0].kill();
        let start = Instant::now();
        let start_ns = now_ns();
        let bin = cluster.bin.clone();
        cluster.servers[0].restart(&bin).await?;
        let up = start.elapsed();
        let read_url = cluster.servers[0].url(&format!("/v1/jobs/{}", job_name(jobs - 1)));
        let deadline = Instant::now() + Duration::from_secs(60);
        let first_read = loop {
            if get_json(client, &read_url).await.is_ok() {
                break start.elapsed();
            }
            if Instant::now() > deadline {
                return Err("no API read within 60 s of the restart".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let first_fire = loop {
            let arrivals = sink.since(0).1;
            if let Some(at) = arrivals
                .iter()
                .filter(|a| a.at_ns > start_ns)
                .map(|a| a.at_ns)
                .min()
            {
                break Duration::from_nanos(u64::try_from(at - start_ns).unwrap_or(0));
            }
            if Instant::now() > deadline {
                return Err("no fire at the sink within 60 s of the restart".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        let rss_after = cluster.servers[0].rss().unwrap_or(0);
        rss.push(RssSample::rss(
            start.elapsed().as_secs_f64(),
            vec![("s1".into(), rss_after as f64 / 1e6)],
        ));
        if args.scenario == Scenario::ColdStart {
            rows.push((
                format!("restart {run}: ports file / first read / first fire"),
                format!(
                    "{:.0} / {:.0} / {:.0} ms (etcd first read 1,890 ms: ratio {:.2})",
                    up.as_secs_f64() * 1000.0,
                    first_read.as_secs_f64() * 1000.0,
                    first_fire.as_secs_f64() * 1000.0,
                    first_read.as_secs_f64() / 1.89
                ),
            ));
        }
        rows.push((
            format!("restart {run}: RSS 5 s after the first fire"),
            format!(
                "{:.1} MB ({:.0} B per job)",
                rss_after as f64 / 1e6,
                per_job(rss_after)
            ),
        ));
        restarts.push(json!({"process_up_ms": up.as_secs_f64() * 1000.0,
            "first_read_ms": first_read.as_secs_f64() * 1000.0,
            "first_fire_ms": first_fire.as_secs_f64() * 1000.0, "rss_after": rss_after}));
    }
    rows.push((
        "load average start / end".into(),
        format!(
            "{} / {}",
            json["loadavg_start"].as_str().unwrap_or("?"),
            loadavg()
        ),
    ));
    json["restarts"] = json!(restarts);
    json["loadavg_end"] = json!(loadavg());
    json["date"] = json!(jiff::Timestamp::now().to_string());
    Ok(Report {
        headline: format!("{jobs} stored jobs on 1 server"),
        rows,
        json,
        svg: report::svg(
            &format!("{}: {jobs} stored jobs", args.scenario.name()),
            &[],
            &rss,
        ),
    })
}

/// `overload`: N jobs `@every 1s` on 3 servers + 1 agent for `--duration` s, then half of them
/// disabled (an upsert with `"disabled": true`) for `--low` s; lateness, missed fires, RSS and API
/// latency per second over both phases.
async fn overload(args: &Args, bin: &std::path::Path) -> Result<Report> {
    let client = http_client();
    let sink = Sink::start().await?;
    let cluster = Cluster::start(bin, &client, 3, true).await?;
    match overload_on(args, &client, &cluster, &sink).await {
        Ok(report) if args.keep => {
            eprintln!("{}", cluster.fail("overload done; --keep"));
            Ok(report)
        }
        Ok(report) => Ok(report),
        Err(error) => Err(cluster.fail(&error)),
    }
}

async fn overload_on(
    args: &Args,
    client: &reqwest::Client,
    cluster: &Cluster,
    sink: &Sink,
) -> Result<Report> {
    let jobs = args.jobs.unwrap_or(4000);
    let high = args.duration.unwrap_or(120);
    let leader = cluster.leader(client).await?;
    let load_start = loadavg();
    let zero_ns = now_ns();
    let addr = sink.addr;
    create_jobs(
        client,
        &cluster.servers[leader],
        0..jobs,
        args.clients,
        None,
        Arc::new(move |i| job_body(i, "@every 1s", "agent", addr)),
    )
    .await?;
    let mut rss = Vec::new();
    let from_s = now_ns() / NS + 1;
    watch(
        client,
        cluster,
        sink,
        zero_ns,
        high,
        "overloaded",
        &mut rss,
        leader,
    )
    .await;
    // Disable the upper half, recording when each write was acknowledged.
    let toggled: Arc<std::sync::Mutex<Vec<i64>>> = Arc::default();
    // How long each disabling upsert took, retries included (ms).
    let toggle_ms: Arc<std::sync::Mutex<Vec<f64>>> = Arc::default();
    let toggle_start = Instant::now();
    {
        let next = Arc::new(AtomicUsize::new(jobs / 2));
        let mut set: JoinSet<Result<()>> = JoinSet::new();
        for _ in 0..args.clients.max(1) {
            let (client, next, toggled) = (client.clone(), next.clone(), toggled.clone());
            let toggle_ms = toggle_ms.clone();
            let bases: Vec<String> = cluster.servers.iter().map(|s| s.url("/v1/jobs")).collect();
            set.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= jobs {
                        return Ok(());
                    }
                    // An overloaded cluster may change leaders (a 503 during the election):
                    // try the servers in turn, bounded, before failing the run.
                    let mut attempt = 0;
                    // An upsert with `disabled`, not `/toggle`: a retried toggle that had
                    // succeeded would enable the job again.
                    let mut body: serde_json::Value =
                        serde_json::from_str(&job_body(i, "@every 1s", "agent", addr))
                            .unwrap_or_default();
                    body["disabled"] = json!(true);
                    let started = Instant::now();
                    while let Err(error) =
                        post(&client, &bases[attempt % bases.len()], body.to_string()).await
                    {
                        attempt += 1;
                        if attempt >= 60 {
                            return Err(error);
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    if let Ok(mut t) = toggled.lock() {
                        t.push(now_ns() / NS);
                    }
                    if let Ok(mut t) = toggle_ms.lock() {
                        t.push(started.elapsed().as_secs_f64() * 1000.0);
                    }
                }
            });
        }
        while let Some(done) = set.join_next().await {
            done.map_err(|e| e.to_string())??;
        }
    }
    let toggle_took = toggle_start.elapsed();
    watch(
        client,
        cluster,
        sink,
        zero_ns,
        args.low,
        "half disabled",
        &mut rss,
        leader,
    )
    .await;
    let to_s = now_ns() / NS - i64::try_from(GRACE_S).unwrap_or(3);
    let arrivals = sink.snapshot();
    let mut toggled = toggled.lock().map(|t| t.clone()).unwrap_or_default();
    toggled.sort_unstable();
    // A job toggled off in second s may still fire in s; it is not due after.
    let due = |s: i64| (jobs - toggled.partition_point(|&t| t < s)) as u64;
    let (summary, seconds) = report::analyse(&arrivals, zero_ns / NS, from_s, to_s, &due);
    let split = toggled.first().copied().unwrap_or(to_s);
    let phase = |lo: i64, hi: i64| {
        let part: Vec<&Second> = seconds
            .iter()
            .filter(|s| s.t + zero_ns / NS >= lo && s.t + zero_ns / NS < hi)
            .collect();
        let missed: u64 = part
            .iter()
            .map(|s| s.expected.saturating_sub(s.delivered))
            .sum();
        let expected: u64 = part.iter().map(|s| s.expected).sum();
        let mut p99: Vec<f64> = part
            .iter()
            .map(|s| s.p99_ms)
            .filter(|v| v.is_finite())
            .collect();
        p99.sort_by(f64::total_cmp);
        format!(
            "{missed} of {expected} missed; per-second p99 median {:.0} ms, worst {:.0} ms",
            report::quantile(&p99, 0.5),
            p99.last().copied().unwrap_or(f64::NAN)
        )
    };
    let last_10 = phase(to_s - 10, to_s);
    let mut toggle_sorted = toggle_ms.lock().map(|t| t.clone()).unwrap_or_default();
    toggle_sorted.sort_by(f64::total_cmp);
    let leader_name = cluster.servers[leader].name.clone();
    let peak = |name: &str| {
        rss.iter()
            .filter_map(|s| s.mb.iter().find(|(n, _)| n == name).map(|(_, v)| *v))
            .fold(0.0_f64, f64::max)
    };
    let mut rows = vec![
        (
            "jobs".into(),
            format!(
                "{jobs} × @every 1s for {high} s, then {} of them disabled for {} s",
                jobs - jobs / 2,
                args.low
            ),
        ),
        ("overloaded phase".into(), phase(from_s, split)),
        (
            "disabling half".into(),
            format!(
                "{:.1} s for {} upserts from {} clients; each p50 / p99 / max {:.0} / {:.0} / {:.0} ms",
                toggle_took.as_secs_f64(),
                jobs - jobs / 2,
                args.clients.max(1),
                report::quantile(&toggle_sorted, 0.5),
                report::quantile(&toggle_sorted, 0.99),
                toggle_sorted.last().copied().unwrap_or(f64::NAN),
            ),
        ),
        (
            "fires skipped by the leader (misfire bound), whole run".into(),
            format!(
                "{:.0}",
                rss.iter()
                    .rev()
                    .map(|r| r.skipped)
                    .find(|v| v.is_finite())
                    .unwrap_or(f64::NAN)
            ),
        ),
        ("half-load phase".into(), phase(split, to_s)),
        ("last 10 s".into(), last_10),
        (
            format!("peak RSS leader {leader_name} / agent a1"),
            format!("{:.0} / {:.0} MB", peak(&leader_name), peak("a1")),
        ),
    ];
    rows.extend(summary_rows(&summary));
    rows.push(api_row(&rss));
    rows.push(write_row(&rss));
    // Leader churn, from what the servers logged: each leadership taken starts the scheduler
    // (the first leader's start included).
    let log_counts = |needle: &str| -> Vec<usize> {
        cluster
            .servers
            .iter()
            .map(|s| s.log_count(needle))
            .collect()
    };
    let leaderships = log_counts("leader: scheduler started");
    let members_failed = log_counts("member failed: no heartbeat");
    rows.push((
        "leaderships taken per server (scheduler starts in the logs)".into(),
        format!("{leaderships:?}"),
    ));
    rows.push((
        "members declared failed per server (logs)".into(),
        format!("{members_failed:?}"),
    ));
    rows.push((
        "load average start / end".into(),
        format!("{load_start} / {}", loadavg()),
    ));
    let mut json = base_json(args, jobs, &summary, &seconds, &rss);
    json["leaderships"] = json!(leaderships);
    json["members_failed"] = json!(members_failed);
    json["toggle_s"] = json!(toggle_took.as_secs_f64());
    json["toggle_ms_p50"] = report::finite(report::quantile(&toggle_sorted, 0.5));
    json["toggle_ms_p99"] = report::finite(report::quantile(&toggle_sorted, 0.99));
    json["half_from_s"] = json!(split - zero_ns / NS);
    json["loadavg_start"] = json!(load_start);
    Ok(Report {
        headline: format!("{jobs} jobs @every 1s, then half"),
        rows,
        json,
        svg: report::svg(
            &format!(
                "overload: {jobs} jobs @every 1s, half disabled from t={} s",
                split - zero_ns / NS
            ),
            &seconds,
            &rss,
        ),
    })
}

/// `/proc/loadavg`'s first three fields.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The machine a report was measured on.
pub(crate) fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        "cpu": cpu,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
    })
}
