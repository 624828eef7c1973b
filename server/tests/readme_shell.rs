//! The README's shell examples, run as written against a live server, in
//! README order and in one shell (later examples use what earlier ones
//! made), with only the default addresses replaced by the test server's.
//! Every `sh` block of the README is either run here, with what its output
//! must show, or named as skipped with the reason, so a new example cannot
//! go untested unnoticed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use roadroller_tests::TestServer;

const BIN: &str = env!("CARGO_BIN_EXE_roadroller");
const README: &str = include_str!("../../README.md");

/// What is done with one `sh` block: the heading it is under, its place
/// among that heading's `sh` blocks, and either what its output must hold
/// or why it is not run.
struct Plan {
    heading: &'static str,
    ordinal: usize,
    run: Run,
}

enum Run {
    /// Run it; the output (stdout and stderr together) must hold every
    /// `shows` fragment and no `never` fragment, and only commands naming
    /// a command whose failure line (`::failed (<exit code>): <command>`)
    /// holds one of `may_fail` may exit non-zero.
    Checked {
        shows: &'static [&'static str],
        never: &'static [&'static str],
        may_fail: &'static [&'static str],
    },
    Skipped(&'static str),
}

use Run::{Checked, Skipped};

const PLANS: &[Plan] = &[
    Plan {
        heading: "The two commands",
        ordinal: 0,
        run: Skipped("builds and runs the server, which this test starts itself"),
    },
    Plan {
        heading: "The two commands",
        ordinal: 1,
        run: Skipped("the suite this test is part of"),
    },
    Plan {
        heading: "A short tour",
        ordinal: 0,
        run: Checked {
            shows: &[
                "\"status\": \"SERVING\"",
                "grpc.reflection.v1.ServerReflection",
                "roadroller.v1.TableService",
                "roadroller.v1.LoadingBayService",
            ],
            never: &[],
            may_fail: &[],
        },
    },
    Plan {
        heading: "A short tour",
        ordinal: 1,
        run: Checked {
            shows: &[
                "\"accepted\"",
                "\"rebalance\"",
                "\"key\": \"b\"",
                r#""payload": "{\"v\":\"two\"}""#,
                r#""payload": "{\"v\":\"three\"}""#,
                "\"snapshotComplete\"",
                "deadline_exceeded",
            ],
            // The snapshot holds the latest value of each key only.
            never: &[r#"{\"v\":\"one\"}"#, "\"rejected\""],
            // buf's exit code for deadline_exceeded: BUF_TIMEOUT ends the
            // Subscribe, as the example says.
            may_fail: &["(32): $buf curl"],
        },
    },
    Plan {
        heading: "The command line",
        ordinal: 0,
        run: Checked {
            shows: &[
                "registered customers schema version 1",
                "enabled     true",
                "customers: 3 records, 3 accepted, 0 rejected",
                "customers: 2 records, 2 accepted, 0 rejected",
                // The payload as produced, byte for byte, and a delete.
                r#""key":"45","payload":{"name": "Barbara"}"#,
                r#""key":"44","payload":null"#,
                "customers: 3 keys as of offsets",
                "stream      indexer",
                "live keys, ",
                r#""key":"42""#,
                r#""key":"43""#,
            ],
            never: &["error:", "roadroller: "],
            may_fail: &[],
        },
    },
    Plan {
        heading: "The command line",
        ordinal: 1,
        run: Skipped(
            "needs a TLS server at roadroller.internal; the security tests use these options",
        ),
    },
    Plan {
        heading: "Python",
        ordinal: 0,
        run: Skipped("scripts/test-clients installs the client so and runs the Python example"),
    },
    Plan {
        heading: "TypeScript",
        ordinal: 0,
        run: Skipped("scripts/test-clients builds the client so and runs the TypeScript example"),
    },
    Plan {
        heading: "Tables: materialized roads",
        ordinal: 0,
        run: Checked {
            shows: &[
                r#""payload": "{\"v\":\"three\"}""#,
                "\"viewOffsets\"",
                r#""key":"a","partition":"#,
                r#""payload":{"v":"three"}"#,
            ],
            never: &[],
            may_fail: &[],
        },
    },
    Plan {
        heading: "Loading Bay: roads as Hive tables",
        ordinal: 0,
        run: Checked {
            // The command line example's five records of `customers`.
            shows: &["customers: landed 5 records in", "the table holds the road up to offsets"],
            never: &["error:", "roadroller: "],
            may_fail: &[],
        },
    },
    Plan {
        heading: "Daily snapshots of COMPACTED roads",
        ordinal: 0,
        run: Checked {
            // The live keys of `customers` after the command line example:
            // 42, 43 and 45. The scheduler may take the snapshot first
            // (02:00 may have passed today); the command then finds it.
            shows: &["customers: ", "the snapshot of ", " with 3 keys in "],
            never: &["error:", "roadroller: "],
            may_fail: &[],
        },
    },
    Plan {
        heading: "Legacy Data Highway clients",
        ordinal: 0,
        run: Checked {
            shows: &[
                r#""success":true,"message":"Request to create road \"orders\" received""#,
                r#""message":"Message accepted.""#,
                r#"/id: \"two\" is not of type \"integer\""#,
            ],
            never: &[],
            may_fail: &[],
        },
    },
    Plan {
        heading: "Legacy Data Highway clients",
        ordinal: 1,
        run: Skipped("a gateway in front of a placeholder host, running until stopped"),
    },
    Plan {
        heading: "Security",
        ordinal: 0,
        run: Skipped("a server with placeholder certificates and keys, running until stopped"),
    },
    Plan {
        heading: "Quotas",
        ordinal: 0,
        run: Checked {
            shows: &["road        orders"],
            never: &["error:", "roadroller: "],
            may_fail: &[],
        },
    },
    Plan {
        heading: "Deploying",
        ordinal: 0,
        run: Skipped("a container build (the deploy check validates its manifests)"),
    },
    Plan {
        heading: "Performance",
        ordinal: 0,
        run: Skipped("a release build and a full benchmark run, many minutes"),
    },
];

struct Block {
    heading: String,
    ordinal: usize,
    line: usize,
    text: String,
}

/// The README's `sh` blocks with the heading each is under.
fn shell_blocks(readme: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let (mut heading, mut open) = (String::new(), None::<Block>);
    let mut fenced = false;
    for (i, line) in readme.lines().enumerate() {
        if let Some(fence) = line.strip_prefix("```") {
            if fenced {
                if let Some(block) = open.take() {
                    blocks.push(block);
                }
            } else if fence == "sh" {
                let ordinal = blocks.iter().filter(|b| b.heading == heading).count();
                open = Some(Block {
                    heading: heading.clone(),
                    ordinal,
                    line: i + 1,
                    text: String::new(),
                });
            }
            fenced = !fenced;
        } else if let Some(block) = open.as_mut() {
            block.text.push_str(line);
            block.text.push('\n');
        } else if !fenced && line.starts_with('#') {
            heading = line.trim_start_matches('#').trim().to_string();
        }
    }
    blocks
}

fn plan_of(block: &Block) -> &'static Plan {
    PLANS.iter().find(|p| p.heading == block.heading && p.ordinal == block.ordinal).unwrap_or_else(
        || {
            panic!(
                "README.md:{}: shell example {} under {:?} is new to this test; \
                 add it to PLANS, run or skipped with the reason:\n{}",
                block.line, block.ordinal, block.heading, block.text
            )
        },
    )
}

fn tools_dir() -> PathBuf {
    // At run time, not `env!`: a cached test binary may have been built from
    // another checkout of the same sources.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest.join("../.tools")
}

#[test]
fn every_shell_example_is_planned() {
    let blocks = shell_blocks(README);
    for block in &blocks {
        if let Skipped(why) = plan_of(block).run {
            assert!(!why.is_empty(), "README.md:{}: a skipped example needs a reason", block.line);
        }
    }
    for plan in PLANS {
        assert!(
            blocks.iter().any(|b| b.heading == plan.heading && b.ordinal == plan.ordinal),
            "PLANS names shell example {} under {:?}, which the README no longer has",
            plan.ordinal,
            plan.heading
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_shell_examples_run_as_written() {
    let buf = tools_dir().join("node_modules/.bin/buf");
    assert!(buf.exists(), "{} is missing: run ./scripts/install-tools", buf.display());
    let dir = tempfile::tempdir().expect("tempdir");
    let warehouse = dir.path().join("warehouse");
    let url = format!("file://{}", warehouse.display());
    let broker = roadroller_tests::TestBroker::start();
    let server = TestServer::start_on(&broker, move |s| s.loading_bay.warehouse.url = url).await;
    std::os::unix::fs::symlink(tools_dir(), dir.path().join(".tools")).expect("link .tools");

    let grpc = server.addr().to_string();
    let gateway = server.gateway_addr().to_string();
    let blocks = shell_blocks(README);
    let mut script = String::from("exec 2>&1\ntrap 'echo \"::failed ($?): $BASH_COMMAND\"' ERR\n");
    let mut run = Vec::new();
    for block in &blocks {
        if let Checked { .. } = plan_of(block).run {
            let text = block
                .text
                .replace("127.0.0.1:50051", &grpc)
                .replace("127.0.0.1:8080", &gateway)
                .replace("localhost:8080", &gateway);
            script += &format!("echo '::block {}'\n{text}\n", run.len());
            run.push(block);
        }
    }
    std::fs::write(dir.path().join("examples.sh"), &script).expect("write script");

    let path = format!(
        "{}:{}:{}",
        Path::new(BIN).parent().expect("bin dir").display(),
        tools_dir().join("node_modules/.bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .arg("examples.sh")
        .current_dir(dir.path())
        .env("PATH", path)
        .env("ROADROLLER_SERVER", server.endpoint())
        .env_remove("ROADROLLER_TOKEN")
        .env_remove("ROADROLLER_TOKEN_FILE")
        .env_remove("ROADROLLER_CA_CERT")
        .env_remove("BUF_TIMEOUT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("bash runs");
    // The examples must end by themselves.
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if began.elapsed() > Duration::from_secs(180) {
            child.kill().ok();
            panic!("the README's shell examples did not end within 180 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let output = child.wait_with_output().expect("output");
    let output = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(status.success(), "bash exited {status}:\n{output}");

    let mut parts = output.split("::block ").skip(1);
    for (i, block) in run.iter().enumerate() {
        let part = parts.next().unwrap_or_else(|| panic!("no output of block {i}:\n{output}"));
        let shown = || format!("README.md:{} ({}):\n{part}", block.line, block.heading);
        let Checked { shows, never, may_fail } = &plan_of(block).run else { unreachable!() };
        for fragment in *shows {
            assert!(part.contains(fragment), "expected {fragment:?} in {}", shown());
        }
        for fragment in *never {
            assert!(!part.contains(fragment), "did not expect {fragment:?} in {}", shown());
        }
        for failed in part.lines().filter(|l| l.starts_with("::failed")) {
            assert!(
                may_fail.iter().any(|m| failed.contains(m)),
                "a command failed: {failed} in {}",
                shown()
            );
        }
    }

    // What the command line example wrote: the current state, 44 deleted.
    let state = std::fs::read_to_string(dir.path().join("state.jsonl")).expect("state.jsonl");
    let mut keys: Vec<String> = state
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("a JSON line")["key"].to_string()
        })
        .collect();
    keys.sort();
    assert_eq!(keys, ["\"42\"", "\"43\"", "\"45\""], "{state}");
    // And the Loading Bay example: the DDL of the table it landed.
    let ddl = std::fs::read_to_string(dir.path().join("customers.sql")).expect("customers.sql");
    assert!(ddl.starts_with("CREATE EXTERNAL TABLE IF NOT EXISTS `customers`"), "{ddl}");
    assert_eq!(ddl.matches("ADD IF NOT EXISTS PARTITION").count(), 1, "{ddl}");
    server.shutdown().await;
}
