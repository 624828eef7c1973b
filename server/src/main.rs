use std::net::SocketAddr;
use std::process::ExitCode;

use roadroller_server::config::LogFormat;
use roadroller_server::serve::{self, Listeners};
use roadroller_server::{cli, telemetry};
use tokio::net::TcpListener;

// Tokio's workers and librdkafka's threads allocate and free across threads
// on every record; glibc's allocator spent a fifth of the server's time
// waiting on its arena locks under load. The `override` feature makes
// librdkafka's C allocations go to mimalloc as well (Produce 314k -> 418k
// records/s in the benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let matches = cli::command().get_matches();
    match matches.subcommand() {
        Some(("serve", m)) => serve_command(m),
        Some(("gateway", m)) => gateway_command(m),
        Some((name, _)) if roadroller_client::cli::NAMES.contains(&name) => {
            roadroller_client::cli::run(&matches, cli::command)
        }
        _ => unreachable!("clap requires a known subcommand"),
    }
}

fn serve_command(matches: &clap::ArgMatches) -> ExitCode {
    let settings = match cli::serve_settings(matches) {
        Ok(s) => s,
        Err(e) => return fail(2, e),
    };
    run(settings.log_format, |shutdown| async move {
        let grpc = bind("--listen", settings.listen).await?;
        let http = match settings.http.listen {
            Some(addr) => Some(bind("--http-listen", addr).await?),
            None => None,
        };
        let admin = match settings.admin_listen {
            Some(addr) => Some(bind("--admin-listen", addr).await?),
            None => None,
        };
        let listeners = Listeners { grpc, http, admin };
        serve::run(settings, listeners, shutdown).await.map_err(|e| e.to_string())
    })
}

fn gateway_command(matches: &clap::ArgMatches) -> ExitCode {
    let settings = match cli::gateway_settings(matches) {
        Ok(s) => s,
        Err(e) => return fail(2, e),
    };
    run(settings.log_format, |shutdown| async move {
        let listener = bind("--listen", settings.listen).await?;
        serve::run_gateway(settings, listener, shutdown).await.map_err(|e| e.to_string())
    })
}

/// Starts logging and the runtime, then runs `body` with the shutdown
/// signal; an error is reported as one line.
fn run<F, Fut>(log_format: LogFormat, body: F) -> ExitCode
where
    F: FnOnce(Box<dyn Future<Output = ()> + Send + Unpin>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    telemetry::init(log_format);
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
        match body(Box::new(Box::pin(shutdown))).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(1, e),
        }
    })
}

async fn bind(flag: &str, addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| format!("{flag}={addr}: {e}"))
}

/// One line on standard error, then the exit code.
fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("roadroller: {message}");
    ExitCode::from(code)
}

/// Registers for SIGTERM and SIGINT now; the future completes on either.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send> {
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
