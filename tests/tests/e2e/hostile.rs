//! Hostile inputs and resource limits: what a caller can send that must
//! neither stall the server, slip past a schema, nor be answered with a code
//! that invites a useless retry.

use std::time::Duration;

use futures::StreamExt;
use roadroller_api::v1 as pb;
use roadroller_api::v1::offramp_service_client::OfframpServiceClient;
use roadroller_api::v1::record_result::Result as Outcome;
use roadroller_tests::{
    Authed, LegacySocket, Subscriber, TestBroker, TestServer, create_road_ready, error_reason,
    group_start, open_road, stream_road,
};
use serde_json::json;
use tonic::Code;

const WAIT: Duration = Duration::from_secs(20);

fn schema() -> serde_json::Value {
    json!({"type": "object", "properties": {
        "v": {"type": "integer"}, "name": {"type": "string", "maxLength": 8}}})
}

async fn produce(server: &TestServer, road: &str, payloads: &[String]) -> Vec<pb::RecordResult> {
    let records =
        payloads.iter().map(|p| pb::Record { key: None, payload: Some(p.clone()) }).collect();
    let mut onramp = server.onramp().await;
    onramp
        .produce(pb::ProduceRequest { road: road.into(), records })
        .await
        .expect("produce")
        .into_inner()
        .results
}

#[tokio::test]
async fn a_pattern_that_needs_backtracking_is_refused_when_registered() {
    let server = TestServer::start().await;
    create_road_ready(&server, stream_road("patterns")).await;
    let mut paver = server.paver().await;
    let register = |schema: serde_json::Value| pb::RegisterSchemaRequest {
        road: "patterns".into(),
        schema: schema.to_string(),
        version: 0,
    };
    let hostile = json!({"type": "object", "properties": {
        "word": {"type": "string", "pattern": r"^(\w+)\s\1$"}}});
    let refused = paver.register_schema(register(hostile)).await.expect_err("refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("/properties/word/pattern")
            && refused.message().contains("needs backtracking"),
        "{}",
        refused.message()
    );
    // Nested quantifiers run in linear time and are taken.
    let nested = json!({"type": "object", "properties": {
        "word": {"type": "string", "pattern": "^(a+)+$"}}});
    paver.register_schema(register(nested)).await.expect("a linear pattern");
}

#[tokio::test]
async fn a_payload_with_a_duplicate_key_is_refused_with_its_pointer() {
    let server = TestServer::start().await;
    open_road(&server, stream_road("dupes"), schema()).await;
    // The last "v" is valid, the first is not.
    let results = produce(
        &server,
        "dupes",
        &[
            r#"{"v": "x", "v": 1}"#.into(),
            r#"{"o": {"a": 1, "a": 2}}"#.into(),
            r#"{"v": 1}"#.into(),
        ],
    )
    .await;
    for (result, pointer) in results.iter().zip(["/v", "/o/a"]) {
        let Some(Outcome::Rejected(r)) = &result.result else { panic!("{result:?}") };
        assert_eq!(r.code, Code::InvalidArgument as i32);
        assert_eq!(r.violations[0].pointer, pointer, "{r:?}");
        assert!(r.message.contains("appears twice"), "{}", r.message);
    }
    assert!(matches!(results[2].result, Some(Outcome::Accepted(_))), "the rest is written");
}

#[tokio::test]
async fn a_long_invalid_value_is_not_echoed_and_the_answer_stays_small() {
    let server = TestServer::start().await;
    open_road(&server, stream_road("echo"), schema()).await;
    let mut payloads: Vec<String> = (0..30).map(|i| json!({"v": i}).to_string()).collect();
    // Three values of 800 kB, each far over the schema's maxLength.
    for _ in 0..3 {
        payloads.push(json!({"name": "n".repeat(800_000)}).to_string());
    }
    let request_bytes: usize = payloads.iter().map(String::len).sum();
    let records: Vec<pb::Record> =
        payloads.iter().map(|p| pb::Record { key: None, payload: Some(p.clone()) }).collect();
    let mut onramp = server.onramp().await;
    let answer = onramp
        .produce(pb::ProduceRequest { road: "echo".into(), records })
        .await
        .expect("answered: the 30 valid records are written, so the answer must arrive")
        .into_inner();
    let accepted =
        answer.results.iter().filter(|r| matches!(r.result, Some(Outcome::Accepted(_)))).count();
    assert_eq!(accepted, 30);
    let size = prost::Message::encoded_len(&answer);
    assert!(size < 8 * 1024, "an answer of {size} bytes to a request of {request_bytes}");
}

/// The same shapes as `ProduceRequest`, with the payload as bytes, so that a
/// test can send what no well-behaved client can: a string that is not UTF-8.
#[derive(Clone, PartialEq, prost::Message)]
struct RawRecord {
    #[prost(bytes = "vec", optional, tag = "2")]
    payload: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RawProduce {
    #[prost(string, tag = "1")]
    road: String,
    #[prost(message, repeated, tag = "2")]
    records: Vec<RawRecord>,
}

async fn raw_produce(server: &TestServer, request: RawProduce) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(Authed::new(server.channel().await, server.bearer()));
    grpc.ready().await.expect("ready");
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/roadroller.v1.OnrampService/Produce",
    );
    let codec = tonic_prost::ProstCodec::<RawProduce, pb::ProduceResponse>::default();
    grpc.unary(tonic::Request::new(request), path, codec).await.expect_err("refused")
}

#[tokio::test]
async fn undecodable_and_oversized_requests_are_the_callers_error() {
    let server = TestServer::start().await;
    open_road(&server, stream_road("bytes"), schema()).await;
    let not_utf8 = RawProduce {
        road: "bytes".into(),
        records: vec![RawRecord { payload: Some(b"{\"name\": \"\xff\xfe\"}".to_vec()) }],
    };
    let status = raw_produce(&server, not_utf8).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(error_reason(&status).as_deref(), Some("MALFORMED_REQUEST"));
    assert!(status.message().contains("payload"), "names the field: {}", status.message());

    // Over tonic's own cap on a service (4 MiB) and over Onramp's.
    let big = "x".repeat(5 << 20);
    let mut paver = server.paver().await;
    let status = paver
        .register_schema(pb::RegisterSchemaRequest {
            road: "bytes".into(),
            schema: big.clone(),
            version: 0,
        })
        .await
        .expect_err("too large");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(error_reason(&status).as_deref(), Some("REQUEST_TOO_LARGE"));
    let huge = RawProduce {
        road: "bytes".into(),
        records: vec![RawRecord { payload: Some("y".repeat(40 << 20).into_bytes()) }],
    };
    let status = raw_produce(&server, huge).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // On a stream, the batch that is too large ends it with the same code.
    let mut onramp = server.onramp().await;
    let batch = pb::ProduceStreamRequest {
        road: "bytes".into(),
        sequence: 1,
        records: vec![pb::Record { key: None, payload: Some("z".repeat(40 << 20)) }],
    };
    let outcome = match onramp.produce_stream(futures::stream::iter([batch])).await {
        Err(status) => status,
        Ok(answers) => match answers.into_inner().message().await {
            Err(status) => status,
            Ok(Some(answer)) => panic!("answered {answer:?}"),
            Ok(None) => panic!("ended without an error"),
        },
    };
    assert_eq!(outcome.code(), Code::ResourceExhausted, "{outcome:?}");
    assert_eq!(error_reason(&outcome).as_deref(), Some("REQUEST_TOO_LARGE"));
}

#[tokio::test]
async fn a_subscribe_stream_that_never_starts_is_ended() {
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, |s| {
        s.offramp.start_timeout = Duration::from_millis(500);
    })
    .await;
    let (_asks, nothing) = tokio::sync::mpsc::channel::<pb::SubscribeRequest>(1);
    let mut client =
        OfframpServiceClient::new(Authed::new(server.channel().await, server.bearer()));
    let ended = tokio::time::timeout(
        WAIT,
        client.subscribe(tokio_stream::wrappers::ReceiverStream::new(nothing)),
    )
    .await
    .expect("the server ends it, the client does not have to")
    .expect_err("no start, no subscription");
    assert_eq!(ended.code(), Code::DeadlineExceeded, "{ended:?}");
    assert!(ended.message().contains("start"), "{}", ended.message());
}

#[tokio::test]
async fn subscriptions_beyond_the_instances_cap_are_refused_until_one_ends() {
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, |s| s.offramp.max_subscriptions = Some(2)).await;
    open_road(&server, stream_road("capped"), schema()).await;
    let first = Subscriber::start(&server, group_start("capped", "a", 10)).await.expect("first");
    let _second = Subscriber::start(&server, group_start("capped", "b", 10)).await.expect("second");
    let refused = Subscriber::start(&server, group_start("capped", "c", 10))
        .await
        .err()
        .expect("over the cap");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("offramp.max_subscriptions"), "{}", refused.message());
    drop(first);
    roadroller_tests::eventually(WAIT, "a freed slot", || {
        let server = &server;
        async move { Subscriber::start(server, group_start("capped", "c", 10)).await.ok() }
    })
    .await;
}

#[tokio::test]
async fn an_oversized_websocket_event_closes_the_session_with_1009() {
    let server = TestServer::start().await;
    open_road(&server, stream_road("frames"), schema()).await;
    let url = format!("{}/offramp/v2/roads/frames/streams/s/messages", server.gateway_ws_url());
    let mut socket = LegacySocket::connect(&url).await.expect("upgrade");
    assert_eq!(socket.next(WAIT).await.expect("an event")["type"], "CONNECTION");
    let padding = " ".repeat(100 * 1024);
    socket.send_binary(&format!(r#"{{"type":"REQUEST","count":1{padding}}}"#)).await;
    let (code, reason) = socket.close_frame(WAIT).await.expect("a close frame");
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("65536"), "{reason}");
}

#[tokio::test]
async fn road_documents_and_schemas_over_their_limits_are_invalid_not_unavailable() {
    let server = TestServer::start().await;
    create_road_ready(&server, stream_road("big")).await;
    let mut paver = server.paver().await;
    // Versions that differ only in a long description (about 240 kB), so
    // that each is compatible with the last.
    let version = |n: usize| {
        let about = format!("{n}{}", "d".repeat(240_000));
        json!({"type": "object", "properties": {"p": {"type": "string", "description": about}}})
            .to_string()
    };
    let register =
        |schema: String| pb::RegisterSchemaRequest { road: "big".into(), schema, version: 0 };
    let too_long = paver
        .register_schema(register(format!(
            "{{\"type\":\"object\",\"description\":\"{}\"}}",
            "d".repeat(300_000)
        )))
        .await
        .expect_err("over the schema limit");
    assert_eq!(too_long.code(), Code::InvalidArgument, "{too_long:?}");
    assert!(too_long.message().contains("262144"), "{}", too_long.message());
    let mut refused = None;
    for n in 0..5 {
        match paver.register_schema(register(version(n))).await {
            Ok(_) => {}
            Err(status) => {
                refused = Some((n, status));
                break;
            }
        }
    }
    let (n, status) = refused.expect("the document fills up");
    assert_eq!(n, 3, "three versions of 240 kB fit, the fourth does not: {status:?}");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("921600"), "{}", status.message());
    // What was there is still there.
    let versions = paver
        .list_schemas(pb::ListSchemasRequest { road: "big".into(), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(versions.schemas.len(), 3);

    // Metadata counts too.
    let mut crowded = stream_road("crowded");
    crowded.metadata = (0..2_000).map(|i| (format!("k{i}"), "v".repeat(500))).collect();
    let status = paver
        .create_road(pb::CreateRoadRequest { road: Some(crowded) })
        .await
        .expect_err("too much metadata");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}

#[tokio::test]
async fn every_record_onramp_takes_fits_its_topic_and_a_smaller_topic_is_named() {
    use rdkafka::admin::{AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, |_| {}).await;
    open_road(&server, stream_road("roomy"), json!({"type": "object"})).await;
    // Just under onramp.max_record_bytes (1 MiB), over librdkafka's own
    // default limit and Kafka's default max.message.bytes with headers.
    let near_limit = json!({"pad": "p".repeat(1_048_000)}).to_string();
    let results = produce(&server, "roomy", &[near_limit]).await;
    assert!(matches!(results[0].result, Some(Outcome::Accepted(_))), "{:?}", results[0]);
    let described = broker
        .admin()
        .describe_configs(&[ResourceSpecifier::Topic("road.roomy")], &AdminOptions::new())
        .await
        .expect("describe");
    let config = described.into_iter().next().expect("one").expect("described");
    let max = config.get("max.message.bytes").and_then(|e| e.value.clone());
    assert_eq!(max.as_deref(), Some("1064960"), "1 MiB and 16 KiB of framing");

    // A topic made by someone else, with a smaller limit, observed only (the
    // first server would correct it).
    server.shutdown().await;
    let observer = TestServer::start_on(&broker, |s| s.traffic_control.act = false).await;
    let small = NewTopic::new("road.small", 1, TopicReplication::Fixed(1))
        .set("max.message.bytes", "100000");
    let made = broker.admin().create_topics(&[small], &AdminOptions::new()).await.expect("create");
    assert!(made.iter().all(Result::is_ok), "{made:?}");
    open_road(&observer, stream_road("small"), json!({"type": "object"})).await;
    let fits = json!({"pad": "p".repeat(50_000)}).to_string();
    let too_big = json!({"pad": "p".repeat(200_000)}).to_string();
    let results = roadroller_tests::eventually(WAIT, "the topic's limit observed", || {
        let (observer, fits, too_big) = (&observer, fits.clone(), too_big.clone());
        async move {
            let results = produce(observer, "small", &[fits, too_big]).await;
            matches!(&results[1].result, Some(Outcome::Rejected(r)) if r.message.contains("takes at most"))
                .then_some(results)
        }
    })
    .await;
    assert!(matches!(results[0].result, Some(Outcome::Accepted(_))), "{:?}", results[0]);
    let Some(Outcome::Rejected(r)) = &results[1].result else { unreachable!() };
    assert_eq!(r.code, Code::ResourceExhausted as i32, "as over Onramp's own limit: {r:?}");
    assert!(
        r.message.contains("road.small")
            && r.message.contains("100000")
            && r.message.contains("1048576"),
        "names both limits: {}",
        r.message
    );
}

/// Reads until the server closes the connection; how long that took.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<Duration> {
    use tokio::io::AsyncReadExt;
    let started = tokio::time::Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(started + within, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn http_connections_that_never_finish_a_request_are_closed() {
    use tokio::io::AsyncWriteExt;
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, |s| {
        s.http.limits.timeouts.header_read = Duration::from_secs(1);
        s.http.limits.timeouts.idle = Duration::from_secs(2);
    })
    .await;
    let admin: std::net::SocketAddr =
        server.admin_url().trim_start_matches("http://").parse().expect("admin address");
    for (addr, path) in [(server.gateway_addr(), "/paver/v1/roads"), (admin, "/healthz")] {
        // Silent: nothing is ever sent.
        let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
        assert!(closed_within(&mut silent, WAIT).await.is_some(), "{addr}: a silent connection");

        // Slowloris: a header line every 300 ms, never the blank line that
        // ends them. Bytes keep moving, so only the header timeout can end it.
        let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
        slow.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n").as_bytes())
            .await
            .expect("write");
        let trickle = async {
            for i in 0..100 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if slow.write_all(format!("X-{i}: y\r\n").as_bytes()).await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(WAIT, trickle).await.expect("the server stopped taking headers");

        // A well-behaved client on a kept-alive connection is served, then
        // let go.
        let mut polite = tokio::net::TcpStream::connect(addr).await.expect("connect");
        polite
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .expect("write");
        let mut head = [0u8; 12];
        tokio::io::AsyncReadExt::read_exact(&mut polite, &mut head).await.expect("an answer");
        assert!(head.starts_with(b"HTTP/1.1 "), "{head:?}");
        assert!(closed_within(&mut polite, WAIT).await.is_some(), "{addr}: an idle connection");
    }
}

/// `SubscribeRequest` with a commit whose correlation id is bytes, to send
/// one that is not UTF-8 after a valid start.
#[derive(Clone, PartialEq, prost::Message)]
struct RawSubscribeRequest {
    #[prost(message, optional, tag = "1")]
    start: Option<pb::StartSubscription>,
    #[prost(message, optional, tag = "4")]
    commit: Option<RawCommit>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RawCommit {
    #[prost(bytes = "vec", tag = "1")]
    correlation_id: Vec<u8>,
}

#[tokio::test]
async fn a_later_subscribe_request_that_cannot_be_read_ends_the_stream_with_the_reason() {
    let server = TestServer::start().await;
    open_road(&server, stream_road("unread"), schema()).await;
    let mut grpc = tonic::client::Grpc::new(Authed::new(server.channel().await, server.bearer()));
    grpc.ready().await.expect("ready");
    let requests = futures::stream::iter([
        RawSubscribeRequest { start: Some(group_start("unread", "s", 10)), commit: None },
        RawSubscribeRequest {
            start: None,
            commit: Some(RawCommit { correlation_id: vec![0xff, 0xfe] }),
        },
    ])
    .chain(futures::stream::pending::<RawSubscribeRequest>());
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/roadroller.v1.OfframpService/Subscribe",
    );
    let codec = tonic_prost::ProstCodec::<RawSubscribeRequest, pb::SubscribeResponse>::default();
    let mut answers = grpc
        .streaming(tonic::Request::new(requests), path, codec)
        .await
        .expect("the start is read")
        .into_inner();
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match answers.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("ended as if nothing was wrong"),
                Err(status) => break status,
            }
        }
    })
    .await
    .expect("the stream ends");
    assert_eq!(ended.code(), Code::InvalidArgument, "{ended:?}");
    assert!(ended.message().contains("could not be read"), "{}", ended.message());
}
