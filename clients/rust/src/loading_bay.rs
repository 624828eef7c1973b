//! Loading Bay: a road's Hive destination, landings and snapshots on
//! demand, and the table's DDL.

use std::time::Duration;

use roadroller_api::v1 as pb;

use crate::{Client, Error};

impl Client {
    /// Turns the road's Hive destination on or off, keeping its interval.
    pub async fn set_hive_destination(&self, road: &str, enabled: bool) -> Result<pb::Road, Error> {
        let destination = pb::HiveDestination { enabled, ..Default::default() };
        self.update_road(
            pb::Road {
                name: road.into(),
                hive_destination: Some(destination),
                ..Default::default()
            },
            &["hive_destination.enabled"],
        )
        .await
    }

    /// Sets how often the road is landed (5 minutes to 1 day).
    pub async fn set_landing_interval(
        &self,
        road: &str,
        every: Duration,
    ) -> Result<pb::Road, Error> {
        let destination =
            pb::HiveDestination { landing_interval: every.try_into().ok(), ..Default::default() };
        self.update_road(
            pb::Road {
                name: road.into(),
                hive_destination: Some(destination),
                ..Default::default()
            },
            &["hive_destination.landing_interval"],
        )
        .await
    }

    /// Turns a COMPACTED road's daily snapshot on or off; `time` is `HH:MM`
    /// in UTC, empty for midnight.
    pub async fn set_daily_snapshot(
        &self,
        road: &str,
        enabled: bool,
        time: &str,
    ) -> Result<pb::Road, Error> {
        let snapshot = pb::HiveSnapshot { enabled, time: time.into() };
        let destination = pb::HiveDestination { snapshot: Some(snapshot), ..Default::default() };
        self.update_road(
            pb::Road {
                name: road.into(),
                hive_destination: Some(destination),
                ..Default::default()
            },
            &["hive_destination.snapshot"],
        )
        .await
    }

    /// Lands the road now and waits for the landing to commit.
    pub async fn land(&self, road: &str) -> Result<pb::LandResponse, Error> {
        let request = pb::LandRequest { road: road.into() };
        Ok(self.loading_bay.clone().land(request).await?.into_inner())
    }

    /// Takes today's snapshot of a COMPACTED road now (after landing it)
    /// and waits for it to commit; returns today's committed one if taken.
    pub async fn snapshot_table(&self, road: &str) -> Result<pb::SnapshotResponse, Error> {
        let request = pb::SnapshotRequest { road: road.into() };
        Ok(self.loading_bay.clone().snapshot(request).await?.into_inner())
    }

    /// The road's table: its location, committed partitions and Hive DDL.
    pub async fn hive_table(&self, road: &str) -> Result<pb::GetTableResponse, Error> {
        let request = pb::GetTableRequest { road: road.into() };
        Ok(self.loading_bay.clone().get_table(request).await?.into_inner())
    }
}
