//! ImportTrackingEvents: stream a carrier's bulk tracking file, map every record to a Connect
//! `ImportedTrackingEvent`, and deliver the events to SQS in packed, deterministic chunks.
//!
//! # Layout
//!
//! - [`handler`]: the Lambda handler; `main.rs` only wires it to the runtime.
//! - [`request`]: the invocation shapes (Connect request, EventBridge event, classic schedule)
//!   reduced to an [`request::ImportJob`].
//! - [`config`]: environment configuration, parsed once.
//! - [`pipeline`]: reader → encoders → packer → delivery, with bounded channels.
//! - [`envelope`]: the queue message contract and the packing of events into messages/batches.
//! - [`deliver`]: concurrent sends, resending failed entries, the delivered-records watermark.
//! - [`source`]: the source port (open a URI at an offset) and its S3 and file adapters.
//! - [`sink`]: the sink port (send a batch) and its SQS, stdout and null adapters.
//! - [`aws`]: AWS client construction.
//! - [`error`]: the crate's errors.
//!
//! The `tracking-import` binary runs the same pipeline from the command line.

pub mod aws;
pub mod config;
pub mod deliver;
pub mod envelope;
pub mod error;
pub mod handler;
pub mod pipeline;
pub mod request;
pub mod sink;
pub mod source;

pub use config::Config;
pub use error::ImportError;
pub use pipeline::Summary;
