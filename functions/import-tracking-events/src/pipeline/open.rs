//! Opening a file version for import: its profile, where to start (an earlier run's checkpoint
//! of this very version, else the beginning), the source opened there behind reconnects and
//! byte counting, gzip detected, and the reader bound to the file's header, which fails here,
//! before anything is sent, when it lacks a profile column.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use shared::profile::Format;
use shared::{Mapper, Position, Profile, RecordReader};
use tokio::io::AsyncReadExt;

use super::start::Start;
use super::{Counting, Progress, read_error};
use crate::config::Config;
use crate::decompress::{self, Compression};
use crate::envelope::{self, SourceRef};
use crate::error::ImportError;
use crate::request::ImportJob;
use crate::source::{Opened, ReopenPolicy, Reopening, Source};
use crate::state::Checkpoint;
use crate::state::{FileVersion, Mark};

/// A file opened for reading, with everything the stages need to know about it.
pub(super) struct OpenedFile<'a> {
    pub reader: RecordReader<decompress::Body<'a>>,
    pub mapper: Arc<Mapper>,
    pub profile: Profile,
    pub start: Start,
    /// The settled point this run starts from.
    pub mark: Mark,
    pub source_ref: SourceRef,
    pub file: FileVersion,
}

impl<'a> OpenedFile<'a> {
    pub(super) async fn open(
        job: &'a ImportJob,
        source: &'a dyn Source,
        config: &Config,
        progress: &Arc<Progress>,
        resume: Option<Checkpoint>,
    ) -> Result<OpenedFile<'a>, ImportError> {
        let profile: Profile = crate::profiles::for_job(job, source).await?;
        if profile.format == Format::Api {
            return Err(shared::ProfileError::NotAFileProfile {
                profile: profile.name,
            }
            .into());
        }
        let (resume, start, opened) = at_checkpoint(job, source, &profile, resume).await?;
        let mark = resume.as_ref().map_or_else(Mark::start, |c| c.mark);
        progress
            .total_bytes
            .store(opened.size.unwrap_or(0), Ordering::Relaxed);
        let source_ref = SourceRef {
            uri: job.source.clone(),
            version: opened.version.clone(),
        };
        let import_id = envelope::import_id(&source_ref);
        tracing::info!(
            %import_id,
            source = %job.source,
            version = %source_ref.version,
            profile = %profile.name,
            resumed_from_record = mark.through_record,
            offset = start.offset,
            "import started"
        );
        let mut start = start;
        let (body, compression) = body(job, source, config, progress, &mut start, opened).await?;
        let read_err = |source: shared::ReadError| read_error(&job.source, source);
        let mut reader = RecordReader::new(body, &profile);
        let headers = reader.headers().await.map_err(read_err)?;
        // A header that lacks a profile column fails here, before anything is sent.
        let mapper = Arc::new(Mapper::new(&profile, &headers).map_err(read_err)?);
        let file = FileVersion {
            version: source_ref.version.clone(),
            import_id,
            compression,
            headers: shared::reader::saved_headers(&profile, &headers),
            segments: resume.as_ref().map_or(1, |c| c.segments + 1),
        };
        Ok(OpenedFile {
            reader,
            mapper,
            profile,
            start,
            mark,
            source_ref,
            file,
        })
    }
}

/// Opens the source where `resume` says, or at its start when the file changed since.
async fn at_checkpoint(
    job: &ImportJob,
    source: &dyn Source,
    profile: &Profile,
    mut resume: Option<Checkpoint>,
) -> Result<(Option<Checkpoint>, Start, Opened), ImportError> {
    let mut start = resume
        .as_ref()
        .map_or_else(Start::beginning, |c| Start::after(c, profile));
    let mut opened = source.open(&job.source, start.offset).await?;
    if let Some(checkpoint) = &resume
        && checkpoint.version != opened.version
    {
        // Replaced since it was listed: a new version, imported from its start.
        tracing::info!(source = %job.source, "the file changed since its checkpoint; starting over");
        resume = None;
        start = Start::beginning();
        opened = source.open(&job.source, 0).await?;
    }
    Ok((resume, start, opened))
}

/// The file's plain bytes: reopened on dropped connections, counted, gunzipped when gzip, with
/// the header a mid-file start needs put back in front.
async fn body<'a>(
    job: &'a ImportJob,
    source: &'a dyn Source,
    config: &Config,
    progress: &Arc<Progress>,
    start: &mut Start,
    opened: Opened,
) -> Result<(decompress::Body<'a>, Compression), ImportError> {
    let reopening = Reopening::new(
        source,
        &job.source,
        start.offset,
        opened,
        ReopenPolicy {
            attempts: config.source_retries,
            base_delay: config.source_retry_base,
        },
    );
    // Counted before decompression: progress is measured against the source's size.
    let counted: decompress::Body<'a> = Box::pin(Counting {
        inner: reopening,
        progress: Arc::clone(progress),
    });
    let (plain, compression) = if start.offset > 0 {
        // Mid-file bytes are not a magic number; the checkpoint said the file is plain.
        (counted, Compression::None)
    } else {
        decompress::detect(counted).await.map_err(|source| {
            read_error(
                &job.source,
                shared::ReadError::Io {
                    position: Position::default(),
                    source,
                },
            )
        })?
    };
    let plain: decompress::Body<'a> = match start.header.take() {
        Some(header) => Box::pin(std::io::Cursor::new(header).chain(plain)),
        None => plain,
    };
    Ok((plain, compression))
}
