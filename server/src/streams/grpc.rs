//! StreamService over the stream domain.

use roadroller_api::v1 as pb;
use roadroller_api::v1::stream_service_server::StreamService;
use tonic::{Request, Response, Status};

use super::{ResetTo, StreamError, StreamView, Streams};
use crate::auth::grpc::caller;
use crate::error::FieldViolation;
use crate::grpc::status;

/// The tonic service.
pub struct StreamGrpc {
    streams: Streams,
}

impl StreamGrpc {
    pub fn new(streams: Streams) -> Self {
        Self { streams }
    }
}

fn stream_to_pb(v: StreamView) -> pb::Stream {
    pb::Stream {
        road: v.road,
        name: v.name,
        consumer_group: v.group,
        state: v.state,
        members: v.members as i32,
        partitions: v
            .partitions
            .into_iter()
            .map(|p| pb::PartitionLag {
                partition: p.partition,
                committed_offset: p.committed.unwrap_or(-1),
                end_offset: p.end,
                lag: p.lag,
            })
            .collect(),
        lag: v.lag,
    }
}

fn reset_to(to: Option<pb::StreamPosition>) -> Result<ResetTo, Status> {
    use pb::stream_position::To;
    let invalid = |why: &str| status(&StreamError::Invalid(vec![FieldViolation::new("to", why)]));
    match to.and_then(|t| t.to) {
        Some(To::Boundary(b)) => match pb::ResetBoundary::try_from(b) {
            Ok(pb::ResetBoundary::Earliest) => Ok(ResetTo::Earliest),
            Ok(pb::ResetBoundary::Latest) => Ok(ResetTo::Latest),
            _ => Err(invalid("boundary must be EARLIEST or LATEST")),
        },
        Some(To::Timestamp(t)) => Ok(ResetTo::Timestamp(roadroller_api::millis_of(&t))),
        Some(To::Offsets(o)) if !o.offsets.is_empty() => {
            Ok(ResetTo::Offsets(o.offsets.into_iter().collect()))
        }
        Some(To::Offsets(_)) => Err(invalid("offsets must name at least one partition")),
        None => Err(invalid("is required: a boundary, a timestamp or offsets")),
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl StreamService for StreamGrpc {
    async fn list_streams(
        &self,
        request: Request<pb::ListStreamsRequest>,
    ) -> Reply<pb::ListStreamsResponse> {
        let caller = caller(&request);
        let road = request.into_inner().road;
        let views = self.streams.list(&caller, &road).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::ListStreamsResponse {
            streams: views.into_iter().map(stream_to_pb).collect(),
        }))
    }

    async fn get_stream(
        &self,
        request: Request<pb::GetStreamRequest>,
    ) -> Reply<pb::GetStreamResponse> {
        let caller = caller(&request);
        let r = request.into_inner();
        let view = self.streams.get(&caller, &r.road, &r.stream).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::GetStreamResponse { stream: Some(stream_to_pb(view)) }))
    }

    async fn reset_stream(
        &self,
        request: Request<pb::ResetStreamRequest>,
    ) -> Reply<pb::ResetStreamResponse> {
        let caller = caller(&request);
        let r = request.into_inner();
        let to = reset_to(r.to)?;
        let view =
            self.streams.reset(&caller, &r.road, &r.stream, to).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::ResetStreamResponse { stream: Some(stream_to_pb(view)) }))
    }

    async fn delete_stream(
        &self,
        request: Request<pb::DeleteStreamRequest>,
    ) -> Reply<pb::DeleteStreamResponse> {
        let caller = caller(&request);
        let r = request.into_inner();
        self.streams.delete(&caller, &r.road, &r.stream).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::DeleteStreamResponse {}))
    }
}
