//! The Roadroller the gateway speaks to: one gRPC client per service over a
//! shared channel, and a short-lived cache of road types.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roadroller_api::v1 as pb;
use roadroller_api::v1::offramp_service_client::OfframpServiceClient;
use roadroller_api::v1::onramp_service_client::OnrampServiceClient;
use roadroller_api::v1::paver_service_client::PaverServiceClient;
use roadroller_api::v1::stream_service_client::StreamServiceClient;
use roadroller_api::v1::table_service_client::TableServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::error::ApiError;
use crate::forward::Forward;

/// A channel whose requests carry the caller's credentials.
pub type Forwarding = InterceptedService<Channel, Forward>;

/// A road's type is immutable, so it may be remembered; the time to live only
/// bounds how long a road that was deleted and created again with the other
/// type is misread (its records are then refused upstream, never miswritten).
const ROAD_TYPE_TTL: Duration = Duration::from_secs(5);

/// Past this many entries, expired ones are dropped on the next insert.
const ROAD_TYPE_PRUNE_AT: usize = 1024;

#[derive(Clone)]
pub struct Upstream {
    channel: Channel,
    pub paver: PaverServiceClient<Forwarding>,
    pub onramp: OnrampServiceClient<Forwarding>,
    pub offramp: OfframpServiceClient<Forwarding>,
    pub streams: StreamServiceClient<Forwarding>,
    pub tables: TableServiceClient<Forwarding>,
    road_types: Arc<Mutex<HashMap<String, (pb::RoadType, Instant)>>>,
}

impl Upstream {
    pub fn new(channel: Channel) -> Self {
        Self::clients(channel, Forward::default(), Arc::default())
    }

    /// The same upstream, speaking for the caller that `forward` describes.
    pub fn forwarding(&self, forward: Forward) -> Self {
        Self::clients(self.channel.clone(), forward, self.road_types.clone())
    }

    fn clients(
        channel: Channel,
        forward: Forward,
        road_types: Arc<Mutex<HashMap<String, (pb::RoadType, Instant)>>>,
    ) -> Self {
        let with = |c: &Channel| InterceptedService::new(c.clone(), forward.clone());
        Self {
            paver: PaverServiceClient::new(with(&channel)),
            onramp: OnrampServiceClient::new(with(&channel)),
            offramp: OfframpServiceClient::new(with(&channel)),
            streams: StreamServiceClient::new(with(&channel)),
            tables: TableServiceClient::new(with(&channel)),
            channel,
            road_types,
        }
    }

    /// The road named `name`, from Paver.
    pub async fn road(&self, name: &str) -> Result<pb::Road, ApiError> {
        let request = pb::GetRoadRequest { name: name.to_string() };
        let response = self
            .paver
            .clone()
            .get_road(request)
            .await
            .map_err(|s| ApiError::from_status(&s, name))?;
        let road = response
            .into_inner()
            .road
            .ok_or_else(|| ApiError::bad_upstream("GetRoad answered without a road"))?;
        self.remember(&road);
        Ok(road)
    }

    /// The type of road `name`, which decides the shape of its messages.
    pub async fn road_type(&self, name: &str) -> Result<pb::RoadType, ApiError> {
        if let Some(known) = self.cached(name) {
            return Ok(known);
        }
        let road = self.road(name).await?;
        known_type(&road)
    }

    fn cached(&self, name: &str) -> Option<pb::RoadType> {
        let cache = self.road_types.lock().ok()?;
        cache.get(name).filter(|(_, at)| at.elapsed() < ROAD_TYPE_TTL).map(|(t, _)| *t)
    }

    fn remember(&self, road: &pb::Road) {
        let Ok(road_type) = known_type(road) else { return };
        let Ok(mut cache) = self.road_types.lock() else { return };
        if cache.len() >= ROAD_TYPE_PRUNE_AT {
            cache.retain(|_, (_, at)| at.elapsed() < ROAD_TYPE_TTL);
        }
        cache.insert(road.name.clone(), (road_type, Instant::now()));
    }
}

fn known_type(road: &pb::Road) -> Result<pb::RoadType, ApiError> {
    match pb::RoadType::try_from(road.r#type) {
        Ok(t @ (pb::RoadType::Stream | pb::RoadType::Compacted)) => Ok(t),
        _ => Err(ApiError::bad_upstream(format!(
            "road {:?} has type {}, which this gateway does not know",
            road.name, road.r#type
        ))),
    }
}
