//! An SQS stand-in for the delivery benchmark (`scripts/bench-delivery.sh`): it answers
//! SendMessageBatch in SQS's JSON protocol after a modelled delay, a fixed latency per request
//! plus the request's bytes over one link that every request shares, so that how the import
//! overlaps its sends shows as it would against a remote queue. It keeps no messages: it counts
//! requests, entries, bytes and events, and checks that every body decodes (a plain `events`
//! array, or `events_gzip`: base64 of the gzip of one). The model is a model, not a measurement
//! of AWS: its two numbers are parameters.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::Response;
use hyper::body::{Bytes, Incoming};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

/// The modelled network between the function and the queue.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    /// Added to every request.
    pub latency: Duration,
    /// The one link's rate, in bytes per second, shared by all requests in flight.
    pub bytes_per_second: f64,
}

/// When each request's last byte has crossed the link: requests queue for the link in the
/// order they arrive.
#[derive(Debug)]
pub struct Link {
    model: Model,
    free_at: Option<Instant>,
}

impl Link {
    pub fn new(model: Model) -> Link {
        Link {
            model,
            free_at: None,
        }
    }

    /// When a request of `bytes` that arrived `now` is answered.
    pub fn answer_at(&mut self, now: Instant, bytes: usize) -> Instant {
        let start = self.free_at.map_or(now, |free| free.max(now));
        let crossed = start + Duration::from_secs_f64(bytes as f64 / self.model.bytes_per_second);
        self.free_at = Some(crossed);
        crossed + self.model.latency
    }
}

/// What the stand-in saw.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub requests: u64,
    pub entries: u64,
    /// Request bodies, as they crossed the modelled link.
    pub request_bytes: u64,
    /// Message bodies alone.
    pub message_bytes: u64,
    pub events: u64,
    /// Bodies that did not decode, and the first one's reason.
    pub bad_bodies: u64,
    pub first_bad: Option<String>,
}

struct State {
    link: Mutex<Link>,
    counts: Mutex<Counts>,
    /// Requests whose bodies are still being checked.
    pending: AtomicU64,
}

/// The running stand-in.
pub struct SqsStandIn {
    pub url: String,
    state: Arc<State>,
}

impl SqsStandIn {
    /// Serves on a free port of 127.0.0.1 (on the current tokio runtime).
    pub async fn start(model: Model) -> SqsStandIn {
        let state = Arc::new(State {
            link: Mutex::new(Link::new(model)),
            counts: Mutex::new(Counts::default()),
            pending: AtomicU64::new(0),
        });
        let address = crate::serve_http(Arc::clone(&state), |state, req| async move {
            state.serve(req).await
        })
        .await;
        SqsStandIn {
            url: format!("http://{address}"),
            state,
        }
    }

    pub fn counts(&self) -> Counts {
        self.state.counts.lock().unwrap().clone()
    }
}

impl State {
    async fn serve(self: &Arc<Self>, req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
        let arrived = Instant::now();
        let target = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if target == "Counts" {
            while self.pending.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            return reply(
                200,
                &serde_json::to_value(&*self.counts.lock().unwrap()).unwrap(),
            );
        }
        if target != "AmazonSQS.SendMessageBatch" {
            let error = json!({"__type": "UnsupportedOperation", "message": target});
            return reply(400, &error);
        }
        let answer_at = self.link.lock().unwrap().answer_at(arrived, body.len());
        let request: Request = match serde_json::from_slice(&body) {
            Ok(request) => request,
            Err(e) => {
                let error = json!({"__type": "InvalidParameterValue", "message": e.to_string()});
                return reply(400, &error);
            }
        };
        let successful: Vec<Value> = request
            .entries
            .iter()
            .map(|entry| {
                json!({
                    "Id": entry.id,
                    "MessageId": uuid::Uuid::new_v4().to_string(),
                    "MD5OfMessageBody": format!("{:x}", md5::compute(entry.message_body.as_bytes())),
                })
            })
            .collect();
        // Checking the bodies is the stand-in's own work, not the modelled queue's: it runs
        // beside the answer, and a count waits for it.
        self.pending.fetch_add(1, Ordering::SeqCst);
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            state.count(&request, body.len());
            state.pending.fetch_sub(1, Ordering::SeqCst);
        });
        tokio::time::sleep_until(answer_at).await;
        reply(200, &json!({"Successful": successful, "Failed": []}))
    }

    /// Counts a request and checks its bodies.
    fn count(&self, request: &Request, bytes: usize) {
        let mut counts = Counts {
            requests: 1,
            request_bytes: bytes as u64,
            ..Counts::default()
        };
        for entry in &request.entries {
            let message = &entry.message_body;
            counts.entries += 1;
            counts.message_bytes += message.len() as u64;
            match events_in(message) {
                Ok(n) => counts.events += n,
                Err(reason) => {
                    counts.bad_bodies += 1;
                    counts.first_bad.get_or_insert(reason);
                }
            }
        }
        let mut total = self.counts.lock().unwrap();
        total.requests += counts.requests;
        total.entries += counts.entries;
        total.request_bytes += counts.request_bytes;
        total.message_bytes += counts.message_bytes;
        total.events += counts.events;
        total.bad_bodies += counts.bad_bodies;
        if total.first_bad.is_none() {
            total.first_bad = counts.first_bad;
        }
    }
}

/// SendMessageBatch's request, as far as the stand-in reads it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    id: String,
    message_body: String,
}

/// How many events a message body holds, once decoded.
pub fn events_in(body: &str) -> Result<u64, String> {
    use base64::Engine;
    /// The two ways an envelope carries events; every event is parsed, none is kept.
    #[derive(Deserialize)]
    struct Carried<'a> {
        events: Option<Vec<serde::de::IgnoredAny>>,
        #[serde(borrow)]
        events_gzip: Option<std::borrow::Cow<'a, str>>,
    }
    let envelope: Carried = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let events = match (envelope.events, envelope.events_gzip) {
        (Some(events), None) => return Ok(events.len() as u64),
        (None, Some(gzip)) => gzip.into_owned(),
        _ => return Err("neither `events` nor `events_gzip` alone".into()),
    };
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(events)
        .map_err(|e| format!("events_gzip is not base64: {e}"))?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut json)
        .map_err(|e| format!("events_gzip is not gzip: {e}"))?;
    serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(&json)
        .map(|events| events.len() as u64)
        .map_err(|e| format!("events_gzip is not a JSON array: {e}"))
}

fn reply(status: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_share_the_link_in_arrival_order_and_each_waits_the_latency() {
        let mut link = Link::new(Model {
            latency: Duration::from_millis(20),
            bytes_per_second: 1_000_000.0,
        });
        let t0 = Instant::now();
        // 100 kB takes 100 ms on the link; the second request waits for the first.
        assert_eq!(link.answer_at(t0, 100_000), t0 + Duration::from_millis(120));
        assert_eq!(link.answer_at(t0, 100_000), t0 + Duration::from_millis(220));
        // The link is idle by 1 s: a request then starts at once.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(link.answer_at(t1, 0), t1 + Duration::from_millis(20));
    }

    #[test]
    fn bodies_decode_plain_or_gzipped() {
        use base64::Engine;
        use std::io::Write;
        assert_eq!(events_in(r#"{"chunk":1,"events":[{},{}]}"#), Ok(2));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"[{},{},{}]").unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        assert_eq!(events_in(&format!(r#"{{"events_gzip":"{b64}"}}"#)), Ok(3));
        assert!(events_in(&format!(r#"{{"events":[],"events_gzip":"{b64}"}}"#)).is_err());
        assert!(events_in(r#"{"events_gzip":"not base64!"}"#).is_err());
        assert!(events_in("{").is_err());
    }
}
