//! How long a Track invocation takes with an OAuth carrier when its token is cached (warm) and
//! when it must be fetched first (cold), against the local carrier stand-in (test-support's, on
//! 127.0.0.1, answering the UPS / FedEx fixtures). A measurement to read, not a pass/fail test.
//!
//! ```sh
//! cargo run -p track --release --example bench_oauth -- [ups|fedex] [invocations]
//! ```
//!
//! Three cases, each through `App::handle` as built by `track::build_app_with`:
//! - warm: one environment, token cached (only the tracking call);
//! - cold token: one environment (its connections kept), the clock moved past the token's expiry
//!   before each invocation, so each fetches a token first;
//! - cold environment: a new environment per invocation (new HTTP client, empty token cache).

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use test_support::carrier_stand_in::{StandIn, TOKEN_LIFETIME_SECS};
use track::oauth::ManualClock;
use track::{App, Config};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let carrier = args.next().unwrap_or_else(|| "ups".into());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let stand_in = StandIn::start().await;
    let config = Config::from_lookup(|k| match k {
        "CARRIER" => Some(carrier.clone()),
        "CARRIER_BASE_URL" => Some(stand_in.url.clone()),
        "CARRIER_CLIENT_ID" => Some("bench-client".into()),
        "CARRIER_CLIENT_SECRET" => Some("bench-secret".into()),
        _ => None,
    })
    .expect("configuration");
    let number = if carrier == "fedex" {
        "794843185271"
    } else {
        "1Z023E2X0214323462"
    };
    let clock = Arc::new(ManualClock::new());
    let app = track::build_app_with(&config, clock.clone()).expect("app");
    invoke(&app, number).await; // connections and token in place

    let warm = measure(n, || invoke(&app, number)).await;
    let expiry = Duration::from_secs(TOKEN_LIFETIME_SECS);
    let cold_token = measure(n / 4, || {
        clock.advance(expiry);
        invoke(&app, number)
    })
    .await;
    let cold_env = measure(n / 4, || async {
        let app = track::build_app_with(&config, Arc::new(ManualClock::new())).expect("app");
        invoke(&app, number).await;
    })
    .await;
    let calls = stand_in.calls();
    let tokens = calls.iter().filter(|c| c.endpoint == "token").count();
    println!(
        "carrier {carrier}, stand-in {}, {} calls ({tokens} token requests)",
        stand_in.url,
        calls.len()
    );
    for (name, samples) in [
        ("warm (token cached)", warm),
        ("cold token (fetched)", cold_token),
        ("cold environment", cold_env),
    ] {
        report(name, samples);
    }
}

async fn invoke(app: &App, number: &str) {
    let payload = json!({"transaction_id": "bench", "tracking_number": number});
    let response = app
        .handle(LambdaEvent::new(payload, Context::default()))
        .await;
    response.expect("the stand-in answers every invocation");
}

async fn measure<F, Fut>(n: usize, mut one: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        one().await;
        samples.push(started.elapsed());
    }
    samples
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<22} n={:<5} p50 {:>7.3} ms   p99 {:>7.3} ms   max {:>7.3} ms",
        samples.len(),
        ms(at(0.50)),
        ms(at(0.99)),
        ms(samples[samples.len() - 1])
    );
}
