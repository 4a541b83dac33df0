//! The SQS stand-in of the delivery benchmark (`scripts/bench-delivery.sh`;
//! `test_support::sqs_stand_in`): `sqs-stand-in [LATENCY_MS] [LINK_MB_PER_S]` (defaults 20 and
//! 80) prints `{"listening": "<url>"}` once it accepts connections and serves until killed. A
//! request with `x-amz-target: Counts` answers what it counted so far.

use std::io::Write;
use std::time::Duration;

use test_support::sqs_stand_in::{Model, SqsStandIn};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut number = |default: f64| {
        args.next()
            .map(|a| a.parse::<f64>().expect("a number"))
            .unwrap_or(default)
    };
    let model = Model {
        latency: Duration::from_secs_f64(number(20.0) / 1000.0),
        bytes_per_second: number(80.0) * 1_000_000.0,
    };
    let stand_in = SqsStandIn::start(model).await;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", serde_json::json!({"listening": stand_in.url}));
    let _ = out.flush();
    drop(out);
    std::future::pending::<()>().await;
}
