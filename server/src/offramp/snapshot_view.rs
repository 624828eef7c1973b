//! SNAPSHOT mode on a materialized road: the state comes from this instance's
//! view instead of two reads of the topic, so concurrent snapshots share the
//! view and cost one pass over local pages each.
//!
//! 1. The boundary is the offsets the view reflects now (or the resume
//!    token's, which the view has passed).
//! 2. Live keys go out in key order, a page at a time and only as credit and
//!    the held buffer allow, each with a resume token. An entry written at or
//!    after the boundary is left out: its newer value follows among the
//!    changes (as a key compacted during a topic snapshot is). Subscribers of
//!    the same boundary share each page, read and rendered once, and keep
//!    pace with each other ([`SharedPages`]).
//! 3. `snapshot_complete` with the boundary, then every record from exactly
//!    the boundary offsets, deletes included.

use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;

use super::context::Assignment;
use super::session::{Outgoing, Session};
use super::shared_pages::{Lane, Page, SharedPages};
use super::snapshot::during_snapshot;
use super::{Command, Event, OfframpError};
use crate::tables::{Offsets, ResumeToken, SnapshotSource};

/// Keys read from the view at a time.
const PAGE: usize = 500;

pub async fn run(
    mut session: Session,
    (view, pages): (SnapshotSource, SharedPages),
    resume: Option<ResumeToken>,
    mut commands: mpsc::Receiver<Command>,
    assignments: mpsc::UnboundedReceiver<Assignment>,
) -> Result<(), OfframpError> {
    session.group = false;
    let result = async {
        let (boundary, mut after) = match resume {
            Some(token) => (token.boundary, Some(token.after)),
            None => (view.offsets(), None),
        };
        let prefix = ResumeToken::prefix(view.road(), view.road_created_ms(), &boundary);
        let lane = Lane {
            road: view.road().to_string(),
            road_created_ms: view.road_created_ms(),
            generation: view.generation(),
            boundary: boundary.clone(),
            pii_granted: session.renderer.pii_granted(),
        };
        let member = pages.join(lane, after.is_some());
        session.assignment = boundary.keys().copied().collect();
        session.send(Event::Rebalance(boundary.keys().copied().collect())).await?;
        let mut done = false;
        loop {
            if !done && session.held.has_room() {
                let page = member
                    .get(after.clone(), || read(&mut session, &view, &boundary, &prefix, after))
                    .await?;
                done = page.done;
                after = page.last.clone();
                for message in &page.messages {
                    match message {
                        Ok(delivered) => session.held.push(Outgoing::Message(delivered.clone())),
                        Err(reason) => session.send(Event::Error(reason.clone())).await?,
                    }
                }
                if done {
                    session.held.push(Outgoing::SnapshotComplete(boundary.clone()));
                }
            }
            session.flush_held();
            session.flush_outbox().await?;
            if done && session.held.is_empty() {
                break;
            }
            if !done && session.held.has_room() {
                continue;
            }
            // Held back for credit: wait for the subscriber.
            let events = session.events.clone();
            tokio::select! {
                biased;
                () = session.stop.cancelled() => return Err(session.stop_reason()),
                () = events.closed() => return Err(OfframpError::SubscriberGone),
                command = commands.recv() => match command {
                    None => return Ok(()),
                    Some(command) => during_snapshot(&mut session, command).await?,
                },
            }
        }
        // Sent: the lane no longer keeps pages for this subscriber, and goes
        // with its last member rather than living on with the changes.
        drop(member);
        let mut start = TopicPartitionList::new();
        for (&partition, &offset) in &boundary {
            start
                .add_partition_offset(&session.topic, partition, Offset::Offset(offset))
                .map_err(|e| session.kafka_error("assign", e))?;
        }
        session.consumer.assign(&start).map_err(|e| session.kafka_error("assign", e))?;
        session.deliver(commands, assignments).await
    }
    .await;
    super::close(session.consumer.clone());
    session.fail(result).await
}

/// Reads the page after `after` from the view and renders it for every
/// subscriber of the snapshot at `boundary`.
async fn read(
    session: &mut Session,
    view: &SnapshotSource,
    boundary: &Offsets,
    prefix: &str,
    after: Option<Vec<u8>>,
) -> Result<Page, OfframpError> {
    let source = view.clone();
    let entries = tokio::task::spawn_blocking(move || source.page(after.as_deref(), PAGE))
        .await
        .map_err(|e| OfframpError::View(e.to_string()))?
        .map_err(OfframpError::View)?;
    let mut page = Page {
        messages: Vec::with_capacity(entries.len()),
        done: entries.len() < PAGE,
        last: entries.last().map(|(key, _)| key.clone()),
    };
    for (key, entry) in &entries {
        if boundary.get(&entry.partition).is_none_or(|end| entry.offset >= *end) {
            continue;
        }
        page.messages.push(session.renderer.render_stored(key, entry).map(|mut delivered| {
            delivered.resume_token = Some(ResumeToken::after_key(prefix, key).into());
            delivered
        }));
    }
    Ok(page)
}
