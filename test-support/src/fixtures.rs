//! The carrier answers in `test-support/fixtures/`, one copy read by the wiremock tests and
//! served by the sample invocations' stand-in (`carrier-stand-in`), so both agree.

use std::path::PathBuf;

/// `test-support/fixtures/`.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The text of `name` (e.g. `ups/delivered.json`).
pub fn text(name: &str) -> String {
    let path = dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `name` as JSON.
pub fn json(name: &str) -> serde_json::Value {
    serde_json::from_str(&text(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}
