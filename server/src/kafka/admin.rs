//! Topic administration: create, describe, alter and delete topics, with
//! errors that name the topic.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{
    AdminOptions, AlterConfig, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::metadata::Metadata;

use super::Kafka;

/// How long an admin request may take before it counts as failed.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A topic as Roadroller wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub configs: BTreeMap<String, String>,
}

/// A topic as the cluster reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    pub partitions: i32,
    pub replication_factor: i32,
}

/// A topic config and whether someone set it (as opposed to a default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigValue {
    pub value: Option<String>,
    pub is_default: bool,
}

/// An admin operation failed on a topic.
#[derive(Debug, thiserror::Error)]
#[error("{operation} topic {topic}: {source}")]
pub struct AdminError {
    pub operation: &'static str,
    pub topic: String,
    #[source]
    pub source: KafkaError,
}

impl AdminError {
    fn new(operation: &'static str, topic: &str, source: KafkaError) -> Self {
        Self { operation, topic: topic.to_string(), source }
    }

    fn code(operation: &'static str, topic: &str, code: RDKafkaErrorCode) -> Self {
        Self::new(operation, topic, KafkaError::AdminOp(code))
    }
}

fn options() -> AdminOptions {
    AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT)).operation_timeout(Some(ADMIN_TIMEOUT))
}

impl Kafka {
    /// Creates a topic; `Ok(false)` when it already exists.
    pub async fn create_topic(&self, spec: &TopicSpec) -> Result<bool, AdminError> {
        let mut topic = NewTopic::new(
            &spec.name,
            spec.partitions,
            TopicReplication::Fixed(spec.replication_factor),
        );
        for (key, value) in &spec.configs {
            topic = topic.set(key, value);
        }
        let results = self
            .admin()
            .create_topics([&topic], &options())
            .await
            .map_err(|e| AdminError::new("create", &spec.name, e))?;
        match results.into_iter().next() {
            Some(Ok(_)) => Ok(true),
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => Ok(false),
            Some(Err((_, code))) => Err(AdminError::code("create", &spec.name, code)),
            None => Err(AdminError::code("create", &spec.name, RDKafkaErrorCode::Unknown)),
        }
    }

    /// Deletes a topic; `Ok(false)` when it did not exist.
    pub async fn delete_topic(&self, name: &str) -> Result<bool, AdminError> {
        let results = self
            .admin()
            .delete_topics(&[name], &options())
            .await
            .map_err(|e| AdminError::new("delete", name, e))?;
        match results.into_iter().next() {
            Some(Ok(_)) => Ok(true),
            Some(Err((_, RDKafkaErrorCode::UnknownTopicOrPartition))) => Ok(false),
            Some(Err((_, code))) => Err(AdminError::code("delete", name, code)),
            None => Err(AdminError::code("delete", name, RDKafkaErrorCode::Unknown)),
        }
    }

    /// Grows a topic to `total` partitions.
    pub async fn add_partitions(&self, name: &str, total: usize) -> Result<(), AdminError> {
        let results = self
            .admin()
            .create_partitions([&NewPartitions::new(name, total)], &options())
            .await
            .map_err(|e| AdminError::new("add partitions to", name, e))?;
        match results.into_iter().next() {
            Some(Ok(_)) => Ok(()),
            Some(Err((_, code))) => Err(AdminError::code("add partitions to", name, code)),
            None => Err(AdminError::code("add partitions to", name, RDKafkaErrorCode::Unknown)),
        }
    }

    /// The configs of each named topic; topics that do not exist are left
    /// out. One request for all of them.
    pub async fn topic_configs(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, BTreeMap<String, ConfigValue>>, AdminError> {
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let specifiers: Vec<ResourceSpecifier> =
            names.iter().map(|n| ResourceSpecifier::Topic(n)).collect();
        let results = self
            .admin()
            .describe_configs(&specifiers, &options())
            .await
            .map_err(|e| AdminError::new("describe", &names.join(","), e))?;
        let mut out = BTreeMap::new();
        for (name, result) in names.iter().zip(results) {
            match result {
                Ok(resource) => {
                    let configs = resource
                        .entries
                        .into_iter()
                        .map(|e| (e.name, ConfigValue { value: e.value, is_default: e.is_default }))
                        .collect();
                    out.insert(name.clone(), configs);
                }
                Err(RDKafkaErrorCode::UnknownTopicOrPartition) => {}
                Err(code) => return Err(AdminError::code("describe", name, code)),
            }
        }
        Ok(out)
    }

    /// Replaces the topic's configs with `configs` (Kafka's AlterConfigs
    /// replaces the whole set: pass every config to keep).
    pub async fn set_topic_configs(
        &self,
        name: &str,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), AdminError> {
        let mut alter = AlterConfig::new(ResourceSpecifier::Topic(name));
        for (key, value) in configs {
            alter = alter.set(key, value);
        }
        let results = self
            .admin()
            .alter_configs([&alter], &options())
            .await
            .map_err(|e| AdminError::new("alter", name, e))?;
        match results.into_iter().next() {
            Some(Ok(_)) => Ok(()),
            Some(Err((_, code))) => Err(AdminError::code("alter", name, code)),
            None => Err(AdminError::code("alter", name, RDKafkaErrorCode::Unknown)),
        }
    }

    /// Every topic with its partition count and replication factor, and the
    /// number of brokers.
    pub async fn topics(&self) -> Result<(BTreeMap<String, TopicInfo>, usize), KafkaError> {
        let metadata = self.metadata(None).await?;
        let topics = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| {
                let replication_factor =
                    t.partitions().first().map_or(0, |p| p.replicas().len() as i32);
                let info =
                    TopicInfo { partitions: t.partitions().len() as i32, replication_factor };
                (t.name().to_string(), info)
            })
            .collect();
        Ok((topics, metadata.brokers().len()))
    }

    /// The replication factor for new topics: `configured`, or min(3,
    /// brokers) when zero.
    pub async fn replication_factor(&self, configured: i32) -> Result<i32, KafkaError> {
        if configured > 0 {
            return Ok(configured);
        }
        let brokers = self.metadata(None).await?.brokers().len() as i32;
        Ok(brokers.clamp(1, 3))
    }

    /// The low and high watermark of one partition.
    pub async fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64), KafkaError> {
        let kafka = self.clone();
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || {
            kafka.admin().inner().fetch_watermarks(&topic, partition, ADMIN_TIMEOUT)
        })
        .await
        .unwrap_or(Err(KafkaError::Canceled))
    }

    /// The sum over partitions of high minus low watermark.
    pub async fn message_count(&self, topic: &str, partitions: i32) -> Result<i64, KafkaError> {
        let kafka = self.clone();
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || {
            let client = kafka.admin().inner();
            let mut total = 0;
            for partition in 0..partitions {
                let (low, high) = client.fetch_watermarks(&topic, partition, ADMIN_TIMEOUT)?;
                total += (high - low).max(0);
            }
            Ok(total)
        })
        .await
        .unwrap_or(Err(KafkaError::Canceled))
    }

    async fn metadata(&self, topic: Option<&str>) -> Result<Metadata, KafkaError> {
        let kafka = self.clone();
        let topic = topic.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            kafka.admin().inner().fetch_metadata(topic.as_deref(), ADMIN_TIMEOUT)
        })
        .await
        .unwrap_or(Err(KafkaError::Canceled))
    }
}
