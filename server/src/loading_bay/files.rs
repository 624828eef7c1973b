//! Parquet files of one partition's range, rolled at a target size. A file
//! is named after its road, partition and the offsets it holds, so that a
//! landing redone after a crash writes the same names over the same data.

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use super::encode::{Layout, Row};

/// One finished file: its name within the landing's directory, and what it
/// holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub partition: i32,
    /// First offset in the file.
    pub first_offset: i64,
    /// Last offset in the file.
    pub last_offset: i64,
    pub records: u64,
    pub bytes: u64,
}

/// The name of the file holding `partition`'s offsets `first..=last`.
pub fn file_name(road: &str, partition: i32, first: i64, last: i64) -> String {
    format!("{road}-p{partition:04}-{first:020}-{last:020}.parquet")
}

/// Writes rows into files of about `target` bytes, one at a time.
pub struct Roller<'a> {
    road: &'a str,
    layout: &'a Layout,
    target: usize,
    open: Option<Open>,
    /// Batches in which some value did not fit its column (landed as null).
    pub lenient_batches: u64,
}

struct Open {
    writer: ArrowWriter<Vec<u8>>,
    partition: i32,
    first: i64,
    last: i64,
    records: u64,
}

impl<'a> Roller<'a> {
    pub fn new(road: &'a str, layout: &'a Layout, target: usize) -> Self {
        Self { road, layout, target, open: None, lenient_batches: 0 }
    }

    /// Appends rows of one partition (in offset order); returns a file that
    /// reached the target size, with its bytes.
    pub fn push(&mut self, rows: &[Row]) -> Result<Option<(FileEntry, Vec<u8>)>, ParquetError> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Ok(None) };
        let finished = match &self.open {
            Some(open) if open.partition != first.partition => self.finish()?,
            _ => None,
        };
        let (batch, lenient): (RecordBatch, bool) = self.layout.encode(rows)?;
        self.lenient_batches += u64::from(lenient);
        let open = match &mut self.open {
            Some(open) => open,
            None => self.open.insert(Open {
                writer: ArrowWriter::try_new(Vec::new(), self.layout.schema(), Some(properties()))?,
                partition: first.partition,
                first: first.offset,
                last: first.offset,
                records: 0,
            }),
        };
        open.writer.write(&batch)?;
        open.last = last.offset;
        open.records += rows.len() as u64;
        let size = open.writer.bytes_written() + open.writer.in_progress_size();
        if finished.is_some() {
            return Ok(finished);
        }
        if size >= self.target { self.finish() } else { Ok(None) }
    }

    /// Closes the open file, if any.
    pub fn finish(&mut self) -> Result<Option<(FileEntry, Vec<u8>)>, ParquetError> {
        let Some(open) = self.open.take() else { return Ok(None) };
        let bytes = open.writer.into_inner()?;
        let entry = FileEntry {
            name: file_name(self.road, open.partition, open.first, open.last),
            partition: open.partition,
            first_offset: open.first,
            last_offset: open.last,
            records: open.records,
            bytes: bytes.len() as u64,
        };
        Ok(Some((entry, bytes)))
    }
}

pub fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("a valid zstd level")))
        .build()
}
