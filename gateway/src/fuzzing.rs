//! Entry points of the fuzz targets in `fuzz/`, also run for a bounded time
//! by this crate's tests: arbitrary bytes in, no panic, and what must hold
//! of the answer checked.

use serde_json::value::RawValue;

use crate::body::{Encoding, inflate};
use roadroller_api::v1 as pb;

/// Decompression cap of the target: small, so that bombs are cheap to find.
const CAP: usize = 64 * 1024;

/// An Onramp request body as `POST /onramp/v1/roads/{road}/messages` reads
/// it: the first byte picks the encoding, the rest is decompressed under
/// the cap, parsed as the array of messages, and each item made a record
/// for either road type.
pub fn onramp_body(data: &[u8]) {
    let Some((&selector, sent)) = data.split_first() else { return };
    let encoding = match selector % 3 {
        0 => Encoding::Identity,
        1 => Encoding::Gzip,
        _ => Encoding::Deflate,
    };
    let Ok(text) = inflate(encoding, sent, CAP) else { return };
    assert!(text.len() <= CAP, "inflated past the cap: {}", text.len());
    let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(&text) else { return };
    for item in items {
        if let Ok(record) = crate::onramp::record(item, pb::RoadType::Stream) {
            assert_eq!(record.payload.as_deref(), Some(item.get()), "a payload passes as sent");
            assert!(record.key.is_none());
        }
        if let Ok(record) = crate::onramp::record(item, pb::RoadType::Compacted) {
            assert!(record.key.is_some(), "a COMPACTED record has a key");
        }
    }
}

/// One event a WebSocket client sends.
pub fn websocket_event(data: &[u8]) {
    let _ = crate::offramp::events::decode(data);
}

/// What the test suites run in place of `cargo fuzz`: every target on
/// random mutations of `seeds` until `budget` is spent, with a fixed seed so
/// that a failure repeats. Not coverage-guided. Returns the inputs tried.
pub fn bounded_run(seeds: &[Vec<u8>], targets: &[fn(&[u8])], budget: std::time::Duration) -> u64 {
    let mut rng = fastrand::Rng::with_seed(19);
    let until = std::time::Instant::now() + budget;
    let mut round = 0;
    while std::time::Instant::now() < until && !seeds.is_empty() {
        let mut input = seeds[round as usize % seeds.len()].clone();
        for _ in 0..rng.usize(1..8) {
            mutate(&mut rng, &mut input);
        }
        for target in targets {
            target(&input);
        }
        round += 1;
    }
    round
}

/// One small change: a byte replaced, a JSON-ish byte inserted, a byte
/// removed, or a run of the input repeated.
fn mutate(rng: &mut fastrand::Rng, input: &mut Vec<u8>) {
    let at = rng.usize(0..=input.len());
    match rng.u8(0..4) {
        0 if at < input.len() => input[at] = rng.u8(..),
        1 => input.insert(at, b"{}[]\",:0\\\0a"[rng.usize(0..11)]),
        2 if at < input.len() => {
            input.remove(at);
        }
        _ => {
            let from = rng.usize(0..=input.len());
            let copy: Vec<u8> = input[from.min(at)..from.max(at)].to_vec();
            input.splice(at..at, copy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Seeds: what clients send, compressed each way.
    fn seeds() -> Vec<Vec<u8>> {
        let bodies: [&[u8]; 4] = [
            br#"[{"a": 1}, {"b": [1, 2, {"c": null}]}]"#,
            br#"[{"key": "k", "payload": {"v": "x"}}, {"key": "d", "payload": null}]"#,
            br#"{"type":"REQUEST","count":10}"#,
            br#"{"type":"COMMIT","correlationId":"c","offsets":{"0":5}}"#,
        ];
        let mut seeds = Vec::new();
        for body in bodies {
            seeds.push([&[0u8][..], body].concat());
            let mut gz = flate2::write::GzEncoder::new(vec![1u8], flate2::Compression::fast());
            gz.write_all(body).expect("gzip");
            seeds.push(gz.finish().expect("gzip"));
            let mut z = flate2::write::ZlibEncoder::new(vec![2u8], flate2::Compression::fast());
            z.write_all(body).expect("zlib");
            seeds.push(z.finish().expect("zlib"));
            seeds.push(body.to_vec());
        }
        seeds
    }

    /// The bounded run (`./scripts/fuzz` runs `cargo fuzz`, which is
    /// coverage-guided).
    #[test]
    fn bounded_run_of_the_gateway_targets() {
        bounded_run(&seeds(), &[onramp_body, websocket_event], std::time::Duration::from_secs(3));
    }
}
