//! What the workspace's tests share, in one place instead of copies (a dev-dependency only):
//! the Lambda Runtime API stand-in that runs the real Lambda binaries as Lambda would
//! ([`runtime_api`]), a stand-in of the Lambda Invoke API that the import's continuations call
//! ([`invoke_api`]), an in-memory writer for a tracing subscriber ([`LogBuffer`]), the settings
//! of the local AWS stand-in that `scripts/test.sh` starts ([`moto`]), and the carrier answers
//! the tests and the sample stand-in share ([`fixtures`], [`carrier_stand_in`]).

pub mod carrier_stand_in;
pub mod fixtures;
pub mod invoke_api;
pub mod moto;
pub mod runtime_api;
pub mod sqs_stand_in;

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

/// Serves HTTP/1.1 on a free port of 127.0.0.1, answering every request with `handle`; returns
/// the `host:port`. The server lives as long as the test's runtime.
pub(crate) async fn serve_http<S, F, Fut>(state: Arc<S>, handle: F) -> String
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Request<Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            // A failed accept (a client gone before it was taken, no file descriptors left for a
            // moment) loses that client only; the server goes on.
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, Infallible>(handle(state, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

/// Everything a tracing subscriber writes, kept in memory for a test to search.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// What was written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

thread_local! {
    /// The capture of the thread that logs, if it started one ([`capture_logs`]).
    static CAPTURE: std::cell::RefCell<Option<LogBuffer>> = const { std::cell::RefCell::new(None) };
}

/// Writes each log line to the logging thread's capture, if any.
#[derive(Clone, Copy)]
struct ToCapture;

impl Write for ToCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|capture| {
            if let Some(buffer) = capture.borrow().as_ref() {
                buffer.0.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ToCapture {
    type Writer = ToCapture;
    fn make_writer(&'a self) -> ToCapture {
        *self
    }
}

/// Everything tracing writes on this thread, at every level, while it is alive.
pub struct LogCapture {
    buffer: LogBuffer,
}

/// Starts capturing. `#[tokio::test]` runs on one thread, so every log line of such a test
/// lands here. One global subscriber (at TRACE) serves every capture of the process: a scoped
/// default subscriber per test raced with the other tests' threads over tracing's cached
/// callsite interest and sometimes saw nothing.
pub fn capture_logs() -> LogCapture {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(ToCapture)
            .try_init()
            .expect("capture_logs owns this test process's subscriber");
    });
    let buffer = LogBuffer::default();
    CAPTURE.with(|capture| *capture.borrow_mut() = Some(buffer.clone()));
    LogCapture { buffer }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        CAPTURE.with(|capture| capture.borrow_mut().take());
    }
}

impl LogCapture {
    /// What was logged so far.
    pub fn text(&self) -> String {
        self.buffer.text()
    }
}
