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

impl LoadingBayGrpc {
    fn landings(&self, outcome: &super::Outcome) -> Vec<pb::Landing> {
        outcome
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
            .collect()
    }
}

#[tonic::async_trait]
impl LoadingBayService for LoadingBayGrpc {
    async fn land(&self, request: Request<pb::LandRequest>) -> Reply<pb::LandResponse> {
        let caller = caller(&request);
        let road = request.into_inner().road;
        let outcome = self.bay.land_now(&caller, &road).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::LandResponse {
            landings: self.landings(&outcome),
            offsets: outcome.offsets.into_iter().collect(),
        }))
    }

    async fn snapshot(&self, request: Request<pb::SnapshotRequest>) -> Reply<pb::SnapshotResponse> {
        let caller = caller(&request);
        let road = request.into_inner().road;
        let (landed, taken) =
            self.bay.snapshot_now(&caller, &road).await.map_err(|e| status(&e))?;
        let s = &taken.snapshot;
        Ok(Response::new(pb::SnapshotResponse {
            landings: self.landings(&landed),
            snapshot: Some(pb::TableSnapshot {
                snapshot_date: s.date.clone(),
                location: self.bay.snapshot_location(s),
                keys: s.keys as i64,
                files: s.files.len() as i32,
                offsets: s.offsets.clone().into_iter().collect(),
                through_acquisition_instant: s.through.clone(),
                previous_snapshot_date: s.after.clone(),
                commit_time: Some(roadroller_api::timestamp_from_millis(s.committed_ms)),
            }),
            taken_now: taken.now,
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
            snapshot_ddl: table.snapshot_ddl,
            snapshot_partitions: table.snapshot_partitions,
        }))
    }
}
