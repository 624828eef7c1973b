//! The client commands of the `roadroller` command line: `road`, `schema`,
//! `stream`, `produce`, `tail`, `snapshot`, `get`, `keys` and `land`.
//!
//! Exit codes: 0 success, 2 usage, 3 not found, 4 refused by the server
//! (invalid input, a failed precondition, a conflict, missing or refused
//! credentials, no permission, or rejected records),
//! 5 server unavailable or failing, 1 anything local (a file, the terminal).

mod land;
mod produce;
mod road;
mod schema;
mod stream;
mod table;
mod tail;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, FromArgMatches, Subcommand};
use tonic::Code;

use crate::{Client, ConnectOptions, Error};

/// The client commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, inspect, change and delete roads
    Road(Grouped<road::RoadCommand>),
    /// Register, inspect and delete schema versions
    Schema(Grouped<schema::SchemaCommand>),
    /// A road's streams: their lag, and moving or deleting their positions
    Stream(Grouped<stream::StreamCommand>),
    /// Write JSON lines from a file or standard input to a road
    Produce(produce::ProduceArgs),
    /// Print a road's records as JSON lines as they come
    Tail(tail::TailArgs),
    /// Export a COMPACTED road's current state as JSON lines
    Snapshot(tail::SnapshotArgs),
    /// Look up keys of a materialized COMPACTED road
    Get(table::GetArgs),
    /// List the live entries of a materialized COMPACTED road in key order
    Keys(table::KeysArgs),
    /// Land a road into its Hive table now (Loading Bay) and wait for it
    Land(land::LandArgs),
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// A command group (`road ...`, `schema ...`).
#[derive(Args, Debug)]
pub struct Grouped<C: Subcommand> {
    #[command(subcommand)]
    command: C,
}

/// How to reach the server; every client command takes these, before or
/// after the subcommand's name.
#[derive(Args, Debug, Clone)]
pub struct Server {
    /// The Roadroller gRPC endpoint (client commands); http:// is assumed
    /// without a scheme
    #[arg(
        long,
        env = "ROADROLLER_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub server: String,
    /// A PEM file of the CA that signed the server's certificate (https)
    #[arg(long, env = "ROADROLLER_CA_CERT", global = true)]
    pub ca_cert: Option<PathBuf>,
    /// A PEM client certificate to present (mutual TLS); needs --client-key
    #[arg(long, env = "ROADROLLER_CLIENT_CERT", global = true, requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// The PEM private key of --client-cert
    #[arg(long, env = "ROADROLLER_CLIENT_KEY", global = true, requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// A file holding a bearer token (JWT) to send; the variable ROADROLLER_TOKEN
    /// holds a token itself
    #[arg(long, env = "ROADROLLER_TOKEN_FILE", global = true)]
    pub token_file: Option<PathBuf>,
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::local(format!("cannot read {}: {e}", path.display())))
}

impl Server {
    async fn connect(&self) -> Result<Client, Failure> {
        let mut options = ConnectOptions::default();
        if let Some(path) = &self.ca_cert {
            options = options.with_ca_pem(read(path)?);
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            options = options.with_client_cert_pem(read(cert)?, read(key)?);
        }
        // A file beats the variable; neither is ever printed.
        let token = match &self.token_file {
            Some(path) => Some(String::from_utf8_lossy(&read(path)?).trim().to_string()),
            None => std::env::var("ROADROLLER_TOKEN").ok().filter(|t| !t.trim().is_empty()),
        };
        if let Some(token) = token {
            options = options.with_token(&token).map_err(Failure::from)?;
        }
        Client::connect_with(self.server.clone(), options).await.map_err(Failure::from)
    }
}

/// The subcommand names this module handles, for the binary's dispatch.
pub const NAMES: &[&str] = &[
    "road",
    "schema",
    "stream",
    "produce",
    "tail",
    "snapshot",
    "get",
    "keys",
    "land",
    "completions",
];

/// Adds the client commands, and the server flags they share, to the
/// binary's command.
pub fn augment(command: clap::Command) -> clap::Command {
    let command = <Server as Args>::augment_args(command);
    <Command as Subcommand>::augment_subcommands(command)
}

/// Runs the client command in `matches` (the binary's top-level matches).
/// `whole` is the binary's command, for completion scripts.
pub fn run(matches: &clap::ArgMatches, whole: impl FnOnce() -> clap::Command) -> ExitCode {
    let command = match Command::from_arg_matches(matches) {
        Ok(command) => command,
        Err(e) => e.exit(),
    };
    if let Command::Completions { shell } = command {
        let mut whole = whole();
        let name = whole.get_name().to_string();
        // Written whole, so that a closed pipe is an error, not a panic.
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut whole, name, &mut script);
        use std::io::Write;
        return match std::io::stdout().write_all(&script) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => Failure::local(format!("cannot write: {e}")).report(),
        };
    }
    // The server flags are global: their values reach the innermost
    // subcommand wherever they were given.
    let mut leaf = matches;
    while let Some((_, sub)) = leaf.subcommand() {
        leaf = sub;
    }
    let server = match Server::from_arg_matches(leaf) {
        Ok(server) => server,
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return Failure::local(format!("cannot start the async runtime: {e}")).report(),
    };
    let result = runtime.block_on(async move {
        let client = server.connect().await?;
        match command {
            Command::Road(c) => road::run(&client, c.command).await,
            Command::Schema(c) => schema::run(&client, c.command).await,
            Command::Stream(c) => stream::run(&client, c.command).await,
            Command::Produce(args) => produce::run(&client, args).await,
            Command::Tail(args) => tail::tail(&client, args).await,
            Command::Snapshot(args) => tail::snapshot(&client, args).await,
            Command::Get(args) => table::get(&client, args).await,
            Command::Keys(args) => table::keys(&client, args).await,
            Command::Land(args) => land::run(&client, args).await,
            Command::Completions { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

/// Why a command failed: a sentence for people and an exit code.
#[derive(Debug)]
pub struct Failure {
    message: String,
    details: Vec<String>,
    code: u8,
}

impl Failure {
    pub fn local(message: impl Into<String>) -> Self {
        Self { message: message.into(), details: Vec::new(), code: 1 }
    }

    pub fn refused(message: impl Into<String>) -> Self {
        Self { message: message.into(), details: Vec::new(), code: 4 }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self { message: message.into(), details: Vec::new(), code: 3 }
    }

    fn report(self) -> ExitCode {
        eprintln!("roadroller: {}", self.message);
        for line in self.details {
            eprintln!("  {line}");
        }
        ExitCode::from(self.code)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match e.code() {
            Some(Code::NotFound) => 3,
            Some(
                Code::InvalidArgument
                | Code::FailedPrecondition
                | Code::AlreadyExists
                | Code::Aborted
                | Code::PermissionDenied
                | Code::Unauthenticated
                | Code::ResourceExhausted
                | Code::OutOfRange,
            ) => 4,
            None if matches!(e, Error::Credentials { .. }) => 1,
            _ => 5,
        };
        let details: Vec<String> = e
            .field_violations()
            .into_iter()
            .map(|(field, why)| format!("{field}: {why}"))
            .collect();
        let message = match &e {
            Error::Status(s) if s.code() == Code::Unavailable => {
                format!("the server is unavailable: {}", s.message())
            }
            // The server's sentence lists the violations already shown one
            // per line below it: said once.
            Error::Status(s)
                if !details.is_empty()
                    && details.iter().all(|d: &String| s.message().contains(d.as_str())) =>
            {
                "the request was refused:".to_string()
            }
            _ => e.to_string(),
        };
        Self { message, details, code }
    }
}

/// Reads a file, or standard input for `-`.
fn read_input(path: &str) -> Result<String, Failure> {
    if path == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| Failure::local(format!("cannot read standard input: {e}")))
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Failure::local(format!("cannot read {path}: {e}")))
    }
}

/// A duration flag such as `7d` or `90s`.
fn duration(text: &str) -> Result<prost_types::Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration such as 90s or 7d ({e})"))?;
    Ok(prost_types::Duration { seconds: d.as_secs() as i64, nanos: d.subsec_nanos() as i32 })
}
