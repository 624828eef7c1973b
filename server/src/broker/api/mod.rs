//! The Kafka requests the broker answers, one module per family; each
//! handler turns a decoded request into a response over [`State`].

mod admin;
mod consume;
mod groups;
mod produce;

use std::sync::Arc;

use kafka_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;

use super::state::State;

/// What a handler knows of the connection and the broker around it.
pub struct Context {
    pub state: Arc<State>,
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    pub client_id: String,
    pub client_host: String,
    pub version: i16,
}

/// The versions served, per API: what librdkafka and the Kafka tools use,
/// within what the wire-format crate encodes. Versions that would need
/// topic ids (Fetch 13+, Metadata 10+) are left out.
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 6),
    (ApiKey::Metadata, 0, 9),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 5),
    (ApiKey::DeleteTopics, 1, 5),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
];

/// Whether `version` of `key` is served.
pub fn supports(key: ApiKey, version: i16) -> bool {
    SUPPORTED.iter().any(|(k, min, max)| *k == key && (*min..=*max).contains(&version))
}

/// The answer to a request; `None` for a produce with `acks=0`, which
/// gets none.
pub async fn handle(ctx: &Context, request: RequestKind) -> Option<ResponseKind> {
    Some(match request {
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(api_versions(0)),
        RequestKind::Metadata(r) => ResponseKind::Metadata(admin::metadata(ctx, r)),
        RequestKind::Produce(r) => return produce::produce(ctx, r).map(ResponseKind::Produce),
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(produce::init_producer_id(ctx, r))
        }
        RequestKind::Fetch(r) => ResponseKind::Fetch(consume::fetch(ctx, r).await),
        RequestKind::ListOffsets(r) => ResponseKind::ListOffsets(consume::list_offsets(ctx, r)),
        RequestKind::OffsetCommit(r) => ResponseKind::OffsetCommit(groups::offset_commit(ctx, r)),
        RequestKind::OffsetFetch(r) => ResponseKind::OffsetFetch(groups::offset_fetch(ctx, r)),
        RequestKind::FindCoordinator(r) => {
            ResponseKind::FindCoordinator(groups::find_coordinator(ctx, r))
        }
        RequestKind::JoinGroup(r) => ResponseKind::JoinGroup(groups::join(ctx, r).await),
        RequestKind::SyncGroup(r) => ResponseKind::SyncGroup(groups::sync(ctx, r).await),
        RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(groups::heartbeat(ctx, r)),
        RequestKind::LeaveGroup(r) => ResponseKind::LeaveGroup(groups::leave(ctx, r)),
        RequestKind::ListGroups(r) => ResponseKind::ListGroups(groups::list(ctx, r)),
        RequestKind::DescribeGroups(r) => ResponseKind::DescribeGroups(groups::describe(ctx, r)),
        RequestKind::DeleteGroups(r) => ResponseKind::DeleteGroups(groups::delete(ctx, r)),
        RequestKind::CreateTopics(r) => ResponseKind::CreateTopics(admin::create_topics(ctx, r)),
        RequestKind::DeleteTopics(r) => ResponseKind::DeleteTopics(admin::delete_topics(ctx, r)),
        RequestKind::CreatePartitions(r) => {
            ResponseKind::CreatePartitions(admin::create_partitions(ctx, r))
        }
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(admin::describe_configs(ctx, r))
        }
        RequestKind::AlterConfigs(r) => ResponseKind::AlterConfigs(admin::alter_configs(ctx, r)),
        RequestKind::IncrementalAlterConfigs(r) => {
            ResponseKind::IncrementalAlterConfigs(admin::incremental_alter_configs(ctx, r))
        }
        // `supports` keeps every other request from reaching here.
        _ => return None,
    })
}

/// The ApiVersions answer; `error` is UNSUPPORTED_VERSION when the client
/// asked with a version this broker does not read, as Kafka answers.
pub fn api_versions(error: i16) -> ApiVersionsResponse {
    let mut r = ApiVersionsResponse::default();
    r.error_code = error;
    r.api_keys = SUPPORTED
        .iter()
        .map(|(key, min, max)| {
            let mut v = ApiVersion::default();
            v.api_key = *key as i16;
            v.min_version = *min;
            v.max_version = *max;
            v
        })
        .collect();
    r
}

/// Runs a write to the log or the journal. Without fsync it only copies
/// into the page cache, which takes microseconds: handing the worker off
/// would cost more than it saves. With `fsync = always` it waits for the
/// disk, so the runtime is told to move other work off this thread.
pub fn write_io<T>(ctx: &Context, f: impl FnOnce() -> T) -> T {
    if ctx.state.fsync() == crate::broker::Fsync::Always {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// A string for the wire.
pub fn s(text: impl Into<String>) -> StrBytes {
    StrBytes::from_string(text.into())
}
