//! `roadroller schema ...`

use clap::Subcommand;

use super::{Failure, read_input};
use crate::{Client, pb};

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Register a schema version from a JSON file (or - for standard input)
    Register {
        road: String,
        file: String,
        /// An explicit version number, above every earlier one
        #[arg(long)]
        version: Option<u32>,
    },
    /// Print a schema version (the latest when none is given)
    Get {
        road: String,
        #[arg(long)]
        version: Option<u32>,
    },
    /// List a road's schema versions
    List {
        road: String,
        #[arg(long)]
        include_deleted: bool,
    },
    /// Delete the latest schema version
    Delete { road: String, version: u32 },
}

pub async fn run(client: &Client, command: SchemaCommand) -> Result<(), Failure> {
    match command {
        SchemaCommand::Register { road, file, version } => {
            let text = read_input(&file)?;
            let schema = client.register_schema(&road, &text, version).await?;
            println!("registered {road} schema version {}", schema.version);
        }
        SchemaCommand::Get { road, version } => {
            let schema = client.get_schema(&road, version).await?;
            println!("{}", pretty(&schema));
        }
        SchemaCommand::List { road, include_deleted } => {
            for s in client.list_schemas(&road, include_deleted).await? {
                println!("version {:<5}{}", s.version, if s.deleted { " (deleted)" } else { "" });
            }
        }
        SchemaCommand::Delete { road, version } => {
            client.delete_schema(&road, version).await?;
            println!("deleted {road} schema version {version}");
        }
    }
    Ok(())
}

fn pretty(schema: &pb::Schema) -> String {
    serde_json::from_str::<serde_json::Value>(&schema.schema)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| schema.schema.clone())
}
