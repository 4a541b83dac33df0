//! A local carrier API for the sample invocations (`scripts/invoke_samples.py`, through the
//! `carrier-stand-in` binary) and the Track benchmark: DHL's tracking endpoint, and UPS's and
//! FedEx's token and tracking endpoints, on 127.0.0.1, answering from [`crate::fixtures`] (the
//! files the wiremock tests read), so the samples meet the same carrier answers as the tests and
//! no second copy of them exists.
//!
//! It checks what a carrier would refuse (no key, no client credentials, a token it never issued:
//! 401) and records every call ([`Call`]) so the caller can check what Track sent.

use std::sync::{Arc, Mutex};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{Value, json};

/// Seconds a stand-in token lives (UPS's usual 4 h; FedEx's is 1 h, which changes nothing here).
pub const TOKEN_LIFETIME_SECS: u64 = 14_399;

/// One call the stand-in answered, as the caller may check it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Call {
    /// `dhl`, `ups` or `fedex`; empty for a path no carrier has.
    pub carrier: &'static str,
    /// `token` or `track`.
    pub endpoint: &'static str,
    /// The HTTP status it answered.
    pub status: u16,
    /// The client id a token request named (UPS: Basic user; FedEx: form `client_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The tracking number a tracking call asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// DHL's `DHL-API-Key` (the samples' keys are dummies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// UPS's `transId` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trans_id: Option<String>,
}

impl Call {
    fn new(carrier: &'static str, endpoint: &'static str) -> Call {
        Call {
            carrier,
            endpoint,
            status: 200,
            client_id: None,
            tracking_number: None,
            api_key: None,
            trans_id: None,
        }
    }
}

/// Told about each call as it is answered.
pub type OnCall = Box<dyn Fn(&Call) + Send + Sync>;

/// The running stand-in.
#[derive(Clone)]
pub struct StandIn {
    pub url: String,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    calls: Mutex<Vec<Call>>,
    tokens: Mutex<Vec<String>>,
    /// Called with each call as it is answered (the binary prints it).
    on_call: Option<OnCall>,
}

impl StandIn {
    /// Starts serving on a free port of 127.0.0.1 (on the current tokio runtime).
    pub async fn start() -> StandIn {
        StandIn::start_with(None).await
    }

    /// [`StandIn::start`], telling `on_call` about each call as it is answered.
    pub async fn start_with(on_call: Option<OnCall>) -> StandIn {
        let state = Arc::new(State {
            on_call,
            ..State::default()
        });
        let address = crate::serve_http(Arc::clone(&state), |state, req| async move {
            state.serve(req).await
        })
        .await;
        let url = format!("http://{address}");
        StandIn { url, state }
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }
}

type Answer = (u16, Value);

impl State {
    async fn serve(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let path = parts.uri.path();
        let query = parts.uri.query().unwrap_or_default();
        let (mut call, (status, answer)) = match (parts.method.as_str(), path) {
            ("GET", "/track/shipments") => self.dhl(header("dhl-api-key"), query),
            ("POST", "/security/v1/oauth/token") => self.ups_token(header("authorization")),
            ("POST", "/oauth/token") => self.fedex_token(&body),
            ("GET", p) if p.starts_with("/api/track/v1/details/") => self.ups_track(
                header("authorization"),
                header("transid"),
                &p["/api/track/v1/details/".len()..],
            ),
            ("POST", "/track/v1/trackingnumbers") => {
                self.fedex_track(header("authorization"), &body)
            }
            _ => (
                Call::new("", ""),
                (404, json!({"error": "no such endpoint"})),
            ),
        };
        call.status = status;
        if let Some(on_call) = &self.on_call {
            on_call(&call);
        }
        self.calls.lock().unwrap().push(call);
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(answer.to_string())))
            .unwrap()
    }

    fn dhl(&self, key: Option<String>, query: &str) -> (Call, Answer) {
        let mut call = Call::new("dhl", "track");
        call.tracking_number = form_value(query.as_bytes(), "trackingNumber");
        call.api_key = key.filter(|k| !k.trim().is_empty());
        let answer = match call.api_key {
            Some(_) => (200, crate::fixtures::json("dhl/in-transit.json")),
            None => (401, json!({"title": "Unauthorized", "status": 401})),
        };
        (call, answer)
    }

    fn ups_token(&self, authorization: Option<String>) -> (Call, Answer) {
        let mut call = Call::new("ups", "token");
        let basic = authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok());
        let credentials = basic
            .as_deref()
            .and_then(|b| b.split_once(':'))
            .filter(|(id, secret)| !id.is_empty() && !secret.is_empty());
        let Some((id, _)) = credentials else {
            return (call, refused_ups());
        };
        call.client_id = Some(id.to_owned());
        let token = self.issue("ups");
        let answer = json!({"token_type": "Bearer", "client_id": id, "access_token": token,
            "expires_in": TOKEN_LIFETIME_SECS.to_string(), "status": "approved"});
        (call, (200, answer))
    }

    fn fedex_token(&self, body: &[u8]) -> (Call, Answer) {
        let mut call = Call::new("fedex", "token");
        let field = |name| form_value(body, name).filter(|v| !v.is_empty());
        let grant = field("grant_type");
        let (Some(id), Some(_), Some("client_credentials")) =
            (field("client_id"), field("client_secret"), grant.as_deref())
        else {
            let refused = json!({"errors": [{"code": "NOT.AUTHORIZED.ERROR",
                "message": "The given client credentials were not valid."}]});
            return (call, (401, refused));
        };
        call.client_id = Some(id);
        let token = self.issue("fedex");
        let answer = json!({"access_token": token, "token_type": "bearer",
            "expires_in": TOKEN_LIFETIME_SECS, "scope": "CXS-TP"});
        (call, (200, answer))
    }

    fn ups_track(
        &self,
        authorization: Option<String>,
        trans_id: Option<String>,
        number: &str,
    ) -> (Call, Answer) {
        let mut call = Call::new("ups", "track");
        call.tracking_number = Some(number.to_owned());
        call.trans_id = trans_id;
        let answer = match self.issued(authorization) {
            true => (200, crate::fixtures::json("ups/in-transit.json")),
            false => refused_ups(),
        };
        (call, answer)
    }

    fn fedex_track(&self, authorization: Option<String>, body: &[u8]) -> (Call, Answer) {
        let mut call = Call::new("fedex", "track");
        let request: Value = serde_json::from_slice(body).unwrap_or_default();
        call.tracking_number = request["trackingInfo"][0]["trackingNumberInfo"]["trackingNumber"]
            .as_str()
            .map(str::to_owned);
        let answer = match self.issued(authorization) {
            true => (200, crate::fixtures::json("fedex/in-transit.json")),
            false => (
                401,
                json!({"errors": [{"code": "NOT.AUTHORIZED.ERROR", "message": "Bad token"}]}),
            ),
        };
        (call, answer)
    }

    fn issue(&self, carrier: &str) -> String {
        let mut tokens = self.tokens.lock().unwrap();
        let token = format!("stand-in-{carrier}-token-{}", tokens.len() + 1);
        tokens.push(token.clone());
        token
    }

    fn issued(&self, authorization: Option<String>) -> bool {
        let token = authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "));
        token.is_some_and(|t| self.tokens.lock().unwrap().iter().any(|i| i == t))
    }
}

fn refused_ups() -> Answer {
    let errors = json!({"response": {"errors": [{"code": "250002",
        "message": "Invalid Authentication Information."}]}});
    (401, errors)
}

/// The first value of `name` in a form-encoded `body` (or query string).
fn form_value(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
