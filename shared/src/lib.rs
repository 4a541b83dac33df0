//! ShipEngine Connect tracking models and the streaming, profile-driven carrier file parser,
//! shared by the Track and ImportTrackingEvents functions.
//!
//! # Layout
//!
//! - [`models`]: serde types for Connect's requests, responses, `ImportedTrackingEvent`,
//!   `TrackingInfo`, `TrackEvent` and the standardized status codes.
//! - [`profile`]: carrier profiles (TOML, built in or loaded from a URI) saying how a carrier's
//!   file is laid out (format, delimiter, encoding, columns by name, position or span, dates and
//!   zone) and how its status codes map onto Connect's.
//! - [`reader`]: a record stream (CSV, JSON Lines, fixed width; UTF-8, windows-1252 or
//!   ISO-8859-1) over any `AsyncRead`; no I/O of its own.
//! - [`mapper`]: one record → one `ImportedTrackingEvent`, or a rejection saying why.
//! - [`datetime`]: the carrier's local date, time and zone → UTC and local ISO 8601, across
//!   daylight-saving changes.
//! - [`error`]: profile and read errors, rejections, record positions, and [`report`] for an
//!   error's whole chain.
//! - [`env`]: typed reading of environment configuration.
//! - [`deadline`]: the Lambda invocation deadline, told apart from what local emulators send.
//! - [`logging`]: the binaries' log subscriber, which never logs a secret.
//! - `secrets` (feature `secrets`): credential values that reference a Secrets Manager secret or
//!   an SSM SecureString, resolved at run time and cached.
//! - `fuzzing` (feature `fuzzing`): the fuzz targets' entry points, replayed by `cargo test`.

pub mod datetime;
pub mod deadline;
pub mod env;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod logging;
pub mod mapper;
pub mod models;
pub mod path;
pub mod profile;
pub mod reader;
#[cfg(feature = "secrets")]
pub mod secrets;
pub mod verbatim;

pub use error::{
    EXCERPT_CHARS, Position, ProfileError, ReadError, RejectReason, Rejection, TomlSyntax, excerpt,
    report,
};
pub use mapper::{EventRef, Mapper};
pub use profile::Profile;
pub use reader::{Record, RecordReader};
pub use verbatim::Verbatim;
