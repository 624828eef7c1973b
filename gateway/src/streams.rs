//! `GET /offramp/v2/roads/{road}/streams/{stream}/lag`: how far a stream
//! lags, per partition, as JSON — Roadroller's addition to the Offramp API.

use axum::Json;
use axum::extract::Path;
use roadroller_api::v1 as pb;
use serde::Serialize;

use crate::error::ApiError;
use crate::forward::Calling;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamLag {
    road: String,
    stream: String,
    consumer_group: String,
    state: String,
    members: i32,
    lag: i64,
    partitions: Vec<PartitionLag>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartitionLag {
    partition: i32,
    /// -1 when nothing was committed.
    committed_offset: i64,
    end_offset: i64,
    lag: i64,
}

pub async fn lag(
    Calling(gateway): Calling,
    Path((road, stream)): Path<(String, String)>,
) -> Result<Json<StreamLag>, ApiError> {
    let request = pb::GetStreamRequest { road: road.clone(), stream };
    let s = gateway
        .upstream
        .streams
        .clone()
        .get_stream(request)
        .await
        .map_err(|s| ApiError::from_status(&s, &road))?
        .into_inner()
        .stream
        .ok_or_else(|| ApiError::bad_upstream("GetStream answered without a stream"))?;
    Ok(Json(StreamLag {
        road: s.road,
        stream: s.name,
        consumer_group: s.consumer_group,
        state: s.state,
        members: s.members,
        lag: s.lag,
        partitions: s
            .partitions
            .into_iter()
            .map(|p| PartitionLag {
                partition: p.partition,
                committed_offset: p.committed_offset,
                end_offset: p.end_offset,
                lag: p.lag,
            })
            .collect(),
    }))
}
