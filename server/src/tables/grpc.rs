//! TableService over the Tables domain.

use std::time::Duration;

use roadroller_api::v1 as pb;
use roadroller_api::v1::table_service_server::TableService;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use super::{Entry, Offsets, ReadOptions, TableError, Tables};
use crate::auth::grpc::caller;
use crate::error::FieldViolation;
use crate::grpc::status;
use crate::paver::grpc::convert::grant;
use crate::roads::Grant;

/// The tonic service.
pub struct TableGrpc {
    tables: Tables,
}

impl TableGrpc {
    pub fn new(tables: Tables) -> Self {
        Self { tables }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn grants(values: &[i32]) -> Result<Vec<Grant>, Status> {
    values
        .iter()
        .map(|g| grant(*g))
        .collect::<Result<_, _>>()
        .map_err(|e| status(&TableError::Invalid(vec![FieldViolation::new("grants", e)])))
}

/// When to stop waiting for the view: a little before the caller's
/// deadline (the `grpc-timeout` header), so that the answer that says why
/// (VIEW_BEHIND) arrives before the caller gives up.
fn deadline(metadata: &MetadataMap) -> Option<tokio::time::Instant> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (amount, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = amount.parse().ok()?;
    let timeout = match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    };
    let margin = (timeout / 10).min(Duration::from_millis(200));
    tokio::time::Instant::now().checked_add(timeout - margin)
}

fn options(
    metadata: &MetadataMap,
    min_offsets: Option<pb::PartitionOffsets>,
    fail_if_behind: bool,
    asked: &[i32],
) -> Result<ReadOptions, Status> {
    Ok(ReadOptions {
        min_offsets: min_offsets.map(|m| m.offsets.into_iter().collect()).unwrap_or_default(),
        fail_if_behind,
        deadline: deadline(metadata),
        grants: grants(asked)?,
    })
}

fn entry_to_pb(e: Entry) -> pb::Entry {
    pb::Entry {
        key: e.key,
        payload: e.payload,
        schema_version: e.schema_version as i32,
        partition: e.partition,
        offset: e.offset,
        timestamp: Some(roadroller_api::timestamp_from_millis(e.timestamp_ms)),
    }
}

fn offsets_to_pb(offsets: Offsets) -> Option<pb::PartitionOffsets> {
    Some(pb::PartitionOffsets { offsets: offsets.into_iter().collect() })
}

#[tonic::async_trait]
impl TableService for TableGrpc {
    async fn get_entry(
        &self,
        request: Request<pb::GetEntryRequest>,
    ) -> Reply<pb::GetEntryResponse> {
        let caller = caller(&request);
        let (metadata, _, r) = request.into_parts();
        let options = options(&metadata, r.min_offsets, r.fail_if_behind, &r.grants)?;
        if r.key.is_empty() {
            let violation = FieldViolation::new("key", "is required");
            return Err(status(&TableError::Invalid(vec![violation])));
        }
        let (mut entries, offsets) = self
            .tables
            .get(&caller, &r.road, vec![r.key], options)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(pb::GetEntryResponse {
            entry: entries.pop().flatten().map(entry_to_pb),
            view_offsets: offsets_to_pb(offsets),
        }))
    }

    async fn batch_get_entries(
        &self,
        request: Request<pb::BatchGetEntriesRequest>,
    ) -> Reply<pb::BatchGetEntriesResponse> {
        let caller = caller(&request);
        let (metadata, _, r) = request.into_parts();
        let options = options(&metadata, r.min_offsets, r.fail_if_behind, &r.grants)?;
        let keys = r.keys.clone();
        let (entries, offsets) =
            self.tables.get(&caller, &r.road, r.keys, options).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::BatchGetEntriesResponse {
            results: keys
                .into_iter()
                .zip(entries)
                .map(|(key, entry)| pb::EntryResult { key, entry: entry.map(entry_to_pb) })
                .collect(),
            view_offsets: offsets_to_pb(offsets),
        }))
    }

    async fn list_entries(
        &self,
        request: Request<pb::ListEntriesRequest>,
    ) -> Reply<pb::ListEntriesResponse> {
        let caller = caller(&request);
        let r = request.into_inner();
        let grants = grants(&r.grants)?;
        let (entries, next, offsets) = self
            .tables
            .list(&caller, &r.road, r.page_size, &r.page_token, r.key_prefix, grants)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(pb::ListEntriesResponse {
            entries: entries.into_iter().map(entry_to_pb).collect(),
            next_page_token: next,
            view_offsets: offsets_to_pb(offsets),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grpc_timeout_header_gives_the_deadline() {
        let mut metadata = MetadataMap::new();
        assert!(deadline(&metadata).is_none());
        metadata.insert("grpc-timeout", "1500m".parse().expect("value"));
        let left = deadline(&metadata).expect("deadline") - tokio::time::Instant::now();
        assert!(left <= Duration::from_millis(1350) && left > Duration::from_millis(1000));
        metadata.insert("grpc-timeout", "x".parse().expect("value"));
        assert!(deadline(&metadata).is_none());
    }
}
