//! Header/detail files: a layer over the CSV and fixed-width readers for profiles with
//! `record_type` and `[record_types]`, so the mapper and the pipeline see plain records.
//!
//! Each row's type column says what it is. A context row's values are kept and apply to every
//! event row after it, until the next row of the same type; an event row's own non-empty value
//! wins, and where several context types map a field, the one read last does. Each event row
//! becomes one [`Record`] carrying one field per field the profile's context and event types map,
//! in [`Field`] order, named by its key ([`TypedReader::headers`]), so the mapper binds to it as
//! to any header. A row of a type the profile does not list becomes a record marked `malformed`
//! (rejected with its position, its text kept as the record's only field), and reading goes on;
//! context and ignored rows are not records. Records are numbered 1, 2, 3… as they are
//! returned; lines and bytes are the rows' own. A rejected event's raw text is its record's
//! fields, not the row's (the values mapped, as for JSON Lines).

use std::collections::HashMap;

use csv_async::ByteRecord;
use tokio::io::AsyncRead;

use super::csv::CsvReader;
use super::fixed::FixedWidthReader;
use super::{Record, find_column, header_names};
use crate::error::{Position, ReadError};
use crate::profile::{Column, Field, Format, Profile, RecordTypes, Role};

/// Streams the event records of a header/detail file.
pub struct TypedReader<R> {
    rows: Rows<R>,
    profile_name: String,
    types: RecordTypes,
    /// The fields every record carries, in [`Field`] order.
    fields: Vec<Field>,
    /// Where each type's fields are in its rows; `None` until a CSV header names them.
    layout: Option<Layout>,
    /// The row being read, and the latest row of each context type.
    row: Record,
    contexts: Vec<Context>,
    /// Context rows read so far: which context was set last.
    context_rows: u64,
    /// Records returned so far.
    records: u64,
}

enum Rows<R> {
    Csv(CsvReader<R>),
    Fixed(FixedWidthReader<R>),
}

/// Each type's rows, resolved against the file.
struct Layout {
    /// Index of the type's value in a row.
    type_at: usize,
    /// The type column, for messages.
    type_column: String,
    /// By the type's value.
    kinds: HashMap<String, Kind>,
}

struct Kind {
    role: Role,
    /// Per record field: where a row of this type holds it, if it does.
    slots: Vec<Option<usize>>,
    /// Index in `contexts`, for a context type.
    context: usize,
}

/// The latest row of one context type.
#[derive(Default)]
struct Context {
    /// When it was read (a count of context rows); 0 before its first row.
    read: u64,
    /// Per record field: whether the type maps it, its value and whether that was valid text.
    maps: Vec<bool>,
    values: Vec<String>,
    invalid: Vec<bool>,
}

impl<R: AsyncRead + Unpin + Send> TypedReader<R> {
    /// A reader for `profile`, whose `record_types` are `types`.
    pub fn new(reader: R, profile: &Profile, types: &RecordTypes) -> Self {
        let fields: Vec<Field> = types.fields().into_iter().collect();
        let (rows, layout) = match profile.format {
            Format::Fixed => {
                let columns = every_column(types);
                let rows = FixedWidthReader::with_columns(reader, profile, columns);
                let mut ordinal = 0..;
                let layout =
                    Layout::resolve(types, &fields, |_, _| Ok(ordinal.next().unwrap_or(0)));
                (Rows::Fixed(rows), layout.ok())
            }
            _ => {
                let layout = (!profile.has_headers)
                    .then(|| Layout::resolve(types, &fields, |_, c| Ok(position(c))).ok())
                    .flatten();
                (Rows::Csv(CsvReader::new(reader, profile)), layout)
            }
        };
        let contexts = layout
            .as_ref()
            .map_or_else(Vec::new, |l| l.contexts(&fields));
        TypedReader {
            rows,
            profile_name: profile.name.clone(),
            types: types.clone(),
            fields,
            layout,
            row: Record::default(),
            contexts,
            context_rows: 0,
            records: 0,
        }
    }

    /// The names of the records' fields (the keys of the fields they carry). For a CSV file
    /// with a header line, reads it first and finds every type's columns in it: an error if
    /// one is missing.
    pub async fn headers(&mut self) -> Result<ByteRecord, ReadError> {
        if self.layout.is_none()
            && let Rows::Csv(csv) = &mut self.rows
        {
            let header = csv.headers().await?;
            let names = header_names(&header);
            let layout =
                Layout::resolve(&self.types, &self.fields, |field, column| match column {
                    Column::Name(name) => find_column(&names, name, &self.profile_name, field),
                    other => Ok(position(other)),
                })?;
            self.contexts = layout.contexts(&self.fields);
            self.layout = Some(layout);
        }
        Ok(ByteRecord::from(
            self.fields.iter().map(|f| f.key()).collect::<Vec<_>>(),
        ))
    }

    /// Reads the next event record (or rejected row) into `out`; `false` at the end of the file.
    pub async fn read(&mut self, out: &mut Record) -> Result<bool, ReadError> {
        if self.layout.is_none() {
            self.headers().await?;
        }
        loop {
            let next = self.records + 1;
            let more = match &mut self.rows {
                Rows::Csv(r) => r.read(&mut self.row).await,
                Rows::Fixed(r) => r.read(&mut self.row).await,
            }
            .map_err(|err| renumber(err, next))?;
            if !more {
                return Ok(false);
            }
            if self.take_row(out) {
                self.records = next;
                out.position = Position {
                    record: next,
                    ..self.row.position
                };
                return Ok(true);
            }
        }
    }

    /// Handles the row just read: `true` when it filled `out` (an event, or a rejected row),
    /// `false` when it was a context row (kept) or ignored.
    fn take_row(&mut self, out: &mut Record) -> bool {
        let layout = self.layout.as_ref().expect("resolved before reading");
        out.invalid_utf8.clear();
        if let Some(reason) = self.row.malformed.take() {
            raw_row(&self.rows, &mut self.row, out);
            out.malformed = Some(reason);
            return true;
        }
        let value = self.row.fields.get(layout.type_at).unwrap_or("").trim();
        if self.row.invalid_utf8.contains(&layout.type_at) {
            let reason = format!(
                "column `{}` (the record type) is not valid UTF-8",
                layout.type_column
            );
            raw_row(&self.rows, &mut self.row, out);
            out.malformed = Some(reason);
            return true;
        }
        let Some(kind) = layout.kinds.get(value) else {
            let reason = format!(
                "unknown record type `{}`",
                crate::error::excerpt(value).escape_debug()
            );
            raw_row(&self.rows, &mut self.row, out);
            out.malformed = Some(reason);
            return true;
        };
        match kind.role {
            Role::Ignore => false,
            Role::Context => {
                self.context_rows += 1;
                keep(
                    &mut self.contexts[kind.context],
                    kind,
                    &self.row,
                    self.context_rows,
                );
                false
            }
            Role::Event => {
                fill(out, kind, &self.row, &self.contexts);
                true
            }
        }
    }
}

impl Layout {
    /// Finds the type column and every type's columns with `find` (given the field's key, or
    /// `record_type`), for records carrying `fields`.
    fn resolve(
        types: &RecordTypes,
        fields: &[Field],
        mut find: impl FnMut(&'static str, &Column) -> Result<usize, ReadError>,
    ) -> Result<Layout, ReadError> {
        let type_at = find("record_type", &types.column)?;
        let mut kinds = HashMap::new();
        let mut contexts = 0;
        for (name, record_type) in &types.types {
            let mut slots = vec![None; fields.len()];
            for (field, column) in &record_type.columns {
                let at = find(field.key(), column)?;
                if let Ok(slot) = fields.binary_search(field) {
                    slots[slot] = Some(at);
                }
            }
            let context = contexts;
            if record_type.role == Role::Context {
                contexts += 1;
            }
            let role = record_type.role;
            kinds.insert(
                name.clone(),
                Kind {
                    role,
                    slots,
                    context,
                },
            );
        }
        Ok(Layout {
            type_at,
            type_column: types.column.to_string(),
            kinds,
        })
    }

    /// An empty context per context type.
    fn contexts(&self, fields: &[Field]) -> Vec<Context> {
        let mut contexts: Vec<(usize, Context)> = self
            .kinds
            .values()
            .filter(|k| k.role == Role::Context)
            .map(|k| {
                let context = Context {
                    read: 0,
                    maps: k.slots.iter().map(Option::is_some).collect(),
                    values: vec![String::new(); fields.len()],
                    invalid: vec![false; fields.len()],
                };
                (k.context, context)
            })
            .collect();
        contexts.sort_by_key(|(i, _)| *i);
        contexts.into_iter().map(|(_, c)| c).collect()
    }
}

/// The type column, then every type's columns, in the order [`Layout::resolve`] visits them:
/// the spans a fixed-width line is cut into.
fn every_column(types: &RecordTypes) -> impl Iterator<Item = &Column> {
    std::iter::once(&types.column).chain(types.types.values().flat_map(|t| t.columns.values()))
}

/// A headerless CSV column's 0-based index.
fn position(column: &Column) -> usize {
    match column {
        Column::Position(n) => n.saturating_sub(1),
        // A validated typed CSV profile with a header line names its columns.
        Column::Name(_) | Column::Span { .. } => usize::MAX,
    }
}

/// The row's own text as `out`'s fields, for a rejected row: a CSV row's fields, a
/// fixed-width line whole.
fn raw_row<R: AsyncRead + Unpin + Send>(rows: &Rows<R>, row: &mut Record, out: &mut Record) {
    out.malformed = None;
    match rows {
        Rows::Csv(_) => std::mem::swap(&mut out.fields, &mut row.fields),
        Rows::Fixed(r) => {
            out.fields.clear();
            if !r.line_text().is_empty() {
                out.fields.push_field(r.line_text());
            }
        }
    }
}

/// Keeps a context row's values, as read `read`-th.
fn keep(context: &mut Context, kind: &Kind, row: &Record, read: u64) {
    context.read = read;
    for (slot, at) in kind.slots.iter().enumerate() {
        let Some(at) = *at else { continue };
        context.values[slot].clear();
        context.values[slot].push_str(row.fields.get(at).unwrap_or(""));
        context.invalid[slot] = row.invalid_utf8.contains(&at);
    }
}

/// An event record: each field from the row when it has a value there, else from the context
/// read last that has one, else empty.
fn fill(out: &mut Record, kind: &Kind, row: &Record, contexts: &[Context]) {
    out.fields.clear();
    out.malformed = None;
    for (slot, at) in kind.slots.iter().enumerate() {
        let own = at.and_then(|at| Some((row.fields.get(at)?, at)));
        if let Some((value, at)) = own.filter(|(v, _)| !v.trim_ascii().is_empty()) {
            out.fields.push_field(value);
            if row.invalid_utf8.contains(&at) {
                out.invalid_utf8.push(slot);
            }
            continue;
        }
        let context = contexts
            .iter()
            .filter(|c| c.read > 0 && c.maps[slot] && !c.values[slot].trim_ascii().is_empty())
            .max_by_key(|c| c.read);
        match context {
            Some(c) => {
                out.fields.push_field(&c.values[slot]);
                if c.invalid[slot] {
                    out.invalid_utf8.push(slot);
                }
            }
            None => out.fields.push_field(""),
        }
    }
}

/// A read error at the record this layer would have returned next (the reader below counts
/// every row).
fn renumber(err: ReadError, record: u64) -> ReadError {
    match err {
        ReadError::Io { position, source } => ReadError::Io {
            position: Position { record, ..position },
            source,
        },
        ReadError::Csv { position, source } => ReadError::Csv {
            position: Position { record, ..position },
            source,
        },
        other => other,
    }
}
