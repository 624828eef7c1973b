//! `roadroller-bench`: Roadroller against raw Kafka clients on the same
//! broker, in one run. Prints a table and writes the figures as JSON.
//!
//! `--quick` runs every scenario briefly, to show the harness works; the
//! targets are judged on a full run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use roadroller_bench::figures::{self, Figure, Target};
use roadroller_bench::stage::{Result, STREAM, Stage, TABLE};
use roadroller_bench::{proc, scenarios, throughput};

#[derive(Parser, Debug)]
#[command(about = "Roadroller against raw Kafka clients on the same broker")]
struct Args {
    /// Run every scenario briefly (proves the harness; targets not judged)
    #[arg(long)]
    quick: bool,
    /// Where to write the figures as JSON
    #[arg(long, default_value = "bench-results.json")]
    json: PathBuf,
    /// The roadroller binary; by default the one next to this program
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Scenario numbers to leave out, e.g. --skip 4,9
    #[arg(long, value_delimiter = ',')]
    skip: Vec<u32>,
    /// Records per throughput scenario, instead of the run's default
    #[arg(long)]
    records: Option<u64>,
    /// Keys of the SNAPSHOT scenario, instead of the run's default
    #[arg(long)]
    snapshot_keys: Option<u64>,
    /// Idle subscriptions, instead of the run's default
    #[arg(long)]
    idle: Option<usize>,
    /// Records on the embedded broker in scenario 15, instead of the run's
    /// default
    #[arg(long)]
    broker_records: Option<u64>,
}

/// Sizes of one run.
struct Sizes {
    records: u64,
    snapshot_keys: u64,
    latency_for: Duration,
    idle: usize,
    validate_for: Duration,
    broker: roadroller_bench::broker::Sizes,
}

impl Sizes {
    fn of(quick: bool) -> Self {
        if quick {
            Self {
                records: 20_000,
                snapshot_keys: 5_000,
                latency_for: Duration::from_secs(2),
                idle: 50,
                validate_for: Duration::from_millis(300),
                broker: roadroller_bench::broker::Sizes {
                    records: 20_000,
                    settle: Duration::from_secs(1),
                    idle_for: Duration::from_secs(2),
                },
            }
        } else {
            Self {
                records: 500_000,
                snapshot_keys: 1_000_000,
                latency_for: Duration::from_secs(10),
                idle: 1_000,
                validate_for: Duration::from_secs(3),
                broker: roadroller_bench::broker::Sizes {
                    records: 10_000_000,
                    settle: Duration::from_secs(15),
                    idle_for: Duration::from_secs(60),
                },
            }
        }
    }
}

// The same allocator as the server's, for the broker, the Rust client and,
// through mimalloc's `override` feature, the raw librdkafka clients.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    // The server's S3 client builds reqwest with rustls but no crypto
    // provider of its own, and features are shared across the workspace: the
    // bench's HTTP clients need the process-wide provider too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roadroller-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(figures) => {
            print!("{}", figures::table(&figures));
            let json = figures::json(&figures, args.quick);
            if let Err(e) = std::fs::write(&args.json, format!("{json:#}\n")) {
                eprintln!("roadroller-bench: cannot write {}: {e}", args.json.display());
                return ExitCode::FAILURE;
            }
            eprintln!("figures written to {}", args.json.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("roadroller-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<Vec<Figure>> {
    let mut sizes = Sizes::of(args.quick);
    sizes.records = args.records.unwrap_or(sizes.records);
    sizes.snapshot_keys = args.snapshot_keys.unwrap_or(sizes.snapshot_keys);
    sizes.idle = args.idle.unwrap_or(sizes.idle);
    sizes.broker.records = args.broker_records.unwrap_or(sizes.broker.records);
    let bin = match &args.server_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?.with_file_name("roadroller"),
    };
    let stage = Stage::start(&bin).await?;
    let mut figures = Vec::new();
    let n = sizes.records;
    let step = |name: &str| eprintln!("-- {name}");
    // Each figure is shown as soon as it is measured.
    let mut shown = 0;
    let mut show = |figures: &Vec<Figure>| {
        for f in &figures[shown..] {
            eprintln!("   {} = {:.2} {}", f.scenario, f.value, f.unit);
        }
        shown = figures.len();
    };

    step("1. raw producer");
    let pid = stage.server.pid();
    let raw_topic = "bench.raw";
    create_topic(&stage, raw_topic, 6).await?;
    let cpu = proc::Cpu::start(pid);
    let bootstrap = stage.bootstrap();
    let raw =
        tokio::task::spawn_blocking(move || throughput::raw_produce(&bootstrap, raw_topic, n))
            .await??;
    figures.push(Figure::new("1 raw rdkafka producer", raw, "records/s"));
    // The raw client process's CPU per record: what the server's is
    // measured against, as the overhead factor, so figures compare across
    // machines.
    let (raw_producer_cpu, _) = cpu_figures(&mut figures, "1", cpu, n);

    show(&figures);
    step("2. Onramp ProduceStream");
    let cpu = proc::Cpu::start(pid);
    let value = throughput::produce_stream(&stage, STREAM, n).await?;
    figures.push(
        Figure::new("2 Onramp ProduceStream", value, "records/s")
            .against(raw, Target::RatioAtLeast(0.85)),
    );
    let (_, server) = cpu_figures(&mut figures, "2", cpu, n);
    figures.push(overhead("2", server, raw_producer_cpu, 1.0));

    show(&figures);
    step("3. Onramp Produce, 500 x 4 callers");
    let cpu = proc::Cpu::start(pid);
    let value = throughput::produce_batches(&stage, n).await?;
    figures.push(
        Figure::new("3 Onramp Produce 500 x 4", value, "records/s")
            .against(raw, Target::RatioAtLeast(0.70)),
    );
    let (_, server) = cpu_figures(&mut figures, "3", cpu, n);
    figures.push(overhead("3", server, raw_producer_cpu, 1.2));

    let mut total = 2 * n;
    if !args.skip.contains(&4) {
        show(&figures);
        step("4. HTTP Onramp, 500 per request");
        let cpu = proc::Cpu::start(pid);
        let value = throughput::produce_http(&stage, n).await?;
        figures.push(
            Figure::new("4 HTTP Onramp 500 x 4", value, "records/s")
                .against(raw, Target::RatioAtLeast(0.50)),
        );
        // The gateway runs in the server's process: both are counted.
        let (_, server) = cpu_figures(&mut figures, "4", cpu, n);
        figures.push(overhead("4", server, raw_producer_cpu, 1.6));
        total += n;
    }

    show(&figures);
    step("5. raw consumer");
    let cpu = proc::Cpu::start(pid);
    let bootstrap = stage.bootstrap();
    let topic = format!("road.{STREAM}");
    let raw =
        tokio::task::spawn_blocking(move || throughput::raw_consume(&bootstrap, &topic, 6, total))
            .await??;
    figures.push(Figure::new("5 raw rdkafka consumer", raw, "records/s"));
    let raw_consume_rate = raw;
    let (raw_consumer_cpu, _) = cpu_figures(&mut figures, "5", cpu, total);

    show(&figures);
    step("6. Offramp GROUP, push mode");
    let cpu = proc::Cpu::start(pid);
    let value = throughput::offramp_push(&stage, STREAM, total).await?;
    let group_rate = value;
    figures.push(
        Figure::new("6 Offramp GROUP push", value, "records/s")
            .against(raw, Target::RatioAtLeast(0.85)),
    );
    let (_, server) = cpu_figures(&mut figures, "6", cpu, total);
    figures.push(overhead("6", server, raw_consumer_cpu, 0.8));

    let mut snapshot_rate = None;
    // Scenario 7's raw read of the table, which scenario 16 compares with.
    let mut table_raw_secs = None;
    if !args.skip.contains(&7) {
        show(&figures);
        step("7. SNAPSHOT against a raw read");
        let s = scenarios::snapshot(&stage, sizes.snapshot_keys).await?;
        snapshot_rate = Some(sizes.snapshot_keys as f64 / s.snapshot_secs);
        table_raw_secs = Some(s.raw_secs);
        figures.push(
            Figure::new(
                format!("7 SNAPSHOT {} keys x 3", sizes.snapshot_keys),
                s.snapshot_secs,
                "seconds",
            )
            .against(s.raw_secs, Target::RatioAtMost(2.5)),
        );
        figures.push(
            Figure::new("7 SNAPSHOT peak RSS growth", s.bytes_per_key, "bytes/key")
                .target(Target::AtMost(120.0)),
        );
    }

    if !args.skip.contains(&8) {
        show(&figures);
        step("8. produce -> Offramp latency at 5,000/s");
        let l = scenarios::latency(&stage, 5_000, sizes.latency_for).await?;
        figures.push(Figure::new("8 latency p50", l.p50, "ms"));
        figures.push(Figure::new("8 latency p99", l.p99, "ms").target(Target::AtMost(25.0)));
        figures.push(Figure::new("8 latency max", l.max, "ms"));
    }

    if !args.skip.contains(&9) {
        show(&figures);
        step("9. idle subscriptions");
        let i = scenarios::idle(&stage, sizes.idle).await?;
        let gib = 1024.0 * 1024.0 * 1024.0;
        figures.push(
            Figure::new(
                format!("9 {} idle subscriptions: RSS", sizes.idle),
                i.rss as f64 / gib,
                "GiB",
            )
            .target(Target::AtMost(2.0)),
        );
        let per = i.rss.saturating_sub(i.rss_before) as f64 / sizes.idle as f64 / 1024.0;
        figures.push(Figure::new("9 RSS per subscription", per, "KiB"));
        figures.push(Figure::new(
            format!("9 {} idle subscriptions: threads", sizes.idle),
            i.threads as f64,
            "threads",
        ));
        figures.push(Figure::new("9 threads before", i.threads_before as f64, "threads"));
    }

    if !args.skip.contains(&11) {
        show(&figures);
        step("11. ProduceStream with JWT authentication, against none");
        let (open, jwt) = roadroller_bench::auth::produce_stream_with_jwt(&stage, &bin, n).await?;
        figures.push(Figure::new("11 ProduceStream, no authentication", open, "records/s"));
        figures.push(
            Figure::new("11 ProduceStream, JWT authentication", jwt, "records/s")
                .against(open, Target::RatioAtLeast(0.95)),
        );
    }

    if !args.skip.contains(&12) {
        show(&figures);
        step("12. ProduceStream and Offramp with tracing and metrics, against neither");
        let o = roadroller_bench::observed::compare(&stage, &bin, n).await?;
        figures.push(Figure::new("12 ProduceStream, unobserved", o.produce.0, "records/s"));
        figures.push(
            Figure::new("12 ProduceStream, traced and scraped", o.produce.1, "records/s")
                .against(o.produce.0, Target::RatioAtLeast(0.90)),
        );
        figures.push(Figure::new("12 Offramp GROUP, unobserved", o.offramp.0, "records/s"));
        figures.push(
            Figure::new("12 Offramp GROUP, traced and scraped", o.offramp.1, "records/s")
                .against(o.offramp.0, Target::RatioAtLeast(0.90)),
        );
        figures.push(Figure::new("12 spans received", o.spans as f64, "spans"));
    }

    if !args.skip.contains(&14) {
        show(&figures);
        step("14. the CLI's read paths, against the Offramp rates above");
        // The road holds more than scenario 6 read by now (scenarios 8, 11
        // and 12 wrote to it too), and `-e` reads all of it.
        let on_road = throughput::records_on(&stage.bootstrap(), &format!("road.{STREAM}"), 6)?;
        let tail = roadroller_bench::readers::cli_tail(&stage, &bin, on_road)?;
        figures.push(
            Figure::new(format!("14 roadroller tail -e, {on_road} records"), tail, "records/s")
                .against(group_rate, Target::RatioAtLeast(0.5)),
        );
        if let Some(rate) = snapshot_rate {
            let keys = sizes.snapshot_keys;
            let snapshot = roadroller_bench::readers::cli_snapshot(&stage, &bin, keys)?;
            figures.push(
                Figure::new(format!("14 roadroller snapshot, {keys} keys"), snapshot, "keys/s")
                    .against(rate, Target::RatioAtLeast(0.5)),
            );
            use roadroller_bench::readers::{Library, library_snapshot};
            for library in [Library::Python, Library::TypeScript] {
                let name = library.name();
                match library_snapshot(&stage, library)? {
                    Some(value) => figures.push(
                        Figure::new(format!("14 {name} snapshot, {keys} keys"), value, "keys/s")
                            .against(rate, Target::RatioAtLeast(0.25)),
                    ),
                    None => println!(
                        "   {name} client not set up (./scripts/test-clients does it): skipped"
                    ),
                }
            }
        }
    }

    if !args.skip.contains(&13) {
        show(&figures);
        step("13. ProduceStream with quotas configured but not reached, against none");
        let (open, limited) =
            roadroller_bench::quotas::produce_stream_with_quotas(&stage, &bin, n).await?;
        figures.push(Figure::new("13 ProduceStream, no quotas", open, "records/s"));
        figures.push(
            Figure::new("13 ProduceStream, quotas not reached", limited, "records/s")
                .against(open, Target::RatioAtLeast(0.95)),
        );
    }

    if let (false, Some(raw_secs)) = (args.skip.contains(&16), table_raw_secs) {
        show(&figures);
        step("16. the table materialized: view build, lookups, snapshots from the view");
        let tables = roadroller_bench::tables::Sizes {
            keys: sizes.snapshot_keys,
            get_rate: 2_000,
            get_for: if args.quick { Duration::from_secs(1) } else { Duration::from_secs(10) },
            batch_for: if args.quick { Duration::from_millis(500) } else { Duration::from_secs(5) },
            fleet: if args.quick { 5 } else { 50 },
        };
        figures.extend(roadroller_bench::tables::study(&stage, &tables, raw_secs).await?);
    }

    if !args.skip.contains(&17) {
        show(&figures);
        step("17. Produce latency beside payloads built to trip a schema's patterns");
        let h = roadroller_bench::hostile::study(&stage, 200, sizes.latency_for).await?;
        if !h.refused {
            return Err("a back-reference pattern was registered; it must be refused".into());
        }
        figures.push(Figure::new("17 Produce p99, alone", h.alone_p99_ms, "ms"));
        figures.push(
            Figure::new("17 Produce p99, beside hostile values", h.beside_p99_ms, "ms")
                .against(h.alone_p99_ms, Target::RatioAtMost(5.0)),
        );
        // The bound that matters: a few milliseconds of linear work per
        // hostile call, where a backtracking engine took seconds per value.
        figures.push(
            Figure::new("17 Produce p99 added", h.beside_p99_ms - h.alone_p99_ms, "ms")
                .target(Target::AtMost(10.0)),
        );
        figures.push(Figure::new(
            "17 hostile values refused meanwhile",
            h.hostile_values as f64,
            "values",
        ));
    }

    if !args.skip.contains(&18) {
        show(&figures);
        step("18. Loading Bay landing the road, against the raw consumer");
        let l = roadroller_bench::landing::land_all(&stage, &bin, STREAM).await?;
        figures.push(
            Figure::new(
                format!("18 landing {} records", l.records),
                l.records as f64 / l.secs,
                "records/s",
            )
            .against(raw_consume_rate, Target::RatioAtLeast(0.5)),
        );
    }

    if let (false, Some(raw_secs)) = (args.skip.contains(&19), table_raw_secs) {
        show(&figures);
        step("19. Loading Bay's daily snapshot of the table road, rolled up from its landing");
        let mib = |b: u64| b as f64 / f64::from(1 << 20);
        // The roll-up's memory follows loading_bay.snapshot_memory, not the
        // number of keys: the default, then a quarter of it.
        for (memory, budget) in [("256MiB", 256.0), ("64MiB", 64.0)] {
            let r = roadroller_bench::landing::snapshot_all(&stage, &bin, TABLE, memory).await?;
            figures.push(
                Figure::new(
                    format!("19 landing {} records ({memory})", r.records),
                    r.landing_secs,
                    "seconds",
                )
                .against(raw_secs, Target::RatioAtMost(2.0)),
            );
            figures.push(Figure::new(
                format!("19 snapshot roll-up to {} keys, {} files ({memory})", r.keys, r.files),
                r.snapshot_secs,
                "seconds",
            ));
            figures.push(Figure::new(
                format!("19 server RSS before the roll-up ({memory})"),
                mib(r.before_bytes),
                "MiB",
            ));
            // The budget, and the allocator's and Kafka client's slack.
            figures.push(
                Figure::new(
                    format!("19 server peak RSS growth in the roll-up ({memory})"),
                    mib(r.peak_bytes.saturating_sub(r.before_bytes)),
                    "MiB",
                )
                .target(Target::AtMost(budget * 1.25)),
            );
        }
    }

    show(&figures);
    step("10. validating a 1 KiB document, 30 properties");
    let (rate, as_value) =
        tokio::task::spawn_blocking(move || scenarios::validation(sizes.validate_for)).await??;
    figures.push(
        Figure::new("10 validation, one core", rate, "docs/s").target(Target::AtLeast(200_000.0)),
    );
    figures.push(Figure::new("10: through serde_json::Value", as_value, "docs/s"));

    if !args.skip.contains(&15) {
        show(&figures);
        // Alone on the machine: the shared stage would idle beside it.
        drop(stage);
        let n = sizes.broker.records;
        step(&format!("15. the embedded broker with {n} records, against the earlier engine"));
        figures.extend(roadroller_bench::broker::study(&bin, &sizes.broker).await?);
        show(&figures);
    }
    Ok(figures)
}

/// The CPU a scenario used per record, as two figures; returns them
/// (this process's, the server's).
fn cpu_figures(
    figures: &mut Vec<Figure>,
    scenario: &str,
    cpu: proc::Cpu,
    records: u64,
) -> (f64, f64) {
    let (bench, server) = cpu.per_record(records);
    figures.push(Figure::new(format!("{scenario}: CPU clients+broker"), bench, "us/record"));
    figures.push(Figure::new(format!("{scenario}: CPU server"), server, "us/record"));
    (bench, server)
}

/// The overhead factor: the server's CPU per record over the raw client
/// process's in the same run.
fn overhead(scenario: &str, server: f64, raw: f64, at_most: f64) -> Figure {
    Figure::new(format!("{scenario}: overhead factor"), server / raw.max(f64::EPSILON), "x raw")
        .target(Target::AtMost(at_most))
}

async fn create_topic(stage: &Stage, name: &str, partitions: i32) -> Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<_> =
        rdkafka::ClientConfig::new().set("bootstrap.servers", stage.bootstrap()).create()?;
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    admin.create_topics([&topic], &AdminOptions::new()).await?;
    Ok(())
}
