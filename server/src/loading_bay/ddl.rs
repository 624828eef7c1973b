//! Hive DDL of a road's table: what a metastore needs to register it.

use arrow_schema::{DataType, Field, Schema};

/// `name` quoted as a Hive identifier.
fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn hive_type(data_type: &DataType) -> String {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 => "STRING".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Timestamp(..) => "TIMESTAMP".into(),
        DataType::List(item) => format!("ARRAY<{}>", hive_type(item.data_type())),
        DataType::Struct(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", quoted(f.name()), hive_type(f.data_type())))
                .collect();
            format!("STRUCT<{}>", fields.join(", "))
        }
        other => format!("STRING /* {other} */"),
    }
}

fn column(field: &Field) -> String {
    format!("  {} {}", quoted(field.name()), hive_type(field.data_type()))
}

/// CREATE EXTERNAL TABLE for the table at `location`, then one ALTER TABLE
/// ADD PARTITION per committed landing or snapshot (its value of the string
/// column `partitioned_by`, its directory's URL).
pub fn ddl(
    table: &str,
    schema: &Schema,
    location: &str,
    partitioned_by: &str,
    partitions: &[(String, String)],
) -> String {
    let columns: Vec<String> = schema.fields().iter().map(|f| column(f)).collect();
    let mut out = format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS {} (\n{}\n)\nPARTITIONED BY ({} STRING)\nSTORED AS PARQUET\nLOCATION '{}'\n;\n",
        quoted(table),
        columns.join(",\n"),
        quoted(partitioned_by),
        location.replace('\'', "\\'")
    );
    for (instant, at) in partitions {
        out += &format!(
            "ALTER TABLE {} ADD IF NOT EXISTS PARTITION ({}='{}') LOCATION '{}'\n;\n",
            quoted(table),
            quoted(partitioned_by),
            instant,
            at.replace('\'', "\\'")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loading_bay::encode::Layout;
    use crate::roads::RoadType;
    use serde_json::json;

    #[test]
    fn a_compacted_table_has_a_key_and_a_payload_struct() {
        let layout = Layout::new(
            RoadType::Compacted,
            &json!({"type": "object", "properties": {
                "v": {"type": "string"}, "n": {"type": "array", "items": {"type": "integer"}}
            }}),
        );
        let text = ddl(
            "seed",
            &layout.schema(),
            "s3://lake/tables/seed",
            "acquisition_instant",
            &[(
                "20261202T203000Z".into(),
                "s3://lake/tables/seed/acquisition_instant=20261202T203000Z".into(),
            )],
        );
        assert!(text.starts_with("CREATE EXTERNAL TABLE IF NOT EXISTS `seed` (\n  `key` STRING,\n  `payload` STRUCT<`n`: ARRAY<BIGINT>, `v`: STRING>,\n  `_partition` INT,\n  `_offset` BIGINT,\n  `_timestamp` TIMESTAMP,\n  `_schema_version` INT\n)"), "{text}");
        assert!(text.contains("PARTITIONED BY (`acquisition_instant` STRING)\nSTORED AS PARQUET\nLOCATION 's3://lake/tables/seed'"), "{text}");
        assert!(text.contains("ALTER TABLE `seed` ADD IF NOT EXISTS PARTITION (`acquisition_instant`='20261202T203000Z') LOCATION 's3://lake/tables/seed/acquisition_instant=20261202T203000Z'"), "{text}");
    }
}
