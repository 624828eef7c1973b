//! The log against its files: recovery of torn and corrupted tails,
//! compaction, retention, time lookup and producer retries.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::RecordBatchDecoder;

use super::batch::tests::{batch, produced};
use super::cleaner::{self, Progress};
use super::{Fsync, Log, LogError};
use crate::broker::config::TopicConfig;

fn config(pairs: &[(&str, &str)]) -> TopicConfig {
    TopicConfig::new(
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
    )
    .expect("config")
}

/// Every record from `offset` on: (offset, key, value).
fn records(log: &Log) -> Vec<(i64, Option<String>, Option<String>)> {
    let mut out = Vec::new();
    let mut offset = log.start();
    while offset < log.end() {
        let read = log.read(offset, 1 << 20).expect("read");
        if read.records.is_empty() {
            break;
        }
        let mut buf = read.records.clone();
        for set in RecordBatchDecoder::decode_all(&mut buf).expect("decode") {
            for r in set.records {
                if r.offset >= offset {
                    let text =
                        |b: Option<Bytes>| b.map(|b| String::from_utf8(b.to_vec()).expect("utf-8"));
                    out.push((r.offset, text(r.key), text(r.value)));
                    offset = r.offset + 1;
                }
            }
        }
    }
    out
}

fn put(log: &Log, config: &TopicConfig, key: &str, value: Option<&str>, timestamp: i64) -> i64 {
    log.append(&batch(&[(Some(key), value)], timestamp), config).expect("append").base_offset
}

fn owned(v: &[(i64, &str, Option<&str>)]) -> Vec<(i64, Option<String>, Option<String>)> {
    v.iter().map(|(o, k, val)| (*o, Some(k.to_string()), val.map(str::to_string))).collect()
}

#[test]
fn records_survive_a_reopen_with_their_offsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(&[]);
    let log = Log::open(dir.path(), false, Fsync::Never).expect("open");
    assert_eq!(put(&log, &c, "a", Some("one"), 1), 0);
    assert_eq!(
        log.append(&batch(&[(Some("b"), Some("two")), (Some("c"), Some("three"))], 2), &c)
            .expect("append")
            .base_offset,
        1
    );
    drop(log);
    let log = Log::open(dir.path(), false, Fsync::Never).expect("reopen");
    assert_eq!(log.end(), 3);
    assert_eq!(
        records(&log),
        owned(&[(0, "a", Some("one")), (1, "b", Some("two")), (2, "c", Some("three"))])
    );
    assert_eq!(put(&log, &c, "d", Some("four"), 3), 3, "offsets continue after the reopen");
}

/// The active segment's file.
fn active_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().expect("a segment")
}

#[test]
fn a_torn_tail_is_cut_off_and_never_served() {
    for check_all in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = config(&[]);
        let log = Log::open(dir.path(), false, Fsync::Never).expect("open");
        for (i, key) in ["a", "b", "c"].iter().enumerate() {
            put(&log, &c, key, Some("value"), i as i64);
        }
        drop(log);
        let path = active_file(dir.path());
        let len = std::fs::metadata(&path).expect("meta").len();
        OpenOptions::new().write(true).open(&path).expect("open").set_len(len - 5).expect("tear");
        let log = Log::open(dir.path(), check_all, Fsync::Never).expect("reopen");
        assert_eq!(log.end(), 2, "the torn batch is gone (check_all = {check_all})");
        assert_eq!(records(&log), owned(&[(0, "a", Some("value")), (1, "b", Some("value"))]));
        assert_eq!(put(&log, &c, "d", Some("again"), 9), 2, "its offset is given again");
        assert_eq!(records(&log).last(), owned(&[(2, "d", Some("again"))]).last());
    }
}

#[test]
fn a_corrupted_tail_fails_its_crc_and_is_cut_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(&[]);
    let log = Log::open(dir.path(), false, Fsync::Never).expect("open");
    put(&log, &c, "a", Some("kept"), 1);
    put(&log, &c, "b", Some("flipped"), 2);
    drop(log);
    let path = active_file(dir.path());
    let len = std::fs::metadata(&path).expect("meta").len();
    let file = OpenOptions::new().read(true).write(true).open(&path).expect("open");
    // A byte of the last record's value: the batch is whole but wrong.
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, len - 3).expect("read");
    file.write_all_at(&[byte[0] ^ 0x55], len - 3).expect("flip");
    drop(file);
    let log = Log::open(dir.path(), false, Fsync::Never).expect("reopen");
    assert_eq!(records(&log), owned(&[(0, "a", Some("kept"))]));
    assert!(std::fs::metadata(&path).expect("meta").len() < len, "the file was truncated");
}

#[test]
fn corruption_before_the_last_index_entry_is_found_after_an_unclean_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(&[]);
    let log = Log::open(dir.path(), false, Fsync::Never).expect("open");
    let big = "x".repeat(5_000);
    for key in ["a", "b", "c"] {
        put(&log, &c, key, Some(&big), 1);
    }
    drop(log);
    let path = active_file(dir.path());
    let file = OpenOptions::new().read(true).write(true).open(&path).expect("open");
    // Inside the first batch's records, before the index entries of the
    // later batches.
    file.write_all_at(b"!", 200).expect("corrupt");
    drop(file);
    let log = Log::open(dir.path(), true, Fsync::Never).expect("reopen");
    assert_eq!((log.start(), log.end()), (0, 0), "nothing after the corruption is served");
}

#[test]
fn compaction_keeps_the_latest_value_per_key_in_closed_segments_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Every batch rolls the segment: each record is its own segment.
    let c = config(&[
        ("cleanup.policy", "compact"),
        ("segment.bytes", "100"),
        ("min.cleanable.dirty.ratio", "0.01"),
        ("delete.retention.ms", "1000"),
    ]);
    let log = Log::open(dir.path(), false, Fsync::Never).expect("open");
    put(&log, &c, "a", Some("one"), 10);
    put(&log, &c, "b", Some("two"), 10);
    put(&log, &c, "a", Some("three"), 10);
    put(&log, &c, "c", Some("gone"), 10);
    put(&log, &c, "c", None, 10);
    put(&log, &c, "a", Some("four"), 10);
    let mut progress = Progress::default();
    assert!(cleaner::compact(&log, &c, 20, &mut progress).expect("compact"));
    // a→four is in the active segment and supersedes nothing yet; the
    // tombstone stays until delete.retention.ms has passed.
    assert_eq!(
        records(&log),
        owned(&[
            (1, "b", Some("two")),
            (2, "a", Some("three")),
            (4, "c", None),
            (5, "a", Some("four"))
        ])
    );
    assert!(
        !cleaner::compact(&log, &c, 30, &mut progress).expect("compact"),
        "nothing new is dirty"
    );
    // After the tombstone's retention, a clean runs for it alone.
    assert!(cleaner::compact(&log, &c, 1_011, &mut progress).expect("compact"));
    assert_eq!(
        records(&log),
        owned(&[(1, "b", Some("two")), (2, "a", Some("three")), (5, "a", Some("four"))])
    );
    assert_eq!(log.segments().len(), 3, "segments left empty are gone");
    drop(log);
    let log = Log::open(dir.path(), false, Fsync::Never).expect("reopen");
    assert_eq!(records(&log).len(), 3, "the cleaned log is what a restart finds");
    assert_eq!(put(&log, &c, "d", Some("next"), 40), 6);
}

#[test]
fn the_lag_keeps_young_records_from_the_cleaner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(&[
        ("cleanup.policy", "compact"),
        ("segment.bytes", "100"),
        ("min.compaction.lag.ms", "1000"),
    ]);
    let log = Log::open(dir.path(), false, Fsync::Never).expect("open");
    put(&log, &c, "a", Some("one"), 500);
    put(&log, &c, "a", Some("two"), 500);
    put(&log, &c, "a", Some("three"), 500);
    let mut progress = Progress::default();
    assert!(!cleaner::compact(&log, &c, 1_000, &mut progress).expect("compact"), "too young");
    // Cleaned with a larger segment.bytes, the closed segments merge.
    let larger = config(&[
        ("cleanup.policy", "compact"),
        ("min.compaction.lag.ms", "1000"),
        ("min.cleanable.dirty.ratio", "0.01"),
    ]);
    put(&log, &c, "b", Some("one"), 500);
    assert!(cleaner::compact(&log, &larger, 1_500, &mut progress).expect("compact"));
    assert_eq!(records(&log), owned(&[(2, "a", Some("three")), (3, "b", Some("one"))]));
    assert_eq!(log.segments().len(), 2, "one merged closed segment and the active one");
}

#[test]
fn retention_deletes_old_and_excess_segments_and_moves_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(&[("segment.bytes", "100"), ("retention.ms", "1000")]);
    let log = Log::open(dir.path(), false, Fsync::Never).expect("open");
    for (i, t) in [100, 200, 5_000, 5_100].iter().enumerate() {
        put(&log, &c, &format!("k{i}"), Some("v"), *t);
    }
    cleaner::retain(&log, &c, 5_500).expect("retain");
    assert_eq!(log.start(), 2);
    assert!(matches!(log.read(0, 100), Err(LogError::OffsetOutOfRange { .. })));
    let by_size = config(&[("segment.bytes", "100"), ("retention.bytes", "1")]);
    cleaner::retain(&log, &by_size, 5_500).expect("retain");
    assert_eq!(log.start(), 3, "only the active segment is left");
    assert_eq!(records(&log), owned(&[(3, "k3", Some("v"))]));
}

#[test]
fn offsets_are_found_by_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(&[]);
    let log = Log::open(dir.path(), false, Fsync::Never).expect("open");
    for (i, t) in [100, 200, 300].iter().enumerate() {
        put(&log, &c, &format!("k{i}"), Some("v"), *t);
    }
    assert_eq!(log.offset_for_time(150).expect("time"), Some((1, 200)));
    assert_eq!(log.offset_for_time(0).expect("time"), Some((0, 100)));
    assert_eq!(log.offset_for_time(301).expect("time"), None);
}

fn producer_batch(producer: i64, epoch: i16, sequence: i32, n: usize) -> BytesMut {
    produced(&vec![(None, Some("v")); n], 1, producer, epoch, sequence)
}

#[test]
fn a_retried_batch_is_answered_with_its_first_offset_and_not_written_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(&[]);
    let log = Log::open(dir.path(), false, Fsync::Never).expect("open");
    assert_eq!(log.append(&producer_batch(7, 0, 0, 3), &c).expect("first").base_offset, 0);
    assert_eq!(log.append(&producer_batch(7, 0, 3, 2), &c).expect("second").base_offset, 3);
    assert_eq!(log.append(&producer_batch(7, 0, 0, 3), &c).expect("retry").base_offset, 0);
    assert_eq!(log.end(), 5, "the retry wrote nothing");
    assert!(matches!(
        log.append(&producer_batch(7, 0, 9, 1), &c),
        Err(LogError::OutOfOrderSequence { .. })
    ));
    assert_eq!(log.append(&producer_batch(7, 1, 0, 1), &c).expect("new epoch").base_offset, 5);
    assert!(matches!(
        log.append(&producer_batch(7, 0, 5, 1), &c),
        Err(LogError::ProducerFenced { .. })
    ));
}

#[test]
fn bad_batches_are_refused_and_the_log_is_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), false, Fsync::Never).expect("open");
    let mut b = batch(&[(Some("a"), Some("value"))], 1);
    let last = b.len() - 1;
    b[last] ^= 1;
    assert!(matches!(log.append(&b, &config(&[])), Err(LogError::Corrupt(_))));
    let small = config(&[("max.message.bytes", "20")]);
    assert!(matches!(
        log.append(&batch(&[(Some("a"), Some("v"))], 1), &small),
        Err(LogError::TooLarge { .. })
    ));
    let compacted = config(&[("cleanup.policy", "compact")]);
    assert!(matches!(
        log.append(&batch(&[(None, Some("v"))], 1), &compacted),
        Err(LogError::InvalidRecord(_))
    ));
    assert_eq!(log.end(), 0);
}

#[test]
fn a_retry_after_a_restart_is_still_recognised() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(&[]);
    let log = Log::open(dir.path(), false, Fsync::Never).expect("open");
    log.append(&producer_batch(9, 0, 0, 2), &c).expect("first");
    drop(log);
    // The answer was lost with the process; the producer retries.
    let log = Log::open(dir.path(), false, Fsync::Never).expect("reopen");
    assert_eq!(log.append(&producer_batch(9, 0, 0, 2), &c).expect("retry").base_offset, 0);
    assert_eq!(log.end(), 2);
}

#[test]
fn a_closed_log_refuses_writes_and_leaves_its_files_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(&[("segment.bytes", "100"), ("retention.bytes", "1")]);
    let log = Log::open(dir.path(), false, Fsync::Never).expect("open");
    put(&log, &c, "a", Some("v"), 1);
    put(&log, &c, "b", Some("v"), 1);
    log.close();
    assert!(matches!(log.append(&batch(&[(Some("c"), Some("v"))], 1), &c), Err(LogError::Closed)));
    cleaner::retain(&log, &c, 10).expect("retain");
    assert_eq!(log.start(), 0, "retention did nothing");
}
