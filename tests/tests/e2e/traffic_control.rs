//! Traffic Control: topics by road type, drift, deletion, enabling.

use std::time::Duration;

use rdkafka::admin::{AdminOptions, AlterConfig, ResourceSpecifier};
use roadroller_api::v1 as pb;
use roadroller_tests::{
    TestBroker, TestServer, compacted_road, create_road_ready, error_reason, eventually,
    stream_road,
};
use tonic::Code;

async fn topic_configs(
    broker: &TestBroker,
    topic: &str,
) -> std::collections::HashMap<String, String> {
    let admin = broker.admin();
    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await
        .expect("describe configs");
    let resource = results.into_iter().next().expect("one result").expect("the topic exists");
    resource.entries.into_iter().filter_map(|e| e.value.map(|v| (e.name, v))).collect()
}

fn partitions_of(broker: &TestBroker, topic: &str) -> Option<usize> {
    let metadata =
        broker.admin().inner().fetch_metadata(None, Duration::from_secs(5)).expect("metadata");
    metadata.topics().iter().find(|t| t.name() == topic).map(|t| t.partitions().len())
}

#[tokio::test]
async fn each_road_type_gets_its_topic_and_configs() {
    let server = TestServer::start().await;
    create_road_ready(&server, stream_road("clicks")).await;
    create_road_ready(&server, compacted_road("customers", Duration::from_secs(2))).await;
    let broker = server.broker();

    assert_eq!(partitions_of(broker, "road.clicks"), Some(6));
    let stream = topic_configs(broker, "road.clicks").await;
    assert_eq!(stream["cleanup.policy"], "delete");
    assert_eq!(stream["retention.ms"], "604800000", "the 7-day default");

    assert_eq!(partitions_of(broker, "road.customers"), Some(12));
    let compacted = topic_configs(broker, "road.customers").await;
    assert_eq!(compacted["cleanup.policy"], "compact");
    assert_eq!(compacted["min.compaction.lag.ms"], "2000");
    assert_eq!(compacted["delete.retention.ms"], "86400000", "the 24-hour default");
    assert_eq!(compacted["segment.ms"], "2000", "segments close so compaction can run");
    server.shutdown().await;
}

#[tokio::test]
async fn a_stream_road_grows_its_partitions() {
    let server = TestServer::start().await;
    let road = create_road_ready(&server, stream_road("grows")).await;
    let mut paver = server.paver().await;
    let mut changed = road.clone();
    changed.partitions = 9;
    paver
        .update_road(pb::UpdateRoadRequest {
            road: Some(changed),
            update_mask: Some(prost_types::FieldMask { paths: vec!["partitions".into()] }),
        })
        .await
        .expect("partitions grow");
    eventually(Duration::from_secs(10), "nine partitions", || async {
        (partitions_of(server.broker(), "road.grows") == Some(9)).then_some(())
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_changed_cleanup_policy_is_reported_and_the_type_kept() {
    let server = TestServer::start().await;
    create_road_ready(&server, stream_road("drifting")).await;
    // Behind Roadroller's back. AlterConfigs replaces every config, so
    // retention.ms falls back to the broker default too.
    let alter = AlterConfig::new(ResourceSpecifier::Topic("road.drifting"))
        .set("cleanup.policy", "compact");
    let results = server.broker().admin().alter_configs([&alter], &AdminOptions::new()).await;
    assert!(results.expect("alter")[0].is_ok());

    let mut paver = server.paver().await;
    let road = eventually(Duration::from_secs(10), "drift in the status", || {
        let mut paver = paver.clone();
        async move {
            let road = paver.get_road(pb::GetRoadRequest { name: "drifting".into() }).await.ok()?;
            let road = road.into_inner().road?;
            let drift = &road.status.as_ref()?.drift;
            (drift.len() == 1 && drift[0].config == "cleanup.policy").then_some(road)
        }
    })
    .await;
    let drift = &road.status.as_ref().expect("status").drift[0];
    assert_eq!((drift.expected.as_str(), drift.actual.as_str()), ("delete", "compact"));
    assert_eq!(road.r#type, pb::RoadType::Stream as i32, "the road's type never follows the topic");
    // The road's other configs were put back; the policy was left alone.
    let configs = topic_configs(server.broker(), "road.drifting").await;
    assert_eq!(configs["cleanup.policy"], "compact");
    assert_eq!(configs["retention.ms"], "604800000");
    let again = paver.get_road(pb::GetRoadRequest { name: "drifting".into() }).await.expect("get");
    assert_eq!(again.into_inner().road.expect("road").r#type, pb::RoadType::Stream as i32);
    server.shutdown().await;
}

#[tokio::test]
async fn only_a_disabled_road_is_deleted_topic_first() {
    let server = TestServer::start().await;
    let road = create_road_ready(&server, stream_road("doomed")).await;
    let mut paver = server.paver().await;
    let mut enabled = road.clone();
    enabled.enabled = true;
    paver
        .update_road(pb::UpdateRoadRequest {
            road: Some(enabled),
            update_mask: Some(prost_types::FieldMask { paths: vec!["enabled".into()] }),
        })
        .await
        .expect("enable");

    let refused = paver
        .delete_road(pb::DeleteRoadRequest { name: "doomed".into(), etag: String::new() })
        .await
        .expect_err("an enabled road stays");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&refused).as_deref(), Some("ROAD_ENABLED"));
    assert!(refused.message().contains("disable it"), "{}", refused.message());

    let mut disabled = road.clone();
    disabled.enabled = false;
    disabled.etag.clear();
    paver
        .update_road(pb::UpdateRoadRequest {
            road: Some(disabled),
            update_mask: Some(prost_types::FieldMask { paths: vec!["enabled".into()] }),
        })
        .await
        .expect("disable");
    let deleting = paver
        .delete_road(pb::DeleteRoadRequest { name: "doomed".into(), etag: String::new() })
        .await
        .expect("delete a disabled road");
    assert!(deleting.into_inner().road.expect("road").deleting);

    eventually(Duration::from_secs(10), "the road to disappear", || {
        let mut paver = paver.clone();
        async move {
            let gone = paver.get_road(pb::GetRoadRequest { name: "doomed".into() }).await;
            matches!(gone, Err(s) if s.code() == Code::NotFound).then_some(())
        }
    })
    .await;
    assert_eq!(partitions_of(server.broker(), "road.doomed"), None, "the topic went first");
    server.shutdown().await;
}

#[tokio::test]
async fn a_road_can_be_enabled_only_once_its_topic_exists() {
    // This instance observes topics but does not create them, so the test
    // decides when the topic appears.
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, |s| s.traffic_control.act = false).await;
    let mut paver = server.paver().await;
    let created = paver
        .create_road(pb::CreateRoadRequest { road: Some(stream_road("patient")) })
        .await
        .expect("create")
        .into_inner()
        .road
        .expect("road");
    let mut enabled = created.clone();
    enabled.enabled = true;
    let enable = pb::UpdateRoadRequest {
        road: Some(enabled),
        update_mask: Some(prost_types::FieldMask { paths: vec!["enabled".into()] }),
    };
    let refused = paver.update_road(enable.clone()).await.expect_err("no topic yet");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&refused).as_deref(), Some("TOPIC_NOT_CREATED"));

    let topic = rdkafka::admin::NewTopic::new(
        "road.patient",
        6,
        rdkafka::admin::TopicReplication::Fixed(1),
    );
    broker.admin().create_topics([&topic], &AdminOptions::new()).await.expect("create topic");
    eventually(Duration::from_secs(10), "enabling to succeed", || {
        let mut paver = paver.clone();
        let enable = enable.clone();
        async move { paver.update_road(enable).await.ok() }
    })
    .await;
    server.shutdown().await;
}
