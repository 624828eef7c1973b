//! Security at the edges: legacy clients with HTTP Basic through the
//! gateway, anonymous producers admitted by their network, Kafka behind a
//! TLS proxy, and a standalone gateway reaching its upstream over mutual
//! TLS.

use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use roadroller_api::v1 as pb;
use roadroller_api::v1::onramp_service_client::OnrampServiceClient;
use roadroller_server::config::{GATEWAY, GatewaySettings, KafkaProperties, Resolved, UpstreamTls};
use roadroller_tests::https::TlsClient;
use roadroller_tests::security::{Secured, argon2_hash};
use roadroller_tests::{
    Subscriber, TestBroker, TestServer, eventually, group_start, http, open_road, read_topic,
    stream_road,
};
use serde_json::json;
use tonic::Code;

const WAIT: Duration = Duration::from_secs(10);

fn basic(user: &str, password: &str) -> String {
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {pair}")
}

fn onramp_only(authorities: &[&str], cidr_blocks: &[&str]) -> pb::Authorisation {
    pb::Authorisation {
        onramp: Some(pb::OnrampAuthorisation {
            authorities: authorities.iter().map(|a| a.to_string()).collect(),
            cidr_blocks: cidr_blocks.iter().map(|a| a.to_string()).collect(),
        }),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_client_with_basic_posts_through_the_gateway_as_its_principal() {
    let broker = TestBroker::start();
    let secured = Secured::new();
    let bcrypt = bcrypt::hash("other-secret", 4).expect("bcrypt");
    let passwords = secured.write(
        "passwords",
        &format!("legacy:{}:shop\nother:{bcrypt}\n", argon2_hash("legacy-secret")),
    );
    let admin = secured.tokens.token("root", &["platform"]);
    let server = TestServer::start_tls(&broker, &secured.pki.ca_pem, |s| {
        secured.apply(s);
        s.auth.passwords_file = Some(passwords);
    })
    .await
    .with_token(&admin);
    let mut road = stream_road("legacy_orders");
    road.authorisation = Some(onramp_only(&["shop"], &[]));
    open_road(&server, road, json!({"type": "object"})).await;
    let tls = TlsClient::new(&secured.pki.ca_pem, None);
    let post = |authorization: String| {
        let tls = tls.clone();
        let gateway = server.gateway_addr();
        async move {
            let headers =
                [("content-type", "application/json"), ("authorization", authorization.as_str())];
            tls.request(
                gateway,
                "POST",
                "/onramp/v1/roads/legacy_orders/messages",
                &headers,
                r#"[{"id": 1}]"#,
            )
            .await
            .expect("an answer")
        }
    };

    let accepted = post(basic("legacy", "legacy-secret")).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    assert_eq!(accepted.json()[0]["success"], true, "{}", accepted.text());
    let landed = read_topic(&broker.bootstrap(), "road.legacy_orders");
    assert_eq!(landed.len(), 1);

    let refused = post(basic("other", "other-secret")).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.message().starts_with("other may not produce to road \"legacy_orders\""),
        "{}",
        refused.text()
    );
    assert_eq!(refused.json()["success"], false);

    let wrong = post(basic("legacy", "not-it")).await;
    assert_eq!(wrong.status, 401, "{}", wrong.text());
    assert!(
        wrong
            .headers
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().is_ok_and(|v| v.contains("Basic")))
    );
    assert!(!wrong.text().contains("not-it"), "{}", wrong.text());

    // Its rights are its principal's: `shop` produces, it does not administer.
    let headers = [
        ("content-type", "application/json-patch+json"),
        ("authorization", &basic("legacy", "legacy-secret")),
    ];
    let patch = r#"[{"op": "replace", "path": "/description", "value": "mine"}]"#;
    let changed = tls
        .request(server.gateway_addr(), "PATCH", "/paver/v1/roads/legacy_orders", &headers, patch)
        .await
        .expect("an answer");
    assert_eq!(changed.status, 403, "{}", changed.text());
    assert!(changed.message().starts_with("legacy may not change road"), "{}", changed.text());
    server.shutdown().await;
}

async fn produce_anonymously(server: &TestServer, road: &str, forwarded_for: Option<&str>) -> Code {
    let mut request = tonic::Request::new(pb::ProduceRequest {
        road: road.into(),
        records: vec![pb::Record { key: None, payload: Some("{}".into()) }],
    });
    if let Some(chain) = forwarded_for {
        request.metadata_mut().insert("x-forwarded-for", chain.parse().expect("ascii"));
    }
    match OnrampServiceClient::new(server.channel().await).produce(request).await {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_producers_come_in_by_their_network_and_proxies_are_believed_only_when_trusted() {
    let broker = TestBroker::start();
    let secured = Secured::new();
    let admin = secured.tokens.token("root", &["platform"]);
    let start = |trusted: &'static [&'static str]| {
        let (broker, secured, admin) = (&broker, &secured, admin.clone());
        async move {
            TestServer::start_on(broker, |s| {
                s.auth = secured.auth();
                s.auth.client_certificates = false;
                s.auth.allow_anonymous = true;
                // Anonymous callers read no road in general, yet the gateway
                // reads a road's type for those it lets produce.
                s.auth.anonymous_read = false;
                s.auth.trusted_proxies = trusted.iter().map(|n| n.parse().expect("cidr")).collect();
            })
            .await
            .with_token(&admin)
        }
    };
    let server = start(&[]).await;
    for (name, blocks) in [("from_loopback", "127.0.0.0/8"), ("from_ten", "10.0.0.0/8")] {
        let mut road = stream_road(name);
        road.authorisation = Some(onramp_only(&[], &[blocks]));
        open_road(&server, road, json!({"type": "object"})).await;
    }
    assert_eq!(produce_anonymously(&server, "from_loopback", None).await, Code::Ok);
    assert_eq!(produce_anonymously(&server, "from_ten", None).await, Code::PermissionDenied);
    // A claim from a peer nobody trusts changes nothing.
    assert_eq!(
        produce_anonymously(&server, "from_ten", Some("10.1.2.3")).await,
        Code::PermissionDenied
    );
    assert_eq!(produce_anonymously(&server, "from_loopback", Some("10.1.2.3")).await, Code::Ok);
    // Through the gateway: its peer is the client, whatever the client says.
    let url = |road: &str| format!("{}/onramp/v1/roads/{road}/messages", server.gateway_url());
    let headers = [("content-type", "application/json"), ("x-forwarded-for", "10.9.9.9")];
    let ok = http("POST", &url("from_loopback"), &headers, "[{}]").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let refused = http("POST", &url("from_ten"), &headers, "[{}]").await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    // What they may use they may read, and nothing else.
    let road = |name: &str| format!("{}/paver/v1/roads/{name}", server.gateway_url());
    assert_eq!(http("GET", &road("from_loopback"), &[], "").await.status, 200);
    assert_eq!(http("GET", &road("from_ten"), &[], "").await.status, 403);
    server.shutdown().await;

    // With loopback as a trusted proxy, its X-Forwarded-For names the client.
    let server = start(&["127.0.0.1/32"]).await;
    assert_eq!(produce_anonymously(&server, "from_ten", Some("10.1.2.3")).await, Code::Ok);
    assert_eq!(
        produce_anonymously(&server, "from_loopback", Some("10.1.2.3")).await,
        Code::PermissionDenied
    );
    // The nearest hop that is not a trusted proxy is the client.
    let chain = Some("10.1.2.3, 127.0.0.1");
    assert_eq!(produce_anonymously(&server, "from_ten", chain).await, Code::Ok);
    server.shutdown().await;
}

/// stunnel in front of a broker: TLS on `accept`, plaintext to `connect`.
struct TlsProxy {
    child: Child,
}

impl TlsProxy {
    fn start(secured: &Secured, accept: std::net::SocketAddr, connect: &str) -> Self {
        let config = secured.write(
            "stunnel.conf",
            &format!(
                "foreground = yes\npid =\noutput = {log}\n[kafka]\naccept = {accept}\nconnect = {connect}\ncert = {cert}\nkey = {key}\n",
                log = secured.path("stunnel.log").display(),
                cert = secured.path("server.pem").display(),
                key = secured.path("server.key").display(),
            ),
        );
        let child = Command::new("stunnel4")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stunnel4 runs (./scripts/install-tools installs it)");
        Self { child }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roadroller_produces_and_consumes_through_a_tls_proxy_in_front_of_kafka() {
    let proxy_ip: IpAddr = "127.0.0.2".parse().expect("ip");
    let broker = TestBroker::behind(proxy_ip);
    let plain = broker.bootstrap();
    let port = plain.rsplit(':').next().expect("port").parse::<u16>().expect("port");
    let secured = Secured::new();
    let accept = std::net::SocketAddr::new(proxy_ip, port);
    let _proxy = TlsProxy::start(&secured, accept, &plain);
    eventually(WAIT, "the TLS proxy listening", || async move {
        tokio::net::TcpStream::connect(accept).await.ok()
    })
    .await;
    let ca = secured.path("ca.pem");
    let server = TestServer::start_on(&broker, |s| {
        s.kafka.bootstrap_servers = Some(accept.to_string());
        s.kafka.properties = KafkaProperties::parse(&format!(
            "security.protocol=ssl; ssl.ca.location={}; ssl.endpoint.identification.algorithm=https",
            ca.display()
        ))
        .expect("properties");
    })
    .await;
    open_road(&server, stream_road("secret_traffic"), json!({"type": "object"})).await;
    let records =
        (0..20).map(|i| pb::Record { key: None, payload: Some(json!({"i": i}).to_string()) });
    server.produce_accepted("secret_traffic", records.collect()).await;
    let mut subscriber = Subscriber::start(&server, group_start("secret_traffic", "s", 100))
        .await
        .expect("subscribe");
    assert_eq!(subscriber.messages(20, WAIT).await.len(), 20);
    let log = std::fs::read_to_string(secured.path("stunnel.log")).unwrap_or_default();
    assert!(log.contains("accepted connection"), "stunnel saw no connection:\n{log}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standalone_gateway_reaches_a_tls_upstream_with_its_own_certificate() {
    let broker = TestBroker::start();
    let secured = Secured::new();
    let admin = secured.tokens.token("root", &["platform"]);
    let probe = secured.pki.client(None, "probe");
    let server = TestServer::start_mtls(&broker, &secured.pki.ca_pem, &probe, |s| {
        secured.apply(s);
        s.tls.as_mut().expect("tls").require_client_cert = true;
    })
    .await;
    // Without a certificate, the server's door stays shut.
    assert!(
        server.try_channel(None).await.is_err() || {
            let mut paver = roadroller_api::v1::paver_service_client::PaverServiceClient::new(
                server.try_channel(None).await.expect("connected"),
            );
            paver.list_roads(pb::ListRoadsRequest::default()).await.is_err()
        }
    );
    let own = secured.pki.client(None, "gateway");
    secured.write("gateway.pem", &own.cert);
    secured.write("gateway.key", &own.key);
    let gateway = |with_cert: bool| {
        let mut settings =
            GatewaySettings::from_resolved(&Resolved::defaults_of(&GATEWAY)).expect("defaults");
        settings.upstream = server.endpoint();
        settings.grace_period = Duration::from_secs(2);
        settings.upstream_tls = UpstreamTls {
            ca_file: Some(secured.path("ca.pem")),
            cert_file: with_cert.then(|| secured.path("gateway.pem")),
            key_file: with_cert.then(|| secured.path("gateway.key")),
        };
        settings
    };
    for (with_cert, want) in [(true, 200), (false, 503)] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/paver/v1/roads", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(roadroller_server::serve::run_gateway(
            gateway(with_cert),
            listener,
            async move {
                let _ = stopped.await;
            },
        ));
        let authorization = format!("Bearer {admin}");
        let answer = http("GET", &url, &[("authorization", &authorization)], "").await;
        assert_eq!(answer.status, want, "with its certificate: {with_cert}: {}", answer.text());
        let _ = stop.send(());
        task.await.expect("joined").expect("the gateway stops cleanly");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn land_answers_a_caller_without_rights_alike_whether_the_road_exists_or_not() {
    use roadroller_api::v1::loading_bay_service_client::LoadingBayServiceClient;
    let broker = TestBroker::start();
    let secured = Secured::new();
    let admin = secured.tokens.token("root", &["platform"]);
    let server = TestServer::start_tls(&broker, &secured.pki.ca_pem, |s| secured.apply(s))
        .await
        .with_token(&admin);
    open_road(&server, stream_road("landed"), json!({"type": "object"})).await;
    let stranger = secured.tokens.token("stranger", &[]);
    let client = |token: &str| {
        let token = roadroller_tests::Bearer::new(token);
        let server = &server;
        async move {
            LoadingBayServiceClient::new(roadroller_tests::Authed::new(
                server.channel().await,
                token,
            ))
        }
    };
    let land = |road: &str| pb::LandRequest { road: road.into() };
    for road in ["landed", "no_such_road"] {
        let refused = client(&stranger).await.land(land(road)).await.expect_err("no rights");
        assert_eq!(refused.code(), Code::PermissionDenied, "{road}: {refused:?}");
    }
    let missing = client(&admin).await.land(land("no_such_road")).await.expect_err("missing");
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
}
