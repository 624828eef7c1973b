//! Daily snapshots of COMPACTED roads: one row per live key, its latest
//! value as of the snapshot's offsets, rolled from the previous snapshot and
//! the landings since (see `roll` for how memory stays bounded).
//!
//! A road's snapshots live next to its table, under `<road>_snapshot/`:
//!
//! - `snapshot_date=<YYYY-MM-DD>/` holds one snapshot's Parquet files
//!   (rolled at the target file size) and, written last, its
//!   `_manifest.json`, the commit. A
//!   date has one snapshot, never replaced, since Hive readers read its
//!   directory whole.
//! - `_loading_bay/snapshot-<date>.json` is the plan, created only if
//!   absent: which snapshot and landings it rolls and into how many buckets.
//!   A snapshot interrupted at any step is redone from it with the same
//!   inputs, so it writes the same files; any other file in the directory is
//!   deleted before the commit.
//!
//! The landings are the input rather than the topic, because compaction may
//! already have removed a delete whose key the previous snapshot holds.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::error::LandingError;
use super::landing::{Lander, Manifest, Offsets, layout_of, now_ms, partition_dir};
use super::roll::{self, Merged, Spill};
use crate::roads::{Road, RoadType};

/// A snapshot: planned (without files) or committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotManifest {
    pub road: String,
    /// The road's creation time, as for landings.
    pub road_created_ms: i64,
    /// The `snapshot_date` partition value.
    pub date: String,
    /// The date of the previous snapshot rolled into this one; empty when
    /// there was none.
    pub after: String,
    /// The `acquisition_instant` of the last landing rolled in; empty when
    /// there was none.
    pub through: String,
    /// Partition → next offset: the snapshot holds every record before.
    pub offsets: Offsets,
    pub buckets: u32,
    /// The schema version whose columns the files have.
    pub schema_version: u32,
    #[serde(default)]
    pub files: Vec<SnapshotFile>,
    /// Live keys: the snapshot's rows.
    #[serde(default)]
    pub keys: u64,
    #[serde(default)]
    pub committed_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotFile {
    pub name: String,
    pub keys: u64,
    pub bytes: u64,
}

/// What a call to [`Lander::snapshot`] found or did.
#[derive(Clone, Debug)]
pub struct Taken {
    pub snapshot: SnapshotManifest,
    /// False when the date's snapshot was committed already.
    pub now: bool,
}

pub fn table_dir(road: &str) -> String {
    format!("{road}_snapshot")
}

pub fn snapshot_dir(road: &str, date: &str) -> String {
    format!("{}/snapshot_date={date}", table_dir(road))
}

fn manifest_key(road: &str, date: &str) -> String {
    format!("{}/_manifest.json", snapshot_dir(road, date))
}

fn plan_key(road: &str, date: &str) -> String {
    format!("{}/_loading_bay/snapshot-{date}.json", table_dir(road))
}

/// The UTC date `skew_days` after today's, as `YYYY-MM-DD`.
pub fn date(at: SystemTime, skew_days: i64) -> String {
    let day = Duration::from_secs(86_400 * skew_days.unsigned_abs());
    let at = if skew_days < 0 { at - day } else { at + day };
    humantime::format_rfc3339_seconds(at).to_string()[..10].to_string()
}

impl Lander {
    /// The committed snapshots of this incarnation of the road, oldest
    /// first.
    pub async fn snapshots(&self, road: &Road) -> Result<Vec<SnapshotManifest>, LandingError> {
        let mut dates: Vec<String> = self
            .warehouse
            .dirs(&table_dir(&road.name))
            .await?
            .into_iter()
            .filter_map(|d| d.strip_prefix("snapshot_date=").map(str::to_string))
            .collect();
        dates.sort_unstable();
        let mut committed = Vec::new();
        for date in &dates {
            if let Some(s) = self.read_manifest(road, &manifest_key(&road.name, date)).await?
                && s.road_created_ms == road.create_time_ms
            {
                committed.push(s);
            }
        }
        Ok(committed)
    }

    /// The committed snapshot of `date`, if any.
    pub async fn snapshot_on(
        &self,
        road: &Road,
        date: &str,
    ) -> Result<Option<SnapshotManifest>, LandingError> {
        Ok(self
            .read_manifest(road, &manifest_key(&road.name, date))
            .await?
            .filter(|s| s.road_created_ms == road.create_time_ms))
    }

    /// Takes the road's snapshot of `date` from what the table holds, unless
    /// it is taken already (then returns it).
    pub async fn snapshot(&self, road: &Road, date: &str) -> Result<Taken, LandingError> {
        if road.road_type() != RoadType::Compacted {
            return Err(LandingError::NotCompacted(road.name.clone()));
        }
        if let Some(done) = self.snapshot_on(road, date).await? {
            return Ok(Taken { snapshot: done, now: false });
        }
        let plan = match self.plan(road, date).await? {
            Some(plan) => plan,
            None => {
                let committed = self.snapshots(road).await?;
                let plan = self.new_plan(road, date, &committed).await?;
                let text = serde_json::to_vec_pretty(&plan).expect("a manifest serializes");
                if self.warehouse.create(&plan_key(&road.name, date), text).await? {
                    plan
                } else {
                    // Another instance planned it first: roll its plan.
                    self.plan(road, date).await?.unwrap_or(plan)
                }
            }
        };
        let snapshot = self.roll(road, plan).await?;
        self.warehouse.delete(&plan_key(&road.name, date)).await?;
        Ok(Taken { snapshot, now: true })
    }

    async fn new_plan(
        &self,
        road: &Road,
        date: &str,
        committed: &[SnapshotManifest],
    ) -> Result<SnapshotManifest, LandingError> {
        let schema =
            road.latest_schema().ok_or_else(|| LandingError::NoSchema(road.name.clone()))?;
        let previous = committed.iter().rev().find(|s| s.date.as_str() < date);
        let landings = self.rolled_in(road, previous, None).await?;
        let input_bytes = previous.map_or(0, |p| p.files.iter().map(|f| f.bytes).sum::<u64>())
            + landings.iter().flat_map(|m| &m.files).map(|f| f.bytes).sum::<u64>();
        let (through, offsets) = match (landings.last(), previous) {
            (Some(last), _) => (last.instant.clone(), last.offsets.clone()),
            (None, Some(p)) => (p.through.clone(), p.offsets.clone()),
            (None, None) => Default::default(),
        };
        Ok(SnapshotManifest {
            road: road.name.clone(),
            road_created_ms: road.create_time_ms,
            date: date.to_string(),
            after: previous.map(|p| p.date.clone()).unwrap_or_default(),
            through,
            offsets,
            buckets: roll::buckets_for(input_bytes, self.snapshot_memory),
            schema_version: schema.version,
            files: Vec::new(),
            keys: 0,
            committed_ms: 0,
        })
    }

    /// The committed landings after the previous snapshot's, up to
    /// `through` (inclusive) when given.
    async fn rolled_in(
        &self,
        road: &Road,
        previous: Option<&SnapshotManifest>,
        through: Option<&str>,
    ) -> Result<Vec<Manifest>, LandingError> {
        let after = previous.map(|p| p.through.as_str()).unwrap_or_default();
        Ok(self
            .committed(road)
            .await?
            .into_iter()
            .filter(|m| {
                m.instant.as_str() > after && through.is_none_or(|t| m.instant.as_str() <= t)
            })
            .collect())
    }

    async fn plan(
        &self,
        road: &Road,
        date: &str,
    ) -> Result<Option<SnapshotManifest>, LandingError> {
        Ok(self
            .read_manifest(road, &plan_key(&road.name, date))
            .await?
            .filter(|p| p.road_created_ms == road.create_time_ms))
    }

    async fn read_manifest(
        &self,
        road: &Road,
        key: &str,
    ) -> Result<Option<SnapshotManifest>, LandingError> {
        let Some(bytes) = self.warehouse.get(key).await? else { return Ok(None) };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| LandingError::Manifest {
            road: road.name.clone(),
            instant: key.to_string(),
            why: e.to_string(),
        })
    }

    /// Rolls the planned inputs into the snapshot's files and commits it;
    /// a snapshot committed already (by another instance) is returned as it
    /// is.
    async fn roll(
        &self,
        road: &Road,
        mut plan: SnapshotManifest,
    ) -> Result<SnapshotManifest, LandingError> {
        let manifest = manifest_key(&road.name, &plan.date);
        if let Some(done) = self.read_manifest(road, &manifest).await? {
            return Ok(done);
        }
        let encode = |why: String| LandingError::Encode { road: road.name.clone(), why };
        let previous = match plan.after.as_str() {
            "" => None,
            after => {
                Some(self.read_manifest(road, &manifest_key(&road.name, after)).await?.ok_or_else(
                    || LandingError::Manifest {
                        road: road.name.clone(),
                        instant: format!("snapshot {after}"),
                        why: "the previous snapshot is gone".into(),
                    },
                )?)
            }
        };
        let landings = self.rolled_in(road, previous.as_ref(), Some(&plan.through)).await?;
        // Source 0 is the previous snapshot (its files hold distinct keys),
        // then each landing in order.
        let mut inputs: Vec<(u32, String)> = Vec::new();
        if let Some(p) = &previous {
            let dir = snapshot_dir(&road.name, &p.date);
            inputs.extend(p.files.iter().map(|f| (0, format!("{dir}/{}", f.name))));
        }
        for (rank, landing) in landings.iter().enumerate() {
            let dir = partition_dir(&road.name, &landing.instant);
            inputs.extend(
                landing.files.iter().map(|f| (rank as u32 + 1, format!("{dir}/{}", f.name))),
            );
        }

        let table = layout_of(road, RoadType::Compacted, plan.schema_version)?.schema();
        let mut spill =
            Spill::new(table, plan.buckets, &self.spill_dir).map_err(|e| encode(e.to_string()))?;
        for (source, key) in inputs {
            let bytes = self.warehouse.get(&key).await?.ok_or_else(|| LandingError::Manifest {
                road: road.name.clone(),
                instant: key.clone(),
                why: "a file the manifest lists is missing".into(),
            })?;
            spill = tokio::task::spawn_blocking(move || spill.add(bytes, source).map(|()| spill))
                .await
                .map_err(|e| encode(e.to_string()))?
                .map_err(|e| encode(e.to_string()))?;
        }

        let (tx, mut rx) = mpsc::channel::<Merged>(1);
        let (budget, target) = (self.snapshot_memory, self.target_file_bytes);
        let merging = tokio::task::spawn_blocking(move || {
            spill.merge(budget, target, |merged| {
                tx.blocking_send(merged).map_err(|_| {
                    arrow_schema::ArrowError::IoError(
                        "the upload of a snapshot file stopped".into(),
                        std::io::Error::other("receiver gone"),
                    )
                })
            })
        });
        let dir = snapshot_dir(&road.name, &plan.date);
        let mut files = Vec::new();
        while let Some(merged) = rx.recv().await {
            if merged.keys == 0 {
                continue;
            }
            let name = format!("{}-{}-{:05}.parquet", road.name, plan.date, merged.index);
            let bytes = merged.bytes.len() as u64;
            self.warehouse.put(&format!("{dir}/{name}"), merged.bytes).await?;
            files.push(SnapshotFile { name, keys: merged.keys, bytes });
        }
        merging.await.map_err(|e| encode(e.to_string()))?.map_err(|e| encode(e.to_string()))?;
        // Files of an earlier attempt that this one did not write again.
        for name in self.warehouse.files(&dir).await? {
            if name != "_manifest.json" && !files.iter().any(|f| f.name == name) {
                self.warehouse.delete(&format!("{dir}/{name}")).await?;
            }
        }
        plan.keys = files.iter().map(|f| f.keys).sum();
        plan.files = files;
        plan.committed_ms = now_ms();
        let text = serde_json::to_vec_pretty(&plan).expect("a manifest serializes");
        if !self.warehouse.create(&manifest, text).await? {
            return self.read_manifest(road, &manifest).await?.ok_or_else(|| {
                LandingError::Storage("a manifest was reported present, then absent".into())
            });
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_days_shifted_by_the_skew() {
        let at = humantime::parse_rfc3339("2026-12-31T23:59:59Z").expect("time");
        assert_eq!(date(at, 0), "2026-12-31");
        assert_eq!(date(at, 1), "2027-01-01");
        assert_eq!(date(at, -31), "2026-11-30");
    }
}
