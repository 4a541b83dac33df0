//! ImportTrackingEvents: stream a carrier's bulk tracking file, map every record to a Connect
//! `ImportedTrackingEvent`, and deliver the events to SQS in packed, deterministic chunks.
//!
//! # Layout
//!
//! - [`handler`]: the Lambda handler; `main.rs` only wires it to the runtime.
//! - [`request`]: the invocation shapes (Connect request, EventBridge event, classic schedule)
//!   reduced to an [`request::ImportJob`].
//! - [`config`]: environment configuration, parsed once.
//! - [`profiles`]: the job's profile, built in or loaded from a URI through the sources.
//! - [`discovery`]: one scheduled run: list a pattern, import each new file once, oldest first.
//! - [`pipeline`]: reader → encoders → packer → delivery, with bounded channels.
//! - [`json`]: the events' JSON, written straight into message buffers (the hot path).
//! - [`envelope`]: the queue message contract and the packing of events into messages/batches.
//! - [`deliver`]: concurrent sends, resending failed entries, the delivered mark.
//! - [`checkpoint`]: settled points of a file, saved as delivery confirms them, so a run cut
//!   short (deadline, crash, lost connection, spent retries) is resumed, not repeated.
//! - [`rejects`]: rejected records with their raw text, stored for an operator to replay.
//! - [`decompress`]: gzip found by its magic bytes and decompressed as it streams.
//! - [`source`]: the source port (open a URI at an offset, list a pattern, tidy up after import)
//!   and its S3, file, FTP/FTPS and SFTP adapters.
//! - [`sink`]: the sink port (send a batch) and its SQS, stdout and null adapters.
//! - [`state`]: what was imported, per connection (S3 conditional writes): once-only.
//! - [`aws`]: AWS client construction.
//! - [`memory`]: allocator tuning that keeps resident memory flat.
//! - [`metrics`]: the per-file summary as a CloudWatch Embedded Metric Format line.
//! - [`error`]: the crate's errors.
//!
//! The `tracking-import` binary runs the same pipeline from the command line.

pub mod aws;
pub mod config;
pub mod decompress;
pub mod deliver;
pub mod discovery;
pub mod envelope;
pub mod error;
pub mod handler;
pub mod json;
pub mod memory;
pub mod metrics;
pub mod pipeline;
pub mod profiles;
pub mod request;
pub mod sink;
pub mod source;
pub mod state;

pub use config::Config;
pub use error::ImportError;
pub use pipeline::Summary;
