//! `dkrond`: parse the command line and configuration, set up logs, bind the sockets, run the
//! node until SIGTERM/SIGINT, and map failures to one line and an exit code. Everything else is
//! in the `dkrond` library and `dkron-node`.

use std::process::ExitCode;

use clap::{Parser, error::ErrorKind};
use dkrond::{
    Listeners,
    cli::{AgentArgs, Cli, Command},
};

// Why not the system allocator: with glibc's, threads of the Raft write path waited on its
// arena locks (futex time in profiles); docs/benchmarks.md (Raft) has the A/B. The
// `system-allocator` feature is for heap profilers that hook malloc (docs/benchmarks.md, memory).
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for usage and configuration errors (as clap's own).
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            let rendered = error.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!(
                "dkrond: {} (see dkrond --help)",
                first.trim_start_matches("error: ")
            );
            return ExitCode::from(USAGE);
        }
    };
    match cli.command {
        Command::Version => print_line(&format!("dkrond {}", env!("CARGO_PKG_VERSION"))),
        Command::Keygen => match dkrond::keygen() {
            Ok(key) => print_line(&key),
            Err(error) => fail(&error, 1),
        },
        Command::Agent(args) => agent(&args),
        Command::Leave(control) => operator(dkrond::leave_command(
            &control,
            std::env::var("DKRON_ENCRYPT").ok(),
        )),
        Command::Raft(raft) => operator(dkrond::raft_command(
            &raft.command,
            std::env::var("DKRON_ENCRYPT").ok(),
        )),
    }
}

/// Builds the async runtime from `builder` (every driver enabled); on failure, says why and
/// returns the exit code.
fn start_runtime(
    mut builder: tokio::runtime::Builder,
) -> Result<tokio::runtime::Runtime, ExitCode> {
    builder.enable_all().build().map_err(|error| {
        fail(
            &anyhow::Error::new(error).context("cannot start the async runtime"),
            1,
        )
    })
}

/// Runs an operator command (`leave`, `raft …`) and prints its answer.
fn operator(command: impl Future<Output = anyhow::Result<String>>) -> ExitCode {
    let runtime = match start_runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(command) {
        Ok(text) => print_text(&text),
        Err(error) => fail(&error, 1),
    }
}

fn agent(args: &AgentArgs) -> ExitCode {
    let config = match dkrond::load_config(
        args,
        std::env::vars().collect(),
        &dkrond::default_config_dirs(),
        &dkrond::hostname,
    ) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("dkrond: {error}");
            return ExitCode::from(USAGE);
        }
    };
    dkrond::init_logs(&config);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    // Orphaned grandchildren of shell jobs come back to us to be reaped.
    if let Err(error) = dkron_executor::become_subreaper() {
        tracing::warn!(%error, "cannot become a child subreaper; orphans of jobs are left to init");
    }
    let runtime = match start_runtime(tokio::runtime::Builder::new_multi_thread()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let reload_args = args.clone();
    let reload = move || {
        dkrond::load_config(
            &reload_args,
            std::env::vars().collect(),
            &dkrond::default_config_dirs(),
            &dkrond::hostname,
        )
    };
    let result = runtime.block_on(async move {
        let listeners = Listeners::bind(&config).await?;
        dkrond::run(config, listeners, dkrond::shutdown_signal(), reload).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error, 1),
    }
}

#[expect(
    clippy::print_stdout,
    reason = "version and keygen print their answer on stdout"
)]
fn print_line(text: &str) -> ExitCode {
    println!("{text}");
    ExitCode::SUCCESS
}

#[expect(
    clippy::print_stdout,
    reason = "operator commands print their answer on stdout"
)]
fn print_text(text: &str) -> ExitCode {
    print!("{text}");
    ExitCode::SUCCESS
}

fn fail(error: &anyhow::Error, code: u8) -> ExitCode {
    eprintln!("dkrond: {error:#}");
    ExitCode::from(code)
}
