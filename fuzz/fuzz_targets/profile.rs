//! Bytes → profile TOML loading and validation (the loader built-in profiles go through), then
//! a file read and mapped with the profile when it loads. The body is `shared::fuzzing::profile`,
//! which `cargo test` also replays.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shared::fuzzing::profile(data));
