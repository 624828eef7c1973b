//! The embedded broker read as a plain Kafka client reads it: large
//! partitions come back whole and in order, and a deleted topic's records
//! are not served again under its name.

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use roadroller_tests::{TestBroker, read_topic};

async fn create(broker: &TestBroker, topic: &str) {
    let results = broker
        .admin()
        .create_topics(&[NewTopic::new(topic, 1, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await
        .expect("create topics");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

/// Writes `n` records of about 1 KiB whose values begin with `tag` and
/// their index.
fn fill(broker: &TestBroker, topic: &str, tag: &str, n: usize) {
    let producer: ThreadedProducer<_> = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let padding = "x".repeat(1_000);
    for i in 0..n {
        let value = format!("{tag}-{i} {padding}");
        let mut record = BaseRecord::<(), _>::to(topic).payload(&value);
        while let Err((e, back)) = producer.send(record) {
            assert!(
                matches!(e.rdkafka_error_code(), Some(rdkafka::types::RDKafkaErrorCode::QueueFull)),
                "{e}"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
            record = back;
        }
    }
    producer.flush(std::time::Duration::from_secs(30)).expect("flush");
}

fn values(broker: &TestBroker, topic: &str) -> Vec<String> {
    let records = read_topic(&broker.bootstrap(), topic);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.offset, i as i64, "offsets in order, none twice, none missing");
    }
    records
        .iter()
        .map(|r| {
            let value = String::from_utf8(r.value.clone().expect("value")).expect("text");
            value.split(' ').next().unwrap_or_default().to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_partition_reads_back_whole_and_in_order() {
    let broker = TestBroker::start();
    create(&broker, "large").await;
    // Several times what one answer keeps, and many fetches' worth.
    let n = 24_000;
    fill(&broker, "large", "first", n);
    let read = tokio::task::block_in_place(|| values(&broker, "large"));
    let expected: Vec<String> = (0..n).map(|i| format!("first-{i}")).collect();
    assert_eq!(read, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recreated_topic_serves_only_its_new_records() {
    let broker = TestBroker::start();
    create(&broker, "again").await;
    fill(&broker, "again", "old", 2_000);
    let old = tokio::task::block_in_place(|| values(&broker, "again"));
    assert_eq!(old.len(), 2_000);
    let results = broker
        .admin()
        .delete_topics(&["again"], &AdminOptions::new())
        .await
        .expect("delete topics");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    create(&broker, "again").await;
    fill(&broker, "again", "new", 10);
    let read = tokio::task::block_in_place(|| values(&broker, "again"));
    let expected: Vec<String> = (0..10).map(|i| format!("new-{i}")).collect();
    assert_eq!(read, expected);
}

/// The last step of the road-roller example on the embedded broker's own
/// cleaner: a deleted key is cleaned down to its tombstone once the
/// compaction lag has passed and the segment rolled, and the tombstone
/// itself goes once `delete.retention.ms` (the road's tombstone retention)
/// has passed.
#[tokio::test(flavor = "multi_thread")]
async fn a_tombstone_is_cleaned_away_after_its_retention() {
    use roadroller_api::v1 as pb;
    use roadroller_tests::{TestServer, compacted_road, duration, eventually, on_noida, open_road};
    use std::time::Duration;

    if on_noida() {
        // Tombstone retention is the embedded broker's cleaner under test.
        return;
    }
    let server = TestServer::start().await;
    let mut road = compacted_road("tomb", Duration::from_secs(1));
    // One partition: the write that rolls the segment must land beside the
    // records it makes cleanable.
    road.partitions = 1;
    road.compaction.as_mut().expect("compaction").tombstone_retention =
        Some(duration(Duration::from_secs(8)));
    let schema = serde_json::json!({"type": "object"});
    open_road(&server, road, schema).await;
    let record = |k: &str, v: Option<&str>| pb::Record {
        key: Some(k.into()),
        payload: v.map(|v| serde_json::json!({"v": v}).to_string()),
    };
    server
        .produce_accepted(
            "tomb",
            vec![record("a", Some("one")), record("b", Some("two")), record("a", None)],
        )
        .await;
    // Past the lag, a write rolls the segment and makes it cleanable.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    server.produce_accepted("tomb", vec![record("c", Some("three"))]).await;
    let bootstrap = server.broker().bootstrap();
    let keys = |bootstrap: String| async move {
        let records = tokio::task::spawn_blocking(move || read_topic(&bootstrap, "road.tomb"))
            .await
            .expect("read");
        records
            .iter()
            .map(|r| {
                (
                    String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned(),
                    r.value.is_some(),
                )
            })
            .collect::<Vec<_>>()
    };
    let cleaned = [("b".to_string(), true), ("a".to_string(), false), ("c".to_string(), true)];
    eventually(Duration::from_secs(20), "a→one cleaned away, its tombstone kept", || {
        let (bootstrap, cleaned) = (bootstrap.clone(), cleaned.clone());
        async move { (keys(bootstrap).await == cleaned).then_some(()) }
    })
    .await;
    let gone = [("b".to_string(), true), ("c".to_string(), true)];
    eventually(Duration::from_secs(30), "the tombstone gone after its retention", || {
        let (bootstrap, gone) = (bootstrap.clone(), gone.clone());
        async move { (keys(bootstrap).await == gone).then_some(()) }
    })
    .await;
    server.shutdown().await;
}
