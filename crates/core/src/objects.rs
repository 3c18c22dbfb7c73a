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
//!
//! Where the sealed object files live is an [`ObjectBackend`]: [`FileObjects`] (the store's
//! `objects/` directory, the default) or another place a store is opened with
//! ([`crate::Store::open_with`]), such as the cluster agency's S3 bucket. Sealing, chunking,
//! naming and the temp files stay here; a backend only publishes a finished sealed temp file
//! under its keyed name, streams a name back, lists, refreshes and removes names. A backend
//! sees sealed bytes and keyed names only.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
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

/// Where a store's sealed object files live.
///
/// Objects are content-addressed and write-once: a name, once published, always holds a
/// sealing of the same content, so a backend never needs to replace one. Names are the keyed
/// names the store makes (64 lowercase hex digits); a backend may refuse anything else.
/// Errors name the object and what failed ([`Error::ObjectStorage`]), never content.
///
/// Calls are synchronous and may block on I/O: the store calls them from the thread that asked
/// for the work (an import, an export, a check).
pub trait ObjectBackend: Send + Sync {
    /// Publishes the finished sealed file `sealed` (in the store's temp directory) as object
    /// `name`, atomically: a reader sees the whole object or none. When `name` is already held,
    /// the held object stays (its time is refreshed as by [`ObjectBackend::touch`]) and the
    /// result is `false`; a new object gives `true`. On success the temp file is consumed
    /// (moved or removed); the new object is durable when this returns.
    fn publish(&self, sealed: &Path, name: &str) -> Result<bool>;

    /// [`ObjectBackend::publish`] for a small sealed object held whole in memory (`sealed`:
    /// the object file's bytes), with the same meaning. The default writes it to `tmp` (a new
    /// file in the store's temp directory, fsynced) and publishes that; a backend that keeps
    /// objects elsewhere sends the bytes as they are, with no temp file.
    fn publish_bytes(&self, sealed: Vec<u8>, tmp: &Path, name: &str) -> Result<bool> {
        let mut out = OpenOptions::new().write(true).create_new(true).open(tmp).map_err(Error::io("writing", tmp))?;
        out.write_all(&sealed).map_err(Error::io("writing", tmp))?;
        out.sync_all().map_err(Error::io("syncing", tmp))?;
        drop(out);
        self.publish(tmp, name)
    }

    /// Opens object `name` for streamed reading from its first byte: its length in bytes and a
    /// reader. `None` when no such object is held.
    fn open(&self, name: &str) -> Result<Option<(u64, Box<dyn Read + Send>)>>;

    /// Opens object `name` for streamed reading from byte `offset` (a range read: a viewer
    /// seeking in a long video). The default opens it from its first byte and skips `offset`
    /// bytes; a backend that can seek does so. `None` when no such object is held; an `offset`
    /// past its end gives a reader at its end.
    fn open_at(&self, name: &str, offset: u64) -> Result<Option<(u64, Box<dyn Read + Send>)>> {
        let Some((len, mut r)) = self.open(name)? else { return Ok(None) };
        std::io::copy(&mut (&mut r).take(offset), &mut std::io::sink()).map_err(|e| Error::objects("reading", name, e))?;
        Ok(Some((len, r)))
    }

    /// True when object `name` is held.
    fn exists(&self, name: &str) -> Result<bool>;

    /// When object `name` is held, sets its modification time to now (so that a collection
    /// of unreferenced objects spares it) and returns `true`; `false` when it is not held.
    fn touch(&self, name: &str) -> Result<bool>;

    /// Every object held, with its sealed size and modification time, sorted by name.
    fn list(&self) -> Result<Vec<ObjectEntry>>;

    /// Removes object `name` when it was last modified before `cutoff`. Returns the bytes
    /// freed, or `None` when it is gone or too recent. The check and the removal are ordered
    /// against [`ObjectBackend::touch`] and [`ObjectBackend::publish`] as far as the backend can
    /// (see each backend's documentation).
    fn remove_if_older(&self, name: &str, cutoff: SystemTime) -> Result<Option<u64>>;

    /// Makes earlier removals durable (a backend whose removals are durable at once: nothing).
    fn sync(&self) -> Result<()> {
        Ok(())
    }

    /// Destroys object `name` whatever its age (crypto-shredding: the object's header holds
    /// the item's wrapped key, so without it no copy of the chunks opens). Returns the bytes
    /// freed, `None` when it is not held. The default removes it; a backend that can
    /// overwrite in place first destroys the header's bytes.
    fn shred(&self, name: &str) -> Result<Option<u64>> {
        self.remove_if_older(name, SystemTime::now() + std::time::Duration::from_secs(100 * 365 * 24 * 3600))
    }
}

/// One object as listed by an [`ObjectBackend`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectEntry {
    /// The keyed name (64 hex digits, never the content hash).
    pub name: String,
    /// Sealed bytes held.
    pub size: u64,
    /// Last written, or last refreshed by [`ObjectBackend::touch`].
    pub modified: SystemTime,
}

/// The default [`ObjectBackend`]: the store's `objects/` directory, one file per object at
/// `objects/NN/REST` (`NN` the first two hex digits of the keyed name). Publishing renames
/// the temp file into place and fsyncs both directories; one lock orders refreshes, renames
/// and removals, so none of them can pass another.
pub struct FileObjects {
    root: PathBuf,
    /// Orders refreshes and renames ([`ObjectBackend::touch`], [`ObjectBackend::publish`])
    /// against removals ([`ObjectBackend::remove_if_older`]).
    gc: Mutex<()>,
}

impl FileObjects {
    /// The objects of the store in `store_dir` (its `objects/` directory).
    pub fn new(store_dir: &Path) -> FileObjects {
        FileObjects { root: store_dir.join(OBJECTS_DIR), gc: Mutex::new(()) }
    }

    fn gc_lock(&self) -> MutexGuard<'_, ()> {
        self.gc.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The path of object `name`; `None` for a name that could reach outside the directory.
    /// (Names are otherwise taken as listed, so a stray file is still reported and collected.)
    fn path_of_name(&self, name: &str) -> Option<PathBuf> {
        let plain = name.len() > 2 && name.is_char_boundary(2) && !name.contains(['/', '\\']) && !name.contains("..");
        plain.then(|| self.root.join(&name[..2]).join(&name[2..]))
    }

    fn path_or_err(&self, action: &'static str, name: &str) -> Result<PathBuf> {
        self.path_of_name(name).ok_or_else(|| Error::objects(action, name, "not an object name"))
    }
}

impl ObjectBackend for FileObjects {
    fn publish(&self, sealed: &Path, name: &str) -> Result<bool> {
        let final_path = self.path_or_err("storing", name)?;
        let parent = final_path.parent().expect("object path has a parent");
        {
            let _g = self.gc_lock();
            if final_path.exists() {
                // Same content already stored: write-once means the existing file stays.
                touch(&final_path);
                drop(_g);
                fs::remove_file(sealed).map_err(Error::io("removing", sealed))?;
                return Ok(false);
            }
            fs::create_dir_all(parent).map_err(Error::io("creating", parent))?;
            fs::rename(sealed, &final_path).map_err(Error::io("storing", parent))?;
        }
        sync_dir(parent)?;
        sync_dir(&self.root)?;
        Ok(true)
    }

    fn open(&self, name: &str) -> Result<Option<(u64, Box<dyn Read + Send>)>> {
        let path = self.path_or_err("reading", name)?;
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("reading", &self.root)(e)),
        };
        let len = f.metadata().map_err(Error::io("reading", &self.root))?.len();
        Ok(Some((len, Box::new(f))))
    }

    fn open_at(&self, name: &str, offset: u64) -> Result<Option<(u64, Box<dyn Read + Send>)>> {
        use std::io::{Seek, SeekFrom};
        let path = self.path_or_err("reading", name)?;
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("reading", &self.root)(e)),
        };
        let len = f.metadata().map_err(Error::io("reading", &self.root))?.len();
        f.seek(SeekFrom::Start(offset)).map_err(Error::io("reading", &self.root))?;
        Ok(Some((len, Box::new(f))))
    }

    fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.path_of_name(name).is_some_and(|p| p.exists()))
    }

    fn touch(&self, name: &str) -> Result<bool> {
        let Some(path) = self.path_of_name(name) else { return Ok(false) };
        let _g = self.gc_lock();
        if !path.exists() {
            return Ok(false);
        }
        touch(&path);
        Ok(true)
    }

    fn list(&self) -> Result<Vec<ObjectEntry>> {
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
                out.push(ObjectEntry { name: format!("{prefix}{}", f.file_name().to_string_lossy()), size: meta.len(), modified });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn remove_if_older(&self, name: &str, cutoff: SystemTime) -> Result<Option<u64>> {
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

    /// Overwrites the header with its wrapped item key (the first `SHRED_BYTES` bytes) with
    /// zeros and syncs that before the file is removed, so the key is not left in the file's
    /// freed blocks by this store (a copy-on-write file system or an SSD may still keep old
    /// blocks: docs/SECURITY.md).
    fn shred(&self, name: &str) -> Result<Option<u64>> {
        let Some(path) = self.path_of_name(name) else { return Ok(None) };
        let _g = self.gc_lock();
        let mut f = match OpenOptions::new().write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("opening", &self.root)(e)),
        };
        let len = f.metadata().map_err(Error::io("reading", &self.root))?.len();
        let zeros = vec![0u8; usize::try_from(len.min(SHRED_BYTES)).unwrap_or(0)];
        f.write_all(&zeros).and_then(|()| f.sync_data()).map_err(Error::io("overwriting", &self.root))?;
        drop(f);
        match fs::remove_file(&path) {
            Ok(()) => Ok(Some(len)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("removing", &self.root)(e)),
        }
    }

    fn sync(&self) -> Result<()> {
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
}

impl std::fmt::Debug for FileObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileObjects").field("root", &self.root).finish_non_exhaustive()
    }
}

/// The objects of one store: sealing and naming here, the sealed files in a backend.
pub(crate) struct ObjectStore {
    tmp: PathBuf,
    backend: Arc<dyn ObjectBackend>,
    wrap_key: SecretKey,
    name_key: SecretKey,
}

/// An object's unwrapped item key, nonce prefix and chunk associated data.
struct ObjectKey {
    key: crate::crypto::AeadKey,
    prefix: [u8; 7],
    chunk_ad: Vec<u8>,
}

enum Msg {
    Chunk { buf: PageBuf, len: usize, index: u32, last: bool },
}

impl ObjectStore {
    /// The objects of the store in `store_dir` (temp files in its `tmp/`), held in `backend`.
    pub fn new(store_dir: &Path, backend: Arc<dyn ObjectBackend>, wrap_key: SecretKey, name_key: SecretKey) -> ObjectStore {
        ObjectStore { tmp: store_dir.join(TMP_DIR), backend, wrap_key, name_key }
    }

    /// True when content `sha256` is held; then its modification time is set to now, so that a
    /// collection of unreferenced objects (which spares recent ones) keeps it for whoever is
    /// about to name it. The refresh is best effort: an object whose time cannot be set is
    /// still reported held. A backend that cannot answer counts as not holding it (the content
    /// is then carried again, never lost).
    pub fn hold(&self, sha256: &[u8; 32]) -> bool {
        self.backend.touch(&self.name_of(sha256)).unwrap_or(false)
    }

    /// True when content `sha256` is held (without refreshing its time).
    pub fn exists(&self, sha256: &[u8; 32]) -> Result<bool> {
        self.backend.exists(&self.name_of(sha256))
    }

    /// The keyed file name of a content hash.
    pub fn name_of(&self, sha256: &[u8; 32]) -> String {
        to_hex(&self.name_key.hmac(sha256))
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
        if let Some(expected) = expected.filter(|(_, size)| *size < CHUNK_SIZE as u64) {
            return self.import_one_chunk(tmp_path, src, expected, header, &item_key.aead(), prefix, progress);
        }
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

        let new = self.backend.publish(tmp_path, &self.name_of(&hash))?;
        Ok(Stored { sha256: hash, size, deduplicated: !new })
    }

    /// [`ObjectStore::import_to`] for content expected to fit one chunk (a photo, a volunteer's
    /// usual bundle): the same object, byte for byte, made in this thread and in memory, then
    /// handed to the backend whole ([`ObjectBackend::publish_bytes`]: the file backend writes
    /// it to `tmp_path` and publishes that; an object store sends it with no temp file). The
    /// pipeline's threads and page buffers would only hand the one chunk over (issue 15: the
    /// endpoint's CPU per bundle). Content longer than expected is refused as soon as it shows,
    /// as the pipeline would after reading it all; content other than expected is refused
    /// before anything is sealed or written.
    #[allow(clippy::too_many_arguments)]
    fn import_one_chunk(
        &self,
        tmp_path: &Path,
        src: &mut dyn Read,
        (sha, esize): ([u8; 32], u64),
        header: Vec<u8>,
        key: &crate::crypto::AeadKey,
        prefix: [u8; 7],
        progress: &mut dyn Progress,
    ) -> Result<Stored> {
        let esize_bytes = usize::try_from(esize).map_err(|_| Error::invalid("file", "too large"))?;
        let start = header.len();
        // The whole object: the header, the content (one byte more than expected, to tell
        // content that goes on) sealed in place, its tag.
        let mut buf = header;
        buf.resize(start + esize_bytes + 1 + TAG_LEN, 0);
        let n = read_full(src, &mut buf[start..start + esize_bytes + 1]).map_err(|e| Error::Io {
            action: "reading",
            path: PathBuf::from("the file being imported"),
            source: e,
        })?;
        if n != esize_bytes {
            return Err(Error::HashMismatch);
        }
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&buf[start..start + n]);
        if !progress.update(n as u64) {
            return Err(Error::Cancelled);
        }
        if !crate::crypto::ct_eq(ctx.finish().as_ref(), &sha) {
            return Err(Error::HashMismatch);
        }
        let mut ad = aad::OBJECT_CHUNK.to_vec();
        ad.extend_from_slice(&buf[..24]);
        let tag = key.seal_in_place(chunk_nonce(prefix, 0, true), &ad, &mut buf[start..start + n])?;
        buf.truncate(start + n);
        buf.extend_from_slice(&tag);
        let new = self.backend.publish_bytes(buf, tmp_path, &self.name_of(&sha))?;
        Ok(Stored { sha256: sha, size: esize, deduplicated: !new })
    }

    /// Streams the plaintext of object `sha256` into `sink`, authenticating every chunk, and
    /// checks the size and SHA-256 at the end. Nothing unauthenticated is ever handed out.
    pub fn read(&self, sha256: &[u8; 32], expected_size: u64, sink: &mut dyn Write, progress: &mut dyn Progress) -> Result<()> {
        let name = self.name_of(sha256);
        let Some((file_len, mut f)) = self.backend.open(&name)? else {
            return Err(Error::corrupt("evidence object file is missing"));
        };
        let ObjectKey { key, prefix, chunk_ad } = self.object_key(&name, file_len, &mut f)?;
        let chunk = CHUNK_SIZE;
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
            f.read_exact(&mut buf[..take]).map_err(|e| Error::objects("reading", &name, e))?;
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

    /// Reads and authenticates object `name`'s header from `f` (at its first byte; the object
    /// is `file_len` bytes long) and unwraps its item key.
    fn object_key(&self, name: &str, file_len: u64, f: &mut dyn Read) -> Result<ObjectKey> {
        if file_len < OBJECT_HEADER_LEN as u64 {
            return Err(Error::corrupt("evidence object header is truncated"));
        }
        let mut header = [0u8; OBJECT_HEADER_LEN];
        f.read_exact(&mut header).map_err(|e| Error::objects("reading", name, e))?;
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
        Ok(ObjectKey { key, prefix, chunk_ad })
    }

    /// Streams plaintext bytes `offset .. offset + len` of object `sha256` (whose content is
    /// `size` bytes) into `sink`, decrypting only the chunks that hold them: a viewer's range
    /// request into a 2 GB video costs a chunk or a few, not the file.
    ///
    /// Every chunk read is authenticated under the object's own key, with its index and
    /// whether it is the last in the nonce, and the object's length must be exactly what
    /// `size` bytes seal to, so nothing unauthenticated, truncated, reordered or extended is
    /// handed out. Unlike [`ObjectStore::read`] the whole content's SHA-256 is not re-checked
    /// (only part of it is read). A range outside `0..=size` is refused (`invalid_input`),
    /// nothing read.
    pub fn read_range(&self, sha256: &[u8; 32], size: u64, offset: u64, len: u64, sink: &mut dyn Write) -> Result<()> {
        let end = offset.checked_add(len).filter(|e| *e <= size).ok_or_else(|| Error::invalid("range", "outside the content"))?;
        if len == 0 {
            return Ok(());
        }
        let chunk = u64::from(CHUNK_SIZE);
        let sealed_chunk = chunk + TAG_LEN as u64;
        let chunks = size / chunk + 1;
        let expected_len = OBJECT_HEADER_LEN as u64 + size + chunks * TAG_LEN as u64;
        let name = self.name_of(sha256);
        let Some((file_len, mut f)) = self.backend.open_at(&name, 0)? else {
            return Err(Error::corrupt("evidence object file is missing"));
        };
        let ObjectKey { key, prefix, chunk_ad } = self.object_key(&name, file_len, &mut f)?;
        if file_len != expected_len {
            return Err(Error::corrupt(format!(
                "evidence object is {file_len} bytes long, {expected_len} were expected for its recorded size"
            )));
        }
        let first = offset / chunk;
        let last_needed = (end - 1) / chunk;
        let start = OBJECT_HEADER_LEN as u64 + first * sealed_chunk;
        drop(f);
        let Some((_, mut f)) = self.backend.open_at(&name, start)? else {
            return Err(Error::corrupt("evidence object file is missing"));
        };
        let mut buf = PageBuf::with_capacity(4096, sealed_chunk as usize);
        buf.resize(sealed_chunk as usize, 0);
        for index in first..=last_needed {
            let plain = (size - index * chunk).min(chunk);
            let take = (plain + TAG_LEN as u64) as usize;
            f.read_exact(&mut buf[..take]).map_err(|e| Error::objects("reading", &name, e))?;
            let index32 = u32::try_from(index).map_err(|_| Error::corrupt("evidence object has too many chunks"))?;
            let is_last = index == chunks - 1;
            let n = key
                .open_in_place(chunk_nonce(prefix, index32, is_last), &chunk_ad, &mut buf[..take])
                .map_err(|_| Error::corrupt(format!("evidence object chunk {index} fails authentication")))?;
            let chunk_start = index * chunk;
            let from = (offset.max(chunk_start) - chunk_start) as usize;
            let to = (end.min(chunk_start + n as u64) - chunk_start) as usize;
            sink.write_all(&buf[from..to]).map_err(|e| Error::Io { action: "writing", path: PathBuf::from("the viewer"), source: e })?;
        }
        Ok(())
    }

    /// Every object present, with its size and modification time.
    pub fn files(&self) -> Result<Vec<ObjectEntry>> {
        self.backend.list()
    }

    /// Removes object `name` when it was last modified before `cutoff` (see
    /// [`ObjectBackend::remove_if_older`]). The caller syncs afterwards ([`ObjectStore::sync`]).
    pub fn remove_if_older(&self, name: &str, cutoff: SystemTime) -> Result<Option<u64>> {
        self.backend.remove_if_older(name, cutoff)
    }

    /// Makes removals durable.
    pub fn sync(&self) -> Result<()> {
        self.backend.sync()
    }

    /// Destroys object `name` whatever its age ([`ObjectBackend::shred`]). The caller syncs
    /// afterwards.
    pub fn shred(&self, name: &str) -> Result<Option<u64>> {
        self.backend.shred(name)
    }
}

/// Bytes of an object overwritten before it is removed by [`FileObjects`]' shred: the header
/// (24 bytes) and the wrapped item key (60 bytes), rounded up to a page.
pub const SHRED_BYTES: u64 = 4096;

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

/// Reads until `buf` is full or EOF; returns bytes read (a short count only at EOF, unlike
/// one `read`; no error at EOF, unlike `read_exact`). Object backends read their parts with it.
pub fn read_full(src: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
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
        ObjectStore::new(dir, Arc::new(FileObjects::new(dir)), k.derive(b"w"), k.derive(b"n"))
    }

    fn path_of(dir: &Path, os: &ObjectStore, sha256: &[u8; 32]) -> PathBuf {
        let name = os.name_of(sha256);
        dir.join(OBJECTS_DIR).join(&name[..2]).join(&name[2..])
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
        assert!(path_of(dir.path(), &os, &st.sha256).exists());
        assert!(!path_of(dir.path(), &os, &st.sha256).to_string_lossy().contains(&to_hex(&st.sha256)));
    }

    #[test]
    fn round_trips_at_chunk_boundaries() {
        let c = CHUNK_SIZE as usize;
        for len in [0, 1, c - 1, c, c + 1, 2 * c, 2 * c + 7] {
            roundtrip(len);
        }
    }

    /// Content expected to fit one chunk is made in the calling thread
    /// (`import_one_chunk`): the object reads back like any other, and content that is longer,
    /// shorter or other than expected leaves nothing behind (no object, nothing in tmp).
    #[test]
    fn expected_content_of_one_chunk_is_stored_exactly_and_only_when_it_matches() {
        let c = CHUNK_SIZE as usize;
        for len in [0usize, 1, 4096, c - 1, c, c + 1] {
            let dir = tempfile::tempdir().unwrap();
            let os = store(dir.path());
            let data: Vec<u8> = (0..len).map(|i| (i * 13 % 241) as u8).collect();
            let sha = crate::crypto::sha256(&data);
            let st = os.import_expecting(&mut &data[..], Some((sha, len as u64)), &mut |_| true).unwrap();
            assert_eq!((st.sha256, st.size, st.deduplicated), (sha, len as u64, false), "{len} bytes");
            let mut out = Vec::new();
            os.read(&sha, st.size, &mut out, &mut |_| true).unwrap();
            assert_eq!(out, data, "{len} bytes read back");
            assert_eq!(fs::read(path_of(dir.path(), &os, &sha)).unwrap().len(), OBJECT_HEADER_LEN + chunks_len(len));
            if len == 0 {
                continue;
            }
            // Longer, shorter or other content than expected: refused, nothing kept.
            let other = {
                let mut d = data.clone();
                d[len / 2] ^= 1;
                d
            };
            let longer = [data.as_slice(), b"x"].concat();
            for (what, bad) in [("longer", longer.as_slice()), ("shorter", &data[..len - 1]), ("other", other.as_slice())] {
                let dir = tempfile::tempdir().unwrap();
                let os = store(dir.path());
                let err = os.import_expecting(&mut &bad[..], Some((sha, len as u64)), &mut |_| true).unwrap_err();
                assert!(matches!(err, Error::HashMismatch), "{what} content of {len} bytes: {err}");
                assert!(!path_of(dir.path(), &os, &sha).exists(), "{what}: no object");
                assert_eq!(fs::read_dir(dir.path().join(TMP_DIR)).unwrap().count(), 0, "{what}: nothing in tmp");
            }
        }
    }

    /// The sealed length of `len` bytes of content: full chunks, then the last (possibly empty).
    fn chunks_len(len: usize) -> usize {
        let c = CHUNK_SIZE as usize;
        (len / c) * (c + TAG_LEN) + (len % c) + TAG_LEN
    }

    #[test]
    fn truncation_at_a_chunk_boundary_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let os = store(dir.path());
        let data = vec![7u8; CHUNK_SIZE as usize * 2 + 5];
        let st = os.import(&mut &data[..], &mut |_| true).unwrap();
        let p = path_of(dir.path(), &os, &st.sha256);
        let full = fs::read(&p).unwrap();
        let cut = OBJECT_HEADER_LEN + 2 * (CHUNK_SIZE as usize + TAG_LEN);
        fs::write(&p, &full[..cut]).unwrap();
        let err = os.read(&st.sha256, st.size, &mut std::io::sink(), &mut |_| true).unwrap_err();
        assert!(err.to_string().contains("chunk 1"), "{err}");
    }

    #[test]
    fn range_reads_decrypt_only_what_is_asked_and_match_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let os = store(dir.path());
        let c = CHUNK_SIZE as usize;
        for len in [1usize, c, 2 * c + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
            let st = os.import(&mut &data[..], &mut |_| true).unwrap();
            let size = len as u64;
            let mut ranges = vec![(0u64, size), (0, 1), (size - 1, 1)];
            if len > c {
                ranges.extend([(c as u64 - 3, 10), (c as u64, c as u64), (5, 2 * c as u64), (2 * c as u64, 7)]);
            }
            for (off, n) in ranges {
                let mut out = Vec::new();
                os.read_range(&st.sha256, size, off, n, &mut out).unwrap();
                assert_eq!(out, &data[off as usize..(off + n) as usize], "range {off}+{n} of {len}");
            }
            // Outside the content: refused, nothing written.
            let mut out = Vec::new();
            assert!(matches!(os.read_range(&st.sha256, size, size, 1, &mut out), Err(Error::Invalid { .. })));
            assert!(matches!(os.read_range(&st.sha256, size, u64::MAX, 2, &mut out), Err(Error::Invalid { .. })));
            assert!(out.is_empty());
        }
    }

    #[test]
    fn range_reads_refuse_tampered_truncated_and_resized_objects() {
        let dir = tempfile::tempdir().unwrap();
        let os = store(dir.path());
        let c = CHUNK_SIZE as usize;
        let data = vec![9u8; 2 * c + 5];
        let st = os.import(&mut &data[..], &mut |_| true).unwrap();
        let p = path_of(dir.path(), &os, &st.sha256);
        let full = fs::read(&p).unwrap();
        // A flipped byte in chunk 1: reading chunk 0 still works, chunk 1 does not.
        let mut bad = full.clone();
        bad[OBJECT_HEADER_LEN + (c + TAG_LEN) + 10] ^= 1;
        fs::write(&p, &bad).unwrap();
        let mut out = Vec::new();
        os.read_range(&st.sha256, st.size, 0, 100, &mut out).unwrap();
        let err = os.read_range(&st.sha256, st.size, c as u64, 100, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("chunk 1"), "{err}");
        // Cut after chunk 1 (so chunk 1 would pass as the last): the length check refuses it.
        fs::write(&p, &full[..OBJECT_HEADER_LEN + 2 * (c + TAG_LEN)]).unwrap();
        let err = os.read_range(&st.sha256, st.size, 0, 1, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, Error::Corruption { .. }), "{err}");
        // A recorded size that does not match the object: refused before any chunk is opened.
        fs::write(&p, &full).unwrap();
        let err = os.read_range(&st.sha256, st.size + 1, 0, 1, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, Error::Corruption { .. }), "{err}");
        // A missing object.
        fs::remove_file(&p).unwrap();
        let err = os.read_range(&st.sha256, st.size, 0, 1, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn cancel_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let os = store(dir.path());
        let data = vec![1u8; CHUNK_SIZE as usize * 3];
        let err = os.import(&mut &data[..], &mut |done| done < CHUNK_SIZE as u64 * 2).unwrap_err();
        assert!(matches!(err, Error::Cancelled));
        assert_eq!(fs::read_dir(dir.path().join(TMP_DIR)).unwrap().count(), 0);
        assert!(os.files().unwrap().is_empty());
    }
}
