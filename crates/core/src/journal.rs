//! The append-only journal of sealed, signed events: the system of record.
//!
//! Record `i` is `LEN (u32 LE) || NOT_LEN (u32 LE, = !LEN) || NONCE (12) || CIPHERTEXT || TAG (16)`
//! where the plaintext
//! is a signed event envelope and the associated data is
//! `aad::JOURNAL || STORE_ID || i (u64 LE) || LEN (u32 LE)`. Binding the index makes a
//! reordered, duplicated or dropped record fail authentication. A record is appended with
//! one `write` and then `fdatasync`ed before any command reports success.
//!
//! A crash can leave a *torn tail*: a last record whose (intact) declared length runs past the
//! end of the file. That record was never acknowledged, so it is cut off when the store is next
//! opened for writing. A record whose length and its complement disagree, or that fails
//! authentication, is *damage*, never cut: without the complement, one flipped bit in a length
//! in the middle of the journal would look like a torn tail and everything after it would be
//! cut (found by the end-to-end tamper test).
//!
//! Copies of one store (the cluster agency's replicas) mirror each other's journals byte for
//! byte: [`Journal::frames`] hands out records as framed, and [`Journal::open_frame`] checks a
//! frame made by another copy at the position it is to take here before
//! [`Journal::append_frames`] writes it. The associated data binds store and position, so a
//! record of another store, or one moved, repeated or dropped, fails there.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::crypto::{AeadKey, TAG_LEN};
use crate::error::{Error, Result};
use crate::format::{aad, JOURNAL_HEADER_LEN, JOURNAL_MAGIC, JOURNAL_RECORD_MAX, JOURNAL_VERSION};

const NONCE_LEN: usize = 12;
/// `LEN || NOT_LEN`.
const RECORD_HEADER_LEN: u64 = 8;

/// One record read back.
pub(crate) struct RawRecord {
    pub index: u64,
    pub plaintext: zeroize::Zeroizing<Vec<u8>>,
}

/// The outcome of scanning the journal.
pub(crate) struct Scan {
    /// Records that opened, in order, each with the byte offset just after it.
    pub records: Vec<(RawRecord, u64)>,
    /// Byte offset just after the last good record.
    pub good_end: u64,
    /// Bytes after `good_end` that form an unacknowledged torn tail.
    pub torn_tail: bool,
    /// The first damaged record, if any (scanning stops there).
    pub damaged_at: Option<u64>,
}

/// The journal file.
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    key: AeadKey,
    store_id: [u8; 16],
    /// Records in the journal.
    pub len: u64,
    /// Byte length of the valid journal.
    pub end: u64,
}

impl Journal {
    /// Creates an empty journal.
    pub fn create(path: &Path, key: AeadKey, store_id: [u8; 16]) -> Result<Journal> {
        let mut file = OpenOptions::new().read(true).write(true).create_new(true).open(path).map_err(Error::io("creating", path))?;
        let mut head = Vec::with_capacity(JOURNAL_HEADER_LEN as usize);
        head.extend_from_slice(JOURNAL_MAGIC);
        head.extend_from_slice(&JOURNAL_VERSION.to_le_bytes());
        head.extend_from_slice(&store_id);
        file.write_all(&head).map_err(Error::io("writing", path))?;
        file.sync_all().map_err(Error::io("syncing", path))?;
        Ok(Journal { path: path.to_path_buf(), file, key, store_id, len: 0, end: JOURNAL_HEADER_LEN })
    }

    /// Opens a journal and checks its header (magic, version, store id).
    pub fn open(path: &Path, key: AeadKey, store_id: [u8; 16], writable: bool) -> Result<Journal> {
        let mut file = OpenOptions::new().read(true).write(writable).open(path).map_err(Error::io("opening", path))?;
        let mut head = [0u8; JOURNAL_HEADER_LEN as usize];
        file.read_exact(&mut head).map_err(|_| Error::corrupt("journal header is truncated"))?;
        if &head[..8] != JOURNAL_MAGIC {
            return Err(Error::corrupt("journal: not a Casebridge journal"));
        }
        let version = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
        if version != JOURNAL_VERSION {
            return Err(Error::UnsupportedVersion { what: "journal", found: version, supported: JOURNAL_VERSION });
        }
        if head[12..28] != store_id {
            return Err(Error::corrupt("journal belongs to another store"));
        }
        Ok(Journal { path: path.to_path_buf(), file, key, store_id, len: 0, end: JOURNAL_HEADER_LEN })
    }

    /// Reads the records from byte offset `start` (record number `start_index`) to the end.
    /// Never modifies the file.
    pub fn scan_from(&self, start: u64, start_index: u64) -> Result<Scan> {
        let file_len = self.file.metadata().map_err(Error::io("reading", &self.path))?.len();
        self.scan_bounded(start, start_index, file_len, usize::MAX)
    }

    /// Reads at most `max` records from byte offset `start` (record number `start_index`),
    /// never past byte `end`. Never modifies the file, and reads at explicit offsets, so scans
    /// need no exclusive access (the endpoint's feed reads while other readers do).
    pub fn scan_bounded(&self, start: u64, start_index: u64, end: u64, max: usize) -> Result<Scan> {
        let file_len = self.file.metadata().map_err(Error::io("reading", &self.path))?.len().min(end);
        if start > file_len || start < JOURNAL_HEADER_LEN {
            return Err(Error::IndexDamaged { what: "the index is ahead of the journal (was the journal truncated?)".into() });
        }
        let mut reader = std::io::BufReader::with_capacity(256 * 1024, ReadAt { file: &self.file, pos: start });
        let mut pos = start;
        let mut records = Vec::new();
        let mut scan = Scan { records: Vec::new(), good_end: pos, torn_tail: false, damaged_at: None };
        let mut index = start_index;
        loop {
            let remaining = file_len - pos;
            if remaining == 0 || records.len() >= max {
                break;
            }
            if remaining < RECORD_HEADER_LEN {
                scan.torn_tail = true;
                break;
            }
            let mut head = [0u8; RECORD_HEADER_LEN as usize];
            reader.read_exact(&mut head).map_err(Error::io("reading", &self.path))?;
            let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
            let not_len = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
            if len == 0
                && not_len == 0
                && all_zero_from(&mut reader, remaining - RECORD_HEADER_LEN).map_err(Error::io("reading", &self.path))?
            {
                // Zero-filled tail (a file extended but never written): torn.
                scan.torn_tail = true;
                break;
            }
            if len != !not_len {
                // A damaged length is never mistaken for a torn tail.
                scan.damaged_at = Some(index);
                break;
            }
            if u64::from(len) > remaining - RECORD_HEADER_LEN {
                // An intact length that runs past the end of the file: a write that never completed.
                scan.torn_tail = true;
                break;
            }
            if (len as usize) < NONCE_LEN + TAG_LEN || len > JOURNAL_RECORD_MAX {
                scan.damaged_at = Some(index);
                break;
            }
            let mut sealed = vec![0u8; len as usize];
            reader.read_exact(&mut sealed).map_err(Error::io("reading", &self.path))?;
            let ad = record_aad(&self.store_id, index, len);
            pos += RECORD_HEADER_LEN + u64::from(len);
            match self.key.open(&ad, &sealed) {
                Ok(plaintext) => records.push((RawRecord { index, plaintext }, pos)),
                Err(_) => {
                    scan.damaged_at = Some(index);
                    break;
                }
            }
            index += 1;
            scan.good_end = pos;
        }
        scan.records = records;
        Ok(scan)
    }

    /// Sets where the next append goes (after the last good record).
    pub fn set_position(&mut self, records: u64, end: u64) {
        self.len = records;
        self.end = end;
    }

    /// Cuts an unacknowledged torn tail (only called with the store lock held, after a
    /// successful unlock).
    pub fn cut_torn_tail(&mut self) -> Result<()> {
        self.file.set_len(self.end).map_err(Error::io("repairing", &self.path))?;
        self.file.sync_all().map_err(Error::io("syncing", &self.path))
    }

    /// Appends records and makes them durable (one fsync for the batch). Returns the byte
    /// offset just after each appended record.
    pub fn append(&mut self, plaintexts: &[&[u8]]) -> Result<Vec<u64>> {
        let mut buf = Vec::new();
        let mut ends = Vec::with_capacity(plaintexts.len());
        for (i, pt) in plaintexts.iter().enumerate() {
            let index = self.len + i as u64;
            let len = (NONCE_LEN + pt.len() + TAG_LEN) as u32;
            if len > JOURNAL_RECORD_MAX {
                return Err(Error::invalid("event", "too large to record"));
            }
            let sealed = self.key.seal(&record_aad(&self.store_id, index, len), pt)?;
            debug_assert_eq!(sealed.len(), len as usize);
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&(!len).to_le_bytes());
            buf.extend_from_slice(&sealed);
            ends.push(self.end + buf.len() as u64);
        }
        self.write_at_end(&buf, plaintexts.len() as u64)?;
        Ok(ends)
    }

    /// Writes `buf` (`records` whole records) after the last record, durably, in one write.
    fn write_at_end(&mut self, buf: &[u8], records: u64) -> Result<()> {
        self.file.seek(SeekFrom::Start(self.end)).map_err(Error::io("writing", &self.path))?;
        if let Err(e) = self.file.write_all(buf).and_then(|_| self.file.sync_data()) {
            // Leave the file as it was: a partial append would be a torn tail anyway.
            let _ = self.file.set_len(self.end);
            return Err(Error::io("writing", &self.path)(e));
        }
        self.end += buf.len() as u64;
        self.len += records;
        Ok(())
    }

    /// At most `max` records from byte offset `start` (record number `start_index`), never past
    /// byte `end`, each exactly as framed in the file (`LEN || NOT_LEN || NONCE || CIPHERTEXT ||
    /// TAG`). Each is authenticated on the way; a damaged record is an error.
    pub fn frames(&self, start: u64, start_index: u64, end: u64, max: usize) -> Result<Vec<Vec<u8>>> {
        let scan = self.scan_bounded(start, start_index, end, max)?;
        if let (Some(at), true) = (scan.damaged_at, scan.records.len() < max) {
            return Err(Error::JournalDamaged { record: at });
        }
        let mut out = Vec::with_capacity(scan.records.len());
        let mut reader = ReadAt { file: &self.file, pos: start };
        for (_, rec_end) in &scan.records {
            let mut frame = vec![0u8; (rec_end - reader.pos) as usize];
            reader.read_exact(&mut frame).map_err(Error::io("reading", &self.path))?;
            out.push(frame);
        }
        Ok(out)
    }

    /// Opens `frame`, a record as framed by a copy of this journal, as record `index` of this
    /// one: its plaintext, or why it cannot take that place (never anything of its content).
    pub fn open_frame(&self, frame: &[u8], index: u64) -> std::result::Result<zeroize::Zeroizing<Vec<u8>>, &'static str> {
        if frame.len() < RECORD_HEADER_LEN as usize {
            return Err("it is shorter than a record header");
        }
        let len = u32::from_le_bytes(frame[..4].try_into().expect("4 bytes"));
        let not_len = u32::from_le_bytes(frame[4..8].try_into().expect("4 bytes"));
        if len != !not_len {
            return Err("its length fields disagree");
        }
        if frame.len() as u64 != RECORD_HEADER_LEN + u64::from(len) {
            return Err("its size is not the size its header declares");
        }
        if (len as usize) < NONCE_LEN + TAG_LEN || len > JOURNAL_RECORD_MAX {
            return Err("its declared length is out of range");
        }
        self.key
            .open(&record_aad(&self.store_id, index, len), &frame[RECORD_HEADER_LEN as usize..])
            .map_err(|_| "it fails authentication at this position (altered, out of order, repeated, or from another store)")
    }

    /// Appends records framed by a copy of this journal, each already checked with
    /// [`Journal::open_frame`] at the position it takes; durable when this returns.
    pub fn append_frames(&mut self, frames: &[Vec<u8>]) -> Result<()> {
        self.write_at_end(&frames.concat(), frames.len() as u64)
    }

    /// Drops every record after the first `records`, which end at byte `end`: the file is cut
    /// there and synced.
    pub fn truncate(&mut self, records: u64, end: u64) -> Result<()> {
        self.file.set_len(end).map_err(Error::io("truncating", &self.path))?;
        self.file.sync_all().map_err(Error::io("syncing", &self.path))?;
        self.set_position(records, end);
        Ok(())
    }
}

/// Reads a file from an offset with positioned reads (the file's own cursor is untouched).
struct ReadAt<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        #[cfg(unix)]
        let n = std::os::unix::fs::FileExt::read_at(self.file, buf, self.pos)?;
        #[cfg(windows)]
        let n = std::os::windows::fs::FileExt::seek_read(self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

fn all_zero_from(reader: &mut impl Read, n: u64) -> std::io::Result<bool> {
    let mut buf = [0u8; 8192];
    let mut left = n;
    while left > 0 {
        let take = left.min(buf.len() as u64) as usize;
        reader.read_exact(&mut buf[..take])?;
        if buf[..take].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        left -= take as u64;
    }
    Ok(true)
}

fn record_aad(store_id: &[u8; 16], index: u64, len: u32) -> Vec<u8> {
    let mut ad = Vec::with_capacity(aad::JOURNAL.len() + 28);
    ad.extend_from_slice(aad::JOURNAL);
    ad.extend_from_slice(store_id);
    ad.extend_from_slice(&index.to_le_bytes());
    ad.extend_from_slice(&len.to_le_bytes());
    ad
}
