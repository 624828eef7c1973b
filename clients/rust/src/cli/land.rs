//! `roadroller land ROAD`: a landing into the road's Hive table, now.

use super::Failure;
use crate::Client;

#[derive(clap::Args, Debug)]
pub struct LandArgs {
    road: String,
    /// Print the table's Hive DDL (after landing, or instead with --no-land)
    #[arg(long)]
    ddl: bool,
    /// Only print what --ddl prints
    #[arg(long, requires = "ddl")]
    no_land: bool,
}

pub async fn run(client: &Client, args: LandArgs) -> Result<(), Failure> {
    if !args.no_land {
        let landed = client.land(&args.road).await?;
        if landed.landings.is_empty() {
            eprintln!("{}: nothing new to land", args.road);
        }
        for l in &landed.landings {
            eprintln!(
                "{}: landed {} records in {} files at {}",
                args.road, l.records, l.files, l.location
            );
        }
        let at: Vec<String> = landed.offsets.iter().map(|(p, o)| format!("{p}:{o}")).collect();
        eprintln!("{}: the table holds the road up to offsets {}", args.road, at.join(","));
    }
    if args.ddl {
        print!("{}", client.hive_table(&args.road).await?.ddl);
    }
    Ok(())
}
