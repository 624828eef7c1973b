//! Records as Arrow record batches in a road's table layout: the payload's
//! columns (a STREAM road's properties, or a COMPACTED road's `key` and
//! nullable `payload`), then `_partition`, `_offset`, `_timestamp` and
//! `_schema_version`.
//!
//! Payloads are decoded from their JSON text by arrow-json against the
//! mapped columns, without building a JSON document, unless some part of
//! the schema is kept as JSON text (then that part is rewritten first).

use std::sync::Arc;

use arrow_array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

use super::columns::{Column, Kind, PayloadColumns, payload_columns};
use crate::roads::RoadType;

/// One record read from the road's topic, its payload already blanked of
/// PII where it must be.
#[derive(Clone, Debug)]
pub struct Row {
    pub key: Option<String>,
    /// `None`: a delete (COMPACTED roads).
    pub payload: Option<Vec<u8>>,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub schema_version: u32,
}

/// How a road's records become table rows.
#[derive(Clone, Debug)]
pub struct Layout {
    road_type: RoadType,
    payload: PayloadColumns,
    /// What the JSON decoder fills: the spread properties, or `payload`.
    decoded: SchemaRef,
    table: SchemaRef,
}

pub const META_COLUMNS: [&str; 4] = ["_partition", "_offset", "_timestamp", "_schema_version"];

impl Layout {
    /// The layout for the road's schema document (its latest version).
    pub fn new(road_type: RoadType, schema: &serde_json::Value) -> Self {
        let payload = payload_columns(schema);
        let decoded: Vec<Field> = match (&payload.kind, road_type, payload.spread) {
            (Kind::Struct(fields), RoadType::Stream, true) => fields.iter().map(field).collect(),
            (kind, _, _) => vec![Field::new("payload", data_type(kind), true)],
        };
        let mut table = Vec::new();
        if road_type == RoadType::Compacted {
            table.push(Field::new("key", DataType::Utf8, false));
        }
        table.extend(decoded.iter().cloned());
        table.extend([
            Field::new("_partition", DataType::Int32, false),
            Field::new("_offset", DataType::Int64, false),
            Field::new(
                "_timestamp",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                false,
            ),
            Field::new("_schema_version", DataType::Int32, false),
        ]);
        Self {
            road_type,
            payload,
            decoded: Arc::new(Schema::new(decoded)),
            table: Arc::new(Schema::new(table)),
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.table.clone()
    }

    /// Whether the payload is wrapped as one `payload` column.
    fn wrapped(&self) -> bool {
        self.road_type == RoadType::Compacted || !self.payload.spread
    }

    /// The rows as one batch. A value that does not fit its column (a
    /// record of an older schema version whose type changed since) is
    /// landed as null rather than holding the landing back; the count of
    /// such batches is returned so that the landing can say so.
    pub fn encode(&self, rows: &[Row]) -> Result<(RecordBatch, bool), ArrowError> {
        match self.decode(rows, false) {
            Ok(columns) => Ok((self.assemble(rows, columns)?, false)),
            Err(_) => Ok((self.assemble(rows, self.decode(rows, true)?)?, true)),
        }
    }

    fn decode(&self, rows: &[Row], lenient: bool) -> Result<Vec<ArrayRef>, ArrowError> {
        let mut decoder = arrow_json::ReaderBuilder::new(self.decoded.clone())
            .with_batch_size(rows.len().max(1))
            .with_coerce_primitive(true)
            .with_ignore_type_conflicts(lenient)
            .build_decoder()?;
        let rewrite = self.payload.kind.has_json();
        let mut text = Vec::new();
        for row in rows {
            text.clear();
            if self.wrapped() {
                text.extend_from_slice(b"{\"payload\":");
            }
            match (&row.payload, rewrite) {
                (None, _) => text.extend_from_slice(b"null"),
                (Some(payload), false) => text.extend_from_slice(payload),
                (Some(payload), true) => {
                    let mut value: serde_json::Value = serde_json::from_slice(payload)
                        .map_err(|e| ArrowError::JsonError(e.to_string()))?;
                    self.payload.kind.jsonify(&mut value);
                    serde_json::to_writer(&mut text, &value)
                        .map_err(|e| ArrowError::JsonError(e.to_string()))?;
                }
            }
            if self.wrapped() {
                text.push(b'}');
            }
            text.push(b'\n');
            let read = decoder.decode(&text)?;
            if read != text.len() {
                return Err(ArrowError::JsonError(format!(
                    "record at offset {} is not one JSON value",
                    row.offset
                )));
            }
        }
        let batch =
            decoder.flush()?.unwrap_or_else(|| RecordBatch::new_empty(self.decoded.clone()));
        Ok(batch.columns().to_vec())
    }

    fn assemble(&self, rows: &[Row], decoded: Vec<ArrayRef>) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.table.fields().len());
        if self.road_type == RoadType::Compacted {
            let keys: StringArray =
                rows.iter().map(|r| Some(r.key.as_deref().unwrap_or(""))).collect();
            columns.push(Arc::new(keys));
        }
        columns.extend(decoded);
        columns.push(Arc::new(rows.iter().map(|r| r.partition).collect::<Int32Array>()));
        columns.push(Arc::new(rows.iter().map(|r| r.offset).collect::<Int64Array>()));
        columns.push(Arc::new(
            TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.timestamp_ms))
                .with_timezone("UTC"),
        ));
        columns
            .push(Arc::new(rows.iter().map(|r| r.schema_version as i32).collect::<Int32Array>()));
        RecordBatch::try_new(self.table.clone(), columns)
    }
}

fn field(column: &Column) -> Field {
    Field::new(&column.name, data_type(&column.kind), column.nullable)
}

fn data_type(kind: &Kind) -> DataType {
    match kind {
        Kind::Utf8 | Kind::Json => DataType::Utf8,
        Kind::Int64 => DataType::Int64,
        Kind::Float64 => DataType::Float64,
        Kind::Boolean => DataType::Boolean,
        Kind::Struct(fields) => DataType::Struct(Fields::from_iter(fields.iter().map(field))),
        Kind::List(item) => DataType::List(Arc::new(field(item))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, StructArray};
    use serde_json::json;

    fn row(offset: i64, key: Option<&str>, payload: Option<serde_json::Value>) -> Row {
        Row {
            key: key.map(str::to_string),
            payload: payload.map(|p| p.to_string().into_bytes()),
            partition: 3,
            offset,
            timestamp_ms: 1_700_000_000_000 + offset,
            schema_version: 1,
        }
    }

    #[test]
    fn a_stream_road_spreads_its_properties_into_columns() {
        let schema = json!({"type": "object", "required": ["id"], "properties": {
            "id": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}},
            "extra": {"type": "object"}
        }});
        let layout = Layout::new(RoadType::Stream, &schema);
        let names: Vec<String> =
            layout.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(
            names,
            ["extra", "id", "tags", "_partition", "_offset", "_timestamp", "_schema_version"]
        );
        let rows = [
            row(0, None, Some(json!({"id": 1, "tags": ["a"], "extra": {"x": 1}}))),
            row(1, None, Some(json!({"id": 2}))),
        ];
        let (batch, lenient) = layout.encode(&rows).expect("encode");
        assert!(!lenient);
        assert_eq!(batch.num_rows(), 2);
        let ids = batch.column(1).as_any().downcast_ref::<Int64Array>().expect("ids");
        assert_eq!(ids.values(), &[1, 2]);
        let extra = batch.column(0).as_any().downcast_ref::<StringArray>().expect("json text");
        assert_eq!(extra.value(0), "{\"x\":1}");
        assert!(extra.is_null(1));
        let offsets = batch.column(4).as_any().downcast_ref::<Int64Array>().expect("offsets");
        assert_eq!(offsets.values(), &[0, 1]);
    }

    #[test]
    fn a_compacted_road_wraps_its_payload_and_a_delete_is_a_null_payload() {
        let schema = json!({"type": "object", "properties": {"v": {"type": "string"}}});
        let layout = Layout::new(RoadType::Compacted, &schema);
        let rows = [row(0, Some("a"), Some(json!({"v": "one"}))), row(1, Some("a"), None)];
        let (batch, _) = layout.encode(&rows).expect("encode");
        let keys = batch.column(0).as_any().downcast_ref::<StringArray>().expect("keys");
        assert_eq!((keys.value(0), keys.value(1)), ("a", "a"));
        let payload = batch.column(1).as_any().downcast_ref::<StructArray>().expect("payload");
        assert!(payload.is_valid(0) && payload.is_null(1));
        let v = payload.column(0).as_any().downcast_ref::<StringArray>().expect("v");
        assert_eq!(v.value(0), "one");
    }

    #[test]
    fn a_value_that_no_longer_fits_its_column_lands_as_null() {
        let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
        let layout = Layout::new(RoadType::Stream, &schema);
        let rows =
            [row(0, None, Some(json!({"n": 1}))), row(1, None, Some(json!({"n": {"deep": 1}})))];
        let (batch, lenient) = layout.encode(&rows).expect("encode");
        assert!(lenient);
        let n = batch.column(0).as_any().downcast_ref::<Int64Array>().expect("n");
        assert_eq!((n.value(0), n.is_null(1)), (1, true));
    }
}
