//! Traces across Kafka: the caller's trace continues into the Onramp, the
//! batch's send span travels in the records' headers, and the Offramp's
//! process span links back to it.

use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use roadroller_api::v1 as pb;
use roadroller_tests::{
    OtlpReceiver, Subscriber, TestBroker, TestServer, group_start, open_road, stream_road,
};
use serde_json::json;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER: &str = "00f067aa0ba902b7";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<Value> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.clone()?.value)
}

fn string(span: &Span, key: &str) -> Option<String> {
    match attribute(span, key)? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_goes_from_the_caller_through_kafka_to_the_subscriber() {
    let receiver = OtlpReceiver::start().await;
    let broker = TestBroker::start();
    let server =
        TestServer::start_on(&broker, |s| s.traces.endpoint = Some(receiver.endpoint())).await;
    let mut road = stream_road("traced");
    road.partitions = 1;
    open_road(&server, road, json!({"type": "object"})).await;

    let mut request = tonic::Request::new(pb::ProduceRequest {
        road: "traced".into(),
        records: vec![pb::Record { key: None, payload: Some("{}".into()) }],
    });
    let traceparent = format!("00-{TRACE}-{CALLER}-01");
    request.metadata_mut().insert("traceparent", traceparent.parse().expect("ascii"));
    server.onramp().await.produce(request).await.expect("produce");
    let mut subscriber =
        Subscriber::start(&server, group_start("traced", "t", 10)).await.expect("subscribe");
    let seen = subscriber.messages(1, Duration::from_secs(20)).await.remove(0);
    drop(subscriber);
    // Shutdown exports what is left within the grace period.
    server.shutdown().await;

    let spans = receiver.spans();
    let named = |name: &str| {
        spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
            panic!("no span {name}; got {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>())
        })
    };
    let rpc = named("roadroller.v1.OnrampService/Produce");
    assert_eq!(hex(&rpc.trace_id), TRACE, "the server span continues the caller's trace");
    assert_eq!(hex(&rpc.parent_span_id), CALLER);
    assert_eq!(rpc.kind, SpanKind::Server as i32);
    assert_eq!(string(rpc, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(string(rpc, "rpc.service").as_deref(), Some("roadroller.v1.OnrampService"));
    assert_eq!(string(rpc, "rpc.method").as_deref(), Some("Produce"));

    let send = named("send road.traced");
    assert_eq!(send.kind, SpanKind::Producer as i32);
    assert_eq!(hex(&send.trace_id), TRACE);
    assert_eq!(send.parent_span_id, rpc.span_id, "the send span is the call's child");
    assert_eq!(string(send, "messaging.system").as_deref(), Some("kafka"));
    assert_eq!(string(send, "messaging.destination.name").as_deref(), Some("road.traced"));
    assert_eq!(attribute(send, "messaging.batch.message_count"), Some(Value::IntValue(1)));
    assert_eq!(string(send, "messaging.destination.partition.id").as_deref(), Some("0"));

    // The subscriber gets the send span's context, as the headers carry it.
    let sent = format!("00-{TRACE}-{}-01", hex(&send.span_id));
    assert_eq!(seen.traceparent.as_deref(), Some(sent.as_str()));
    let process = named("process road.traced");
    assert_eq!(process.kind, SpanKind::Consumer as i32);
    assert_eq!(
        string(process, "messaging.consumer.group.name").as_deref(),
        Some("roadroller.traced.t")
    );
    assert!(
        process.links.iter().any(|l| l.trace_id == send.trace_id && l.span_id == send.span_id),
        "the process span links to the producer's span: {:?}",
        process.links
    );
}
