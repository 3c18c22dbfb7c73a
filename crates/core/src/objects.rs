//! Write-once, content-named, chunk-sealed evidence objects.
//!
//! An object file holds one evidence content, sealed with a random per-item key that is
//! itself wrapped under a master-derived key in the object header, so an object opens with
//! the master key alone. Chunk `i` is sealed with the nonce
//! `NONCE_PREFIX (7) || i (u32 BE) || LAST (1)`: a truncated, reordered, duplicated or
//! extended object fails authentication. The file name is `HMAC(name key, SHA-256)`, never
//! the SHA-256 itself, so the disk cannot be tested for known files.
//!
//! Import runs on two threads: the caller's thread reads page-aligned chunks and hashes
//! them; a second thread seals each chunk in place and writes it. Three buffers circulate,
//! so memory stays flat (about 3 MiB) whatever the file size.
//!
//! Objects no event names (content of a bundle refused after it was stored, or of an upload
//! abandoned mid-way) can be collected ([`crate::Store::remove_orphan_objects`]). Collection
//! goes by the object file's modification time, so every import that finds its content already
//! held (and [`ObjectStore::hold`]) sets that time to now: content a verification in progress
//! counts on is never older than the verification. One lock orders those refreshes, the final
//! rename of a new object and each removal, so none of them can pass another.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::SystemTime;

use aligned_vec::{AVec, ConstAlign};
use ring::digest;

use crate::crypto::{fill_random, to_hex, SecretKey, KEY_LEN, TAG_LEN};
use crate::error::{Error, Result};
use crate::format::{aad, sync_dir, CHUNK_SIZE, OBJECTS_DIR, OBJECT_HEADER_LEN, OBJECT_MAGIC, OBJECT_VERSION, TMP_DIR};

type PageBuf = AVec<u8, ConstAlign<4096>>;
const BUFFERS: usize = 3;
/// Flush written bytes to disk in the background every this many bytes.
const SYNC_EVERY: u64 = 64 * 1024 * 1024;

/// What an import produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// SHA-256 of the plaintext.
    pub sha256: [u8; 32],
    /// Plaintext size.
    pub size: u64,
    /// True when identical content was already stored (the new copy was discarded).
    pub deduplicated: bool,
}

/// Progress and cancellation hook for long object work.
pub trait Progress {
    /// Called after each chunk with bytes done so far; return `false` to cancel.
    fn update(&mut self, done: u64) -> bool;
}

impl<F: FnMut(u64) -> bool> Progress for F {
    fn update(&mut self, done: u64) -> bool {
        self(done)
    }
}

/// The object directory of one store.
pub(crate) struct ObjectStore {
    root: PathBuf,
    tmp: PathBuf,
    wrap_key: SecretKey,
    name_key: SecretKey,
    /// Orders refreshes and renames ([`ObjectStore::hold`], the end of an import) against
    /// removals ([`ObjectStore::remove_if_older`]).
    gc: Mutex<()>,
}

/// An object file as found on disk.
#[derive(Clone, Debug)]
pub(crate) struct ObjectFile {
    /// The keyed name (hex, as [`ObjectStore::name_of`]).
    pub name: String,
    /// Bytes on disk (sealed).
    pub size: u64,
    /// Last written, or last found held by an import.
    pub modified: SystemTime,
}

enum Msg {
    Chunk { buf: PageBuf, len: usize, index: u32, last: bool },
}

impl ObjectStore {
    pub fn new(store_dir: &Path, wrap_key: SecretKey, name_key: SecretKey) -> ObjectStore {
        ObjectStore { root: store_dir.join(OBJECTS_DIR), tmp: store_dir.join(TMP_DIR), wrap_key, name_key, gc: Mutex::new(()) }
    }

    fn gc_lock(&self) -> MutexGuard<'_, ()> {
        self.gc.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn path_of_name(&self, name: &str) -> Option<PathBuf> {
        (name.len() > 2 && name.is_char_boundary(2)).then(|| self.root.join(&name[..2]).join(&name[2..]))
    }

    /// True when content `sha256` is held; then its modification time is set to now, so that a
    /// collection of unreferenced objects (which spares recent ones) keeps it for whoever is
    /// about to name it. The refresh is best effort: an object whose time cannot be set is
    /// still reported held.
    pub fn hold(&self, sha256: &[u8; 32]) -> bool {
        let path = self.path_of(sha256);
        let _g = self.gc_lock();
        if !path.exists() {
            return false;
        }
        touch(&path);
        true
    }

    /// The keyed file name of a content hash.
    pub fn name_of(&self, sha256: &[u8; 32]) -> String {
        to_hex(&self.name_key.hmac(sha256))
    }

    /// Path of the object holding content `sha256`.
    pub fn path_of(&self, sha256: &[u8; 32]) -> PathBuf {
        let name = self.name_of(sha256);
        self.root.join(&name[..2]).join(&name[2..])
    }

    /// Removes leftover temp files (sealed bytes of imports that never finished).
    pub fn clean_tmp(&self) -> Result<usize> {
        let mut n = 0;
        if let Ok(rd) = fs::read_dir(&self.tmp) {
            for entry in rd.flatten() {
                if fs::remove_file(entry.path()).is_ok() {
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    fn header(&self, item_key: &SecretKey, prefix: [u8; 7]) -> Result<Vec<u8>> {
        let mut h = Vec::with_capacity(OBJECT_HEADER_LEN);
        h.extend_from_slice(OBJECT_MAGIC);
        h.extend_from_slice(&OBJECT_VERSION.to_le_bytes());
        h.extend_from_slice(&CHUNK_SIZE.to_le_bytes());
        h.extend_from_slice(&prefix);
        h.push(0);
        let mut ad = aad::OBJECT_KEY.to_vec();
        ad.extend_from_slice(&h);
        let wrapped = self.wrap_key.aead().seal(&ad, item_key.expose_secret())?;
        h.extend_from_slice(&wrapped);
        debug_assert_eq!(h.len(), OBJECT_HEADER_LEN);
        Ok(h)
    }

    /// Streams `src` into a new sealed object. Returns the content hash and size; the object
    /// is durable (file and directory fsynced) when this returns.
    pub fn import(&self, src: &mut dyn Read, progress: &mut dyn Progress) -> Result<Stored> {
        self.import_expecting(src, None, progress)
    }

    /// Like [`ObjectStore::import`], but when `expected` (SHA-256, size) is given the object is
    /// only kept if the content matches it; otherwise nothing is stored.
    pub fn import_expecting(&self, src: &mut dyn Read, expected: Option<([u8; 32], u64)>, progress: &mut dyn Progress) -> Result<Stored> {
        if let Some((sha, size)) = expected {
            if self.hold(&sha) {
                // Already held: verify the incoming bytes without writing them again.
                let mut ctx = digest::Context::new(&digest::SHA256);
                let mut buf = vec![0u8; 256 * 1024];
                let mut n_total = 0u64;
                loop {
                    let n = read_full(src, &mut buf).map_err(|e| Error::Io {
                        action: "reading",
                        path: PathBuf::from("the incoming content"),
                        source: e,
                    })?;
                    ctx.update(&buf[..n]);
                    n_total += n as u64;
                    if !progress.update(n_total) {
                        return Err(Error::Cancelled);
                    }
                    if n < buf.len() {
                        break;
                    }
                }
                if n_total != size || !crate::crypto::ct_eq(ctx.finish().as_ref(), &sha) {
                    return Err(Error::HashMismatch);
                }
                return Ok(Stored { sha256: sha, size, deduplicated: true });
            }
        }
        fs::create_dir_all(&self.tmp).map_err(Error::io("creating", &self.tmp))?;
        let tmp_path = self.tmp.join(format!("{}.partial", uuid::Uuid::new_v4().simple()));
        let result = self.import_to(&tmp_path, src, expected, progress);
        if result.is_err() {
            let _ = fs::remove_file(&tmp_path);
        }
        result
    }

    fn import_to(
        &self,
        tmp_path: &Path,
        src: &mut dyn Read,
        expected: Option<([u8; 32], u64)>,
        progress: &mut dyn Progress,
    ) -> Result<Stored> {
        let item_key = SecretKey::random()?;
        let mut prefix = [0u8; 7];
        fill_random(&mut prefix)?;
        let header = self.header(&item_key, prefix)?;
        let mut out = OpenOptions::new().write(true).create_new(true).open(tmp_path).map_err(Error::io("writing", tmp_path))?;
        out.write_all(&header).map_err(Error::io("writing", tmp_path))?;

        let chunk = CHUNK_SIZE as usize;
        let (to_writer, from_reader) = mpsc::sync_channel::<Msg>(BUFFERS);
        let (to_reader, free_bufs) = mpsc::sync_channel::<PageBuf>(BUFFERS);
        // Buffers are made as the reader needs them, up to BUFFERS: a small file (most photos,
        // a volunteer's bundle) costs one, not BUFFERS zeroed MiB.
        let mut made = 0usize;
        let mut next_buf = move || -> Option<PageBuf> {
            match free_bufs.try_recv() {
                Ok(b) => Some(b),
                Err(mpsc::TryRecvError::Empty) if made < BUFFERS => {
                    made += 1;
                    let mut b = PageBuf::with_capacity(4096, chunk + TAG_LEN);
                    b.resize(chunk + TAG_LEN, 0);
                    Some(b)
                }
                Err(mpsc::TryRecvError::Empty) => free_bufs.recv().ok(),
                Err(mpsc::TryRecvError::Disconnected) => None,
            }
        };

        let key = item_key.aead();
        // A third thread flushes what has been written so far every SYNC_EVERY bytes, so the
        // disk works while the pipeline hashes and seals; the final fsync then only waits for
        // the tail. (The kernel would otherwise start writeback late, after the whole file.)
        let syncer_file = out.try_clone().map_err(Error::io("writing", tmp_path))?;
        let (sync_tx, sync_rx) = mpsc::sync_channel::<()>(1);
        let (hash, size, write_result) = std::thread::scope(|s| {
            let syncer = s.spawn(move || -> std::io::Result<()> {
                while sync_rx.recv().is_ok() {
                    syncer_file.sync_data()?;
                }
                Ok(())
            });
            let writer = s.spawn(move || -> Result<()> {
                let mut ad = aad::OBJECT_CHUNK.to_vec();
                ad.extend_from_slice(&header[..24]);
                let mut written = 0u64;
                while let Ok(Msg::Chunk { mut buf, len, index, last }) = from_reader.recv() {
                    let tag = key.seal_in_place(chunk_nonce(prefix, index, last), &ad, &mut buf[..len])?;
                    buf[len..len + TAG_LEN].copy_from_slice(&tag);
                    out.write_all(&buf[..len + TAG_LEN]).map_err(Error::io("writing", tmp_path))?;
                    let before = written;
                    written += (len + TAG_LEN) as u64;
                    if written / SYNC_EVERY != before / SYNC_EVERY {
                        // A sync already queued or running covers these bytes too.
                        let _ = sync_tx.try_send(());
                    }
                    // The reader may have stopped; then the buffer is simply dropped.
                    let _ = to_reader.send(buf);
                    if last {
                        break;
                    }
                }
                drop(sync_tx);
                // An error of an early flush must not be lost: Linux reports a writeback error
                // to one fsync only.
                syncer.join().map_err(|_| Error::corrupt("object syncer panicked"))?.map_err(Error::io("syncing", tmp_path))?;
                out.sync_all().map_err(Error::io("syncing", tmp_path))
            });

            let mut ctx = digest::Context::new(&digest::SHA256);
            let mut size = 0u64;
            let read_result = (|| -> Result<()> {
                let mut index: u32 = 0;
                let mut pending: Option<(PageBuf, usize)> = None;
                loop {
                    let Some(mut buf) = next_buf() else {
                        return Err(Error::corrupt("object writer stopped"));
                    };
                    let n = read_full(src, &mut buf[..chunk]).map_err(|e| Error::Io {
                        action: "reading",
                        path: PathBuf::from("the file being imported"),
                        source: e,
                    })?;
                    ctx.update(&buf[..n]);
                    size += n as u64;
                    if let Some((p, plen)) = pending.take() {
                        if to_writer.send(Msg::Chunk { buf: p, len: plen, index, last: false }).is_err() {
                            return Err(Error::corrupt("object writer stopped"));
                        }
                        index = index.checked_add(1).ok_or_else(|| Error::invalid("file", "too large"))?;
                    }
                    if !progress.update(size) {
                        return Err(Error::Cancelled);
                    }
                    if n < chunk {
                        // EOF: this (possibly empty) chunk is the last.
                        let _ = to_writer.send(Msg::Chunk { buf, len: n, index, last: true });
                        return Ok(());
                    }
                    pending = Some((buf, n));
                }
            })();
            drop(to_writer);
            let write_result = writer.join().unwrap_or_else(|_| Err(Error::corrupt("object writer panicked")));
            let write_result = read_result.and(write_result);
            let mut hash = [0u8; 32];
            hash.copy_from_slice(ctx.finish().as_ref());
            (hash, size, write_result)
        });
        write_result?;
        if let Some((sha, esize)) = expected {
            if size != esize || !crate::crypto::ct_eq(&hash, &sha) {
                return Err(Error::HashMismatch);
            }
        }

        let final_path = self.path_of(&hash);
        let parent = final_path.parent().expect("object path has a parent");
        {
            let _g = self.gc_lock();
            if final_path.exists() {
                // Same content already stored: write-once means the existing file stays.
                touch(&final_path);
                drop(_g);
                fs::remove_file(tmp_path).map_err(Error::io("removing", tmp_path))?;
                return Ok(Stored { sha256: hash, size, deduplicated: true });
            }
            fs::create_dir_all(parent).map_err(Error::io("creating", parent))?;
            fs::rename(tmp_path, &final_path).map_err(Error::io("storing", parent))?;
        }
        sync_dir(parent)?;
        sync_dir(&self.root)?;
        Ok(Stored { sha256: hash, size, deduplicated: false })
    }

    /// Streams the plaintext of object `sha256` into `sink`, authenticating every chunk, and
    /// checks the size and SHA-256 at the end. Nothing unauthenticated is ever handed out.
    pub fn read(&self, sha256: &[u8; 32], expected_size: u64, sink: &mut dyn Write, progress: &mut dyn Progress) -> Result<()> {
        let path = self.path_of(sha256);
        let mut f = File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::corrupt("evidence object file is missing"),
            _ => Error::io("reading", &self.root)(e),
        })?;
        let file_len = f.metadata().map_err(Error::io("reading", &self.root))?.len();
        let mut header = [0u8; OBJECT_HEADER_LEN];
        f.read_exact(&mut header).map_err(|_| Error::corrupt("evidence object header is truncated"))?;
        if &header[..8] != OBJECT_MAGIC {
            return Err(Error::corrupt("evidence object has a bad magic"));
        }
        let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
        if version != OBJECT_VERSION {
            return Err(Error::UnsupportedVersion { what: "object", found: version, supported: OBJECT_VERSION });
        }
        let chunk = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes"));
        if chunk != CHUNK_SIZE {
            return Err(Error::corrupt("evidence object declares an unsupported chunk size"));
        }
        let prefix: [u8; 7] = header[16..23].try_into().expect("7 bytes");
        let mut ad = aad::OBJECT_KEY.to_vec();
        ad.extend_from_slice(&header[..24]);
        let key_bytes =
            self.wrap_key.aead().open(&ad, &header[24..]).map_err(|_| Error::corrupt("evidence object key fails authentication"))?;
        if key_bytes.len() != KEY_LEN {
            return Err(Error::corrupt("evidence object key has a wrong length"));
        }
        let key = SecretKey::from_slice(&key_bytes)?.aead();

        let mut chunk_ad = aad::OBJECT_CHUNK.to_vec();
        chunk_ad.extend_from_slice(&header[..24]);
        let sealed_chunk = chunk as usize + TAG_LEN;
        let mut buf = PageBuf::with_capacity(4096, sealed_chunk);
        buf.resize(sealed_chunk, 0);
        let mut ctx = digest::Context::new(&digest::SHA256);
        let mut pos = OBJECT_HEADER_LEN as u64;
        let mut index: u32 = 0;
        let mut done = 0u64;
        loop {
            let remaining = file_len - pos;
            if remaining < TAG_LEN as u64 {
                return Err(Error::corrupt(format!("evidence object is truncated at chunk {index}")));
            }
            let take = remaining.min(sealed_chunk as u64) as usize;
            f.read_exact(&mut buf[..take]).map_err(Error::io("reading", &self.root))?;
            pos += take as u64;
            let last = pos == file_len;
            let n = key
                .open_in_place(chunk_nonce(prefix, index, last), &chunk_ad, &mut buf[..take])
                .map_err(|_| Error::corrupt(format!("evidence object chunk {index} fails authentication")))?;
            ctx.update(&buf[..n]);
            sink.write_all(&buf[..n]).map_err(|e| Error::Io { action: "writing", path: PathBuf::from("the export target"), source: e })?;
            done += n as u64;
            if !progress.update(done) {
                return Err(Error::Cancelled);
            }
            if last {
                break;
            }
            index = index.checked_add(1).ok_or_else(|| Error::corrupt("evidence object has too many chunks"))?;
        }
        if done != expected_size {
            return Err(Error::corrupt(format!("evidence object holds {done} bytes, {expected_size} were recorded")));
        }
        if !crate::crypto::ct_eq(ctx.finish().as_ref(), sha256) {
            return Err(Error::HashMismatch);
        }
        Ok(())
    }

    /// Every object file present, with its size and modification time.
    pub fn files(&self) -> Result<Vec<ObjectFile>> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io("reading", &self.root)(e)),
        };
        for d in rd {
            let d = d.map_err(Error::io("reading", &self.root))?;
            let prefix = d.file_name().to_string_lossy().into_owned();
            let inner = match fs::read_dir(d.path()) {
                Ok(inner) => inner,
                Err(_) => continue,
            };
            for f in inner {
                let f = f.map_err(Error::io("reading", &self.root))?;
                let Ok(meta) = f.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                let modified = meta.modified().map_err(Error::io("reading", &self.root))?;
                out.push(ObjectFile { name: format!("{prefix}{}", f.file_name().to_string_lossy()), size: meta.len(), modified });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes the object file `name` when it was last modified before `cutoff` (checked under
    /// the lock an import takes to refresh or place an object). Returns the bytes freed, or
    /// `None` when it is gone or too recent. The caller syncs the directories afterwards.
    pub fn remove_if_older(&self, name: &str, cutoff: SystemTime) -> Result<Option<u64>> {
        let Some(path) = self.path_of_name(name) else { return Ok(None) };
        let _g = self.gc_lock();
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("reading", &self.root)(e)),
        };
        let modified = meta.modified().map_err(Error::io("reading", &self.root))?;
        if modified >= cutoff {
            return Ok(None);
        }
        match fs::remove_file(&path) {
            Ok(()) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("removing", &self.root)(e)),
        }
    }

    /// Makes removals in the object directories durable.
    pub fn sync_dirs(&self) -> Result<()> {
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("reading", &self.root)(e)),
        };
        for d in rd.flatten() {
            if d.path().is_dir() {
                sync_dir(&d.path())?;
            }
        }
        sync_dir(&self.root)
    }

    /// Names of every object file present (for orphan reports).
    pub fn list(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(rd) = fs::read_dir(&self.root) {
            for d in rd.flatten() {
                let prefix = d.file_name().to_string_lossy().into_owned();
                if let Ok(inner) = fs::read_dir(d.path()) {
                    for f in inner.flatten() {
                        out.push(format!("{prefix}{}", f.file_name().to_string_lossy()));
                    }
                }
            }
        }
        out.sort();
        out
    }
}

/// Sets a file's modification time to now (best effort: see [`ObjectStore::hold`]).
fn touch(path: &Path) {
    if let Ok(f) = File::open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

fn chunk_nonce(prefix: [u8; 7], index: u32, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(&prefix);
    n[7..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// Reads until `buf` is full or EOF; returns bytes read.
fn read_full(src: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> ObjectStore {
        let k = SecretKey::random().unwrap();
        ObjectStore::new(dir, k.derive(b"w"), k.derive(b"n"))
    }

    fn roundtrip(len: usize) {
        let dir = tempfile::tempdir().unwrap();
        let os = store(dir.path());
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let st = os.import(&mut &data[..], &mut |_| true).unwrap();
        assert_eq!(st.size, len as u64);
        assert_eq!(st.sha256, crate::crypto::sha256(&data));
        let mut out = Vec::new();
        os.read(&st.sha256, st.size, &mut out, &mut |_| true).unwrap();
        assert_eq!(out, data);
        // Nothing left in tmp, and the file name is not the content hash.
        assert_eq!(fs::read_dir(dir.path().join(TMP_DIR)).unwrap().count(), 0);
        assert!(!os.path_of(&st.sha256).to_string_lossy().contains(&to_hex(&st.sha256)));
    }

    #[test]
    fn round_trips_at_chunk_boundaries() {
        let c = CHUNK_SIZE as usize;
        for len in [0, 1, c - 1, c, c + 1, 2 * c, 2 * c + 7] {
            roundtrip(len);
        }
    }

    #[test]
    fn truncation_at_a_chunk_boundary_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let os = store(dir.path());
        let data = vec![7u8; CHUNK_SIZE as usize * 2 + 5];
        let st = os.import(&mut &data[..], &mut |_| true).unwrap();
        let p = os.path_of(&st.sha256);
        let full = fs::read(&p).unwrap();
        let cut = OBJECT_HEADER_LEN + 2 * (CHUNK_SIZE as usize + TAG_LEN);
        fs::write(&p, &full[..cut]).unwrap();
        let err = os.read(&st.sha256, st.size, &mut std::io::sink(), &mut |_| true).unwrap_err();
        assert!(err.to_string().contains("chunk 1"), "{err}");
    }

    #[test]
    fn cancel_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let os = store(dir.path());
        let data = vec![1u8; CHUNK_SIZE as usize * 3];
        let err = os.import(&mut &data[..], &mut |done| done < CHUNK_SIZE as u64 * 2).unwrap_err();
        assert!(matches!(err, Error::Cancelled));
        assert_eq!(fs::read_dir(dir.path().join(TMP_DIR)).unwrap().count(), 0);
        assert!(os.list().is_empty());
    }
}
