//! Quotas: unary calls over a limit refused whole with QuotaFailure and
//! RetryInfo (429 at the gateway), streams slowed to their rate with nothing
//! lost, SNAPSHOTs queued fairly, and a saturated instance shared by weight.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use roadroller_api::v1 as pb;
use roadroller_api::v1::onramp_service_client::OnrampServiceClient;
use roadroller_api::v1::paver_service_client::PaverServiceClient;
use roadroller_api::v1::record_result::Result as Outcome;
use roadroller_api::v1::subscribe_response::Kind as Got;
use roadroller_tests::security::Secured;
use roadroller_tests::{
    Authed, Bearer, Subscriber, TestBroker, TestServer, compacted_road, error_reason, group_start,
    http_get, http_json, open_road, read_topic, snapshot_start, stream_road,
};
use serde_json::json;
use tokio::time::Instant;
use tonic::Code;
use tonic_types::StatusExt;

fn record(payload: serde_json::Value) -> pb::Record {
    pb::Record { key: None, payload: Some(payload.to_string()) }
}

fn numbered(n: u64) -> pb::Record {
    record(json!({"n": n}))
}

fn schema() -> serde_json::Value {
    json!({"type": "object", "properties": {"n": {"type": "integer"}, "pad": {"type": "string"}}})
}

/// A one-partition STREAM road with `quotas`.
fn metered(name: &str, quotas: pb::RoadQuotas) -> pb::Road {
    let mut road = stream_road(name);
    road.partitions = 1;
    road.quotas = Some(quotas);
    road
}

fn accepted(results: &[pb::RecordResult]) -> usize {
    results.iter().filter(|r| matches!(r.result, Some(Outcome::Accepted(_)))).count()
}

/// The value of the sample `series` in a Prometheus scrape.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

async fn scrape(server: &TestServer) -> String {
    http_get(&format!("{}/metrics", server.admin_url())).await.text()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_produce_over_the_rate_is_refused_whole_with_retry_info_and_429_at_the_gateway() {
    let server = TestServer::start().await;
    // Two records a second, a bucket of two: every step below runs well
    // within the second a refill of two takes.
    let quotas = pb::RoadQuotas { produce_records_per_second: Some(2), ..Default::default() };
    open_road(&server, metered("metered", quotas), schema()).await;
    let mut onramp = server.onramp().await;
    let produce = |records: Vec<pb::Record>| pb::ProduceRequest { road: "metered".into(), records };

    let first = onramp.produce(produce(vec![numbered(0), numbered(1)])).await.expect("in quota");
    assert_eq!(accepted(&first.into_inner().results), 2);

    let refused = onramp.produce(produce(vec![numbered(2), numbered(3)])).await.expect_err("over");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(error_reason(&refused).as_deref(), Some("QUOTA_EXCEEDED"));
    let violations = refused.get_details_quota_failure().expect("a QuotaFailure").violations;
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].subject, "road:metered");
    assert!(violations[0].description.starts_with("produce_records_per_second"), "{violations:?}");
    let delay = refused.get_details_retry_info().and_then(|r| r.retry_delay).expect("RetryInfo");
    assert!(delay > Duration::ZERO && delay <= Duration::from_millis(1500), "{delay:?}");
    assert!(refused.message().contains("produce_records_per_second"), "{}", refused.message());

    // The legacy gateway: 429 with Retry-After in whole seconds.
    let url = format!("{}/onramp/v1/roads/metered/messages", server.gateway_url());
    let legacy = http_json("POST", &url, &json!([{"n": 4}, {"n": 5}])).await;
    assert_eq!(legacy.status, 429, "{}", legacy.text());
    let retry_after = legacy.headers.get("retry-after").and_then(|v| v.to_str().ok());
    let retry_after: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");

    // More than a whole bucket can never pass: it says so, with no delay
    // that would help.
    let records = vec![numbered(6), numbered(7), numbered(8)];
    let never = onramp.produce(produce(records)).await.expect_err("over the burst");
    assert_eq!(never.code(), Code::ResourceExhausted);
    assert!(never.message().contains("burst"), "{}", never.message());
    assert!(never.get_details_retry_info().is_none());
    let legacy = http_json("POST", &url, &json!([{"n": 6}, {"n": 7}, {"n": 8}])).await;
    assert_eq!(legacy.status, 413, "no wait lets it pass: {}", legacy.text());

    // After the delay it said, the same call goes through.
    tokio::time::sleep(delay).await;
    let retried = onramp.produce(produce(vec![numbered(2), numbered(3)])).await.expect("retried");
    assert_eq!(accepted(&retried.into_inner().results), 2);

    // Refused calls wrote nothing.
    let written: Vec<i64> = read_topic(&server.broker().bootstrap(), "road.metered")
        .iter()
        .map(|r| r.value_json().expect("json")["n"].as_i64().expect("n"))
        .collect();
    assert_eq!(written, [0, 1, 2, 3]);

    let metrics = scrape(&server).await;
    let refusals =
        r#"roadroller_quota_refusals_total{road="metered",limit="produce_records_per_second"}"#;
    // Over the rate twice (gRPC, gateway), over the burst twice.
    assert_eq!(sample(&metrics, refusals), Some(4.0), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_produce_stream_over_its_rate_slows_to_it_and_every_record_is_accepted() {
    const RATE: u64 = 400;
    const RECORDS: u64 = 2000;
    const BATCH: u64 = 20;
    let server = TestServer::start().await;
    let quotas = pb::RoadQuotas { produce_records_per_second: Some(RATE), ..Default::default() };
    open_road(&server, metered("steady", quotas), schema()).await;

    let batches: Vec<pb::ProduceStreamRequest> = (0..RECORDS / BATCH)
        .map(|b| pb::ProduceStreamRequest {
            sequence: b,
            road: "steady".into(),
            records: (0..BATCH).map(|i| numbered(b * BATCH + i)).collect(),
        })
        .collect();
    let mut onramp = server.onramp().await;
    let began = Instant::now();
    let mut answers =
        onramp.produce_stream(tokio_stream::iter(batches)).await.expect("stream").into_inner();
    let (mut answered, mut burst_done_at, mut sequence) = (0u64, None, 0);
    while let Some(answer) = answers.message().await.expect("answer") {
        assert!(answer.error.is_none(), "throttled, never refused: {:?}", answer.error);
        assert_eq!(answer.sequence, sequence, "in order");
        sequence += 1;
        assert_eq!(accepted(&answer.results), BATCH as usize, "every record accepted");
        answered += BATCH;
        if answered == RATE {
            burst_done_at = Some(began.elapsed());
        }
    }
    let took = began.elapsed();
    assert_eq!(answered, RECORDS);
    // The first second's worth goes at once (the burst); the rest at the rate.
    let after_burst = took - burst_done_at.expect("the burst was answered");
    let rate = (RECORDS - RATE) as f64 / after_burst.as_secs_f64();
    assert!(
        (rate / RATE as f64 - 1.0).abs() <= 0.10,
        "{rate:.0} records/s against a limit of {RATE} (took {took:?})"
    );

    let written = read_topic(&server.broker().bootstrap(), "road.steady");
    let ns: Vec<i64> =
        written.iter().map(|r| r.value_json().expect("json")["n"].as_i64().expect("n")).collect();
    assert_eq!(ns, (0..RECORDS as i64).collect::<Vec<_>>(), "all of them, once, in order");

    let metrics = scrape(&server).await;
    let throttled = r#"roadroller_quota_throttled_seconds_total{road="steady",limit="produce_records_per_second"}"#;
    let waited = sample(&metrics, throttled).expect("throttled time is counted");
    assert!(waited > 2.0, "{waited}s throttled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_over_its_bytes_rate_receives_at_it_with_no_gap() {
    const RATE: u64 = 10_000;
    const RECORDS: usize = 500;
    let server = TestServer::start().await;
    let quotas = pb::RoadQuotas { offramp_bytes_per_second: Some(RATE), ..Default::default() };
    open_road(&server, metered("trickle", quotas), schema()).await;
    // About 100 payload bytes a record: 50 kB, five seconds' worth.
    let records: Vec<pb::Record> =
        (0..RECORDS as u64).map(|n| record(json!({"n": n, "pad": "x".repeat(80)}))).collect();
    let total: u64 = records.iter().map(|r| r.payload.as_ref().map_or(0, |p| p.len() as u64)).sum();
    for chunk in records.chunks(100) {
        server.produce_accepted("trickle", chunk.to_vec()).await;
    }

    let mut subscriber = Subscriber::start(&server, group_start("trickle", "slow", 1_000_000))
        .await
        .expect("subscribe");
    let began = Instant::now();
    let (mut bytes, mut offsets, mut burst_done_at) = (0u64, Vec::new(), None);
    while offsets.len() < RECORDS {
        let got = subscriber.messages(1, Duration::from_secs(20)).await.remove(0);
        bytes += got.payload.as_ref().map_or(0, |p| p.len() as u64);
        offsets.push(got.offset);
        if burst_done_at.is_none() && bytes >= RATE {
            burst_done_at = Some((began.elapsed(), bytes));
        }
    }
    let took = began.elapsed();
    assert_eq!(offsets, (0..RECORDS as i64).collect::<Vec<_>>(), "no gap, no repeat");
    assert_eq!(bytes, total);
    let (at, paid) = burst_done_at.expect("a bucketful arrived");
    let rate = (total - paid) as f64 / (took - at).as_secs_f64();
    assert!(
        (rate / RATE as f64 - 1.0).abs() <= 0.10,
        "{rate:.0} bytes/s against a limit of {RATE} (took {took:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_snapshots_on_a_road_limited_to_five_all_finish_five_at_a_time() {
    const CLIENTS: usize = 50;
    const KEYS: usize = 200;
    let server = TestServer::start().await;
    let mut road = compacted_road("catalogue", Duration::from_secs(3600));
    road.partitions = 1;
    road.quotas =
        Some(pb::RoadQuotas { max_snapshot_subscriptions: Some(5), ..Default::default() });
    open_road(&server, road, schema()).await;
    let records: Vec<pb::Record> = (0..KEYS)
        .map(|k| pb::Record {
            key: Some(format!("k{k}")),
            payload: Some(json!({"n": k}).to_string()),
        })
        .collect();
    server.produce_accepted("catalogue", records).await;

    // Samples how many snapshots load at once, as the server counts them.
    let server = Arc::new(server);
    let (most, stop) = (Arc::new(AtomicU64::new(0)), tokio_util::sync::CancellationToken::new());
    let sampler = {
        let (server, most, stop) = (server.clone(), most.clone(), stop.clone());
        tokio::spawn(async move {
            let series = r#"roadroller_snapshots_loading{road="catalogue"}"#;
            while !stop.is_cancelled() {
                if let Some(n) = sample(&scrape(&server).await, series) {
                    most.fetch_max(n as u64, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move {
                let mut s = Subscriber::start(&server, snapshot_start("catalogue", 0))
                    .await
                    .expect("subscribe");
                // Places until the snapshot starts (its first rebalance).
                let mut places = Vec::new();
                loop {
                    match s.next(Duration::from_secs(60)).await.expect("alive") {
                        Some(Got::SnapshotQueued(q)) => places.push(q.place),
                        Some(Got::Rebalance(_)) => break,
                        other => panic!("before the snapshot starts: {other:?}"),
                    }
                }
                // Read slowly, so that snapshots overlap.
                let mut keys = 0;
                loop {
                    s.request(20).await;
                    keys += s.messages(20.min(KEYS - keys), Duration::from_secs(20)).await.len();
                    if keys == KEYS {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                if !s.others.iter().any(|g| matches!(g, Got::SnapshotComplete(_))) {
                    s.wait_for(Duration::from_secs(20), |g| {
                        matches!(g, Got::SnapshotComplete(_)).then_some(())
                    })
                    .await;
                }
                places
            })
        })
        .collect();
    let mut waited = 0;
    for client in clients {
        let places = client.await.expect("a client finished its snapshot");
        if !places.is_empty() {
            waited += 1;
            assert!(places.windows(2).all(|w| w[1] < w[0]), "places only go down: {places:?}");
            assert!(places[0] <= (CLIENTS - 5) as i32, "{places:?}");
        }
    }
    stop.cancel();
    sampler.await.expect("sampler");
    assert_eq!(waited, CLIENTS - 5, "all but the first five waited their turn");
    assert_eq!(most.load(Ordering::Relaxed), 5, "never more than five at once, and five at a time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_that_waits_too_long_is_refused_and_a_full_road_refuses_subscriptions() {
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, |s| {
        s.quotas.snapshot_queue_timeout = Duration::from_secs(1);
    })
    .await;
    let mut road = compacted_road("busy", Duration::from_secs(3600));
    road.quotas = Some(pb::RoadQuotas {
        max_subscriptions: Some(2),
        max_snapshot_subscriptions: Some(1),
        ..Default::default()
    });
    open_road(&server, road, schema()).await;
    let key =
        |k: &str| pb::Record { key: Some(k.into()), payload: Some(json!({"n": 1}).to_string()) };
    server.produce_accepted("busy", vec![key("a"), key("b")]).await;

    // Without credit this snapshot never completes: it keeps its place.
    let mut holder = Subscriber::start(&server, snapshot_start("busy", 0)).await.expect("first");
    holder
        .wait_for(Duration::from_secs(10), |g| matches!(g, Got::Rebalance(_)).then_some(()))
        .await;
    let mut waiter = Subscriber::start(&server, snapshot_start("busy", 10)).await.expect("second");
    let place = waiter
        .wait_for(Duration::from_secs(5), |g| match g {
            Got::SnapshotQueued(q) => Some(q.place),
            _ => None,
        })
        .await;
    assert_eq!(place, 1);
    let ended = loop {
        match waiter.next(Duration::from_secs(10)).await {
            Err(status) => break status,
            Ok(Some(Got::SnapshotQueued(_))) => {}
            other => panic!("expected the queue to give up, got {other:?}"),
        }
    };
    assert_eq!(ended.code(), Code::ResourceExhausted, "{ended:?}");
    assert_eq!(error_reason(&ended).as_deref(), Some("QUOTA_EXCEEDED"));
    assert!(ended.get_details_retry_info().is_some());
    let subjects: Vec<String> = ended
        .get_details_quota_failure()
        .expect("QuotaFailure")
        .violations
        .into_iter()
        .map(|v| v.subject)
        .collect();
    assert_eq!(subjects, ["road:busy"]);

    // Two subscriptions may be open on the road: the holder and one more
    // (once the refused waiter's place is given back).
    let second =
        roadroller_tests::eventually(Duration::from_secs(10), "a second place", || async {
            Subscriber::start(&server, group_start("busy", "s", 10)).await.ok()
        })
        .await;
    let third =
        Subscriber::start(&server, group_start("busy", "s", 10)).await.err().expect("third");
    assert_eq!(third.code(), Code::ResourceExhausted);
    let violation = &third.get_details_quota_failure().expect("QuotaFailure").violations[0];
    assert_eq!(
        (violation.subject.as_str(), violation.description.as_str()),
        ("road:busy", "max_subscriptions: 2 at once")
    );
    drop(second);
    // Once the subscriber is gone its place is free again.
    roadroller_tests::eventually(Duration::from_secs(10), "a free subscription place", || async {
        Subscriber::start(&server, group_start("busy", "s", 10)).await.ok()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn road_quotas_are_set_through_the_update_mask_and_zero_is_refused() {
    let server = TestServer::start().await;
    open_road(&server, metered("tuned", pb::RoadQuotas::default()), schema()).await;
    let mut paver = server.paver().await;
    let update = |quotas: pb::RoadQuotas, path: &str| pb::UpdateRoadRequest {
        road: Some(pb::Road { name: "tuned".into(), quotas: Some(quotas), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec![path.into()] }),
    };
    let set = pb::RoadQuotas {
        max_subscriptions: Some(7),
        offramp_bytes_per_second: Some(1),
        ..Default::default()
    };
    let road = paver
        .update_road(update(set, "quotas.max_subscriptions"))
        .await
        .expect("update")
        .into_inner();
    let quotas = road.road.expect("road").quotas.expect("quotas");
    assert_eq!(quotas.max_subscriptions, Some(7));
    assert_eq!(quotas.offramp_bytes_per_second, None, "only the field the mask names");

    let zero = pb::RoadQuotas { produce_records_per_second: Some(0), ..Default::default() };
    let refused = paver.update_road(update(zero, "quotas")).await.expect_err("zero");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields = roadroller_tests::field_violations(&refused);
    assert_eq!(fields[0].0, "road.quotas.produce_records_per_second", "{fields:?}");

    let unknown = paver
        .update_road(update(pb::RoadQuotas::default(), "quotas.burst"))
        .await
        .expect_err("no such field");
    assert_eq!(unknown.code(), Code::InvalidArgument);

    // Clearing the whole message removes every limit.
    let road = paver
        .update_road(update(pb::RoadQuotas::default(), "quotas"))
        .await
        .expect("clear")
        .into_inner();
    assert_eq!(road.road.expect("road").quotas, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paver_writes_are_limited_per_principal() {
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, |s| {
        s.quotas.defaults.paver_writes_per_second = Some(1);
    })
    .await;
    let mut paver = server.paver().await;
    let create = |name: &str| pb::CreateRoadRequest { road: Some(stream_road(name)) };
    paver.create_road(create("first")).await.expect("one write a second");
    let refused = paver.create_road(create("second")).await.expect_err("a second write at once");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    let violation = &refused.get_details_quota_failure().expect("QuotaFailure").violations[0];
    assert!(violation.subject.starts_with("anonymous:127.0.0.1"), "{violation:?}");
    assert!(violation.description.starts_with("paver_writes_per_second"), "{violation:?}");
    let absent = paver
        .get_road(pb::GetRoadRequest { name: "second".into() })
        .await
        .expect_err("not created");
    assert_eq!(absent.code(), Code::NotFound);
}

/// Produces through ProduceStream as `token` until `until`, keeping four
/// batches in flight, as a client that waits for answers does; returns when
/// (since `began`) each batch was answered.
async fn flood(
    server: &TestServer,
    token: String,
    began: Instant,
    until: Duration,
) -> Vec<Duration> {
    const BATCH: u64 = 50;
    let channel = Authed::new(server.channel().await, Bearer::new(&token));
    let mut onramp = OnrampServiceClient::new(channel);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(4));
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let sender = {
        let in_flight = in_flight.clone();
        tokio::spawn(async move {
            let mut b = 0u64;
            while began.elapsed() < until {
                in_flight.acquire().await.expect("open").forget();
                let records = (0..BATCH).map(|i| numbered(b * BATCH + i)).collect();
                let batch =
                    pb::ProduceStreamRequest { sequence: b, road: "shared".into(), records };
                if tx.send(batch).await.is_err() {
                    return;
                }
                b += 1;
            }
        })
    };
    let batches = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut answers = onramp.produce_stream(batches).await.expect("stream").into_inner();
    let mut at = Vec::new();
    while let Some(answer) = answers.message().await.expect("answer") {
        assert!(answer.error.is_none(), "{:?}", answer.error);
        assert_eq!(accepted(&answer.results), BATCH as usize);
        at.push(began.elapsed());
        in_flight.add_permits(1);
    }
    sender.await.expect("sender");
    at
}

/// A secured server whose quotas file gives `light` weight 1 and `heavy`
/// weight 3, with the capacity `capacity` sets; its own clients are a
/// server admin.
async fn weighted(
    broker: &TestBroker,
    secured: &Secured,
    capacity: impl FnOnce(&mut roadroller_server::quotas::QuotaSettings),
) -> TestServer {
    let file = secured.write(
        "quotas.toml",
        "[[quota]]\nprincipal = \"light\"\nweight = 1\n\n[[quota]]\nprincipal = \"heavy\"\nweight = 3\n",
    );
    let admin = secured.tokens.token("root", &["platform"]);
    TestServer::start_tls(broker, &secured.pki.ca_pem, |s| {
        secured.apply(s);
        s.quotas.file = Some(file);
        capacity(&mut s.quotas);
    })
    .await
    .with_token(&admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_principals_weighted_one_and_three_share_a_saturated_instance_one_to_three() {
    let broker = TestBroker::start();
    let secured = Secured::new();
    // The instance takes 2,000 records a second in all.
    let server = weighted(&broker, &secured, |q| q.onramp_capacity = Some(2000)).await;
    let mut road = stream_road("shared");
    road.authorisation = Some(pb::Authorisation {
        onramp: Some(pb::OnrampAuthorisation {
            authorities: vec!["writers".into()],
            cidr_blocks: vec![],
        }),
        ..Default::default()
    });
    open_road(&server, road, schema()).await;

    let began = Instant::now();
    let until = Duration::from_secs(7);
    let light = flood(&server, secured.tokens.token("light", &["writers"]), began, until);
    let heavy = flood(&server, secured.tokens.token("heavy", &["writers"]), began, until);
    let (light, heavy) = tokio::join!(light, heavy);
    // Past the first seconds (the burst, the streams opening), both kept
    // the instance saturated.
    let window = |at: &[Duration]| {
        at.iter().filter(|t| (Duration::from_secs(2)..Duration::from_secs(6)).contains(*t)).count()
            as f64
    };
    let (l, h) = (window(&light), window(&heavy));
    let ratio = h / l;
    assert!((ratio / 3.0 - 1.0).abs() <= 0.20, "heavy:light = {ratio:.2} ({h} to {l} batches)");
    let per_second = (l + h) * 50.0 / 4.0;
    assert!((per_second / 2000.0 - 1.0).abs() <= 0.20, "{per_second:.0} records/s in all");

    let by_principal: BTreeMap<&str, usize> =
        [("light", light.len()), ("heavy", heavy.len())].into();
    println!(
        "batches answered by principal: {by_principal:?}; from 2 s to 6 s: heavy {h}, light {l}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quotas_file_limits_a_principal_and_is_reread_when_it_changes() {
    let broker = TestBroker::start();
    let secured = Secured::new();
    let limit = |n: u32| format!("[[quota]]\nprincipal = \"ops\"\npaver_writes_per_second = {n}\n");
    let file = secured.write("quotas.toml", &limit(1));
    let server = TestServer::start_tls(&broker, &secured.pki.ca_pem, |s| {
        secured.apply(s);
        s.quotas.file = Some(file);
    })
    .await;
    let ops = secured.tokens.token("ops", &["platform"]);
    let other = secured.tokens.token("root", &["platform"]);
    let paver = |token: &str| {
        let channel = server.channel();
        let bearer = Bearer::new(token);
        async move { PaverServiceClient::new(Authed::new(channel.await, bearer)) }
    };
    let create = |name: &str| pb::CreateRoadRequest { road: Some(stream_road(name)) };
    let mut as_ops = paver(&ops).await;
    as_ops.create_road(create("one")).await.expect("one write");
    let refused = as_ops.create_road(create("two")).await.expect_err("a second at once");
    let violation = &refused.get_details_quota_failure().expect("QuotaFailure").violations[0];
    assert_eq!(violation.subject, "principal:ops");
    // Another principal is not held up by ops' limit.
    paver(&other).await.create_road(create("three")).await.expect("root has no limit");

    secured.write("quotas.toml", &limit(100));
    let attempt = Arc::new(AtomicU64::new(0));
    roadroller_tests::eventually(Duration::from_secs(5), "the raised limit", || {
        let (mut as_ops, attempt) = (as_ops.clone(), attempt.fetch_add(1, Ordering::Relaxed));
        async move {
            for road in 0..3 {
                as_ops.create_road(create(&format!("raised_{attempt}_{road}"))).await.ok()?;
            }
            Some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_readers_weighted_one_and_three_share_the_offramp_capacity_one_to_three() {
    let broker = TestBroker::start();
    let secured = Secured::new();
    // The instance delivers 20 kB of payload a second in all.
    let server = weighted(&broker, &secured, |q| q.offramp_capacity = Some(20_000)).await;
    let mut road = stream_road("popular");
    road.partitions = 1;
    road.authorisation = Some(pb::Authorisation {
        offramp: Some(pb::OfframpAuthorisation {
            authorities: [(
                "readers".to_string(),
                pb::Grants { grants: vec![pb::Grant::Public as i32] },
            )]
            .into(),
        }),
        ..Default::default()
    });
    open_road(&server, road, schema()).await;
    // 300 kB: more than either reader gets in the test.
    let records: Vec<pb::Record> =
        (0..3000u64).map(|n| record(json!({"n": n, "pad": "x".repeat(80)}))).collect();
    for chunk in records.chunks(500) {
        server.produce_accepted("popular", chunk.to_vec()).await;
    }

    let began = Instant::now();
    let read = |who: &'static str| {
        let token = secured.tokens.token(who, &["readers"]);
        let server = &server;
        async move {
            let start = group_start("popular", who, 1_000_000);
            let mut s =
                Subscriber::start_as(server, Bearer::new(&token), start).await.expect("subscribe");
            let mut at = Vec::new();
            while began.elapsed() < Duration::from_secs(7) {
                if let Some(Got::Message(m)) =
                    s.next(Duration::from_millis(500)).await.expect("alive")
                {
                    at.push((began.elapsed(), m.payload.map_or(0, |p| p.len())));
                }
            }
            at
        }
    };
    let (light, heavy) = tokio::join!(read("light"), read("heavy"));
    let window = |at: &[(Duration, usize)]| -> f64 {
        at.iter()
            .filter(|(t, _)| (Duration::from_secs(2)..Duration::from_secs(6)).contains(t))
            .map(|(_, bytes)| *bytes as f64)
            .sum()
    };
    let (l, h) = (window(&light), window(&heavy));
    let ratio = h / l;
    assert!((ratio / 3.0 - 1.0).abs() <= 0.20, "heavy:light = {ratio:.2} ({h} to {l} bytes)");
    let per_second = (l + h) / 4.0;
    assert!((per_second / 20_000.0 - 1.0).abs() <= 0.20, "{per_second:.0} bytes/s in all");
    println!("from 2 s to 6 s: heavy {h} bytes, light {l} bytes");
}
