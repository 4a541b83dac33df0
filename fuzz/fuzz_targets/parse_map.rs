//! Bytes → a built-in file profile's record reader (CSV or JSON Lines, header included) → the
//! mapper. The body is `shared::fuzzing::parse_map`, which `cargo test` also replays.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shared::fuzzing::parse_map(data));
