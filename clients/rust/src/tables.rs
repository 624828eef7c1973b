//! Key lookups on materialized COMPACTED roads (TableService).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use roadroller_api::v1 as pb;

use crate::{Client, Error, Outcome};

/// A key's live value, and where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    /// The JSON text as produced (PII blanked unless asked for and granted).
    pub payload: String,
    pub schema_version: u32,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<SystemTime>,
}

impl Entry {
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.payload)
    }
}

/// How a lookup is bounded.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Read-your-writes: partition to the offset after a write the answer
    /// must reflect (see [`offsets_after`]). The server waits for its view
    /// to get there, up to the call's deadline.
    pub min_offsets: BTreeMap<i32, i64>,
    /// Fail at once rather than wait when the view is short of
    /// `min_offsets`.
    pub fail_if_behind: bool,
    /// Ask for PII intact.
    pub pii: bool,
    /// The call's deadline (sent as `grpc-timeout`).
    pub timeout: Option<Duration>,
}

/// Partition to the offset after the last accepted record of `outcomes`:
/// the `min_offsets` that make a lookup see those writes.
pub fn offsets_after<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> BTreeMap<i32, i64> {
    let mut after = BTreeMap::new();
    for outcome in outcomes {
        if let Outcome::Accepted { partition, offset, .. } = outcome {
            let next = after.entry(*partition).or_insert(0);
            *next = (*next).max(offset + 1);
        }
    }
    after
}

fn entry(e: pb::Entry) -> Entry {
    Entry {
        key: e.key,
        payload: e.payload,
        schema_version: e.schema_version.max(0) as u32,
        partition: e.partition,
        offset: e.offset,
        timestamp: e.timestamp.and_then(|t| {
            let since = Duration::new(u64::try_from(t.seconds).ok()?, u32::try_from(t.nanos).ok()?);
            SystemTime::UNIX_EPOCH.checked_add(since)
        }),
    }
}

fn offsets(o: Option<pb::PartitionOffsets>) -> BTreeMap<i32, i64> {
    o.map(|o| o.offsets.into_iter().collect()).unwrap_or_default()
}

fn request<T>(message: T, timeout: Option<Duration>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(t) = timeout {
        request.set_timeout(t);
    }
    request
}

fn min_offsets(options: &ReadOptions) -> pb::PartitionOffsets {
    pb::PartitionOffsets { offsets: options.min_offsets.iter().map(|(p, o)| (*p, *o)).collect() }
}

fn grants(pii: bool) -> Vec<i32> {
    if pii { vec![pb::Grant::Pii as i32] } else { vec![] }
}

/// One page of [`Client::list_entries`].
#[derive(Clone, Debug, Default)]
pub struct EntryPage {
    pub entries: Vec<Entry>,
    /// Empty on the last page.
    pub next_page_token: String,
    /// The offsets the page reflects.
    pub view_offsets: BTreeMap<i32, i64>,
}

impl Client {
    /// Turns the view of a COMPACTED road on or off.
    pub async fn set_materialized(&self, road: &str, on: bool) -> Result<pb::Road, Error> {
        self.update_road(
            pb::Road { name: road.into(), materialized: on, ..Default::default() },
            &["materialized"],
        )
        .await
    }

    /// Polls materialized road `road` until this instance's view is ready
    /// (caught up with the topic's end as it was when the view started),
    /// and returns the road; a view still building answers reads with
    /// UNAVAILABLE, so this is the way to wait for it.
    pub async fn wait_for_table(&self, road: &str, within: Duration) -> Result<pb::Road, Error> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let found = self.get_road(road).await?;
            if !found.materialized {
                return Err(Error::Closed(format!("road {road:?} is not materialized")));
            }
            let table = found.table.clone().unwrap_or_default();
            if table.ready {
                return Ok(found);
            }
            if tokio::time::Instant::now() >= deadline {
                let problem = match table.last_problem.as_str() {
                    "" => "still catching up with the topic".to_string(),
                    problem => problem.to_string(),
                };
                return Err(Error::Closed(format!(
                    "the view of road {road:?} was not ready within {within:?}: {problem}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The live value of `key` (`None`: deleted or never written), and the
    /// offsets the answer reflects.
    pub async fn get(
        &self,
        road: &str,
        key: &str,
        options: &ReadOptions,
    ) -> Result<(Option<Entry>, BTreeMap<i32, i64>), Error> {
        let message = pb::GetEntryRequest {
            road: road.into(),
            key: key.into(),
            min_offsets: Some(min_offsets(options)),
            fail_if_behind: options.fail_if_behind,
            grants: grants(options.pii),
        };
        let answer =
            self.tables.clone().get_entry(request(message, options.timeout)).await?.into_inner();
        Ok((answer.entry.map(entry), offsets(answer.view_offsets)))
    }

    /// The live values of `keys`, one per key in order, all read at the
    /// same offsets (returned).
    pub async fn batch_get(
        &self,
        road: &str,
        keys: &[String],
        options: &ReadOptions,
    ) -> Result<(Vec<(String, Option<Entry>)>, BTreeMap<i32, i64>), Error> {
        let message = pb::BatchGetEntriesRequest {
            road: road.into(),
            keys: keys.to_vec(),
            min_offsets: Some(min_offsets(options)),
            fail_if_behind: options.fail_if_behind,
            grants: grants(options.pii),
        };
        let answer = self
            .tables
            .clone()
            .batch_get_entries(request(message, options.timeout))
            .await?
            .into_inner();
        let results = answer.results.into_iter().map(|r| (r.key, r.entry.map(entry))).collect();
        Ok((results, offsets(answer.view_offsets)))
    }

    /// A page of live entries in key order, of keys starting with `prefix`.
    pub async fn list_entries(
        &self,
        road: &str,
        prefix: &str,
        page_size: i32,
        page_token: &str,
        pii: bool,
    ) -> Result<EntryPage, Error> {
        let message = pb::ListEntriesRequest {
            road: road.into(),
            page_size,
            page_token: page_token.into(),
            key_prefix: prefix.into(),
            grants: grants(pii),
        };
        let answer = self.tables.clone().list_entries(message).await?.into_inner();
        Ok(EntryPage {
            entries: answer.entries.into_iter().map(entry).collect(),
            next_page_token: answer.next_page_token,
            view_offsets: offsets(answer.view_offsets),
        })
    }
}
