//! A stand-in for Lambda's Runtime API, to run the Lambda binaries as Lambda would: hands out
//! the given payloads as invocations, one per `next` call (then keeps the caller waiting, as
//! Lambda does between invocations), and passes on the function's answers.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::Value;
use tokio::sync::mpsc;

/// An answer: (invocation id, `response` or `error`, body).
pub type Answer = (String, String, Value);

pub struct RuntimeApi {
    address: String,
    answers: mpsc::UnboundedReceiver<Answer>,
}

struct State {
    payloads: Mutex<VecDeque<Vec<u8>>>,
    served: Mutex<u32>,
    answers: mpsc::UnboundedSender<Answer>,
}

impl RuntimeApi {
    pub async fn start(payloads: Vec<Vec<u8>>) -> RuntimeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            payloads: Mutex::new(payloads.into()),
            served: Mutex::new(0),
            answers: tx,
        });
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(serve(&state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RuntimeApi {
            address,
            answers: rx,
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub async fn answer(&mut self) -> Answer {
        self.answers.recv().await.expect("the stand-in API runs")
    }
}

async fn serve(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if path == "/2018-06-01/runtime/invocation/next" {
        let next = state.payloads.lock().unwrap().pop_front();
        let Some(payload) = next else {
            return std::future::pending().await;
        };
        let id = {
            let mut served = state.served.lock().unwrap();
            *served += 1;
            format!("invocation-{served}")
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 60_000;
        return Response::builder()
            .header("lambda-runtime-aws-request-id", id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:import-tracking-events",
            )
            .body(Full::new(Bytes::from(payload)))
            .unwrap();
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let ["2018-06-01", "runtime", "invocation", id, kind] = parts[..] {
        let (id, kind) = (id.to_owned(), kind.to_owned());
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let _ = state.answers.send((id, kind, body));
        return Response::builder()
            .status(202)
            .body(Full::new(Bytes::new()))
            .unwrap();
    }
    Response::builder()
        .status(404)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// The Lambda binary `exe`, configured as Lambda starts it, against `api`; no queue, state or
/// AWS endpoint it could reach. Its stdout and stderr go to `output`; it dies with the handle.
/// (The Track function's tests use it too.)
pub fn lambda(
    exe: &str,
    api: &RuntimeApi,
    output: &tempfile::NamedTempFile,
) -> tokio::process::Command {
    let name = std::path::Path::new(exe).file_name().unwrap();
    let mut command = tokio::process::Command::new(exe);
    command
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("QUEUE_URL", "http://127.0.0.1:9/never-used")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_BACKTRACE", "0")
        .env_remove("STATE_BUCKET")
        .env_remove("DEFAULT_SOURCE")
        .env_remove("DEFAULT_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .stdout(output.reopen().unwrap())
        .stderr(output.reopen().unwrap())
        .kill_on_drop(true);
    command
}
