//! Streams: the named positions of a road's subscribers (Kafka consumer
//! groups `roadroller.<road>.<stream>`), their lag, and moving or
//! forgetting a position while nobody reads from it. The domain knows
//! nothing of gRPC; `grpc` adapts it to StreamService.

mod error;
pub mod grpc;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use error::StreamError;

use crate::auth::{Action, Caller, Guard};
use crate::error::FieldViolation;
use crate::kafka::Kafka;
use crate::roads::registry::Registry;
use crate::roads::{StatusBoard, rules};

/// One partition of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionLag {
    pub partition: i32,
    /// `None`: nothing committed.
    pub committed: Option<i64>,
    pub end: i64,
    pub lag: i64,
}

/// A stream and its lag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamView {
    pub road: String,
    pub name: String,
    pub group: String,
    pub state: String,
    pub members: usize,
    pub partitions: Vec<PartitionLag>,
    pub lag: i64,
}

/// Where a reset moves a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResetTo {
    Earliest,
    Latest,
    /// Milliseconds since the epoch.
    Timestamp(i64),
    Offsets(BTreeMap<i32, i64>),
}

/// The stream domain service.
#[derive(Clone)]
pub struct Streams {
    kafka: Kafka,
    registry: Registry,
    board: Arc<StatusBoard>,
    topic_prefix: String,
    guard: Guard,
}

/// A stream's position moves only while nobody reads it: its members'
/// commits would race with the move.
fn unattended(
    road: &str,
    stream: &str,
    group: &crate::kafka::GroupInfo,
) -> Result<(), StreamError> {
    // A group between generations may list no member yet while one joins.
    let joining = matches!(group.state.as_str(), "PreparingRebalance" | "CompletingRebalance");
    if group.members == 0 && !joining {
        return Ok(());
    }
    Err(StreamError::HasMembers {
        road: road.into(),
        stream: stream.into(),
        members: group.members,
    })
}

/// The consumer group of a road's stream.
pub fn group_of(road: &str, stream: &str) -> String {
    format!("roadroller.{road}.{stream}")
}

impl Streams {
    pub fn new(
        kafka: Kafka,
        registry: Registry,
        board: Arc<StatusBoard>,
        topic_prefix: String,
        guard: Guard,
    ) -> Self {
        Self { kafka, registry, board, topic_prefix, guard }
    }

    fn kafka_error(e: impl std::fmt::Display) -> StreamError {
        StreamError::Kafka(e.to_string())
    }

    /// The road's topic and partitions, after the caller's right to it.
    fn road(&self, road: &str) -> Result<(String, i32), StreamError> {
        if let Err(e) = rules::name(road) {
            return Err(StreamError::Invalid(vec![FieldViolation::new("road", e)]));
        }
        if self.registry.get(road).is_none() {
            return Err(StreamError::RoadNotFound(road.to_string()));
        }
        let status = self.board.get(road);
        if !status.topic_created {
            return Err(StreamError::TopicNotReady(road.to_string()));
        }
        Ok((format!("{}{road}", self.topic_prefix), status.partitions.max(1)))
    }

    fn stream_name(stream: &str) -> Result<(), StreamError> {
        rules::name(stream)
            .map_err(|e| StreamError::Invalid(vec![FieldViolation::new("stream", e)]))
    }

    /// Every stream of `road`.
    pub async fn list(&self, caller: &Caller, road: &str) -> Result<Vec<StreamView>, StreamError> {
        self.guard.read(caller, road, None)?;
        let (topic, partitions) = self.road(road)?;
        let prefix = format!("roadroller.{road}.");
        let groups = self.kafka.groups(&prefix).await.map_err(Self::kafka_error)?;
        let mut views = Vec::with_capacity(groups.len());
        for g in groups {
            let name = g.name[prefix.len()..].to_string();
            // `roadroller.a.b.c` is stream `b.c` of road `a` only if such a
            // name could be a stream; road `a.b` does not exist (no dots).
            if rules::name(&name).is_err() {
                continue;
            }
            views.push(self.view(road, &name, &topic, partitions, g.state, g.members).await?);
        }
        Ok(views)
    }

    /// One stream of `road`.
    pub async fn get(
        &self,
        caller: &Caller,
        road: &str,
        stream: &str,
    ) -> Result<StreamView, StreamError> {
        self.guard.read(caller, road, None)?;
        let (topic, partitions) = self.road(road)?;
        Self::stream_name(stream)?;
        let group = self.existing(road, stream).await?;
        self.view(road, stream, &topic, partitions, group.state, group.members).await
    }

    /// Moves a stream that has no members.
    pub async fn reset(
        &self,
        caller: &Caller,
        road: &str,
        stream: &str,
        to: ResetTo,
    ) -> Result<StreamView, StreamError> {
        self.administer(caller, road)?;
        let (topic, partitions) = self.road(road)?;
        Self::stream_name(stream)?;
        let name = group_of(road, stream);
        if let Some(group) = self.kafka.group(&name).await.map_err(Self::kafka_error)? {
            unattended(road, stream, &group)?;
        }
        let offsets = match to {
            ResetTo::Earliest | ResetTo::Latest => {
                let mut offsets = BTreeMap::new();
                for p in 0..partitions {
                    let (low, high) =
                        self.kafka.watermarks(&topic, p).await.map_err(Self::kafka_error)?;
                    offsets.insert(p, if to == ResetTo::Earliest { low } else { high });
                }
                offsets
            }
            ResetTo::Timestamp(ms) => self
                .kafka
                .offsets_for_time(&topic, partitions, ms)
                .await
                .map_err(Self::kafka_error)?,
            ResetTo::Offsets(offsets) => {
                let bad: Vec<FieldViolation> = offsets
                    .iter()
                    .filter(|(p, o)| **p < 0 || **p >= partitions || **o < 0)
                    .map(|(p, o)| {
                        FieldViolation::new(
                            format!("to.offsets[{p}]"),
                            format!("the road has partitions 0 to {}; offsets are not negative (got {o})", partitions - 1),
                        )
                    })
                    .collect();
                if !bad.is_empty() {
                    return Err(StreamError::Invalid(bad));
                }
                offsets
            }
        };
        if let Err(e) = self.kafka.commit_for(&name, &topic, &offsets).await {
            // The coordinator refuses a commit from outside a group that
            // gained a member since it was asked (or is gaining one): that
            // is the caller's precondition, not an outage.
            if let Some(group) = self.kafka.group(&name).await.map_err(Self::kafka_error)? {
                unattended(road, stream, &group)?;
            }
            return Err(StreamError::Kafka(format!("committing the new position of {name}: {e}")));
        }
        let what = format!("reset stream {stream} to {offsets:?}");
        self.guard.changed(
            caller,
            Action::ChangeRoad,
            format!("road/{road}/stream/{stream}"),
            what,
        );
        let group = self.existing(road, stream).await?;
        self.view(road, stream, &topic, partitions, group.state, group.members).await
    }

    /// Deletes a stream that has no members.
    pub async fn delete(
        &self,
        caller: &Caller,
        road: &str,
        stream: &str,
    ) -> Result<(), StreamError> {
        self.administer(caller, road)?;
        self.road(road)?;
        Self::stream_name(stream)?;
        let group = self.existing(road, stream).await?;
        unattended(road, stream, &group)?;
        if let Err(e) = self.kafka.delete_group(&group.name).await {
            // As for a reset: a member that joined meanwhile is the reason.
            if let Some(now) = self.kafka.group(&group.name).await.map_err(Self::kafka_error)? {
                unattended(road, stream, &now)?;
            }
            return Err(Self::kafka_error(e));
        }
        let what = format!("deleted stream {stream}");
        self.guard.changed(
            caller,
            Action::ChangeRoad,
            format!("road/{road}/stream/{stream}"),
            what,
        );
        Ok(())
    }

    /// (road, stream, lag) of every stream of every road, for the metrics.
    pub async fn lags(&self) -> Result<Vec<(String, String, i64)>, StreamError> {
        let groups = self.kafka.groups("roadroller.").await.map_err(Self::kafka_error)?;
        let mut lags = Vec::new();
        for g in groups {
            // Neither a road's nor a stream's name holds a dot.
            let Some((road, stream)) = g.name["roadroller.".len()..].split_once('.') else {
                continue;
            };
            let Ok((topic, partitions)) = self.road(road) else { continue };
            if rules::name(stream).is_err() {
                continue;
            }
            let view = self.view(road, stream, &topic, partitions, g.state, g.members).await?;
            lags.push((road.to_string(), stream.to_string(), view.lag));
        }
        Ok(lags)
    }

    fn administer(&self, caller: &Caller, road: &str) -> Result<(), StreamError> {
        let current = self.registry.get(road);
        self.guard.administer(
            caller,
            Action::ChangeRoad,
            road,
            current.as_ref().map(|v| &*v.road),
        )?;
        Ok(())
    }

    async fn existing(
        &self,
        road: &str,
        stream: &str,
    ) -> Result<crate::kafka::GroupInfo, StreamError> {
        self.kafka
            .group(&group_of(road, stream))
            .await
            .map_err(Self::kafka_error)?
            .ok_or_else(|| StreamError::StreamNotFound { road: road.into(), stream: stream.into() })
    }

    async fn view(
        &self,
        road: &str,
        stream: &str,
        topic: &str,
        partitions: i32,
        state: String,
        members: usize,
    ) -> Result<StreamView, StreamError> {
        let group = group_of(road, stream);
        let committed =
            self.kafka.committed(&group, topic, partitions).await.map_err(Self::kafka_error)?;
        let mut lags = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let (low, end) = self.kafka.watermarks(topic, p).await.map_err(Self::kafka_error)?;
            let committed = committed.get(&p).copied().flatten();
            let from = committed.unwrap_or(low).max(low);
            lags.push(PartitionLag { partition: p, committed, end, lag: (end - from).max(0) });
        }
        let lag = lags.iter().map(|l| l.lag).sum();
        Ok(StreamView {
            road: road.into(),
            name: stream.into(),
            group,
            state,
            members,
            partitions: lags,
            lag,
        })
    }
}
