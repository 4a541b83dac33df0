//! The carrier stand-in of the sample invocations (`scripts/invoke_samples.py`): serves DHL, UPS
//! and FedEx on 127.0.0.1 from the fixtures the Rust tests use
//! (`test_support::carrier_stand_in`), prints `{"listening": "<url>"}` once it accepts
//! connections, then one JSON line per call it answered, until it is killed.

use std::io::Write;

use test_support::carrier_stand_in::{Call, StandIn};

#[tokio::main]
async fn main() {
    let print = |line: String| {
        let mut out = std::io::stdout().lock();
        // A reader that went away ends the stand-in's usefulness, not the stand-in.
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    };
    let on_call = move |call: &Call| print(serde_json::to_string(call).unwrap_or_default());
    let stand_in = StandIn::start_with(Some(Box::new(on_call))).await;
    print(serde_json::json!({"listening": stand_in.url}).to_string());
    std::future::pending::<()>().await;
}
