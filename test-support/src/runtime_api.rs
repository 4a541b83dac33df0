//! A stand-in for Lambda's Runtime API, to run the Lambda binaries as Lambda would: hands out
//! the given payloads as invocations, one per `next` call (then keeps the caller waiting, as
//! Lambda does between invocations, until a test [pushes](RuntimeApi::push) another), and passes
//! on the function's answers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::Value;
use tokio::sync::mpsc;

/// An answer: (invocation id, `response` or `error`, body).
pub type Answer = (String, String, Value);

/// How long each invocation has: its deadline is this far from when it is handed out.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The ARN every invocation is made under.
pub const FUNCTION_ARN: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:import-tracking-events";

pub struct RuntimeApi {
    address: String,
    answers: mpsc::UnboundedReceiver<Answer>,
    payloads: mpsc::UnboundedSender<Vec<u8>>,
}

struct State {
    payloads: tokio::sync::Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    served: Mutex<u32>,
    answers: mpsc::UnboundedSender<Answer>,
}

impl RuntimeApi {
    pub async fn start(payloads: Vec<Vec<u8>>) -> RuntimeApi {
        let (tx, rx) = mpsc::unbounded_channel();
        let (payload_tx, payload_rx) = mpsc::unbounded_channel();
        for payload in payloads {
            payload_tx.send(payload).unwrap();
        }
        let state = Arc::new(State {
            payloads: tokio::sync::Mutex::new(payload_rx),
            served: Mutex::new(0),
            answers: tx,
        });
        let address =
            crate::serve_http(state, |state, req| async move { serve(&state, req).await }).await;
        RuntimeApi {
            address,
            answers: rx,
            payloads: payload_tx,
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Queues one more invocation.
    pub fn push(&self, payload: Vec<u8>) {
        self.payloads.send(payload).expect("the stand-in API runs");
    }

    pub async fn answer(&mut self) -> Answer {
        self.answers.recv().await.expect("the stand-in API runs")
    }
}

async fn serve(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if path == "/2018-06-01/runtime/invocation/next" {
        let next = state.payloads.lock().await.recv().await;
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
            + DEADLINE.as_millis();
        return Response::builder()
            .header("lambda-runtime-aws-request-id", id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header("lambda-runtime-invoked-function-arn", FUNCTION_ARN)
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

/// A Lambda binary running as Lambda runs it, against a stand-in Runtime API of its own, and
/// invoked one payload at a time (one execution environment, kept warm between invocations).
/// Its stdout and stderr are kept apart: in Lambda both go to the log, but only stdout lines
/// are read for metrics. It dies with the handle.
pub struct Function {
    api: RuntimeApi,
    process: tokio::process::Child,
    stdout: tempfile::NamedTempFile,
    stderr: tempfile::NamedTempFile,
}

impl Function {
    /// Starts `exe` configured by [`lambda`] and then `env`.
    pub async fn start(exe: &str, env: &[(&str, String)]) -> Function {
        let api = RuntimeApi::start(Vec::new()).await;
        let stdout = tempfile::NamedTempFile::new().unwrap();
        let stderr = tempfile::NamedTempFile::new().unwrap();
        let mut command = lambda(exe, &api, &stdout);
        command.stderr(stderr.reopen().unwrap());
        command.envs(env.iter().map(|(k, v)| (k, v)));
        Function {
            api,
            process: command.spawn().unwrap(),
            stdout,
            stderr,
        }
    }

    /// Invokes the function with `payload`; returns its answer's kind (`response` or `error`)
    /// and body. Panics, showing the output, if the process exits instead.
    pub async fn invoke(&mut self, payload: &Value) -> (String, Value) {
        self.api.push(payload.to_string().into_bytes());
        tokio::select! {
            (_, kind, body) = self.api.answer() => (kind, body),
            status = self.process.wait() => panic!(
                "the function exited ({status:?}):\n{}\n{}",
                read(&self.stdout),
                read(&self.stderr)
            ),
        }
    }

    /// Everything the function wrote to stdout so far.
    pub fn stdout(&self) -> String {
        read(&self.stdout)
    }

    /// Everything the function wrote to stderr so far.
    pub fn stderr(&self) -> String {
        read(&self.stderr)
    }
}

fn read(file: &tempfile::NamedTempFile) -> String {
    std::fs::read_to_string(file.path()).unwrap()
}
