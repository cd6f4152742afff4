//! The store's backup file: every record of every tree, as JSON lines, closed by a trailer
//! that counts them and hashes everything before it, so a cut-short or altered file is
//! refused before anything is restored from it. Pure: the store writes and reads it through
//! `Writer`, `check` and `scan`.
//!
//! ```text
//! {"threadwork_backup":1,"created":"2026-12-07T05:00:00Z"}
//! {"t":"jobs","k":"<base64>","v":"<base64>"}
//! …
//! {"end":true,"records":1234,"sha256":"<hex of every line above, newlines included>"}
//! ```

use std::io::{BufRead, Write};

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The format version this build writes and reads.
pub const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot read or write the backup: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a threadwork backup (the first line is not its header)")]
    NotABackup,
    #[error("a backup of format {0}, which this version does not read (it reads {VERSION})")]
    Version(u32),
    #[error("line {0} of the backup is not a record")]
    BadLine(usize),
    #[error("the backup is cut short: it has no closing line (copied while still being written?)")]
    Truncated,
    #[error("the backup does not match its closing line ({0}): it was changed or damaged")]
    Mismatch(&'static str),
}

#[derive(Serialize, Deserialize)]
struct Header {
    threadwork_backup: u32,
    created: String,
}

#[derive(Serialize, Deserialize)]
struct Line {
    t: String,
    k: String,
    v: String,
}

#[derive(Serialize, Deserialize)]
struct Trailer {
    end: bool,
    records: u64,
    sha256: String,
}

/// One record: its tree, key and value, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub tree: String,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// Writes a backup line by line, hashing as it goes; `finish` adds the trailer.
pub struct Writer<W: Write> {
    out: W,
    hash: Sha256,
    records: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(mut out: W, created: chrono::DateTime<chrono::Utc>) -> Result<Self, BackupError> {
        let mut hash = Sha256::new();
        let header = Header {
            threadwork_backup: VERSION,
            created: created.to_rfc3339(),
        };
        let line = json_line(&header);
        hash.update(&line);
        out.write_all(&line)?;
        Ok(Self {
            out,
            hash,
            records: 0,
        })
    }

    pub fn record(&mut self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), BackupError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let line = json_line(&Line {
            t: tree.to_string(),
            k: b64.encode(key),
            v: b64.encode(value),
        });
        self.hash.update(&line);
        self.out.write_all(&line)?;
        self.records += 1;
        Ok(())
    }

    /// Writes the trailer and flushes; returns how many records the backup holds.
    pub fn finish(mut self) -> Result<u64, BackupError> {
        let trailer = Trailer {
            end: true,
            records: self.records,
            sha256: hex::encode(self.hash.finalize()),
        };
        self.out.write_all(&json_line(&trailer))?;
        self.out.flush()?;
        Ok(self.records)
    }
}

fn json_line<T: Serialize>(value: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).expect("backup lines serialize");
    line.push(b'\n');
    line
}

/// Checks a whole backup against its trailer without keeping its records; returns how many
/// it holds.
pub fn check(input: impl BufRead) -> Result<u64, BackupError> {
    scan(input, |_| {})
}

/// Reads a backup record by record, checking it against its trailer at the end: a caller
/// that must not act on a damaged backup `check`s it first.
pub fn scan(input: impl BufRead, mut each: impl FnMut(Record)) -> Result<u64, BackupError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut hash = Sha256::new();
    let mut count: u64 = 0;
    let mut trailer: Option<Trailer> = None;
    for (i, line) in input.split(b'\n').enumerate() {
        let line = line?;
        let n = i + 1;
        if trailer.is_some() {
            if line.is_empty() {
                continue;
            }
            return Err(BackupError::Mismatch("lines after its end"));
        }
        if n == 1 {
            let header: Header =
                serde_json::from_slice(&line).map_err(|_| BackupError::NotABackup)?;
            if header.threadwork_backup != VERSION {
                return Err(BackupError::Version(header.threadwork_backup));
            }
        } else if let Ok(t) = serde_json::from_slice::<Trailer>(&line) {
            trailer = Some(t);
            continue;
        } else {
            let l: Line = serde_json::from_slice(&line).map_err(|_| BackupError::BadLine(n))?;
            let (Ok(key), Ok(value)) = (b64.decode(&l.k), b64.decode(&l.v)) else {
                return Err(BackupError::BadLine(n));
            };
            count += 1;
            each(Record {
                tree: l.t,
                key,
                value,
            });
        }
        hash.update(&line);
        hash.update(b"\n");
    }
    let trailer = trailer.ok_or(BackupError::Truncated)?;
    if !trailer.end || trailer.records != count {
        return Err(BackupError::Mismatch("the record count"));
    }
    if hex::encode(hash.finalize()) != trailer.sha256 {
        return Err(BackupError::Mismatch("the checksum"));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: impl BufRead) -> Result<Vec<Record>, BackupError> {
        let mut records = Vec::new();
        scan(input, |r| records.push(r))?;
        Ok(records)
    }

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out, chrono::Utc::now()).unwrap();
        w.record("jobs", &7u64.to_be_bytes(), br#"{"id":7}"#)
            .unwrap();
        w.record("meta", b"next_job_id", &[0, 0, 0, 0, 0, 0, 0, 8])
            .unwrap();
        assert_eq!(w.finish().unwrap(), 2);
        out
    }

    #[test]
    fn a_backup_reads_back_as_written() {
        let records = read_all(&sample()[..]).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].tree, "jobs");
        assert_eq!(records[0].key, 7u64.to_be_bytes());
        assert_eq!(records[1].value, [0, 0, 0, 0, 0, 0, 0, 8]);
    }

    #[test]
    fn a_cut_short_or_changed_backup_is_refused() {
        let whole = sample();
        // Cut before the trailer.
        let text = String::from_utf8(whole.clone()).unwrap();
        let cut = text.rsplit_once("{\"end\"").unwrap().0;
        assert!(matches!(
            read_all(cut.as_bytes()),
            Err(BackupError::Truncated)
        ));
        // Cut in the middle of a record.
        assert!(read_all(&whole[..whole.len() / 2]).is_err());
        // One record changed.
        let changed = text.replace("eyJpZCI6N30=", "eyJpZCI6OH0=");
        assert_ne!(changed, text);
        assert!(matches!(
            read_all(changed.as_bytes()),
            Err(BackupError::Mismatch("the checksum"))
        ));
        // A record dropped.
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(1);
        let dropped = lines.join("\n");
        assert!(matches!(
            read_all(dropped.as_bytes()),
            Err(BackupError::Mismatch(_))
        ));
        // Not a backup at all.
        assert!(matches!(
            read_all(&b"hello\n"[..]),
            Err(BackupError::NotABackup)
        ));
    }
}
