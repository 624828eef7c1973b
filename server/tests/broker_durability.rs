//! The embedded broker under `kill -9`: produce continuously through
//! Roadroller, kill the process at random moments, restart on the same data
//! directory, and find every acknowledged record exactly once at the offset
//! it was acknowledged with, and every committed offset kept.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Load, Serve, assert_exactly_where_acknowledged, open_road, wait_serving};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const ROAD: &str = "durable";
const TOPIC: &str = "road.durable";
const GROUP: &str = "durability-check";
const KILLS: usize = 6;

struct Running {
    serve: Serve,
    grpc: String,
    broker: String,
}

async fn start(dir: &std::path::Path) -> Running {
    let args = ["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"];
    let serve = Serve::start(dir, &args);
    let broker = serve.logged("embedded kafka broker started", "addr", Duration::from_secs(30));
    let grpc = serve.logged("serving", "listen", Duration::from_secs(30));
    wait_serving(&grpc, Duration::from_secs(30)).await;
    Running { serve, grpc, broker }
}

fn consumer(broker: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("group.id", GROUP)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer")
}

/// Commits `offsets` for the check's group, outside any generation, as an
/// assigned consumer does.
fn commit(broker: &str, offsets: &BTreeMap<i32, i64>) {
    let mut list = TopicPartitionList::new();
    for (p, o) in offsets {
        list.add_partition_offset(TOPIC, *p, Offset::Offset(*o)).expect("offset");
    }
    consumer(broker).commit(&list, CommitMode::Sync).expect("commit");
}

fn committed(broker: &str, partitions: impl Iterator<Item = i32>) -> BTreeMap<i32, i64> {
    let mut list = TopicPartitionList::new();
    for p in partitions {
        list.add_partition(TOPIC, p);
    }
    let got = consumer(broker).committed_offsets(list, Duration::from_secs(10)).expect("committed");
    got.elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_records_and_commits_survive_kill_9_at_random_moments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut running = start(dir.path()).await;
    open_road(&running.grpc, ROAD).await;
    let mut acked: Vec<(u64, (i32, i64))> = Vec::new();
    let mut commits: BTreeMap<i32, i64> = BTreeMap::new();
    for round in 0..KILLS {
        let load = Load::start(&running.grpc, ROAD, 1, (round as u64) << 32, Duration::ZERO);
        // Some time to write, then a commit of what is acknowledged so far,
        // then the kill at a moment no one chose.
        tokio::time::sleep(Duration::from_millis(300 + fastrand::u64(0..700))).await;
        let broker = running.broker.clone();
        let snapshot = commits.clone();
        let next_commits: BTreeMap<i32, i64> = {
            let mut c = snapshot;
            for (_, (p, o)) in &acked {
                let e = c.entry(*p).or_insert(0);
                *e = (*e).max(o + 1);
            }
            c
        };
        if !next_commits.is_empty() {
            let to_commit = next_commits.clone();
            tokio::task::spawn_blocking(move || commit(&broker, &to_commit)).await.expect("commit");
            commits = next_commits;
        }
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..1_000))).await;
        running.serve.kill();
        let got = load.stop().await.acked;
        assert!(!got.is_empty(), "round {round}: the producer got acknowledgements");
        acked.extend(got);
        running = start(dir.path()).await;
        let broker = running.broker.clone();
        let partitions: Vec<i32> = commits.keys().copied().collect();
        let kept = tokio::task::spawn_blocking(move || committed(&broker, partitions.into_iter()))
            .await
            .expect("read");
        assert_eq!(kept, commits, "round {round}: committed offsets survive");
    }
    let broker = running.broker.clone();
    let records = tokio::task::spawn_blocking(move || roadroller_tests::read_topic(&broker, TOPIC))
        .await
        .expect("read");
    assert_exactly_where_acknowledged(&acked, &records);
    assert!(acked.len() > 1_000, "enough was written to mean something: {}", acked.len());
    running.serve.terminate();
    assert!(running.serve.wait(Duration::from_secs(15)).await.success());
}
