#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| roadroller_gateway::fuzzing::websocket_event(data));
