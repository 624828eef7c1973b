//! The records every scenario uses: about 100 bytes of JSON, checked against
//! a small schema.

use serde_json::{Value, json};

/// The schema of the bench roads. `t` carries a send time for latency.
pub fn schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "name", "price"],
        "properties": {
            "id": {"type": "integer", "minimum": 0},
            "name": {"type": "string", "maxLength": 64},
            "price": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "t": {"type": "integer"}
        }
    })
}

/// Record `i` as JSON text of about 100 bytes, whatever `i`.
pub fn record(i: u64) -> String {
    format!(
        r#"{{"id":{i:>12},"name":"item-{i:0>12}","price":{}.5,"tags":["alpha","beta","gamma"],"t":0}}"#,
        i % 1000
    )
}

/// Record `i` padded to exactly 111 bytes, the size the embedded broker
/// is measured with (scenario 15).
pub fn record_111(i: u64) -> String {
    let mut r = record(i);
    r.pop();
    r.push_str(r#","p":""#);
    while r.len() < 110 - 1 {
        r.push('x');
    }
    r.push_str("\"}");
    r
}

/// A record carrying a send time (microseconds on the bench's clock).
pub fn timed(i: u64, micros: u64) -> String {
    format!(
        r#"{{"id":{i},"name":"item-{i:0>10}","price":1.5,"tags":["alpha","beta"],"t":{micros}}}"#
    )
}

/// The send time in a timed record.
pub fn sent_at(payload: &str) -> Option<u64> {
    let start = payload.rfind("\"t\":")? + 4;
    payload[start..].trim_end_matches('}').parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn records_are_about_100_bytes_and_valid() {
        let schema =
            roadroller_server::schema::compile(&super::schema().to_string()).expect("compiles");
        for i in [0, 7, 123_456_789] {
            let r = super::record(i);
            assert!((90..=110).contains(&r.len()), "{} bytes: {r}", r.len());
            let document = roadroller_server::onramp::json::parse(&r).expect("json");
            assert!(schema.validator.is_valid(&document));
        }
        assert_eq!(super::sent_at(&super::timed(3, 42)), Some(42));
    }

    #[test]
    fn the_padded_record_is_111_bytes_of_json() {
        for i in [0, 7, 123_456, 999_999_999_999] {
            let r = super::record_111(i);
            assert_eq!(r.len(), 111, "{r}");
            serde_json::from_str::<serde_json::Value>(&r).expect("json");
        }
    }
}
