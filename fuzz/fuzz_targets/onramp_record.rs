#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| roadroller_server::fuzzing::onramp_record(data));
