//! Bytes → the EDI segment reader (X12 or EDIFACT, by the first byte), then the built-in
//! `x12-214` / `edifact-iftsta` profile's record reader → the mapper. The body is
//! `shared::fuzzing::edi`, which `cargo test` also replays.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shared::fuzzing::edi(data));
