//! Streams: their lag, and moving or deleting their positions.

use roadroller_api::v1 as pb;

use crate::{Client, Error};

/// Where [`Client::reset_stream`] moves a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamPosition {
    Earliest,
    Latest,
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    /// Partition to the next offset to read.
    Offsets(std::collections::BTreeMap<i32, i64>),
}

impl StreamPosition {
    fn pb(self) -> pb::StreamPosition {
        use pb::stream_position::To;
        let to = match self {
            StreamPosition::Earliest => To::Boundary(pb::ResetBoundary::Earliest as i32),
            StreamPosition::Latest => To::Boundary(pb::ResetBoundary::Latest as i32),
            StreamPosition::Timestamp(ms) => {
                To::Timestamp(roadroller_api::timestamp_from_millis(ms))
            }
            StreamPosition::Offsets(o) => {
                To::Offsets(pb::PartitionPositions { offsets: o.into_iter().collect() })
            }
        };
        pb::StreamPosition { to: Some(to) }
    }
}

impl Client {
    /// Every stream of `road`, with its lag.
    pub async fn list_streams(&self, road: &str) -> Result<Vec<pb::Stream>, Error> {
        let request = pb::ListStreamsRequest { road: road.into() };
        Ok(self.streams.clone().list_streams(request).await?.into_inner().streams)
    }

    /// One stream: per partition its committed offset, end and lag.
    pub async fn stream(&self, road: &str, stream: &str) -> Result<pb::Stream, Error> {
        let request = pb::GetStreamRequest { road: road.into(), stream: stream.into() };
        let response = self.streams.clone().get_stream(request).await?;
        response
            .into_inner()
            .stream
            .ok_or_else(|| Error::Protocol("GetStream returned no stream".into()))
    }

    /// Moves a stream that has no subscribers connected.
    pub async fn reset_stream(
        &self,
        road: &str,
        stream: &str,
        to: StreamPosition,
    ) -> Result<pb::Stream, Error> {
        let request =
            pb::ResetStreamRequest { road: road.into(), stream: stream.into(), to: Some(to.pb()) };
        let response = self.streams.clone().reset_stream(request).await?;
        response
            .into_inner()
            .stream
            .ok_or_else(|| Error::Protocol("ResetStream returned no stream".into()))
    }

    /// Deletes a stream that has no subscribers connected.
    pub async fn delete_stream(&self, road: &str, stream: &str) -> Result<(), Error> {
        let request = pb::DeleteStreamRequest { road: road.into(), stream: stream.into() };
        self.streams.clone().delete_stream(request).await?;
        Ok(())
    }
}
