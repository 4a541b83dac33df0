//! A stand-in for the Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`), so the
//! import's continuation (an asynchronous invoke of the function itself, made by the real AWS SDK
//! client) can be run and checked without AWS: it records every request as it arrived (method,
//! function, invocation type, signature, payload) and answers `202 Accepted`, as Lambda answers an
//! `Event` invocation, or fails the requests a test scripts, as Lambda fails them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{Value, json};

/// One request, as the stand-in received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoked {
    pub method: String,
    /// The `{name}` of the path, percent-decoded (`None`: not an invoke path).
    pub function: Option<String>,
    /// The `X-Amz-Invocation-Type` header (`Event` for an asynchronous invoke).
    pub invocation_type: Option<String>,
    /// The signing service named in the SigV4 `Authorization` header's credential scope.
    pub signed_for: Option<String>,
    /// The body, as JSON (`Value::Null` when it is not JSON).
    pub payload: Value,
}

/// How the stand-in answers one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `202 Accepted`, no body: Lambda queued the event.
    Accepted,
    /// An error as Lambda sends it: this status, `X-Amzn-ErrorType: <error_type>` and a JSON body
    /// with the message.
    Error {
        status: u16,
        error_type: &'static str,
        message: &'static str,
    },
}

impl Reply {
    /// `500 ServiceException`: Lambda failed; the SDK retries it.
    pub const SERVICE_ERROR: Reply = Reply::Error {
        status: 500,
        error_type: "ServiceException",
        message: "Lambda was unable to process the request",
    };
    /// `429 TooManyRequestsException`: throttled; the SDK retries it.
    pub const THROTTLED: Reply = Reply::Error {
        status: 429,
        error_type: "TooManyRequestsException",
        message: "Rate Exceeded.",
    };
    /// `403 AccessDeniedException`: the role may not invoke the function; not retried.
    pub const ACCESS_DENIED: Reply = Reply::Error {
        status: 403,
        error_type: "AccessDeniedException",
        message: "User is not authorized to perform: lambda:InvokeFunction",
    };
}

#[derive(Default)]
struct State {
    invoked: Mutex<Vec<Invoked>>,
    /// Replies for the next requests, in order; every request after them is accepted.
    script: Mutex<VecDeque<Reply>>,
}

/// The running stand-in.
pub struct InvokeApi {
    url: String,
    state: Arc<State>,
}

impl InvokeApi {
    /// A stand-in that gives the `script`ed replies to the first requests, in order, and accepts
    /// every request after them.
    pub async fn start(script: impl IntoIterator<Item = Reply>) -> InvokeApi {
        let state = Arc::new(State {
            invoked: Mutex::default(),
            script: Mutex::new(script.into_iter().collect()),
        });
        let address = crate::serve_http(Arc::clone(&state), |state, req| async move {
            serve(&state, req).await
        })
        .await;
        InvokeApi {
            url: format!("http://{address}"),
            state,
        }
    }

    /// The endpoint, for `AWS_ENDPOINT_URL_LAMBDA`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request so far, in the order they arrived.
    pub fn invoked(&self) -> Vec<Invoked> {
        self.state.invoked.lock().unwrap().clone()
    }
}

/// What a correct asynchronous invoke of `function` with `payload` looks like on arrival.
pub fn event_invoke(function: &str, payload: Value) -> Invoked {
    Invoked {
        method: "POST".into(),
        function: Some(function.into()),
        invocation_type: Some("Event".into()),
        signed_for: Some("lambda".into()),
        payload,
    }
}

async fn serve(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let method = req.method().to_string();
    let function = req
        .uri()
        .path()
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .map(percent_decode);
    let invocation_type = header("x-amz-invocation-type");
    // `AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, …`
    let signed_for = header("authorization").and_then(|auth| {
        let scope = auth.split("Credential=").nth(1)?.split(',').next()?;
        scope.split('/').nth(3).map(str::to_owned)
    });
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let payload = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.invoked.lock().unwrap().push(Invoked {
        method,
        function,
        invocation_type,
        signed_for,
        payload,
    });
    let reply = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Reply::Accepted);
    match reply {
        Reply::Accepted => Response::builder()
            .status(202)
            .body(Full::new(Bytes::new()))
            .unwrap(),
        Reply::Error {
            status,
            error_type,
            message,
        } => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("x-amzn-errortype", error_type)
            .body(Full::new(Bytes::from(
                json!({"Type": "User", "message": message}).to_string(),
            )))
            .unwrap(),
    }
}

/// `%XX` escapes decoded (function names and ARNs are ASCII).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_decoded() {
        assert_eq!(
            percent_decode("arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af"),
            "arn:aws:lambda:us-east-1:1:function:f"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
