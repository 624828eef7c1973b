//! Roads for tests: builders, and roads made ready through Paver.

use std::time::Duration;

use roadroller_api::v1 as pb;

use crate::{TestServer, eventually};

/// A STREAM road to create.
pub fn stream_road(name: &str) -> pb::Road {
    pb::Road { name: name.to_string(), r#type: pb::RoadType::Stream as i32, ..Default::default() }
}

/// A COMPACTED road to create, with a short compaction lag.
pub fn compacted_road(name: &str, min_compaction_lag: Duration) -> pb::Road {
    pb::Road {
        name: name.to_string(),
        r#type: pb::RoadType::Compacted as i32,
        compaction: Some(pb::Compaction {
            min_compaction_lag: Some(duration(min_compaction_lag)),
            tombstone_retention: None,
        }),
        ..Default::default()
    }
}

pub fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration { seconds: d.as_secs() as i64, nanos: d.subsec_nanos() as i32 }
}

/// Creates `road` and waits until its topic exists; returns the road.
pub async fn create_road_ready(server: &TestServer, road: pb::Road) -> pb::Road {
    let name = road.name.clone();
    let mut paver = server.paver().await;
    paver.create_road(pb::CreateRoadRequest { road: Some(road) }).await.expect("create road");
    eventually(Duration::from_secs(10), "the road's topic", || {
        let mut paver = paver.clone();
        let name = name.clone();
        async move {
            let road = paver.get_road(pb::GetRoadRequest { name }).await.ok()?.into_inner().road?;
            road.status.as_ref().is_some_and(|s| s.topic_created).then_some(road)
        }
    })
    .await
}

/// Creates `road` with `schema`, waits for its topic and enables it.
pub async fn open_road(server: &TestServer, road: pb::Road, schema: serde_json::Value) -> pb::Road {
    let name = road.name.clone();
    create_road_ready(server, road).await;
    let mut paver = server.paver().await;
    paver
        .register_schema(pb::RegisterSchemaRequest {
            road: name.clone(),
            schema: schema.to_string(),
            version: 0,
        })
        .await
        .expect("register schema");
    let enable = pb::Road { name, enabled: true, ..Default::default() };
    paver
        .update_road(pb::UpdateRoadRequest {
            road: Some(enable),
            update_mask: Some(prost_types::FieldMask { paths: vec!["enabled".into()] }),
        })
        .await
        .expect("enable road")
        .into_inner()
        .road
        .expect("road")
}
