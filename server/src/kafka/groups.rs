//! Consumer groups seen from outside: which exist, who is in them, what
//! they committed, and moving or forgetting their positions — what
//! `kafka-consumer-groups` does, through the standard group APIs.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use super::Kafka;

/// How long a group request may take.
const GROUP_TIMEOUT: Duration = Duration::from_secs(10);

/// One consumer group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: String,
    pub state: String,
    pub members: usize,
}

impl GroupInfo {
    fn of(g: &rdkafka::groups::GroupInfo) -> Self {
        Self {
            name: g.name().to_string(),
            state: g.state().to_string(),
            members: g.members().len(),
        }
    }
}

impl Kafka {
    /// Every group whose name starts with `prefix`, by name.
    pub async fn groups(&self, prefix: &str) -> Result<Vec<GroupInfo>, KafkaError> {
        let kafka = self.clone();
        let prefix = prefix.to_string();
        blocking(move || {
            let list = kafka.admin().inner().fetch_group_list(None, GROUP_TIMEOUT)?;
            let mut groups: Vec<GroupInfo> = list
                .groups()
                .iter()
                .filter(|g| g.name().starts_with(&prefix))
                .map(GroupInfo::of)
                .collect();
            groups.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(groups)
        })
        .await
    }

    /// One group, or `None` when the coordinator does not know it.
    pub async fn group(&self, name: &str) -> Result<Option<GroupInfo>, KafkaError> {
        let kafka = self.clone();
        let name = name.to_string();
        blocking(move || {
            let list = kafka.admin().inner().fetch_group_list(Some(&name), GROUP_TIMEOUT)?;
            Ok(list.groups().iter().find(|g| g.name() == name && g.state() != "Dead").map(|g| {
                GroupInfo {
                    name: g.name().to_string(),
                    state: g.state().to_string(),
                    members: g.members().len(),
                }
            }))
        })
        .await
    }

    /// What `group` committed on each of `partitions` of `topic`; `None`
    /// where it committed nothing.
    pub async fn committed(
        &self,
        group: &str,
        topic: &str,
        partitions: i32,
    ) -> Result<BTreeMap<i32, Option<i64>>, KafkaError> {
        let consumer = self.outsider(group)?;
        let topic = topic.to_string();
        blocking(move || {
            let mut asked = TopicPartitionList::new();
            for p in 0..partitions {
                asked.add_partition(&topic, p);
            }
            let got = consumer.committed_offsets(asked, GROUP_TIMEOUT)?;
            Ok(got
                .elements()
                .iter()
                .map(|e| {
                    let offset = match e.offset() {
                        Offset::Offset(o) => Some(o),
                        _ => None,
                    };
                    (e.partition(), offset)
                })
                .collect())
        })
        .await
    }

    /// Commits `offsets` for `group` from outside it: the group must have no
    /// members, or the coordinator refuses.
    pub async fn commit_for(
        &self,
        group: &str,
        topic: &str,
        offsets: &BTreeMap<i32, i64>,
    ) -> Result<(), KafkaError> {
        let consumer = self.outsider(group)?;
        let mut list = TopicPartitionList::new();
        for (&p, &o) in offsets {
            list.add_partition_offset(topic, p, Offset::Offset(o))?;
        }
        blocking(move || consumer.commit(&list, CommitMode::Sync)).await
    }

    /// The first offset at or after `timestamp_ms` on each partition; the
    /// end where there is none.
    pub async fn offsets_for_time(
        &self,
        topic: &str,
        partitions: i32,
        timestamp_ms: i64,
    ) -> Result<BTreeMap<i32, i64>, KafkaError> {
        let consumer = self.outsider(&format!("{}.times", self.client_id()))?;
        let topic = topic.to_string();
        let kafka = self.clone();
        blocking(move || {
            let mut asked = TopicPartitionList::new();
            for p in 0..partitions {
                asked.add_partition_offset(&topic, p, Offset::Offset(timestamp_ms))?;
            }
            let got = consumer.offsets_for_times(asked, GROUP_TIMEOUT)?;
            let mut out = BTreeMap::new();
            for e in got.elements() {
                let offset = match e.offset() {
                    Offset::Offset(o) if o >= 0 => o,
                    _ => {
                        let client = kafka.admin().inner();
                        client.fetch_watermarks(&topic, e.partition(), GROUP_TIMEOUT)?.1
                    }
                };
                out.insert(e.partition(), offset);
            }
            Ok(out)
        })
        .await
    }

    /// Deletes `group` and its committed offsets.
    pub async fn delete_group(&self, group: &str) -> Result<(), KafkaError> {
        use rdkafka::admin::AdminOptions;
        let results = self
            .admin()
            .delete_groups(&[group], &AdminOptions::new().request_timeout(Some(GROUP_TIMEOUT)))
            .await?;
        for result in results {
            if let Err((_, code)) = result {
                return Err(KafkaError::AdminOp(code));
            }
        }
        Ok(())
    }

    /// A consumer that names `group` without joining it.
    fn outsider(&self, group: &str) -> Result<BaseConsumer, KafkaError> {
        let mut config = self.consumer_config(Some(group));
        config.set("enable.partition.eof", "false");
        config.create()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KafkaError> + Send + 'static,
) -> Result<T, KafkaError> {
    tokio::task::spawn_blocking(f).await.unwrap_or(Err(KafkaError::Canceled))
}
