//! A producer served by a polling thread of our own.
//!
//! rdkafka's `ThreadedProducer` polls every 100 ms, and its poll converts
//! the time left to whole milliseconds, so the last fraction of each
//! period is a non-blocking spin: about 1 % of a core on an idle server.
//! Delivery reports wake the poll as soon as they arrive whatever its
//! timeout, so a long one costs no latency; it only bounds how long the
//! thread outlives the producer.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::error::KafkaResult;
use rdkafka::producer::{BaseProducer, ProducerContext};

const POLL: Duration = Duration::from_secs(5);

pub struct PolledProducer<C: ProducerContext + 'static> {
    producer: Arc<BaseProducer<C>>,
    stop: Arc<AtomicBool>,
}

impl<C: ProducerContext + 'static> FromClientConfigAndContext<C> for PolledProducer<C> {
    fn from_config_and_context(config: &ClientConfig, context: C) -> KafkaResult<Self> {
        let producer = Arc::new(BaseProducer::from_config_and_context(config, context)?);
        let stop = Arc::new(AtomicBool::new(false));
        let (polled, stopping) = (producer.clone(), stop.clone());
        std::thread::Builder::new()
            .name("producer-poll".into())
            .spawn(move || {
                while !stopping.load(Ordering::Acquire) {
                    polled.poll(POLL);
                }
            })
            .map_err(|e| rdkafka::error::KafkaError::ClientCreation(e.to_string()))?;
        Ok(Self { producer, stop })
    }
}

impl<C: ProducerContext + 'static> Deref for PolledProducer<C> {
    type Target = BaseProducer<C>;

    fn deref(&self) -> &BaseProducer<C> {
        &self.producer
    }
}

impl<C: ProducerContext + 'static> Drop for PolledProducer<C> {
    fn drop(&mut self) {
        // The thread ends after its current poll and drops its handle.
        self.stop.store(true, Ordering::Release);
    }
}
