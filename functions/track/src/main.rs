//! Lambda entry point: wiring only. Configuration, profile and the HTTP client are built once
//! per execution environment; every invocation reuses them (and the client's connections).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use track::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Lambda's logging configuration (AWS_LAMBDA_LOG_LEVEL, AWS_LAMBDA_LOG_FORMAT), as
    // lambda_runtime reads it, without the secrets a dependency logs at TRACE.
    shared::logging::init_lambda();

    let config = Config::from_env()?;
    let app = Arc::new(track::build_app(&config)?);

    run(service_fn(move |event: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        async move { app.handle(event).await }
    }))
    .await
}
