//! Traffic Control: makes Kafka match the roads. Runs in every instance and is
//! idempotent, so instances may reconcile the same road at once. It reacts to
//! every registry change and sweeps periodically (to notice topics changed
//! behind its back), and publishes what it sees on the status board.

mod desired;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::kafka::{Kafka, TopicInfo, TopicSpec};
use crate::paver::now_ms;
use crate::roads::registry::{Registry, RegistryError, Versioned};
use crate::roads::{ConfigDrift, RoadStatus, RoadType, StatusBoard};

/// How Traffic Control behaves.
#[derive(Clone, Debug)]
pub struct TrafficControlSettings {
    /// Whether this instance creates, alters and deletes topics. Status is
    /// observed either way.
    pub act: bool,
    pub topic_prefix: String,
    pub sweep_interval: Duration,
    pub message_count_interval: Duration,
    /// Zero means min(3, brokers).
    pub replication_factor: i32,
    /// Topics take records of Onramp's largest size and their framing.
    pub max_message_bytes: usize,
}

/// The reconciler of one instance.
pub struct TrafficControl {
    kafka: Kafka,
    registry: Registry,
    board: Arc<StatusBoard>,
    settings: TrafficControlSettings,
    last_count: Option<Instant>,
}

impl TrafficControl {
    pub fn new(
        kafka: Kafka,
        registry: Registry,
        board: Arc<StatusBoard>,
        settings: TrafficControlSettings,
    ) -> Self {
        Self { kafka, registry, board, settings, last_count: None }
    }

    /// Reconciles on every registry change and every sweep until `stop`.
    pub fn spawn(mut self, stop: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut changes = self.registry.changes();
            let mut sweep = tokio::time::interval(self.settings.sweep_interval);
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    changed = changes.changed() => if changed.is_err() { return },
                    _ = sweep.tick() => {}
                }
                changes.mark_unchanged();
                self.reconcile_all().await;
            }
        })
    }

    /// One pass over every road.
    pub async fn reconcile_all(&mut self) {
        let roads = self.registry.all();
        let (topics, _) = match self.kafka.topics().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "traffic control cannot read topic metadata");
                return;
            }
        };
        let existing: Vec<String> = roads
            .iter()
            .map(|v| self.topic_name(&v.road.name))
            .filter(|t| topics.contains_key(t))
            .collect();
        let configs = match self.kafka.topic_configs(&existing).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "traffic control cannot read topic configs");
                BTreeMap::new()
            }
        };
        let count_now =
            self.last_count.is_none_or(|at| at.elapsed() >= self.settings.message_count_interval);
        if count_now {
            self.last_count = Some(Instant::now());
        }
        for road in &roads {
            let topic = self.topic_name(&road.road.name);
            let status =
                self.reconcile(road, &topic, topics.get(&topic), configs.get(&topic)).await;
            if let Some(mut status) = status {
                status.message_count = match (count_now, status.topic_created) {
                    (true, true) => self
                        .kafka
                        .message_count(&topic, status.partitions)
                        .await
                        .unwrap_or_else(|_| self.board.get(&road.road.name).message_count),
                    (false, _) => self.board.get(&road.road.name).message_count,
                    (true, false) => 0,
                };
                self.board.set(&road.road.name, status);
            }
        }
        let names: std::collections::HashSet<&str> =
            roads.iter().map(|v| v.road.name.as_str()).collect();
        self.board.retain(|road| names.contains(road));
    }

    /// Reconciles one road; returns its status, or `None` once it is gone.
    async fn reconcile(
        &self,
        versioned: &Versioned,
        topic: &str,
        info: Option<&TopicInfo>,
        actual: Option<&BTreeMap<String, crate::kafka::ConfigValue>>,
    ) -> Option<RoadStatus> {
        let road = &versioned.road;
        let mut status = RoadStatus {
            topic_name: topic.to_string(),
            update_time_ms: now_ms(),
            ..RoadStatus::default()
        };
        if road.deleting {
            return self.delete(&road.name, topic, info.is_some(), status).await;
        }
        let wanted = desired::configs(road, self.settings.max_message_bytes);
        let Some(info) = info else {
            if !self.settings.act {
                return Some(status);
            }
            match self.create(road.partitions as i32, topic, &wanted).await {
                Ok(replication_factor) => {
                    tracing::info!(road = %road.name, %topic, "created topic");
                    status.topic_created = true;
                    status.partitions = road.partitions as i32;
                    status.replication_factor = replication_factor;
                }
                Err(problem) => {
                    tracing::warn!(road = %road.name, %topic, %problem, "cannot create topic");
                    status.last_problem = problem;
                }
            }
            return Some(status);
        };
        status.topic_created = true;
        status.partitions = info.partitions;
        status.replication_factor = info.replication_factor;

        let wanted_partitions = road.partitions as i32;
        if info.partitions < wanted_partitions
            && road.road_type() == RoadType::Stream
            && self.settings.act
        {
            match self.kafka.add_partitions(topic, road.partitions as usize).await {
                Ok(()) => {
                    tracing::info!(road = %road.name, %topic, partitions = road.partitions, "added partitions");
                    status.partitions = wanted_partitions;
                }
                Err(e) => status.last_problem = e.to_string(),
            }
        }
        if status.partitions != wanted_partitions {
            status.drift.push(ConfigDrift {
                config: "partitions".into(),
                expected: wanted_partitions.to_string(),
                actual: status.partitions.to_string(),
            });
        }

        let empty = BTreeMap::new();
        let actual = actual.unwrap_or(&empty);
        status.max_message_bytes = actual
            .get("max.message.bytes")
            .and_then(|v| v.value.as_deref())
            .and_then(|v| v.parse().ok());
        let mut drift = desired::drift(&wanted, actual);
        let correctable = drift.iter().any(|d| d.config != "cleanup.policy");
        if correctable && self.settings.act {
            let fixed = desired::corrected(&wanted, actual);
            match self.kafka.set_topic_configs(topic, &fixed).await {
                Ok(()) => {
                    tracing::info!(road = %road.name, %topic, drift = ?drift, "set topic configs to the road's");
                    status.max_message_bytes = Some(self.settings.max_message_bytes);
                    drift.retain(|d| d.config == "cleanup.policy");
                }
                Err(e) => status.last_problem = e.to_string(),
            }
        }
        for d in &drift {
            if d.config == "cleanup.policy" {
                tracing::warn!(
                    road = %road.name, %topic, expected = %d.expected, actual = %d.actual,
                    "topic cleanup.policy differs from the road's type; left as is"
                );
            }
        }
        status.drift.extend(drift);
        Some(status)
    }

    /// Creates the topic; returns its replication factor.
    async fn create(
        &self,
        partitions: i32,
        topic: &str,
        configs: &BTreeMap<String, String>,
    ) -> Result<i32, String> {
        let replication_factor = self
            .kafka
            .replication_factor(self.settings.replication_factor)
            .await
            .map_err(|e| e.to_string())?;
        let spec = TopicSpec {
            name: topic.to_string(),
            partitions,
            replication_factor,
            configs: configs.clone(),
        };
        self.kafka.create_topic(&spec).await.map_err(|e| e.to_string())?;
        Ok(replication_factor)
    }

    /// Deletes the topic, then the road.
    async fn delete(
        &self,
        road: &str,
        topic: &str,
        topic_exists: bool,
        mut status: RoadStatus,
    ) -> Option<RoadStatus> {
        if !self.settings.act {
            status.topic_created = topic_exists;
            return Some(status);
        }
        if topic_exists {
            if let Err(e) = self.kafka.delete_topic(topic).await {
                tracing::warn!(%road, %topic, error = %e, "cannot delete topic");
                status.topic_created = true;
                status.last_problem = e.to_string();
                return Some(status);
            }
            tracing::info!(%road, %topic, "deleted topic");
        }
        match self.registry.remove(road).await {
            Ok(()) => {
                tracing::info!(%road, "deleted road");
                None
            }
            Err(RegistryError::Conflict { .. }) => None,
            Err(e) => {
                status.last_problem = e.to_string();
                Some(status)
            }
        }
    }

    fn topic_name(&self, road: &str) -> String {
        format!("{}{road}", self.settings.topic_prefix)
    }
}
