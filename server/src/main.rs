use std::process::ExitCode;

use roadroller_server::{cli, serve, telemetry};

fn main() -> ExitCode {
    let matches = cli::command().get_matches();
    match matches.subcommand() {
        Some(("serve", m)) => serve_command(m),
        _ => unreachable!("clap requires a known subcommand"),
    }
}

fn serve_command(matches: &clap::ArgMatches) -> ExitCode {
    let settings = match cli::serve_settings(matches) {
        Ok(s) => s,
        Err(e) => return fail(2, e),
    };
    telemetry::init(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(1, format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async {
        // Installed before anything else, so that a signal during start-up
        // still shuts down in order instead of killing the process.
        let shutdown = match shutdown_signal() {
            Ok(s) => s,
            Err(e) => return fail(1, format!("cannot listen for SIGTERM: {e}")),
        };
        let listener = match tokio::net::TcpListener::bind(settings.listen).await {
            Ok(l) => l,
            Err(e) => return fail(1, format!("--listen={}: {e}", settings.listen)),
        };
        match serve::run(settings, listener, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(1, e),
        }
    })
}

/// One line on standard error, then the exit code.
fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("roadroller: {message}");
    ExitCode::from(code)
}

/// Registers for SIGTERM and SIGINT now; the future completes on either.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}
