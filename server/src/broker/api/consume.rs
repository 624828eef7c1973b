//! Fetch and ListOffsets.

use std::time::Duration;

use futures::future::select_all;
use kafka_protocol::messages::BrokerId;
use kafka_protocol::messages::fetch_request::FetchRequest;
use kafka_protocol::messages::fetch_response::{
    FetchResponse, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::list_offsets_request::ListOffsetsRequest;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use tokio::sync::watch;

use super::Context;
use crate::broker::log::LogError;
use crate::broker::state::code::{KAFKA_STORAGE_ERROR, UNKNOWN_TOPIC_OR_PARTITION};

const OFFSET_OUT_OF_RANGE: i16 = 1;
/// A fetch never waits longer than this, whatever it asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

/// Reads each partition from its fetch offset; if fewer than `min_bytes`
/// are there, waits for appends to any of them up to `max_wait_ms`.
/// `max_bytes` bounds the answer and `partition_max_bytes` each partition,
/// except that the first batch found is always sent whole (KIP-74).
pub async fn fetch(ctx: &Context, request: FetchRequest) -> FetchResponse {
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = tokio::time::Instant::now() + wait;
    let mut watches: Vec<watch::Receiver<i64>> = request
        .topics
        .iter()
        .filter_map(|t| ctx.state.topic(t.topic.as_str()).map(|topic| (t, topic)))
        .flat_map(|(t, topic)| {
            t.partitions
                .iter()
                .filter_map(move |p| topic.partition(p.partition))
                .collect::<Vec<_>>()
        })
        .map(|p| p.log.watch_end())
        .collect();
    loop {
        for w in &mut watches {
            w.borrow_and_update();
        }
        // Reads come from the page cache: too quick to hand the worker off.
        let (response, bytes, failed) = read(ctx, &request);
        let enough = bytes >= request.min_bytes.max(0) as usize;
        if enough || failed || watches.is_empty() || tokio::time::Instant::now() >= deadline {
            return response;
        }
        let changed = select_all(watches.iter_mut().map(|w| Box::pin(w.changed())));
        match tokio::time::timeout_at(deadline, changed).await {
            Ok((Ok(()), _, _)) => {}
            // A timeout, or a log that went away with its topic: answer now.
            _ => {
                return read(ctx, &request).0;
            }
        }
    }
}

/// One pass over the requested partitions: the answer, its record bytes,
/// and whether any partition answered with an error.
fn read(ctx: &Context, request: &FetchRequest) -> (FetchResponse, usize, bool) {
    let mut response = FetchResponse::default();
    let mut total = 0usize;
    let mut failed = false;
    let max_bytes = if request.max_bytes <= 0 { usize::MAX } else { request.max_bytes as usize };
    for t in &request.topics {
        let topic = ctx.state.topic(t.topic.as_str());
        let mut out = FetchableTopicResponse::default();
        out.topic = t.topic.clone();
        for p in &t.partitions {
            let mut data = PartitionData::default();
            data.partition_index = p.partition;
            data.high_watermark = -1;
            data.last_stable_offset = -1;
            data.log_start_offset = -1;
            data.preferred_read_replica = BrokerId(-1);
            match topic.as_ref().and_then(|topic| topic.partition(p.partition)) {
                None => {
                    data.error_code = UNKNOWN_TOPIC_OR_PARTITION;
                    failed = true;
                }
                Some(partition) => {
                    let room =
                        max_bytes.saturating_sub(total).min(p.partition_max_bytes.max(0) as usize);
                    // With no room left, later partitions report their
                    // watermarks and no records.
                    let limit = if room == 0 && total > 0 { 0 } else { room.max(1) };
                    let result = if limit == 0 {
                        Ok(None)
                    } else {
                        partition.log.read(p.fetch_offset, limit).map(Some)
                    };
                    data.high_watermark = partition.log.end();
                    data.last_stable_offset = data.high_watermark;
                    data.log_start_offset = partition.log.start();
                    match result {
                        Ok(Some(read)) => {
                            total += read.records.len();
                            data.records = Some(read.records);
                        }
                        Ok(None) => data.records = Some(Default::default()),
                        Err(LogError::OffsetOutOfRange { .. }) => {
                            data.error_code = OFFSET_OUT_OF_RANGE;
                            failed = true;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, topic = %t.topic.as_str(), "read from the log failed");
                            data.error_code = KAFKA_STORAGE_ERROR;
                            failed = true;
                        }
                    }
                }
            }
            out.partitions.push(data);
        }
        response.responses.push(out);
    }
    (response, total, failed)
}

/// Earliest (-2), latest (-1), or the first offset at or after a
/// timestamp (offset -1 when there is none).
pub fn list_offsets(ctx: &Context, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let mut response = ListOffsetsResponse::default();
    for t in request.topics {
        let topic = ctx.state.topic(t.name.as_str());
        let mut out = ListOffsetsTopicResponse::default();
        out.name = t.name.clone();
        for p in t.partitions {
            let mut r = ListOffsetsPartitionResponse::default();
            r.partition_index = p.partition_index;
            r.timestamp = -1;
            r.offset = -1;
            match topic.as_ref().and_then(|topic| topic.partition(p.partition_index)) {
                None => r.error_code = UNKNOWN_TOPIC_OR_PARTITION,
                Some(partition) => match p.timestamp {
                    -2 => r.offset = partition.log.start(),
                    t if t < 0 => r.offset = partition.log.end(),
                    t => match tokio::task::block_in_place(|| partition.log.offset_for_time(t)) {
                        Ok(Some((offset, timestamp))) => {
                            r.offset = offset;
                            r.timestamp = timestamp;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::error!(error = %e, "offset lookup by time failed");
                            r.error_code = KAFKA_STORAGE_ERROR;
                        }
                    },
                },
            }
            out.partitions.push(r);
        }
        response.topics.push(out);
    }
    response
}
