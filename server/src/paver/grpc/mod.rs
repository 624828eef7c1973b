//! PaverService over the Paver domain: requests in, domain calls, responses
//! or statuses out. No business rules live here.

pub(crate) mod convert;

use roadroller_api::v1 as pb;
use roadroller_api::v1::paver_service_server::PaverService;
use tonic::{Request, Response, Status};

use super::{Paver, PaverError};
use crate::auth::grpc::caller;
use crate::grpc::status;
pub use convert::{grant, road_type, timestamp};
use convert::{road_to_pb, schema_to_pb};

/// The tonic service.
pub struct PaverGrpc {
    paver: Paver,
}

impl PaverGrpc {
    pub fn new(paver: Paver) -> Self {
        Self { paver }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn invalid(violations: Vec<crate::error::FieldViolation>) -> Status {
    status(&PaverError::InvalidRoad(violations))
}

/// A version number from a request: zero means none.
fn version(v: i32) -> Result<Option<u32>, Status> {
    match v {
        0 => Ok(None),
        v if v < 0 => {
            Err(status(&PaverError::InvalidSchema(vec![crate::error::FieldViolation::new(
                "version",
                format!("must not be negative, not {v}"),
            )])))
        }
        v => Ok(Some(v as u32)),
    }
}

#[tonic::async_trait]
impl PaverService for PaverGrpc {
    async fn create_road(
        &self,
        request: Request<pb::CreateRoadRequest>,
    ) -> Reply<pb::CreateRoadResponse> {
        let caller = caller(&request);
        let Some(road) = request.into_inner().road else {
            return Err(invalid(vec![crate::error::FieldViolation::new("road", "is required")]));
        };
        let new = convert::new_road(&road).map_err(invalid)?;
        let view = self.paver.create_road(&caller, new).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::CreateRoadResponse { road: Some(road_to_pb(&view)) }))
    }

    async fn get_road(&self, request: Request<pb::GetRoadRequest>) -> Reply<pb::GetRoadResponse> {
        let caller = caller(&request);
        let view =
            self.paver.get_road(&caller, &request.into_inner().name).map_err(|e| status(&e))?;
        Ok(Response::new(pb::GetRoadResponse { road: Some(road_to_pb(&view)) }))
    }

    async fn list_roads(
        &self,
        request: Request<pb::ListRoadsRequest>,
    ) -> Reply<pb::ListRoadsResponse> {
        let caller = caller(&request);
        let request = request.into_inner();
        if request.page_size < 0 {
            return Err(invalid(vec![crate::error::FieldViolation::new(
                "page_size",
                format!("must not be negative, not {}", request.page_size),
            )]));
        }
        let road_type = convert::road_type(request.r#type)
            .map_err(|e| invalid(vec![crate::error::FieldViolation::new("type", e)]))?;
        let (views, next_page_token) = self
            .paver
            .list_roads(&caller, request.page_size as usize, &request.page_token, road_type)
            .map_err(|e| status(&e))?;
        Ok(Response::new(pb::ListRoadsResponse {
            roads: views.iter().map(road_to_pb).collect(),
            next_page_token,
        }))
    }

    async fn update_road(
        &self,
        request: Request<pb::UpdateRoadRequest>,
    ) -> Reply<pb::UpdateRoadResponse> {
        let caller = caller(&request);
        let request = request.into_inner();
        let Some(road) = request.road else {
            return Err(invalid(vec![crate::error::FieldViolation::new("road", "is required")]));
        };
        let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
        let changes = convert::changes(&road, &paths).map_err(invalid)?;
        let etag = convert::etag(&road.etag).map_err(invalid)?;
        let view = self
            .paver
            .update_road(&caller, &road.name, etag, changes)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(pb::UpdateRoadResponse { road: Some(road_to_pb(&view)) }))
    }

    async fn delete_road(
        &self,
        request: Request<pb::DeleteRoadRequest>,
    ) -> Reply<pb::DeleteRoadResponse> {
        let caller = caller(&request);
        let request = request.into_inner();
        let etag = convert::etag(&request.etag).map_err(invalid)?;
        let view =
            self.paver.delete_road(&caller, &request.name, etag).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::DeleteRoadResponse { road: Some(road_to_pb(&view)) }))
    }

    async fn register_schema(
        &self,
        request: Request<pb::RegisterSchemaRequest>,
    ) -> Reply<pb::RegisterSchemaResponse> {
        let caller = caller(&request);
        let request = request.into_inner();
        let version = version(request.version)?;
        let schema = self
            .paver
            .register_schema(&caller, &request.road, &request.schema, version)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(pb::RegisterSchemaResponse {
            schema: Some(schema_to_pb(&request.road, &schema)),
        }))
    }

    async fn get_schema(
        &self,
        request: Request<pb::GetSchemaRequest>,
    ) -> Reply<pb::GetSchemaResponse> {
        let caller = caller(&request);
        let request = request.into_inner();
        let schema = self
            .paver
            .get_schema(&caller, &request.road, version(request.version)?)
            .map_err(|e| status(&e))?;
        Ok(Response::new(pb::GetSchemaResponse {
            schema: Some(schema_to_pb(&request.road, &schema)),
        }))
    }

    async fn list_schemas(
        &self,
        request: Request<pb::ListSchemasRequest>,
    ) -> Reply<pb::ListSchemasResponse> {
        let caller = caller(&request);
        let request = request.into_inner();
        let schemas = self
            .paver
            .list_schemas(&caller, &request.road, request.include_deleted)
            .map_err(|e| status(&e))?;
        Ok(Response::new(pb::ListSchemasResponse {
            schemas: schemas.iter().map(|s| schema_to_pb(&request.road, s)).collect(),
        }))
    }

    async fn delete_schema(
        &self,
        request: Request<pb::DeleteSchemaRequest>,
    ) -> Reply<pb::DeleteSchemaResponse> {
        let caller = caller(&request);
        let request = request.into_inner();
        let Some(v) = version(request.version)? else {
            return Err(status(&PaverError::InvalidSchema(vec![
                crate::error::FieldViolation::new("version", "is required"),
            ])));
        };
        let schema =
            self.paver.delete_schema(&caller, &request.road, v).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::DeleteSchemaResponse {
            schema: Some(schema_to_pb(&request.road, &schema)),
        }))
    }
}
