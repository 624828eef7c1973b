//! Consumer groups: coordinator lookup, membership, and offsets.

use std::time::Duration;

use kafka_protocol::messages::delete_groups_request::DeleteGroupsRequest;
use kafka_protocol::messages::delete_groups_response::{
    DeletableGroupResult, DeleteGroupsResponse,
};
use kafka_protocol::messages::describe_groups_request::DescribeGroupsRequest;
use kafka_protocol::messages::describe_groups_response::{
    DescribeGroupsResponse, DescribedGroup, DescribedGroupMember,
};
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::find_coordinator_response::{Coordinator, FindCoordinatorResponse};
use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;
use kafka_protocol::messages::heartbeat_response::HeartbeatResponse;
use kafka_protocol::messages::join_group_request::JoinGroupRequest;
use kafka_protocol::messages::join_group_response::{JoinGroupResponse, JoinGroupResponseMember};
use kafka_protocol::messages::leave_group_request::LeaveGroupRequest;
use kafka_protocol::messages::leave_group_response::{LeaveGroupResponse, MemberResponse};
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::messages::list_groups_response::{ListGroupsResponse, ListedGroup};
use kafka_protocol::messages::offset_commit_request::OffsetCommitRequest;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequest;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponse, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequest;
use kafka_protocol::messages::sync_group_response::SyncGroupResponse;
use kafka_protocol::messages::{BrokerId, GroupId, TopicName};

use super::{Context, s, write_io};
use crate::broker::groups::{Join, State, code};
use crate::broker::journal::Committed;
use crate::broker::state::code::{KAFKA_STORAGE_ERROR, UNKNOWN_TOPIC_OR_PARTITION};

const COORDINATOR_NOT_AVAILABLE: i16 = 15;

/// This broker coordinates every group.
pub fn find_coordinator(ctx: &Context, request: FindCoordinatorRequest) -> FindCoordinatorResponse {
    let mut r = FindCoordinatorResponse::default();
    if ctx.version >= 4 {
        r.coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let mut c = Coordinator::default();
                c.key = key;
                c.node_id = BrokerId(ctx.node_id);
                c.host = s(ctx.host.clone());
                c.port = ctx.port;
                c
            })
            .collect();
    } else {
        r.node_id = BrokerId(ctx.node_id);
        r.host = s(ctx.host.clone());
        r.port = ctx.port;
    }
    r
}

pub async fn join(ctx: &Context, request: JoinGroupRequest) -> JoinGroupResponse {
    let session_timeout = Duration::from_millis(request.session_timeout_ms.max(0) as u64);
    // Before v1 the session timeout was the rebalance timeout too.
    let rebalance_timeout = if request.rebalance_timeout_ms > 0 {
        Duration::from_millis(request.rebalance_timeout_ms as u64)
    } else {
        session_timeout
    };
    let join = Join {
        member_id: request.member_id.to_string(),
        client_id: ctx.client_id.clone(),
        client_host: ctx.client_host.clone(),
        session_timeout,
        rebalance_timeout,
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
    };
    let answer = ctx.state.groups.join(request.group_id.as_str(), join);
    let mut r = JoinGroupResponse::default();
    match answer.await {
        Ok(joined) => {
            r.error_code = joined.error;
            r.generation_id = if joined.error == code::NONE { joined.generation } else { -1 };
            r.protocol_type = joined.protocol_type.map(s);
            r.protocol_name = joined.protocol.map(s);
            if ctx.version < 7 && r.protocol_name.is_none() {
                // Not nullable before v7.
                r.protocol_name = Some(s(""));
            }
            r.leader = s(joined.leader);
            r.member_id = s(joined.member_id);
            r.members = joined
                .members
                .into_iter()
                .map(|(id, metadata)| {
                    let mut m = JoinGroupResponseMember::default();
                    m.member_id = s(id);
                    m.metadata = metadata;
                    m
                })
                .collect();
        }
        Err(_) => r.error_code = COORDINATOR_NOT_AVAILABLE,
    }
    r
}

pub async fn sync(ctx: &Context, request: SyncGroupRequest) -> SyncGroupResponse {
    let assignments =
        request.assignments.into_iter().map(|a| (a.member_id.to_string(), a.assignment)).collect();
    let answer = ctx.state.groups.sync(
        request.group_id.as_str(),
        request.member_id.as_str(),
        request.generation_id,
        assignments,
    );
    let mut r = SyncGroupResponse::default();
    match answer.await {
        Ok(synced) => {
            r.error_code = synced.error;
            r.protocol_type = synced.protocol_type.map(s);
            r.protocol_name = synced.protocol.map(s);
            r.assignment = synced.assignment;
        }
        Err(_) => r.error_code = COORDINATOR_NOT_AVAILABLE,
    }
    r
}

pub fn heartbeat(ctx: &Context, request: HeartbeatRequest) -> HeartbeatResponse {
    let mut r = HeartbeatResponse::default();
    r.error_code = ctx.state.groups.heartbeat(
        request.group_id.as_str(),
        request.member_id.as_str(),
        request.generation_id,
    );
    r
}

pub fn leave(ctx: &Context, request: LeaveGroupRequest) -> LeaveGroupResponse {
    let mut r = LeaveGroupResponse::default();
    let group = request.group_id.as_str();
    if ctx.version >= 3 {
        let ids: Vec<String> = request.members.iter().map(|m| m.member_id.to_string()).collect();
        let codes = ctx.state.groups.leave(group, &ids);
        r.members = request
            .members
            .into_iter()
            .zip(codes)
            .map(|(m, code)| {
                let mut out = MemberResponse::default();
                out.member_id = m.member_id;
                out.group_instance_id = m.group_instance_id;
                out.error_code = code;
                out
            })
            .collect();
    } else {
        r.error_code = ctx.state.groups.leave(group, &[request.member_id.to_string()])[0];
    }
    r
}

/// Commits are checked against the group's membership, then journalled
/// before the answer.
pub fn offset_commit(ctx: &Context, request: OffsetCommitRequest) -> OffsetCommitResponse {
    let group = request.group_id.as_str();
    let membership = ctx.state.groups.may_commit(
        group,
        request.member_id.as_str(),
        request.generation_id_or_member_epoch,
    );
    let mut r = OffsetCommitResponse::default();
    let mut accepted = Vec::new();
    for t in &request.topics {
        let topic = ctx.state.topic(t.name.as_str());
        let mut out = OffsetCommitResponseTopic::default();
        out.name = t.name.clone();
        for p in &t.partitions {
            let mut pr = OffsetCommitResponsePartition::default();
            pr.partition_index = p.partition_index;
            if membership != code::NONE {
                pr.error_code = membership;
            } else if topic.as_ref().and_then(|topic| topic.partition(p.partition_index)).is_none()
            {
                pr.error_code = UNKNOWN_TOPIC_OR_PARTITION;
            } else {
                accepted.push(Committed {
                    topic: t.name.to_string(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                });
            }
            out.partitions.push(pr);
        }
        r.topics.push(out);
    }
    if !accepted.is_empty()
        && let Err(e) = write_io(ctx, || ctx.state.commit(group, accepted))
    {
        tracing::error!(error = %e, group, "the broker journal could not record a commit");
        for p in r.topics.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
            if p.error_code == code::NONE {
                p.error_code = KAFKA_STORAGE_ERROR;
            }
        }
    }
    r
}

/// Committed offsets, -1 for a partition with none.
pub fn offset_fetch(ctx: &Context, request: OffsetFetchRequest) -> OffsetFetchResponse {
    let committed = ctx.state.committed(request.group_id.as_str());
    let mut r = OffsetFetchResponse::default();
    let entry = |partition: i32, found: Option<&(i64, Option<String>)>| {
        let mut p = OffsetFetchResponsePartition::default();
        p.partition_index = partition;
        p.committed_leader_epoch = -1;
        match found {
            Some((offset, metadata)) => {
                p.committed_offset = *offset;
                p.metadata = Some(s(metadata.clone().unwrap_or_default()));
            }
            None => {
                p.committed_offset = -1;
                p.metadata = Some(s(""));
            }
        }
        p
    };
    match request.topics {
        Some(topics) => {
            for t in topics {
                let mut out = OffsetFetchResponseTopic::default();
                out.name = t.name.clone();
                out.partitions = t
                    .partition_indexes
                    .iter()
                    .map(|p| entry(*p, committed.get(&(t.name.to_string(), *p))))
                    .collect();
                r.topics.push(out);
            }
        }
        None => {
            let mut by_topic: std::collections::BTreeMap<String, Vec<_>> = Default::default();
            for ((topic, p), found) in &committed {
                by_topic.entry(topic.clone()).or_default().push(entry(*p, Some(found)));
            }
            for (topic, partitions) in by_topic {
                let mut out = OffsetFetchResponseTopic::default();
                out.name = TopicName(s(topic));
                out.partitions = partitions;
                r.topics.push(out);
            }
        }
    }
    r
}

/// Groups with members or committed offsets.
pub fn list(ctx: &Context, _request: ListGroupsRequest) -> ListGroupsResponse {
    let mut groups: std::collections::BTreeMap<String, (String, State)> = ctx
        .state
        .groups
        .list()
        .into_iter()
        .map(|(name, protocol_type, state)| (name, (protocol_type, state)))
        .collect();
    for name in ctx.state.groups_with_offsets() {
        groups.entry(name).or_insert_with(|| ("consumer".into(), State::Empty));
    }
    let mut r = ListGroupsResponse::default();
    r.groups = groups
        .into_iter()
        .map(|(name, (protocol_type, state))| {
            let mut g = ListedGroup::default();
            g.group_id = GroupId(s(name));
            g.protocol_type = s(protocol_type);
            g.group_state = s(state.name());
            g
        })
        .collect();
    r
}

/// A group that does not exist is described as Dead, as Kafka does.
pub fn describe(ctx: &Context, request: DescribeGroupsRequest) -> DescribeGroupsResponse {
    let mut r = DescribeGroupsResponse::default();
    for group_id in request.groups {
        let mut d = DescribedGroup::default();
        d.group_id = group_id.clone();
        let described = ctx.state.groups.describe(group_id.as_str(), |g| {
            (g.state, g.protocol_type.clone(), g.protocol.clone(), g.members())
        });
        let has_offsets = ctx.state.groups_with_offsets().iter().any(|n| n == group_id.as_str());
        match described {
            Some((state, protocol_type, protocol, members)) => {
                d.group_state = s(state.name());
                d.protocol_type = s(protocol_type.unwrap_or_default());
                d.protocol_data = s(protocol.unwrap_or_default());
                d.members = members
                    .into_iter()
                    .map(|m| {
                        let mut out = DescribedGroupMember::default();
                        out.member_id = s(m.id);
                        out.client_id = s(m.client_id);
                        out.client_host = s(m.client_host);
                        out.member_metadata = m.metadata;
                        out.member_assignment = m.assignment;
                        out
                    })
                    .collect();
            }
            None if has_offsets => {
                d.group_state = s("Empty");
                d.protocol_type = s("consumer");
            }
            None => d.group_state = s("Dead"),
        }
        r.groups.push(d);
    }
    r
}

/// Deletes groups without members, and their offsets.
pub fn delete(ctx: &Context, request: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let mut r = DeleteGroupsResponse::default();
    for group_id in request.groups_names {
        let mut result = DeletableGroupResult::default();
        let name = group_id.as_str().to_string();
        result.group_id = group_id;
        let known = ctx.state.groups.describe(&name, |_| ()).is_some();
        result.error_code = match ctx.state.groups.delete(&name) {
            code::NONE => match write_io(ctx, || ctx.state.delete_group(&name)) {
                Ok(had_offsets) if had_offsets || known => code::NONE,
                Ok(_) => code::GROUP_ID_NOT_FOUND,
                Err(e) => {
                    tracing::error!(error = %e, group = %name, "the broker journal could not record a group deletion");
                    KAFKA_STORAGE_ERROR
                }
            },
            refused => refused,
        };
        r.results.push(result);
    }
    r
}
