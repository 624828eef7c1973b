//! Watching whether Kafka answers, so that health can follow it.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Kafka;

/// Whether Kafka answered the last probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connectivity {
    Up,
    Down,
}

/// Probes Kafka every `interval` until `stop`, publishing each change; the
/// task ends (and drops its client handle) on `stop`. A probe may take up to
/// twice the interval before it counts as failed, so that a slow but live
/// broker does not flap.
pub fn watch_connectivity(
    kafka: Kafka,
    interval: Duration,
    stop: CancellationToken,
) -> (watch::Receiver<Connectivity>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(Connectivity::Up);
    let task = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let now = match kafka.probe(interval * 2).await {
                Ok(_) => Connectivity::Up,
                Err(e) => {
                    tracing::debug!(error = %e, "kafka probe failed");
                    Connectivity::Down
                }
            };
            tx.send_if_modified(|current| {
                if *current == now {
                    return false;
                }
                match now {
                    Connectivity::Up => {
                        tracing::info!(bootstrap = kafka.bootstrap(), "kafka is reachable again")
                    }
                    Connectivity::Down => {
                        tracing::warn!(bootstrap = kafka.bootstrap(), "kafka is unreachable")
                    }
                }
                *current = now;
                true
            });
        }
    });
    (rx, task)
}
