//! dkron's template data and its Go `text/template` rendering (`dkron/notifier.go`).
//!
//! The fields are dkron's: `Report`, `JobName`, `ReportingNode`, `StartTime`, `FinishedAt`,
//! `Success` (the text `true`/`false`), `NodeName`, `Output`. Times are rendered as Go prints a
//! `time.Time` in UTC (`2006-01-02 15:04:05.999999999 +0000 UTC`), so `{{.StartTime}}` reads the
//! same as from dkron; they are text, so Go methods such as `{{.StartTime.Format ...}}` are not
//! available. Go's template language itself (`if`, `eq`, `printf`, pipelines) is gtmpl's.

use std::collections::HashMap;

use dkron_model::Execution;
use gtmpl::{Context, Template, Value};
use jiff::{Timestamp, tz::TimeZone};

/// What a template sees of one execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data<'a> {
    /// The execution (with its output).
    pub execution: &'a Execution,
    /// The executions of its group, for `Report` (empty before a start, as dkron).
    pub group: &'a [Execution],
    /// This server's name.
    pub reporting_node: &'a str,
}

/// `time.Time.String()` of Go for a UTC instant; `None` is Go's zero time.
pub fn go_time(time: Option<Timestamp>) -> String {
    let Some(time) = time else {
        return "0001-01-01 00:00:00 +0000 UTC".to_owned();
    };
    let civil = TimeZone::UTC.to_datetime(time);
    let mut text = civil.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = civil.subsec_nanosecond();
    if nanos > 0 {
        // Go's `.999999999`: trailing zeros dropped.
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push_str(" +0000 UTC");
    text
}

/// dkron's `Report` text: the execution, then one line per execution of its group.
pub fn report(data: &Data<'_>) -> String {
    let e = data.execution;
    let mut group = String::new();
    for ex in data.group {
        group.push_str(&format!(
            "\t[Node]: {} [Start]: {} [End]: {} [Success]: {}\n",
            ex.node_name,
            go_time(Some(ex.started_at)),
            go_time(ex.finished_at),
            ex.success
        ));
    }
    format!(
        "Executed: {}\nReporting node: {}\nStart time: {}\nEnd time: {}\nSuccess: {}\nNode: {}\nOutput: {}\nExecution group: {}\n{}",
        e.job_name,
        data.reporting_node,
        go_time(Some(e.started_at)),
        go_time(e.finished_at),
        e.success,
        e.node_name,
        e.output,
        e.group,
        group
    )
}

/// Renders `template` over `data`. As dkron, a template that does not parse or execute
/// renders as the reason (`Failed to parse template: …`), so the notification still goes out
/// and says what to fix.
pub fn render(template: &str, data: &Data<'_>) -> String {
    let mut parsed = Template::default();
    if let Err(error) = parsed.parse(template) {
        tracing::error!(%error, "notifier: error parsing template");
        return format!("Failed to parse template: {error}");
    }
    let e = data.execution;
    let fields: HashMap<String, Value> = [
        ("Report", report(data)),
        ("JobName", e.job_name.clone()),
        ("ReportingNode", data.reporting_node.to_owned()),
        ("StartTime", go_time(Some(e.started_at))),
        ("FinishedAt", go_time(e.finished_at)),
        ("Success", e.success.to_string()),
        ("NodeName", e.node_name.clone()),
        ("Output", e.output.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Value::from(v)))
    .collect();
    match parsed.render(&Context::from(Value::Object(fields))) {
        Ok(text) => text,
        Err(error) => {
            tracing::error!(%error, "notifier: error executing template");
            format!("Failed to execute template:{error}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execution(success: bool) -> Execution {
        Execution {
            job_name: "backup".into(),
            started_at: "2024-03-01T10:00:00.25Z".parse().unwrap(),
            finished_at: Some("2024-03-01T10:00:02Z".parse().unwrap()),
            success,
            output: "done\n".into(),
            node_name: "node-a".into(),
            group: 1709287200000000000,
            attempt: 1,
            ..Execution::default()
        }
    }

    fn data(execution: &Execution) -> Data<'_> {
        Data {
            execution,
            group: std::slice::from_ref(execution),
            reporting_node: "server-1",
        }
    }

    #[test]
    fn times_print_as_go_prints_a_utc_time() {
        assert_eq!(
            go_time(Some("2024-03-01T10:00:00.25Z".parse().unwrap())),
            "2024-03-01 10:00:00.25 +0000 UTC"
        );
        assert_eq!(
            go_time(Some("2024-03-01T10:00:02Z".parse().unwrap())),
            "2024-03-01 10:00:02 +0000 UTC"
        );
        assert_eq!(
            go_time(Some("2024-03-01T10:00:02.000000001Z".parse().unwrap())),
            "2024-03-01 10:00:02.000000001 +0000 UTC"
        );
        assert_eq!(go_time(None), "0001-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn dkron_field_examples_render() {
        let e = execution(true);
        // The `mail-payload` of dkron's configuration docs.
        let text = render(
            "Job {{.JobName}} finished with status {{.Success}} on node {{.NodeName}}\n\nOutput:\n{{.Output}}",
            &data(&e),
        );
        assert_eq!(
            text,
            "Job backup finished with status true on node node-a\n\nOutput:\ndone\n"
        );
        let text = render(
            "{{.ReportingNode}} {{.StartTime}} {{.FinishedAt}}",
            &data(&e),
        );
        assert_eq!(
            text,
            "server-1 2024-03-01 10:00:00.25 +0000 UTC 2024-03-01 10:00:02 +0000 UTC"
        );
    }

    #[test]
    fn go_conditionals_on_success_work() {
        let template = r#"{{if eq .Success "true"}}OK{{else}}FAILED{{end}} {{.JobName}}"#;
        assert_eq!(render(template, &data(&execution(true))), "OK backup");
        assert_eq!(render(template, &data(&execution(false))), "FAILED backup");
    }

    #[test]
    fn the_report_is_dkrons() {
        let e = execution(false);
        let expected = "Executed: backup\nReporting node: server-1\n\
            Start time: 2024-03-01 10:00:00.25 +0000 UTC\nEnd time: 2024-03-01 10:00:02 +0000 UTC\n\
            Success: false\nNode: node-a\nOutput: done\n\nExecution group: 1709287200000000000\n\
            \t[Node]: node-a [Start]: 2024-03-01 10:00:00.25 +0000 UTC [End]: 2024-03-01 10:00:02 +0000 UTC [Success]: false\n";
        assert_eq!(report(&data(&e)), expected);
        // The Slack-style `webhook-payload` of dkron's docs embeds it.
        let text = render(
            r##"payload={"text": "{{.Report}}", "channel": "#foo"}"##,
            &data(&e),
        );
        assert_eq!(
            text,
            format!(r##"payload={{"text": "{expected}", "channel": "#foo"}}"##)
        );
    }

    #[test]
    fn a_broken_template_renders_as_its_reason() {
        let e = execution(true);
        assert!(render("{{.JobName", &data(&e)).starts_with("Failed to parse template: "));
        assert!(render("{{.JobName.Nope}}", &data(&e)).starts_with("Failed to execute template:"));
    }
}
