//! Roads and schemas.

use std::time::Duration;

use prost_types::FieldMask;
use roadroller_api::v1 as pb;

use crate::{Client, Error};

impl Client {
    /// Creates a road; see `pb::Road` for what each field means.
    pub async fn create_road(&self, road: pb::Road) -> Result<pb::Road, Error> {
        let response =
            self.paver.clone().create_road(pb::CreateRoadRequest { road: Some(road) }).await?;
        response
            .into_inner()
            .road
            .ok_or_else(|| Error::Protocol("CreateRoad returned no road".into()))
    }

    pub async fn get_road(&self, name: &str) -> Result<pb::Road, Error> {
        let response =
            self.paver.clone().get_road(pb::GetRoadRequest { name: name.into() }).await?;
        response.into_inner().road.ok_or_else(|| Error::Protocol("GetRoad returned no road".into()))
    }

    /// Every road (of `road_type`, when given), following the pages.
    pub async fn list_roads(
        &self,
        road_type: Option<pb::RoadType>,
    ) -> Result<Vec<pb::Road>, Error> {
        let mut roads = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = pb::ListRoadsRequest {
                page_size: 500,
                page_token,
                r#type: road_type.map_or(0, |t| t as i32),
            };
            let page = self.paver.clone().list_roads(request).await?.into_inner();
            roads.extend(page.roads);
            if page.next_page_token.is_empty() {
                return Ok(roads);
            }
            page_token = page.next_page_token;
        }
    }

    /// Changes the fields named in `paths` (field-mask paths such as
    /// `description` or `compaction.min_compaction_lag`) to their values in
    /// `road`. A non-empty `road.etag` makes the update conditional.
    pub async fn update_road(&self, road: pb::Road, paths: &[&str]) -> Result<pb::Road, Error> {
        let update_mask = Some(FieldMask { paths: paths.iter().map(|p| p.to_string()).collect() });
        let response = self
            .paver
            .clone()
            .update_road(pb::UpdateRoadRequest { road: Some(road), update_mask })
            .await?;
        response
            .into_inner()
            .road
            .ok_or_else(|| Error::Protocol("UpdateRoad returned no road".into()))
    }

    /// Enables or disables a road.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<pb::Road, Error> {
        self.update_road(
            pb::Road { name: name.into(), enabled, ..Default::default() },
            &["enabled"],
        )
        .await
    }

    /// Waits until Traffic Control has created the road's topic, then
    /// enables the road.
    pub async fn enable_when_ready(&self, name: &str, within: Duration) -> Result<pb::Road, Error> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let road = self.get_road(name).await?;
            if road.status.as_ref().is_some_and(|s| s.topic_created) {
                return self.set_enabled(name, true).await;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Closed(format!(
                    "the topic of road {name:?} was not created within {within:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asks for the road's deletion; it must be disabled.
    pub async fn delete_road(&self, name: &str) -> Result<pb::Road, Error> {
        let request = pb::DeleteRoadRequest { name: name.into(), etag: String::new() };
        let response = self.paver.clone().delete_road(request).await?;
        response
            .into_inner()
            .road
            .ok_or_else(|| Error::Protocol("DeleteRoad returned no road".into()))
    }

    /// Registers a schema version (`None`: the next number).
    pub async fn register_schema(
        &self,
        road: &str,
        schema: &str,
        version: Option<u32>,
    ) -> Result<pb::Schema, Error> {
        let request = pb::RegisterSchemaRequest {
            road: road.into(),
            schema: schema.into(),
            version: version.map_or(0, |v| v as i32),
        };
        let response = self.paver.clone().register_schema(request).await?;
        response
            .into_inner()
            .schema
            .ok_or_else(|| Error::Protocol("RegisterSchema returned no schema".into()))
    }

    /// A schema version, or the latest non-deleted one.
    pub async fn get_schema(&self, road: &str, version: Option<u32>) -> Result<pb::Schema, Error> {
        let request =
            pb::GetSchemaRequest { road: road.into(), version: version.map_or(0, |v| v as i32) };
        let response = self.paver.clone().get_schema(request).await?;
        response
            .into_inner()
            .schema
            .ok_or_else(|| Error::Protocol("GetSchema returned no schema".into()))
    }

    pub async fn list_schemas(
        &self,
        road: &str,
        include_deleted: bool,
    ) -> Result<Vec<pb::Schema>, Error> {
        let request = pb::ListSchemasRequest { road: road.into(), include_deleted };
        Ok(self.paver.clone().list_schemas(request).await?.into_inner().schemas)
    }

    pub async fn delete_schema(&self, road: &str, version: u32) -> Result<pb::Schema, Error> {
        let request = pb::DeleteSchemaRequest { road: road.into(), version: version as i32 };
        let response = self.paver.clone().delete_schema(request).await?;
        response
            .into_inner()
            .schema
            .ok_or_else(|| Error::Protocol("DeleteSchema returned no schema".into()))
    }
}
