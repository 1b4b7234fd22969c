//! Whole-binary tests: each starts real `dkrond` processes on ephemeral 127.0.0.1 ports with a
//! temp data dir, and talks to them over HTTP.

// Bounds: job ceilings, body sizes, client counters, execution slots, paged history.
mod bounds;
// Three servers and two agents: targeting by tags, lost agents, result re-delivery.
mod agents;
// Three servers: forming, forwarding, failover.
mod cluster;
// The command line: version, keygen, bad flags, cluster flags, raft list-peers, unreadable config.
mod cli;
// dispatch-lead: fires handed over ahead of their instant start on it, on an agent and a server.
mod lead;
// The live output of running executions: streamed from the server running it, relayed from an
// agent, followed by the job page in a browser.
mod live;
// Notifications to an HTTP and an SMTP sink on 127.0.0.1; the job field notify.
mod notify;
// Past capacity: fires later than their misfire bound are skipped, counted, and the node resumes.
mod overload;
// Every route and its status codes.
mod routes;
// Run policies end to end: jitter, buffer_one, pause_on_failure, run_on children.
mod policies;
// A child of several parents (parent_jobs): one run per round of its parents, across a restart.
mod parents;
// A single server end to end: routes, the seed document's examples, scheduling, restart.
mod single;
// The cluster key, peer RPC refusals, HTTPS on the API, RPC over TLS.
mod transport;
// Who may use the API: cross-origin writes, tokens and roles, protected mode from a network namespace.
mod security;
// The browser test harness: headless chromium through chromedriver, and its own test.
mod browser;
// The web UI in headless chromium: a job's life, paging and search, errors, tokens, screenshots.
mod ui;
// The web UI served by the node: pages, form writes, token login (no browser).
mod web_ui;
// The fault-injection soak and its history checker (ignored: minutes long; CI runs a short one).
#[expect(
    clippy::print_stdout,
    reason = "the soak's report (faults, checks, violations) is its output"
)]
mod soak;
// A server cut off the network (network namespaces on a bridge): a new leader, then the rejoin.
mod partition;
// Helpers: network namespaces on a bridge for tests, cut and restored on demand.
mod netns;
// Helpers: the process guard, the HTTP client, deadline waits.
mod support;
