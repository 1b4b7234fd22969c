//! The soak's history checker: pure rules over what the cluster recorded (executions read through
//! the API), what the jobs themselves wrote at the sink, and the writes the API acknowledged.
//! Each rule returns its violations; a unit test per rule feeds it a history that breaks it.

use std::collections::{BTreeMap, BTreeSet};

/// One run as the job's command wrote it at the sink: a start line, and an end line unless the
/// process was killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SinkRun {
    pub(crate) job: String,
    pub(crate) node: String,
    /// Unique per process (`<node>-<pid>-<start µs>`); the command also prints it, so the
    /// execution's recorded output names the sink run it was.
    pub(crate) token: String,
    /// Unix microseconds.
    pub(crate) start_us: i64,
    pub(crate) end_us: Option<i64>,
}

/// One execution as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exec {
    pub(crate) job: String,
    pub(crate) node: String,
    /// The fire instant (RFC 3339) for scheduled runs and their retries; `None` for dependent
    /// and manual runs.
    pub(crate) scheduled_at: Option<String>,
    pub(crate) group: i64,
    pub(crate) attempt: u32,
    pub(crate) trigger: String,
    /// Unix microseconds.
    pub(crate) started_us: i64,
    /// Unix microseconds; `None` while running.
    pub(crate) finished_us: Option<i64>,
    pub(crate) success: bool,
    pub(crate) output: String,
}

/// A job write the writer sent: an upsert carrying `version` in the job's metadata, or a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    Upsert(u64),
    Delete,
}

/// A write and whether the API acknowledged it (2xx). Unacknowledged ones (timeouts, refused
/// connections, 5xx) may or may not have been applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    pub(crate) write: Write,
    pub(crate) acked: bool,
}

/// What a job is at the end: `Some(version)` if it exists, `None` if it does not.
pub(crate) type Final = Option<u64>;

/// A broken rule, with the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) rule: &'static str,
    pub(crate) detail: String,
}

fn violation(rule: &'static str, detail: String) -> Violation {
    Violation { rule, detail }
}

/// No acknowledged write lost: each job ends as its last acknowledged write left it, or as a
/// later unacknowledged write (which may have been applied) left it. A job never written ends
/// absent.
pub(crate) fn writes_kept(
    sent: &BTreeMap<String, Vec<Sent>>,
    finals: &BTreeMap<String, Final>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for (job, writes) in sent {
        let last_acked = writes.iter().rposition(|s| s.acked);
        let outcome = |w: Write| match w {
            Write::Upsert(v) => Some(v),
            Write::Delete => None,
        };
        let mut allowed: BTreeSet<Final> = BTreeSet::new();
        match last_acked {
            Some(i) => {
                allowed.insert(outcome(writes[i].write));
                allowed.extend(writes[i + 1..].iter().map(|s| outcome(s.write)));
            }
            None => {
                allowed.insert(None);
                allowed.extend(writes.iter().map(|s| outcome(s.write)));
            }
        }
        let got = finals.get(job).copied().flatten();
        if !allowed.contains(&got) {
            out.push(violation(
                "acknowledged write lost",
                format!(
                    "job {job}: ends as {got:?} (None = absent), allowed {allowed:?}; writes {writes:?}"
                ),
            ));
        }
    }
    out
}

/// What identifies one launch on one target: the job, its fire (the scheduled instant, or the
/// group for runs with none), the attempt and the node.
fn launch_key(e: &Exec) -> (String, String, u32, String) {
    let fire = e
        .scheduled_at
        .clone()
        .unwrap_or_else(|| format!("group {}", e.group));
    (e.job.clone(), fire, e.attempt, e.node.clone())
}

/// No (job, scheduled instant, target) executed twice: in the history, one execution per
/// (job, fire, attempt, node) and one group per scheduled (job, instant); at the sink, no two
/// processes claim the same execution.
pub(crate) fn no_double_runs(execs: &[Exec], sink: &[SinkRun]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut by_key: BTreeMap<_, Vec<&Exec>> = BTreeMap::new();
    for e in execs {
        by_key.entry(launch_key(e)).or_default().push(e);
    }
    for (key, list) in &by_key {
        if list.len() > 1 {
            out.push(violation(
                "executed twice (history)",
                format!("{key:?} has {} executions: {list:?}", list.len()),
            ));
        }
    }
    let mut groups: BTreeMap<(&str, &str), BTreeSet<i64>> = BTreeMap::new();
    for e in execs.iter().filter(|e| e.trigger == "scheduled") {
        if let Some(at) = &e.scheduled_at {
            groups.entry((&e.job, at)).or_default().insert(e.group);
        }
    }
    for ((job, at), set) in groups {
        if set.len() > 1 {
            out.push(violation(
                "instant launched twice (history)",
                format!("job {job} instant {at} launched as groups {set:?}"),
            ));
        }
    }
    let matched = match_sink(execs, sink);
    let mut claims: BTreeMap<usize, Vec<&SinkRun>> = BTreeMap::new();
    for (run, exec) in sink.iter().zip(&matched) {
        if let Some(i) = exec {
            claims.entry(*i).or_default().push(run);
        }
    }
    for (i, runs) in claims {
        if runs.len() > 1 {
            out.push(violation(
                "executed twice (sink)",
                format!("execution {:?} was run by {runs:?}", launch_key(&execs[i])),
            ));
        }
    }
    out
}

/// For each sink run, the execution it was: the one whose output carries its token, else (a
/// process killed with its node, whose output the node lost) an unfinished-or-failed execution of
/// the same job on the same node, not otherwise claimed, started at most 60 s before it (the
/// nearest).
pub(crate) fn match_sink(execs: &[Exec], sink: &[SinkRun]) -> Vec<Option<usize>> {
    let mut by_token: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, e) in execs.iter().enumerate() {
        for word in e.output.split_whitespace() {
            if let Some(token) = word.strip_prefix("token=") {
                by_token.insert(token, i);
            }
        }
    }
    let mut matched: Vec<Option<usize>> = sink
        .iter()
        .map(|r| by_token.get(r.token.as_str()).copied())
        .collect();
    let mut claimed: BTreeSet<usize> = matched.iter().flatten().copied().collect();
    for (slot, run) in matched.iter_mut().zip(sink) {
        if slot.is_some() {
            continue;
        }
        let nearest = execs
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                !claimed.contains(i)
                    && !e.success
                    && e.job == run.job
                    && e.node == run.node
                    && e.started_us <= run.start_us
                    && run.start_us - e.started_us <= 60_000_000
            })
            .max_by_key(|(_, e)| e.started_us)
            .map(|(i, _)| i);
        if let Some(i) = nearest {
            claimed.insert(i);
            *slot = Some(i);
        }
    }
    matched
}

/// Every started execution ends recorded: none is still running after the cluster settled, and
/// every process that started at the sink is an execution of the history.
pub(crate) fn all_recorded(execs: &[Exec], sink: &[SinkRun]) -> Vec<Violation> {
    let mut out = Vec::new();
    for e in execs.iter().filter(|e| e.finished_us.is_none()) {
        out.push(violation(
            "stuck running",
            format!("{:?} started at {} µs: {e:?}", launch_key(e), e.started_us),
        ));
    }
    for (run, exec) in sink.iter().zip(match_sink(execs, sink)) {
        if exec.is_none() {
            out.push(violation(
                "run not recorded",
                format!("sink run {run:?} has no execution in the history"),
            ));
        }
    }
    out
}

/// `forbid` never overlapped: per job, the sink runs (start to end; a killed run ends when the
/// cluster closed its execution, or never) are disjoint.
pub(crate) fn forbid_held(
    forbid_jobs: &BTreeSet<String>,
    execs: &[Exec],
    sink: &[SinkRun],
) -> Vec<Violation> {
    let mut out = Vec::new();
    let matched = match_sink(execs, sink);
    let mut per_job: BTreeMap<&str, Vec<(i64, i64, &SinkRun)>> = BTreeMap::new();
    for (run, exec) in sink.iter().zip(&matched) {
        if !forbid_jobs.contains(&run.job) {
            continue;
        }
        let end = run
            .end_us
            .or_else(|| exec.and_then(|i| execs[i].finished_us))
            .unwrap_or(i64::MAX);
        per_job
            .entry(&run.job)
            .or_default()
            .push((run.start_us, end, run));
    }
    for (job, mut runs) in per_job {
        runs.sort_by_key(|r| r.0);
        let mut open: Option<(i64, &SinkRun)> = None;
        for (start, end, run) in runs {
            if let Some((until, prev)) = open {
                if start < until {
                    out.push(violation(
                        "forbid overlapped",
                        format!("job {job}: {run:?} started before {prev:?} ended (at {until} µs)"),
                    ));
                }
                if end > until {
                    open = Some((end, run));
                }
            } else {
                open = Some((end, run));
            }
        }
    }
    out
}

/// Parses the sink file: `S <job> <node> <token> <µs>` and `E <job> <node> <token> <µs> <code>`
/// lines. Unparseable lines are returned as violations (a torn write would be a sink bug).
pub(crate) fn parse_sink(text: &str) -> (Vec<SinkRun>, Vec<Violation>) {
    let mut runs: Vec<SinkRun> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let at = f.get(4).and_then(|t| t.parse::<i64>().ok());
        match (f.first(), at) {
            (Some(&"S"), Some(at)) if f.len() == 5 => {
                index.insert(f[3].to_owned(), runs.len());
                runs.push(SinkRun {
                    job: f[1].to_owned(),
                    node: f[2].to_owned(),
                    token: f[3].to_owned(),
                    start_us: at,
                    end_us: None,
                });
            }
            (Some(&"E"), Some(at)) if f.len() == 6 => match index.get(f[3]) {
                Some(&i) => runs[i].end_us = Some(at),
                None => bad.push(violation("sink", format!("end without start: {line:?}"))),
            },
            _ => bad.push(violation("sink", format!("unparseable line: {line:?}"))),
        }
    }
    (runs, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(job: &str, node: &str, at: &str, attempt: u32, started: i64) -> Exec {
        Exec {
            job: job.into(),
            node: node.into(),
            scheduled_at: Some(at.into()),
            group: started,
            attempt,
            trigger: if attempt == 1 { "scheduled" } else { "retry" }.into(),
            started_us: started,
            finished_us: Some(started + 10),
            success: true,
            output: format!("token={node}-{started}\n"),
        }
    }

    fn run(job: &str, node: &str, start: i64, end: Option<i64>) -> SinkRun {
        SinkRun {
            job: job.into(),
            node: node.into(),
            token: format!("{node}-{start}"),
            start_us: start,
            end_us: end,
        }
    }

    fn sent(list: &[(Write, bool)]) -> Vec<Sent> {
        list.iter()
            .map(|&(write, acked)| Sent { write, acked })
            .collect()
    }

    #[test]
    fn a_lost_acknowledged_upsert_or_a_resurrected_delete_is_caught() {
        let mut writes = BTreeMap::new();
        writes.insert(
            "a".to_owned(),
            sent(&[(Write::Upsert(1), true), (Write::Upsert(2), true)]),
        );
        writes.insert(
            "b".to_owned(),
            sent(&[(Write::Upsert(1), true), (Write::Delete, true)]),
        );
        // An unacknowledged write after the last acknowledged one may or may not have applied.
        writes.insert(
            "c".to_owned(),
            sent(&[(Write::Upsert(1), true), (Write::Upsert(2), false)]),
        );
        let good: BTreeMap<String, Final> = [
            ("a".into(), Some(2)),
            ("b".into(), None),
            ("c".into(), Some(1)),
        ]
        .into();
        assert_eq!(writes_kept(&writes, &good), vec![]);
        let good_c: BTreeMap<String, Final> = [
            ("a".into(), Some(2)),
            ("b".into(), None),
            ("c".into(), Some(2)),
        ]
        .into();
        assert_eq!(writes_kept(&writes, &good_c), vec![]);

        let lost: BTreeMap<String, Final> = [
            ("a".into(), Some(1)),
            ("b".into(), Some(1)),
            ("c".into(), None),
        ]
        .into();
        let found = writes_kept(&writes, &lost);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.iter().all(|v| v.rule == "acknowledged write lost"));
        assert!(found[0].detail.contains("job a"), "{found:?}");
    }

    #[test]
    fn the_same_launch_twice_is_caught_in_the_history_and_at_the_sink() {
        let at = "2026-12-04T22:00:01Z";
        let one = exec("j", "a1", at, 1, 100);
        let retry = exec("j", "a2", at, 2, 200);
        let runs = vec![
            run("j", "a1", 100, Some(110)),
            run("j", "a2", 200, Some(210)),
        ];
        assert_eq!(no_double_runs(&[one.clone(), retry.clone()], &runs), vec![]);

        // The same attempt on the same node recorded twice.
        let mut again = exec("j", "a1", at, 1, 150);
        again.group = 100;
        let found = no_double_runs(&[one.clone(), again], &[]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, "executed twice (history)");

        // The same instant launched as two groups (on different nodes).
        let other = exec("j", "s1", at, 1, 300);
        let found = no_double_runs(&[one.clone(), other], &[]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, "instant launched twice (history)");

        // Two processes both claiming one execution (its output names both tokens).
        let mut both = one.clone();
        both.output = "token=a1-100 token=a1-105".into();
        let found = no_double_runs(
            &[both],
            &[run("j", "a1", 100, None), run("j", "a1", 105, None)],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, "executed twice (sink)");
    }

    #[test]
    fn a_running_execution_or_an_unrecorded_sink_run_is_caught() {
        let at = "2026-12-04T22:00:01Z";
        let done = exec("j", "a1", at, 1, 100);
        // A process killed with its node: no end line, its execution closed as failed.
        let mut lost = exec("j", "a2", "2026-12-04T22:00:02Z", 1, 200);
        lost.success = false;
        lost.output = "node a2 lost".into();
        let runs = vec![run("j", "a1", 100, Some(110)), run("j", "a2", 201, None)];
        assert_eq!(all_recorded(&[done.clone(), lost.clone()], &runs), vec![]);

        let mut running = lost.clone();
        running.finished_us = None;
        let found = all_recorded(&[done.clone(), running], &runs);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, "stuck running");

        let found = all_recorded(&[done], &runs);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, "run not recorded");
        assert!(found[0].detail.contains("a2"), "{found:?}");
    }

    #[test]
    fn overlapping_runs_of_a_forbid_job_are_caught() {
        let forbid: BTreeSet<String> = ["f".to_owned()].into();
        let a = exec("f", "a1", "2026-12-04T22:00:01Z", 1, 100);
        let b = exec("f", "a2", "2026-12-04T22:00:03Z", 1, 300);
        let apart = vec![
            run("f", "a1", 100, Some(250)),
            run("f", "a2", 300, Some(400)),
        ];
        assert_eq!(
            forbid_held(&forbid, &[a.clone(), b.clone()], &apart),
            vec![]
        );

        let overlap = vec![
            run("f", "a1", 100, Some(350)),
            run("f", "a2", 300, Some(400)),
        ];
        let found = forbid_held(&forbid, &[a.clone(), b.clone()], &overlap);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, "forbid overlapped");
        // A job without `forbid` may overlap.
        assert_eq!(
            forbid_held(&BTreeSet::new(), &[a.clone(), b.clone()], &overlap),
            vec![]
        );

        // A killed run lasts until the cluster closed its execution.
        let mut killed = a.clone();
        killed.output = String::new();
        killed.success = false;
        killed.finished_us = Some(320);
        let cut = vec![run("f", "a1", 101, None), run("f", "a2", 300, Some(400))];
        let found = forbid_held(&forbid, &[killed, b], &cut);
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn the_sink_parses_and_reports_torn_lines() {
        let text = "S j a1 a1-1-100 100\nE j a1 a1-1-100 110 0\nS k a2 a2-2-120 120\nS j a1\n";
        let (runs, bad) = parse_sink(text);
        assert_eq!(
            runs,
            vec![
                SinkRun {
                    job: "j".into(),
                    node: "a1".into(),
                    token: "a1-1-100".into(),
                    start_us: 100,
                    end_us: Some(110)
                },
                SinkRun {
                    job: "k".into(),
                    node: "a2".into(),
                    token: "a2-2-120".into(),
                    start_us: 120,
                    end_us: None
                },
            ]
        );
        assert_eq!(bad.len(), 1, "{bad:?}");
    }
}
