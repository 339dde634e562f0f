//! Container logs in docker's `json-file` format: one JSON object per line,
//! `{"log":"hello\n","stream":"stdout","time":"2026-11-23T20:45:00.123456789Z"}`,
//! in `<container dir>/<id>-json.log`, rotated to `.1`, `.2`... when
//! `max-size` is reached, keeping `max-file` files in all.
//!
//! The shim writes them (it holds the container's output, and outlives the
//! daemon); `docker logs` reads them, oldest file first. A full disk must
//! not stop the container: lines that cannot be written are counted and
//! dropped, and the log says so as soon as a line fits again.

use ch05_images::history::{parse_rfc3339_nanos, rfc3339_nanos};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Where the log of container `id` is, in its directory `dir`.
pub fn log_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}-json.log"))
}

// ANCHOR: writer
/// Appends the container's output to its log.
pub struct LogWriter {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
    /// Lines lost to write errors (a full disk) since the last one written.
    dropped: u64,
    dropped_why: String,
    /// `--log-driver none`: nothing is kept.
    discard: bool,
}

impl LogWriter {
    pub fn open(
        path: &Path,
        max_size: Option<u64>,
        max_file: Option<u32>,
    ) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            file: Some(file),
            size,
            max_size,
            max_file: max_file.unwrap_or(1).max(1),
            dropped: 0,
            dropped_why: String::new(),
            discard: false,
        })
    }

    /// The writer of `--log-driver none`: the output still reaches the
    /// attached clients, and no file is written.
    pub fn discarding(path: &Path) -> Self {
        LogWriter {
            path: path.to_path_buf(),
            file: None,
            size: 0,
            max_size: None,
            max_file: 1,
            dropped: 0,
            dropped_why: String::new(),
            discard: true,
        }
    }

    /// Writes `data` from `stream` ("stdout" or "stderr"), one entry per
    /// line as docker splits it (a trailing partial line is an entry too).
    pub fn write(&mut self, stream: &str, data: &[u8], now_nanos: u64) {
        if self.discard {
            return;
        }
        let time = rfc3339_nanos(now_nanos);
        for piece in data.split_inclusive(|b| *b == b'\n') {
            let entry = Entry {
                log: String::from_utf8_lossy(piece).into_owned(),
                stream: stream.to_string(),
                time: time.clone(),
            };
            self.append(&entry);
        }
    }

    fn append(&mut self, entry: &Entry) {
        if self.dropped > 0 {
            let notice = Entry {
                log: format!(
                    "[skiff] {} log lines were dropped: {}\n",
                    self.dropped, self.dropped_why
                ),
                stream: "stderr".into(),
                time: entry.time.clone(),
            };
            if self.append_line(&notice).is_err() {
                self.dropped += 1;
                return;
            }
            self.dropped = 0;
        }
        if let Err(error) = self.append_line(entry) {
            self.dropped += 1;
            self.dropped_why = error.to_string().to_lowercase();
        }
    }

    fn append_line(&mut self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).expect("an entry is plain data");
        line.push(b'\n');
        if let Some(max) = self.max_size
            && self.size > 0
            && self.size + line.len() as u64 > max
        {
            self.rotate()?;
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the log file is closed"))?;
        file.write_all(&line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    /// `x.log` becomes `x.log.1`, `x.log.1` becomes `x.log.2`..., the
    /// oldest past `max_file` is deleted, and a new `x.log` is started.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.file = None;
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if self.max_file <= 1 {
            std::fs::remove_file(&self.path)?;
        } else {
            let _ = std::fs::remove_file(numbered(self.max_file - 1));
            for n in (1..self.max_file - 1).rev() {
                let _ = std::fs::rename(numbered(n), numbered(n + 1));
            }
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.file = Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?,
        );
        self.size = 0;
        Ok(())
    }
}
// ANCHOR_END: writer

/// What `docker logs` asks for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub stdout: bool,
    pub stderr: bool,
    /// Only entries at or after / before these times (unix nanoseconds).
    pub since: Option<i128>,
    pub until: Option<i128>,
    /// Only the last N entries.
    pub tail: Option<usize>,
}

impl Query {
    pub fn wants(&self, entry: &Entry) -> bool {
        let stream_ok = match entry.stream.as_str() {
            "stdout" => self.stdout,
            "stderr" => self.stderr,
            _ => false,
        };
        let time = parse_rfc3339_nanos(&entry.time).unwrap_or(0);
        stream_ok
            && self.since.is_none_or(|since| time >= since)
            && self.until.is_none_or(|until| time <= until)
    }
}

/// The files of the log at `path`: the rotated ones, oldest first, then
/// the current one.
fn files_of(path: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for n in (1..100).rev() {
        let rotated = PathBuf::from(format!("{}.{n}", path.display()));
        if rotated.exists() {
            files.push(rotated);
        }
    }
    files.push(path.to_path_buf());
    files
}

/// The entries of the log at `path` (rotated files first) that `query`
/// wants. Lines that do not parse (a line cut by a crash) are skipped.
pub fn read(path: &Path, query: &Query) -> std::io::Result<Vec<Entry>> {
    let opened: Vec<File> = files_of(path)
        .iter()
        .filter_map(|f| File::open(f).ok())
        .collect();
    read_opened(&opened, query)
}

/// The log's files, opened now: a follower reads them to the end even once
/// the container, and its directory, are removed (an open file outlives
/// its name). docker-py's `run(remove=True)` removes the container right
/// after it exits, before it reads the output it follows.
pub fn open(path: &Path) -> Vec<File> {
    files_of(path)
        .iter()
        .filter_map(|f| File::open(f).ok())
        .collect()
}

// ANCHOR: read_opened
/// The entries of opened log files (see [`read`]).
pub fn read_opened(files: &[File], query: &Query) -> std::io::Result<Vec<Entry>> {
    use std::io::{Seek, SeekFrom};
    let mut entries = Vec::new();
    for file in files {
        let mut file = file.try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        for line in BufReader::new(file).lines() {
            if let Ok(entry) = serde_json::from_str::<Entry>(&line?)
                && query.wants(&entry)
            {
                entries.push(entry);
            }
        }
    }
    if let Some(tail) = query.tail {
        let skip = entries.len().saturating_sub(tail);
        entries.drain(..skip);
    }
    Ok(entries)
}
// ANCHOR_END: read_opened

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(dir.path(), "abc");
        let mut writer = LogWriter::open(&path, None, None).unwrap();
        writer.write("stdout", b"one\ntwo\npart", 1_000_000_000);
        writer.write("stderr", b"oops\n", 2_000_000_000);
        let all = Query {
            stdout: true,
            stderr: true,
            ..Query::default()
        };
        let logs: Vec<String> = read(&path, &all)
            .unwrap()
            .into_iter()
            .map(|e| e.log)
            .collect();
        assert_eq!(logs, ["one\n", "two\n", "part", "oops\n"]);
        let tail = Query {
            tail: Some(1),
            stderr: false,
            ..all.clone()
        };
        assert_eq!(read(&path, &tail).unwrap()[0].log, "part");
        let since = Query {
            since: Some(1_500_000_000),
            ..all
        };
        assert_eq!(read(&path, &since).unwrap().len(), 1);
    }

    #[test]
    fn rotation_keeps_max_file_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(dir.path(), "abc");
        let mut writer = LogWriter::open(&path, Some(200), Some(3)).unwrap();
        for n in 0..40 {
            writer.write("stdout", format!("line {n}\n").as_bytes(), 0);
        }
        assert!(path.exists());
        assert!(dir.path().join("abc-json.log.1").exists());
        assert!(dir.path().join("abc-json.log.2").exists());
        assert!(!dir.path().join("abc-json.log.3").exists());
        let all = Query {
            stdout: true,
            ..Query::default()
        };
        let logs = read(&path, &all).unwrap();
        assert_eq!(logs.last().unwrap().log, "line 39\n");
        assert!(logs.len() < 40);
    }
}
