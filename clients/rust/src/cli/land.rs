//! `roadroller land ROAD`: a landing into the road's Hive table, now;
//! with `--snapshot`, today's snapshot of a COMPACTED road too.

use roadroller_api::v1 as pb;

use super::Failure;
use crate::Client;

#[derive(clap::Args, Debug)]
pub struct LandArgs {
    road: String,
    /// Print the table's Hive DDL (after landing, or instead with --no-land)
    #[arg(long)]
    ddl: bool,
    /// Only print what --ddl prints
    #[arg(long, requires = "ddl", conflicts_with = "snapshot")]
    no_land: bool,
    /// Then take today's snapshot (COMPACTED roads): one row per live key
    #[arg(long)]
    snapshot: bool,
}

pub async fn run(client: &Client, args: LandArgs) -> Result<(), Failure> {
    if args.snapshot {
        let taken = client.snapshot_table(&args.road).await?;
        report(
            &args.road,
            &pb::LandResponse { landings: taken.landings, offsets: Default::default() },
        );
        if let Some(s) = &taken.snapshot {
            let verb = if taken.taken_now { "took" } else { "found, taken earlier," };
            eprintln!(
                "{}: {verb} the snapshot of {} with {} keys in {} files at {}",
                args.road, s.snapshot_date, s.keys, s.files, s.location
            );
        }
    } else if !args.no_land {
        let landed = client.land(&args.road).await?;
        report(&args.road, &landed);
        let at: Vec<String> = landed.offsets.iter().map(|(p, o)| format!("{p}:{o}")).collect();
        eprintln!("{}: the table holds the road up to offsets {}", args.road, at.join(","));
    }
    if args.ddl {
        let table = client.hive_table(&args.road).await?;
        print!("{}", table.ddl);
        print!("{}", table.snapshot_ddl);
    }
    Ok(())
}

fn report(road: &str, landed: &pb::LandResponse) {
    if landed.landings.is_empty() {
        eprintln!("{road}: nothing new to land");
    }
    for l in &landed.landings {
        eprintln!("{road}: landed {} records in {} files at {}", l.records, l.files, l.location);
    }
}
