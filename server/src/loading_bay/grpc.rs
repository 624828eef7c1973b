//! LoadingBayService over the Loading Bay domain.

use roadroller_api::v1 as pb;
use roadroller_api::v1::loading_bay_service_server::LoadingBayService;
use tonic::{Request, Response, Status};

use super::LoadingBay;
use crate::auth::grpc::caller;
use crate::grpc::status;

pub struct LoadingBayGrpc {
    bay: LoadingBay,
}

impl LoadingBayGrpc {
    pub fn new(bay: LoadingBay) -> Self {
        Self { bay }
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl LoadingBayService for LoadingBayGrpc {
    async fn land(&self, request: Request<pb::LandRequest>) -> Reply<pb::LandResponse> {
        let caller = caller(&request);
        let road = request.into_inner().road;
        let outcome = self.bay.land_now(&caller, &road).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::LandResponse {
            landings: outcome
                .committed
                .iter()
                .map(|m| pb::Landing {
                    acquisition_instant: m.instant.clone(),
                    location: self.bay.location(m),
                    records: m.records as i64,
                    files: m.files.len() as i32,
                    offsets: m.offsets.clone().into_iter().collect(),
                    commit_time: Some(roadroller_api::timestamp_from_millis(m.committed_ms)),
                })
                .collect(),
            offsets: outcome.offsets.into_iter().collect(),
        }))
    }

    async fn get_table(
        &self,
        request: Request<pb::GetTableRequest>,
    ) -> Reply<pb::GetTableResponse> {
        let caller = caller(&request);
        let road = request.into_inner().road;
        let table = self.bay.table(&caller, &road).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::GetTableResponse {
            name: table.name,
            location: table.location,
            ddl: table.ddl,
            partitions: table.partitions,
        }))
    }
}
