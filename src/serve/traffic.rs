//! `serve --log-requests DIR`: a sample of the rows served, written to
//! rotating newline-delimited JSON files for `optbench drift --current DIR`.
//!
//! One line per sampled row:
//!
//! ```text
//! {"ts":"2026-12-06T02:10:11.123Z","model":"forest-10","id":"forest-10",
//!  "version":"3f2a…","fallback":false,"prediction":"Adelie",
//!  "proba":{"Adelie":0.9,"Chinstrap":0.1,"Gentoo":0.0},
//!  "row":{"bill_length_mm":39.1,"island":"Torgersen","sex":null}}
//! ```
//!
//! `row` holds the cells as received (a number, a text, or `null` for a
//! missing cell; a cell that could not be read at all is `null`). Files are named
//! `requests-<UTC start>-<pid>-<seq>.ndjson`, so that their names sort in
//! time; a file is closed at `max_file_bytes` and the oldest files beyond
//! `max_files` are deleted.
//!
//! The request path only samples and hands a record to a bounded channel
//! (`try_send`): a full channel drops the row and counts it in
//! `optbench_request_log_rows_total{outcome="dropped"}`, so logging never
//! makes a request wait. Formatting and writing happen on one thread of
//! their own.

use super::worker::Loaded;
use crate::error::{Error, Result};
use prometheus_client::metrics::counter::Counter;
use serde::ser::{SerializeMap, Serializer};
use std::cell::Cell;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Rows waiting for the writer at most; beyond it rows are dropped (and
/// counted). At a few hundred bytes a row, about 10 MB.
const QUEUE_ROWS: usize = 32_768;
/// How often the writer flushes when rows arrive slowly.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
pub const FILE_PREFIX: &str = "requests-";
pub const FILE_SUFFIX: &str = ".ndjson";

/// Where and how much to log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogOptions {
    pub dir: PathBuf,
    /// Share of rows logged, in (0, 1].
    pub sample_rate: f64,
    /// A file is closed (and the next one started) once it reaches this.
    pub max_file_bytes: u64,
    /// Files kept; older ones are deleted.
    pub max_files: usize,
}

impl LogOptions {
    pub fn new(dir: PathBuf) -> LogOptions {
        LogOptions {
            dir,
            sample_rate: 1.0,
            max_file_bytes: 64 << 20,
            max_files: 100,
        }
    }

    fn check(&self) -> Result<()> {
        if !(self.sample_rate > 0.0 && self.sample_rate <= 1.0) {
            return Err(Error::flag(
                "--sample-rate",
                format!(
                    "{}: expected a share of rows above 0 and at most 1",
                    self.sample_rate
                ),
            ));
        }
        if self.max_file_bytes == 0 || self.max_files == 0 {
            return Err(Error::flag(
                "--log-max-files",
                "expected at least one file of at least one byte",
            ));
        }
        Ok(())
    }
}

/// A cell as the schema read it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Logged {
    Missing,
    Number(f64),
    Text(Box<str>),
}

/// One sampled row.
pub(super) struct Record {
    pub unix_ms: i64,
    pub loaded: Arc<Loaded>,
    pub fallback: bool,
    pub class: u32,
    pub proba: Box<[f32]>,
    pub values: Box<[Logged]>,
}

enum Message {
    Row(Record),
    Stop,
}

/// The sampling side, held by the server; [`RequestLog::finish`] flushes
/// and stops the writer.
pub(super) struct RequestLog {
    tx: SyncSender<Message>,
    /// `u64::MAX` × the sample rate: a row is logged when a draw is below it.
    threshold: u64,
    queued: Counter,
    dropped: Counter,
    writer: Mutex<Option<JoinHandle<()>>>,
}

thread_local! {
    /// A per-thread xorshift state for the sampling draw: no lock, no
    /// system call on the request path.
    static DRAW: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded per process; the thread id tells threads apart.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(format!("{:?}", std::thread::current().id()).as_bytes());
    h.finish() | 1
}

impl RequestLog {
    /// Creates `options.dir` if needed and starts the writer thread.
    /// `queued` and `dropped` count rows handed over and rows dropped;
    /// `written` is counted by the writer.
    pub(super) fn start(
        options: &LogOptions,
        name: String,
        queued: Counter,
        dropped: Counter,
        written: Counter,
    ) -> Result<RequestLog> {
        options.check()?;
        std::fs::create_dir_all(&options.dir).map_err(|e| Error::io(&options.dir, e))?;
        // Fail now, not on the first sampled row, when the folder is not
        // writable.
        let probe = options.dir.join(format!(".probe-{}", std::process::id()));
        File::create(&probe).map_err(|e| Error::io(&probe, e))?;
        let _ = std::fs::remove_file(&probe);
        let (tx, rx) = sync_channel(QUEUE_ROWS);
        let writer = Writer {
            dir: options.dir.clone(),
            name,
            max_file_bytes: options.max_file_bytes,
            max_files: options.max_files,
            written,
            dropped: dropped.clone(),
            file: None,
            seq: 0,
            warned: false,
        };
        let handle = std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| Error::io(&options.dir, e))?;
        Ok(RequestLog {
            tx,
            threshold: (options.sample_rate * u64::MAX as f64) as u64,
            queued,
            dropped,
            writer: Mutex::new(Some(handle)),
        })
    }

    /// Whether to log the next row.
    #[inline]
    pub(super) fn sample(&self) -> bool {
        if self.threshold == u64::MAX {
            return true;
        }
        DRAW.with(|s| {
            let mut x = s.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.set(x);
            x < self.threshold
        })
    }

    /// Hands `record` to the writer, or drops it when the queue is full.
    pub(super) fn push(&self, record: Record) {
        match self.tx.try_send(Message::Row(record)) {
            Ok(()) => {
                self.queued.inc();
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.inc();
            }
        }
    }

    /// Writes what is queued, closes the file and stops the writer.
    pub(super) fn finish(&self) {
        let handle = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = self.tx.send(Message::Stop);
            let _ = h.join();
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

struct Writer {
    dir: PathBuf,
    name: String,
    max_file_bytes: u64,
    max_files: usize,
    written: Counter,
    dropped: Counter,
    file: Option<(BufWriter<File>, u64)>,
    seq: u64,
    /// A write error is reported once, then its rows are counted as dropped.
    warned: bool,
}

impl Writer {
    fn run(mut self, rx: Receiver<Message>) {
        let mut line = Vec::with_capacity(512);
        loop {
            match rx.recv_timeout(FLUSH_EVERY) {
                Ok(Message::Row(r)) => {
                    line.clear();
                    self.format(&r, &mut line);
                    match self.write(&line) {
                        Ok(()) => {
                            self.written.inc();
                        }
                        Err(e) => self.failed(&e),
                    }
                }
                Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = self.flush() {
                        self.failed(&e);
                    }
                }
            }
        }
        if let Err(e) = self.flush() {
            self.failed(&e);
        }
    }

    fn failed(&mut self, e: &Error) {
        self.dropped.inc();
        if !self.warned {
            eprintln!(
                "warning: request log: {e}; rows that cannot be written are counted as dropped"
            );
            self.warned = true;
        }
        // Start a new file on the next row: the failed one may be gone.
        self.file = None;
    }

    fn flush(&mut self) -> Result<()> {
        if let Some((f, _)) = &mut self.file {
            f.flush().map_err(|e| Error::io(&self.dir, e))?;
        }
        Ok(())
    }

    fn write(&mut self, line: &[u8]) -> Result<()> {
        if self.file.is_none() {
            self.seq += 1;
            let stamp: String = crate::timefmt::format_utc(now_ms() / 1000)
                .chars()
                .filter(|c| !matches!(c, '-' | ':'))
                .collect();
            let path = self.dir.join(format!(
                "{FILE_PREFIX}{stamp}-{}-{:04}{FILE_SUFFIX}",
                std::process::id(),
                self.seq
            ));
            let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
            self.file = Some((BufWriter::with_capacity(1 << 16, f), 0));
            self.prune()?;
        }
        let Some((f, bytes)) = &mut self.file else {
            unreachable!("opened above")
        };
        f.write_all(line).map_err(|e| Error::io(&self.dir, e))?;
        *bytes += line.len() as u64;
        if *bytes >= self.max_file_bytes {
            self.flush()?;
            self.file = None;
        }
        Ok(())
    }

    /// Deletes the oldest log files beyond `max_files`.
    fn prune(&self) -> Result<()> {
        let mut files = log_files(&self.dir)?;
        if files.len() > self.max_files {
            let excess = files.len() - self.max_files;
            for old in files.drain(..excess) {
                let _ = std::fs::remove_file(old);
            }
        }
        Ok(())
    }

    fn format(&self, r: &Record, out: &mut Vec<u8>) {
        let line = Line {
            record: r,
            name: &self.name,
        };
        // Strings, finite numbers and maps: serialisation cannot fail.
        serde_json::to_writer(&mut *out, &line).expect("a log line serialises");
        out.push(b'\n');
    }
}

/// The request log files in `dir`, oldest first (their names sort in time).
pub fn log_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(FILE_PREFIX) && n.ends_with(FILE_SUFFIX))
        })
        .collect();
    files.sort();
    Ok(files)
}

struct Line<'a> {
    record: &'a Record,
    name: &'a str,
}

impl serde::Serialize for Line<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let r = self.record;
        let a = &r.loaded.artifact;
        let classes = &a.metadata.classes;
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("ts", &timestamp(r.unix_ms))?;
        m.serialize_entry("model", self.name)?;
        m.serialize_entry("id", &a.metadata.model.id)?;
        m.serialize_entry("version", &r.loaded.version)?;
        m.serialize_entry("fallback", &r.fallback)?;
        m.serialize_entry("prediction", &classes[r.class as usize])?;
        m.serialize_entry("proba", &Pairs(classes.iter().zip(r.proba.iter())))?;
        let names = a.schema.features.iter().map(|f| &f.name);
        m.serialize_entry("row", &Pairs(names.zip(r.values.iter())))?;
        m.end()
    }
}

/// Key–value pairs as a JSON object, in their order.
struct Pairs<I>(I);

impl<'a, K, V, I> serde::Serialize for Pairs<I>
where
    I: Iterator<Item = (&'a K, &'a V)> + Clone,
    K: serde::Serialize + ?Sized + 'a,
    V: serde::Serialize + 'a,
{
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.clone())
    }
}

impl serde::Serialize for Logged {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Logged::Missing => s.serialize_none(),
            Logged::Number(v) => s.serialize_f64(*v),
            Logged::Text(t) => s.serialize_str(t),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn timestamp(unix_ms: i64) -> String {
    let s = crate::timefmt::format_utc(unix_ms.div_euclid(1000));
    format!(
        "{}.{:03}Z",
        s.trim_end_matches('Z'),
        unix_ms.rem_euclid(1000)
    )
}
