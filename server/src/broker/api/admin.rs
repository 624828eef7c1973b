//! Metadata and the admin requests: topics, partitions, configs.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_configs_request::AlterConfigsRequest;
use kafka_protocol::messages::alter_configs_response::{
    AlterConfigsResourceResponse, AlterConfigsResponse,
};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsRequest;
use kafka_protocol::messages::create_partitions_response::{
    CreatePartitionsResponse, CreatePartitionsTopicResult,
};
use kafka_protocol::messages::create_topics_request::CreateTopicsRequest;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicResult, CreateTopicsResponse,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicsRequest;
use kafka_protocol::messages::delete_topics_response::{
    DeletableTopicResult, DeleteTopicsResponse,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsRequest;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
};
use kafka_protocol::messages::incremental_alter_configs_request::IncrementalAlterConfigsRequest;
use kafka_protocol::messages::incremental_alter_configs_response::{
    AlterConfigsResourceResponse as IncrementalResult, IncrementalAlterConfigsResponse,
};
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::{Context, s};
use crate::broker::state::Refusal;
use crate::broker::state::code::{INVALID_CONFIG, UNKNOWN_TOPIC_OR_PARTITION};

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const INVALID_REQUEST: i16 = 42;
/// DescribeConfigs sources.
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const DEFAULT_CONFIG: i8 = 5;

pub const CLUSTER_ID: &str = "roadroller-embedded";

/// The one broker, and the topics asked for (all of them when the request
/// names none in v0, or passes null from v1).
pub fn metadata(ctx: &Context, request: MetadataRequest) -> MetadataResponse {
    let mut r = MetadataResponse::default();
    let mut broker = MetadataResponseBroker::default();
    broker.node_id = BrokerId(ctx.node_id);
    broker.host = s(ctx.host.clone());
    broker.port = ctx.port;
    r.brokers = vec![broker];
    r.cluster_id = Some(s(CLUSTER_ID));
    r.controller_id = BrokerId(ctx.node_id);
    let names: Vec<String> = match request.topics {
        Some(t) if !(t.is_empty() && ctx.version == 0) => {
            t.into_iter().filter_map(|t| t.name.map(|n| n.to_string())).collect()
        }
        _ => ctx.state.topics().iter().map(|t| t.name.clone()).collect(),
    };
    for name in names {
        let mut out = MetadataResponseTopic::default();
        out.name = Some(TopicName(s(name.clone())));
        match ctx.state.topic(&name) {
            None => out.error_code = UNKNOWN_TOPIC_OR_PARTITION,
            Some(topic) => {
                out.partitions = (0..topic.partitions().len() as i32)
                    .map(|index| {
                        let mut p = MetadataResponsePartition::default();
                        p.partition_index = index;
                        p.leader_id = BrokerId(ctx.node_id);
                        p.leader_epoch = 0;
                        p.replica_nodes = vec![BrokerId(ctx.node_id)];
                        p.isr_nodes = vec![BrokerId(ctx.node_id)];
                        p
                    })
                    .collect();
            }
        }
        r.topics.push(out);
    }
    r
}

fn configs_of<'a>(
    pairs: impl Iterator<Item = (&'a StrBytes, &'a Option<StrBytes>)>,
) -> BTreeMap<String, String> {
    pairs.filter_map(|(k, v)| v.as_ref().map(|v| (k.to_string(), v.to_string()))).collect()
}

pub fn create_topics(ctx: &Context, request: CreateTopicsRequest) -> CreateTopicsResponse {
    let mut r = CreateTopicsResponse::default();
    for t in request.topics {
        let mut out = CreatableTopicResult::default();
        out.name = t.name.clone();
        out.num_partitions = -1;
        out.replication_factor = -1;
        let configs = configs_of(t.configs.iter().map(|c| (&c.name, &c.value)));
        let result = if t.assignments.is_empty() {
            ctx.state.create_topic(
                t.name.as_str(),
                t.num_partitions,
                t.replication_factor,
                configs,
                request.validate_only,
            )
        } else {
            Err((
                INVALID_REQUEST,
                "Manual partition assignment is not supported by a single broker.".into(),
            ))
        };
        match result {
            Ok(()) => {
                let partitions = ctx
                    .state
                    .topic(t.name.as_str())
                    .map_or(t.num_partitions, |t| t.partitions().len() as i32);
                out.num_partitions = partitions;
                out.replication_factor = 1;
            }
            Err((code, message)) => {
                out.error_code = code;
                out.error_message = Some(s(message));
            }
        }
        r.topics.push(out);
    }
    r
}

pub fn delete_topics(ctx: &Context, request: DeleteTopicsRequest) -> DeleteTopicsResponse {
    let names: Vec<TopicName> = if ctx.version >= 6 {
        request.topics.into_iter().filter_map(|t| t.name).collect()
    } else {
        request.topic_names
    };
    let mut r = DeleteTopicsResponse::default();
    for name in names {
        let mut out = DeletableTopicResult::default();
        if let Err((code, message)) = ctx.state.delete_topic(name.as_str()) {
            out.error_code = code;
            if ctx.version >= 5 {
                out.error_message = Some(s(message));
            }
        }
        out.name = Some(name);
        r.responses.push(out);
    }
    r
}

pub fn create_partitions(
    ctx: &Context,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut r = CreatePartitionsResponse::default();
    for t in request.topics {
        let mut out = CreatePartitionsTopicResult::default();
        if let Err((code, message)) =
            ctx.state.add_partitions(t.name.as_str(), t.count, request.validate_only)
        {
            out.error_code = code;
            out.error_message = Some(s(message));
        }
        out.name = t.name;
        r.results.push(out);
    }
    r
}

/// Every setting of a topic with its value and source; a broker has none
/// that clients may change.
pub fn describe_configs(ctx: &Context, request: DescribeConfigsRequest) -> DescribeConfigsResponse {
    let mut r = DescribeConfigsResponse::default();
    for resource in request.resources {
        let mut out = DescribeConfigsResult::default();
        out.resource_type = resource.resource_type;
        out.resource_name = resource.resource_name.clone();
        match resource.resource_type {
            RESOURCE_TOPIC => match ctx.state.topic(resource.resource_name.as_str()) {
                None => {
                    out.error_code = UNKNOWN_TOPIC_OR_PARTITION;
                    out.error_message = Some(s(format!(
                        "Topic '{}' does not exist.",
                        resource.resource_name.as_str()
                    )));
                }
                Some(topic) => {
                    let wanted = resource.configuration_keys.as_ref();
                    out.configs = topic
                        .config()
                        .describe()
                        .filter(|(name, _, _)| {
                            wanted.is_none_or(|w| w.iter().any(|k| k.as_str() == *name))
                        })
                        .map(|(name, value, default)| {
                            let mut c = DescribeConfigsResourceResult::default();
                            c.name = s(name);
                            c.value = Some(s(value));
                            c.config_source =
                                if default { DEFAULT_CONFIG } else { DYNAMIC_TOPIC_CONFIG };
                            c
                        })
                        .collect();
                }
            },
            RESOURCE_BROKER => {}
            _ => {
                out.error_code = INVALID_REQUEST;
                out.error_message = Some(s("Only topic and broker configs can be described."));
            }
        }
        r.results.push(out);
    }
    r
}

/// AlterConfigs replaces every override of a topic with those given.
pub fn alter_configs(ctx: &Context, request: AlterConfigsRequest) -> AlterConfigsResponse {
    let mut r = AlterConfigsResponse::default();
    for resource in request.resources {
        let configs = configs_of(resource.configs.iter().map(|c| (&c.name, &c.value)));
        let result = alter(
            ctx,
            resource.resource_type,
            resource.resource_name.as_str(),
            |_| Ok(configs),
            request.validate_only,
        );
        let mut out = AlterConfigsResourceResponse::default();
        if let Err((code, message)) = result {
            out.error_code = code;
            out.error_message = Some(s(message));
        }
        out.resource_type = resource.resource_type;
        out.resource_name = resource.resource_name;
        r.responses.push(out);
    }
    r
}

/// IncrementalAlterConfigs sets, deletes, appends to or subtracts from
/// single settings and leaves the others.
pub fn incremental_alter_configs(
    ctx: &Context,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut r = IncrementalAlterConfigsResponse::default();
    for resource in request.resources {
        let ops = resource.configs.clone();
        let change = move |mut current: BTreeMap<String, String>| -> Result<BTreeMap<String, String>, Refusal> {
            for op in &ops {
                let name = op.name.to_string();
                let value = op.value.as_ref().map(|v| v.to_string()).unwrap_or_default();
                match op.config_operation {
                    0 => {
                        current.insert(name, value);
                    }
                    1 => {
                        current.remove(&name);
                    }
                    2 | 3 => {
                        let mut list: Vec<String> = current
                            .get(&name)
                            .map(|v| v.split(',').map(str::to_string).filter(|p| !p.is_empty()).collect())
                            .unwrap_or_default();
                        if op.config_operation == 2 {
                            if !list.contains(&value) {
                                list.push(value);
                            }
                        } else {
                            list.retain(|p| *p != value);
                        }
                        current.insert(name, list.join(","));
                    }
                    other => return Err((INVALID_REQUEST, format!("Unknown config operation {other} for {name}"))),
                }
            }
            Ok(current)
        };
        let result = alter(
            ctx,
            resource.resource_type,
            resource.resource_name.as_str(),
            change,
            request.validate_only,
        );
        let mut out = IncrementalResult::default();
        if let Err((code, message)) = result {
            out.error_code = code;
            out.error_message = Some(s(message));
        }
        out.resource_type = resource.resource_type;
        out.resource_name = resource.resource_name;
        r.responses.push(out);
    }
    r
}

fn alter(
    ctx: &Context,
    resource_type: i8,
    name: &str,
    change: impl FnOnce(BTreeMap<String, String>) -> Result<BTreeMap<String, String>, Refusal>,
    validate_only: bool,
) -> Result<(), Refusal> {
    if resource_type != RESOURCE_TOPIC {
        return Err((INVALID_CONFIG, "Only topic configs can be changed on this broker.".into()));
    }
    let Some(topic) = ctx.state.topic(name) else {
        return Err((UNKNOWN_TOPIC_OR_PARTITION, format!("Topic '{name}' does not exist.")));
    };
    let configs = change(topic.config().overrides.clone())?;
    ctx.state.set_configs(name, configs, validate_only)
}
