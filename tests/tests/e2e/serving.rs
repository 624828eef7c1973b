//! Health, reflection and shutdown of a running server.

use std::time::Duration;

use roadroller_tests::{TestBroker, TestServer};
use tonic_health::pb::health_check_response::ServingStatus;

#[tokio::test]
async fn health_follows_the_broker_without_a_restart() {
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, |_| {}).await;

    broker.stop();
    server.wait_for_health(ServingStatus::NotServing, Duration::from_secs(10)).await;

    broker.resume();
    server.wait_for_health(ServingStatus::Serving, Duration::from_secs(10)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn reflection_lists_health_and_reflection_in_both_versions() {
    let server = TestServer::start().await;
    let v1 = list_services_v1(&server).await;
    assert!(v1.contains(&"grpc.health.v1.Health".to_string()), "{v1:?}");
    assert!(v1.contains(&"grpc.reflection.v1.ServerReflection".to_string()), "{v1:?}");
    let v1alpha = list_services_v1alpha(&server).await;
    assert!(v1alpha.contains(&"grpc.health.v1.Health".to_string()), "{v1alpha:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_turns_health_off_before_the_server_stops() {
    let server = TestServer::start().await;
    let mut client = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    let mut watch = client
        .watch(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.message().await.expect("first status").expect("a status");
    assert_eq!(first.status, ServingStatus::Serving as i32);
    let stopping = tokio::spawn(server.shutdown());
    let next = watch.message().await.expect("status while draining").expect("a status");
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    stopping.await.expect("clean shutdown");
}

async fn list_services_v1(server: &TestServer) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let mut client = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection")
        .into_inner();
    let response = responses.message().await.expect("answer").expect("a response");
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

async fn list_services_v1alpha(server: &TestServer) -> Vec<String> {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

    let mut client = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection")
        .into_inner();
    let response = responses.message().await.expect("answer").expect("a response");
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}
