//! Rolling rows of a COMPACTED road's table into one row per live key, in
//! memory bounded by a budget rather than by the number of keys.
//!
//! Rows arrive in order of their sources (the previous snapshot first, then
//! each landing since, oldest first). Each row goes to one of `buckets`
//! spill files on local disk by a hash of its key, so every version of a key
//! meets in one bucket; the buckets are then merged one at a time: the last
//! version of each key wins (by source, then offset), deletes are dropped,
//! and the rest, sorted by key within the bucket, are appended to Parquet
//! files that roll at a target size. Only one bucket is in memory at a time,
//! and a bucket whose measured size would not fit the budget is split again
//! by another hash of its keys before it is merged.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, StructArray, UInt32Array, new_null_array,
};
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::files::properties;

/// Rows read from a Parquet file at a time.
const READ_BATCH: usize = 8_192;

/// At most this many buckets (so that many spill files are open at once).
pub const MAX_BUCKETS: u32 = 512;

/// How much larger a table's rows are in memory than in zstd Parquet, about.
const EXPANSION: u64 = 6;

/// Buckets for inputs of `input_bytes` (Parquet) under `budget` bytes of
/// memory.
pub fn buckets_for(input_bytes: u64, budget: u64) -> u32 {
    let wanted = (input_bytes.saturating_mul(EXPANSION)).div_ceil(budget.max(1));
    u32::try_from(wanted).unwrap_or(MAX_BUCKETS).clamp(1, MAX_BUCKETS)
}

/// Splits of a bucket at most, one inside the other: past them a bucket
/// holds versions of very few keys and is merged whatever its size.
const MAX_LEVELS: u32 = 4;

/// FNV-1a, salted by the split level: stable across builds and instances,
/// so a redone snapshot puts each key in the same bucket and writes the same
/// files.
fn bucket_of(key: &str, level: u32, buckets: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in level.to_le_bytes().into_iter().chain(key.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(buckets)) as u32
}

/// The spill files of one roll-up.
pub struct Spill {
    table: SchemaRef,
    /// The table's columns and `_source`, the input's rank.
    spilled: SchemaRef,
    dir: tempfile::TempDir,
    buckets: Buckets,
}

/// One output file of a roll-up, as Parquet.
pub struct Merged {
    /// Its place among the roll-up's files.
    pub index: u32,
    pub keys: u64,
    pub bytes: Vec<u8>,
}

/// What a bucket holds, as merging it will need memory for.
#[derive(Clone, Copy, Default)]
struct Size {
    bytes: u64,
    rows: u64,
}

impl Size {
    /// About the memory a merge of the bucket holds at its peak: the rows
    /// twice (read, then concatenated) and an index entry per row.
    fn cost(self) -> u64 {
        self.bytes * 2 + self.rows * 64
    }
}

/// Spill files by bucket, under one path prefix.
struct Buckets {
    prefix: PathBuf,
    writers: Vec<Option<StreamWriter<BufWriter<File>>>>,
    sizes: Vec<Size>,
}

impl Buckets {
    fn new(prefix: PathBuf, count: u32) -> Self {
        Self {
            prefix,
            writers: (0..count).map(|_| None).collect(),
            sizes: vec![Size::default(); count as usize],
        }
    }

    fn path(&self, bucket: usize) -> PathBuf {
        let mut name = self.prefix.clone().into_os_string();
        name.push(format!("-{bucket:05}"));
        PathBuf::from(name)
    }

    /// Routes each row of `batch` to its bucket at split `level`.
    fn route(&mut self, batch: &RecordBatch, level: u32) -> Result<(), ArrowError> {
        let count = self.writers.len() as u32;
        let keys = keys(batch)?;
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); count as usize];
        for (row, key) in keys.iter().enumerate() {
            rows[bucket_of(key.unwrap_or_default(), level, count) as usize].push(row as u32);
        }
        for (bucket, rows) in rows.into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let part = arrow_select::take::take_record_batch(batch, &UInt32Array::from(rows))?;
            if self.writers[bucket].is_none() {
                let file = BufWriter::new(File::create(self.path(bucket))?);
                self.writers[bucket] = Some(StreamWriter::try_new(file, &batch.schema())?);
            }
            let writer = self.writers[bucket].as_mut().expect("opened above");
            writer.write(&part)?;
            let size = &mut self.sizes[bucket];
            size.bytes += part.get_array_memory_size() as u64;
            size.rows += part.num_rows() as u64;
        }
        Ok(())
    }

    /// The buckets written, closed, with their paths and sizes.
    fn close(&mut self) -> Result<Vec<(PathBuf, Size)>, ArrowError> {
        let mut closed = Vec::new();
        for bucket in 0..self.writers.len() {
            if let Some(mut writer) = self.writers[bucket].take() {
                writer.finish()?;
                closed.push((self.path(bucket), self.sizes[bucket]));
            }
        }
        Ok(closed)
    }
}

/// Merged rows appended to Parquet files that roll at a target size. A
/// file is built in memory until it is uploaded, and a row group until it is
/// encoded, so both are bounded by the budget too.
struct Output {
    table: SchemaRef,
    /// A file's size at most.
    target: usize,
    /// A row group's buffered size at most.
    row_group: usize,
    open: Option<(ArrowWriter<Vec<u8>>, u64)>,
    next: u32,
}

fn parquet_error(e: parquet::errors::ParquetError) -> ArrowError {
    ArrowError::ExternalError(Box::new(e))
}

impl Output {
    fn push(&mut self, batch: &RecordBatch) -> Result<Option<Merged>, ArrowError> {
        if batch.num_rows() == 0 {
            return Ok(None);
        }
        if self.open.is_none() {
            let writer = ArrowWriter::try_new(Vec::new(), self.table.clone(), Some(properties()))
                .map_err(parquet_error)?;
            self.open = Some((writer, 0));
        }
        let (writer, keys) = self.open.as_mut().expect("opened above");
        writer.write(batch).map_err(parquet_error)?;
        *keys += batch.num_rows() as u64;
        if writer.in_progress_size() >= self.row_group {
            writer.flush().map_err(parquet_error)?;
        }
        if writer.bytes_written() + writer.in_progress_size() >= self.target {
            self.finish()
        } else {
            Ok(None)
        }
    }

    fn finish(&mut self) -> Result<Option<Merged>, ArrowError> {
        let Some((writer, keys)) = self.open.take() else { return Ok(None) };
        let bytes = writer.into_inner().map_err(parquet_error)?;
        self.next += 1;
        Ok(Some(Merged { index: self.next - 1, keys, bytes }))
    }
}

impl Spill {
    /// Spill files in a new directory under `parent`.
    pub fn new(table: SchemaRef, buckets: u32, parent: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(parent)?;
        let mut fields: Vec<Field> = table.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("_source", DataType::UInt32, false));
        let dir = tempfile::Builder::new().prefix("snapshot-").tempdir_in(parent)?;
        Ok(Self {
            spilled: Arc::new(Schema::new(fields)),
            table,
            buckets: Buckets::new(dir.path().join("bucket"), buckets),
            dir,
        })
    }

    /// Adds the rows of one Parquet file of source `source` (a higher
    /// source is newer).
    pub fn add(&mut self, parquet: Bytes, source: u32) -> Result<(), ArrowError> {
        let reader = ParquetRecordBatchReaderBuilder::try_new(parquet)
            .map_err(parquet_error)?
            .with_batch_size(READ_BATCH)
            .build()
            .map_err(parquet_error)?;
        for batch in reader {
            let batch = conform(&batch?, &self.table)?;
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(UInt32Array::from(vec![source; batch.num_rows()])));
            let tagged = RecordBatch::try_new(self.spilled.clone(), columns)?;
            self.buckets.route(&tagged, 0)?;
        }
        Ok(())
    }

    /// Merges each bucket in turn, in memory of about `budget` bytes,
    /// handing each finished file (of about `target` bytes, or a quarter of
    /// the budget if less) to `each`, which may upload it, before going on.
    pub fn merge(
        mut self,
        budget: u64,
        target: usize,
        mut each: impl FnMut(Merged) -> Result<(), ArrowError>,
    ) -> Result<(), ArrowError> {
        // Half for the bucket being merged, a quarter for the file being
        // built, a sixteenth for its row group.
        let budget_bytes = usize::try_from(budget).unwrap_or(usize::MAX);
        let mut out = Output {
            table: self.table.clone(),
            target: target.min(budget_bytes / 4),
            row_group: budget_bytes / 16,
            open: None,
            next: 0,
        };
        for (path, size) in self.buckets.close()? {
            self.merge_bucket(&path, size, 1, budget / 2, &mut out, &mut each)?;
        }
        if let Some(file) = out.finish()? {
            each(file)?;
        }
        drop(self.dir);
        Ok(())
    }

    /// Merges one spilled bucket, or splits it first if it would not fit.
    fn merge_bucket(
        &self,
        path: &Path,
        size: Size,
        level: u32,
        budget: u64,
        out: &mut Output,
        each: &mut impl FnMut(Merged) -> Result<(), ArrowError>,
    ) -> Result<(), ArrowError> {
        let read = || -> Result<StreamReader<BufReader<File>>, ArrowError> {
            StreamReader::try_new(BufReader::new(File::open(path)?), None)
        };
        if size.cost() > budget && level <= MAX_LEVELS && size.rows > 1 {
            let parts = u32::try_from(size.cost().div_ceil(budget.max(1)))
                .unwrap_or(MAX_BUCKETS)
                .clamp(2, MAX_BUCKETS);
            let mut prefix = path.to_path_buf().into_os_string();
            prefix.push(".");
            let mut split = Buckets::new(PathBuf::from(prefix), parts);
            for batch in read()? {
                split.route(&batch?, level)?;
            }
            std::fs::remove_file(path)?;
            for (part, size) in split.close()? {
                self.merge_bucket(&part, size, level + 1, budget, out, each)?;
            }
            return Ok(());
        }
        let batches: Vec<RecordBatch> = read()?.collect::<Result<_, _>>()?;
        std::fs::remove_file(path)?;
        let all = arrow_select::concat::concat_batches(&self.spilled, &batches)?;
        drop(batches);
        let latest = latest(&all)?;
        let kept = arrow_select::take::take_record_batch(&all, &latest)?;
        drop(all);
        // Without `_source`.
        let kept = kept.project(&(0..self.table.fields().len()).collect::<Vec<_>>())?;
        let kept = RecordBatch::try_new(self.table.clone(), kept.columns().to_vec())?;
        if let Some(file) = out.push(&kept)? {
            each(file)?;
        }
        Ok(())
    }
}

fn keys(batch: &RecordBatch) -> Result<&StringArray, ArrowError> {
    batch
        .column_by_name("key")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| ArrowError::SchemaError("a COMPACTED table has a string `key`".into()))
}

/// The rows holding each key's last version that is not a delete, sorted
/// by key.
fn latest(all: &RecordBatch) -> Result<UInt32Array, ArrowError> {
    let keys = keys(all)?;
    let column = |name: &str| {
        all.column_by_name(name).ok_or_else(|| ArrowError::SchemaError(format!("no column {name}")))
    };
    let payload = column("payload")?;
    let offsets = column("_offset")?
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| ArrowError::SchemaError("_offset is a bigint".into()))?;
    let sources = column("_source")?
        .as_any()
        .downcast_ref::<UInt32Array>()
        .ok_or_else(|| ArrowError::SchemaError("_source is an int".into()))?;
    let mut last: HashMap<&str, (u32, i64, u32)> = HashMap::with_capacity(all.num_rows());
    for row in 0..all.num_rows() {
        let rank = (sources.value(row), offsets.value(row), row as u32);
        last.entry(keys.value(row)).and_modify(|held| *held = (*held).max(rank)).or_insert(rank);
    }
    let mut live: Vec<(&str, u32)> = last
        .into_iter()
        .filter(|(_, (_, _, row))| payload.is_valid(*row as usize))
        .map(|(key, (_, _, row))| (key, row))
        .collect();
    live.sort_unstable();
    Ok(UInt32Array::from_iter_values(live.into_iter().map(|(_, row)| row)))
}

/// `batch` in the columns of `table`: a file of an older schema version
/// gets nulls for the fields added since; a value whose type changed is cast
/// where Arrow can, else null (as landings treat such values).
pub fn conform(batch: &RecordBatch, table: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    if batch.schema() == *table {
        return Ok(batch.clone());
    }
    let columns = table
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) => conform_array(column, field.data_type()),
            None => new_null_array(field.data_type(), batch.num_rows()),
        })
        .collect();
    RecordBatch::try_new(table.clone(), columns)
}

fn conform_array(array: &ArrayRef, to: &DataType) -> ArrayRef {
    if array.data_type() == to {
        return array.clone();
    }
    if let (Some(from), DataType::Struct(fields)) =
        (array.as_any().downcast_ref::<StructArray>(), to)
    {
        let children: Vec<ArrayRef> = fields
            .iter()
            .map(|f| match from.column_by_name(f.name()) {
                Some(child) => conform_array(child, f.data_type()),
                None => new_null_array(f.data_type(), from.len()),
            })
            .collect();
        if let Ok(conformed) = StructArray::try_new(fields.clone(), children, from.nulls().cloned())
        {
            return Arc::new(conformed);
        }
    }
    arrow_cast::cast(array, to).unwrap_or_else(|_| new_null_array(to, array.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spread_over_the_buckets_the_same_way_every_time() {
        let spread: Vec<u32> = (0..8).map(|i| bucket_of(&format!("key-{i}"), 0, 4)).collect();
        let again: Vec<u32> = (0..8).map(|i| bucket_of(&format!("key-{i}"), 0, 4)).collect();
        assert_eq!(spread, again);
        let salted: Vec<u32> = (0..8).map(|i| bucket_of(&format!("key-{i}"), 1, 4)).collect();
        assert_ne!(spread, salted, "a split spreads a bucket's keys anew");
        let mut seen = spread.clone();
        seen.sort_unstable();
        seen.dedup();
        assert!(seen.len() > 1, "{spread:?}");
    }

    #[test]
    fn the_bucket_count_follows_the_input_and_the_budget() {
        assert_eq!(buckets_for(0, 1 << 20), 1);
        assert_eq!(buckets_for(1 << 20, 6 << 20), 1);
        assert_eq!(buckets_for(10 << 20, 6 << 20), 10);
        assert_eq!(buckets_for(u64::MAX, 1), MAX_BUCKETS);
    }
}
