//! The filesystem backend: a directory laid out exactly like the go command's
//! `$GOMODCACHE/cache/download` (`cmd/go/internal/modfetch/cache.go`), so `GOPROXY=file://<root>`
//! works and an existing `cache/download` can be opened as a store unchanged.
//!
//! Writes follow the go command's own habit for cache files (`writeDiskCache`: temp file, then
//! rename), made stricter: the temp file lives in `<root>/.modferry/tmp/<session>/` rather than
//! beside the target (so a crash never leaves litter inside the served tree), its data is fsynced
//! before it gets its final name, and the directory is fsynced after. Create-only writes use a
//! hard link, which fails when the target exists, so concurrent writers of one immutable file
//! cannot replace each other. Deviation: the go command serialises writers with `.lock` files
//! (`lockVersion`); we need no locks because every write is a single atomic rename or link.
//!
//! Compare-and-swap ([`Store::put_if_match`]): the writer opens the object's file and takes an
//! exclusive lock on it (`flock`, advisory, so it works across processes on one host and on
//! filesystems that support it), makes sure the name still refers to the file it locked, compares
//! the entity tag (size, modification time and inode: every write makes a new inode), then
//! renames a new temp file over it. A swap waiting for the lock on a file that was meanwhile
//! replaced finds the name pointing elsewhere, so it re-checks against the new file and reports
//! [`SwapOutcome::Mismatch`]. Plain `put`s do not take the lock: mix them with swaps on one key
//! only where a lost update does not matter.
//!
//! Each open [`FsStore`] owns a session directory in `.modferry/tmp/` and holds an exclusive lock
//! on `<session>.lock` while it lives. [`FsStore::open`] removes sessions whose lock nobody holds
//! (left by a process that died), and stray files, so several processes may share a root.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use crate::key::check_prefix;
use crate::{
    GetResult, Key, Meta, Payload, PutMode, PutOutcome, READ_CHUNK, Store, StoreError, SwapOutcome,
    resolve_range,
};

/// The temp area, relative to the root. Never a key.
const TMP_DIR: &str = ".modferry/tmp";

/// A [`Store`] on a local directory. Cheap to clone (clones share one session).
#[derive(Clone)]
pub struct FsStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The store root, absolute.
    root: PathBuf,
    /// `<root>/.modferry/tmp/<session>`: this instance's temp files.
    session: PathBuf,
    /// `<root>/.modferry/tmp/<session>.lock`, locked for the life of this instance.
    lock_path: PathBuf,
    _lock: File,
    /// Names temp files within the session.
    counter: AtomicU64,
    /// Permission bits a new file gets here (`0o666` minus the umask); applied to
    /// `Payload::File` files, which the caller may have created private.
    #[cfg_attr(not(unix), allow(dead_code))]
    file_mode: u32,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Still holding the lock: no other process touches the session meanwhile.
        if let Err(e) = fs::remove_dir_all(&self.session)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.session.display(), error = %e, "store: cannot remove temp session");
        }
        let _ = fs::remove_file(&self.lock_path);
    }
}

impl std::fmt::Debug for FsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsStore")
            .field("root", &self.inner.root)
            .field("session", &self.inner.session)
            .finish()
    }
}

/// Distinguishes sessions opened by one process.
static SESSIONS: AtomicU64 = AtomicU64::new(0);

impl FsStore {
    /// Opens (creating if needed) a store rooted at `root`: creates `.modferry/tmp/`, removes temp
    /// files left by dead processes, and starts this instance's session. Blocking; call it at
    /// startup (or from `spawn_blocking`).
    pub fn open(root: impl Into<PathBuf>) -> Result<FsStore, StoreError> {
        let root: PathBuf = root.into();
        let io_err = |op, path: &Path, e| StoreError::io(op, "", path.display().to_string(), e);
        let tmp_rel = root.join(TMP_DIR);
        fs::create_dir_all(&tmp_rel).map_err(|e| io_err("create directory", &tmp_rel, e))?;
        let root = fs::canonicalize(&root).map_err(|e| io_err("resolve", &root, e))?;
        let tmp_root = root.join(TMP_DIR);
        clean_stale_sessions(&tmp_root).map_err(|e| io_err("clean temp files in", &tmp_root, e))?;
        let (session, lock_path, lock) =
            new_session(&tmp_root).map_err(|e| io_err("create temp session in", &tmp_root, e))?;
        let file_mode = probe_file_mode(&session);
        Ok(FsStore {
            inner: Arc::new(Inner {
                root,
                session,
                lock_path,
                _lock: lock,
                counter: AtomicU64::new(0),
                file_mode,
            }),
        })
    }

    /// The store root (absolute).
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The filesystem path of `key`.
    pub fn path_of(&self, key: &Key) -> Result<PathBuf, StoreError> {
        self.inner.path_of(key)
    }

    /// Runs `f` on the blocking pool with this store's state.
    async fn blocking<T, F>(&self, key: &Key, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        match tokio::task::spawn_blocking(move || f(&inner)).await {
            Ok(r) => r,
            Err(e) => Err(StoreError::io(
                "finish the operation on",
                key.as_str(),
                self.inner.root.display().to_string(),
                io::Error::other(e.to_string()),
            )),
        }
    }
}

impl Inner {
    fn path_of(&self, key: &Key) -> Result<PathBuf, StoreError> {
        if is_tmp(key.as_str()) {
            return Err(StoreError::InvalidKey {
                key: key.as_str().to_owned(),
                reason: "reserved for the store's temp files",
            });
        }
        Ok(self.root.join(key.as_str()))
    }

    fn err(&self, op: &'static str, key: &Key, path: &Path, e: io::Error) -> StoreError {
        StoreError::io(op, key.as_str(), path.display().to_string(), e)
    }

    fn head(&self, key: &Key) -> Result<Option<Meta>, StoreError> {
        let path = self.path_of(key)?;
        match fs::metadata(&path) {
            Ok(md) if md.is_file() => Ok(Some(meta_of(&md))),
            Ok(_) => Ok(None),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(self.err("read metadata of", key, &path, e)),
        }
    }

    fn get_bytes(&self, key: &Key, limit: u64) -> Result<Option<Bytes>, StoreError> {
        let path = self.path_of(key)?;
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => return Err(self.err("open", key, &path, e)),
        };
        let md = file
            .metadata()
            .map_err(|e| self.err("read metadata of", key, &path, e))?;
        if !md.is_file() {
            return Ok(None);
        }
        let too_large = || StoreError::TooLarge {
            key: key.as_str().to_owned(),
            limit,
        };
        if md.len() > limit {
            return Err(too_large());
        }
        // The file may grow between stat and read (it cannot be replaced in place: we renamed
        // into it); read one byte past the limit to notice.
        let mut buf = Vec::with_capacity(usize::try_from(md.len()).unwrap_or(0));
        file.take(limit.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| self.err("read", key, &path, e))?;
        if buf.len() as u64 > limit {
            return Err(too_large());
        }
        Ok(Some(Bytes::from(buf)))
    }

    fn delete(&self, key: &Key) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(self.err("delete", key, &path, e)),
        }
    }

    fn put(&self, key: &Key, payload: Payload, mode: PutMode) -> Result<PutOutcome, StoreError> {
        let target = self.path_of(key)?;
        if mode == PutMode::Create && self.exists(key, &target)? {
            if let Payload::File(src) = &payload {
                self.discard_payload(key, src);
            }
            return Ok(PutOutcome::AlreadyExists);
        }
        match payload {
            Payload::Bytes(bytes) => self.put_reader(key, &target, &mut &bytes[..], mode),
            Payload::File(src) => self.put_file(key, &target, &src, mode),
        }
    }

    /// [`Store::put_if_match`] (see the module docs).
    fn put_if_match(&self, key: &Key, bytes: &[u8], etag: &str) -> Result<SwapOutcome, StoreError> {
        let target = self.path_of(key)?;
        loop {
            let file = match File::open(&target) {
                Ok(f) => f,
                Err(e) if is_missing(&e) => return Ok(SwapOutcome::Mismatch),
                Err(e) => return Err(self.err("open", key, &target, e)),
            };
            file.lock().map_err(|e| self.err("lock", key, &target, e))?;
            // Replaced while we waited for the lock: look again at what the name holds now.
            if !same_file(&file, &target) {
                continue;
            }
            let md = file
                .metadata()
                .map_err(|e| self.err("read metadata of", key, &target, e))?;
            if !md.is_file() || meta_of(&md).etag != etag {
                return Ok(SwapOutcome::Mismatch);
            }
            let mut src = bytes;
            let temp = self.write_temp(key, &mut src)?;
            fs::rename(temp.path(), &target)
                .map_err(|e| self.err("rename into place", key, &target, e))?;
            temp.forget();
            self.sync_parent(key, &target)?;
            let md =
                fs::metadata(&target).map_err(|e| self.err("read metadata of", key, &target, e))?;
            // The lock is released when `file` (the replaced file) closes.
            drop(file);
            return Ok(SwapOutcome::Swapped {
                etag: meta_of(&md).etag,
            });
        }
    }

    /// Whether a file exists at `target` (a directory there is an error: it can never become one).
    fn exists(&self, key: &Key, target: &Path) -> Result<bool, StoreError> {
        match fs::metadata(target) {
            Ok(md) if md.is_file() => Ok(true),
            Ok(_) => Err(self.err(
                "write",
                key,
                target,
                io::Error::other("a directory is in the way"),
            )),
            Err(e) if is_missing(&e) => Ok(false),
            Err(e) => Err(self.err("read metadata of", key, target, e)),
        }
    }

    /// Removes a payload file that is no longer needed. The put itself has succeeded by then,
    /// so a failure is only logged (the file is in a session directory, cleaned later anyway).
    fn discard_payload(&self, key: &Key, src: &Path) {
        match fs::remove_file(src) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(
                key = key.as_str(),
                path = %src.display(),
                error = %e,
                "store: cannot remove payload file"
            ),
        }
    }

    /// Copies `src` into a new temp file and commits it.
    fn put_reader(
        &self,
        key: &Key,
        target: &Path,
        src: &mut dyn Read,
        mode: PutMode,
    ) -> Result<PutOutcome, StoreError> {
        let temp = self.write_temp(key, src)?;
        self.commit(key, temp, target, mode)
    }

    /// Moves a caller's finished file into place (copying only across filesystems).
    fn put_file(
        &self,
        key: &Key,
        target: &Path,
        src: &Path,
        mode: PutMode,
    ) -> Result<PutOutcome, StoreError> {
        let file = File::open(src).map_err(|e| self.err("open payload file", key, src, e))?;
        let md = file
            .metadata()
            .map_err(|e| self.err("read metadata of payload file", key, src, e))?;
        if !md.is_file() {
            return Err(StoreError::InvalidPayload {
                key: key.as_str().to_owned(),
                reason: format!("{} is not a regular file", src.display()),
            });
        }
        file.sync_all()
            .map_err(|e| self.err("sync payload file", key, src, e))?;
        self.set_mode(key, src)?;
        self.ensure_parent(key, target)?;
        let placed = match mode {
            PutMode::Overwrite => fs::rename(src, target).map(|()| PutOutcome::Created),
            PutMode::Create => link_new(src, target),
        };
        match placed {
            Ok(outcome) => {
                if mode == PutMode::Create {
                    self.discard_payload(key, src);
                }
                self.sync_parent(key, target)?;
                Ok(outcome)
            }
            Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                // The caller staged elsewhere: copy into our temp area, then place that.
                let mut reader = file;
                reader
                    .seek(SeekFrom::Start(0))
                    .map_err(|e| self.err("read payload file", key, src, e))?;
                let outcome = self.put_reader(key, target, &mut reader, mode)?;
                self.discard_payload(key, src);
                Ok(outcome)
            }
            Err(e) => Err(self.err(place_op(mode), key, target, e)),
        }
    }

    /// Writes `src` to a new file in the session directory and syncs it. The file is removed
    /// again if anything fails.
    fn write_temp(&self, key: &Key, src: &mut dyn Read) -> Result<TempFile, StoreError> {
        let (mut file, temp) = self.create_temp(key)?;
        let path = temp.path().to_owned();
        io::copy(src, &mut file).map_err(|e| self.err("write", key, &path, e))?;
        file.flush().map_err(|e| self.err("write", key, &path, e))?;
        file.sync_all()
            .map_err(|e| self.err("sync", key, &path, e))?;
        Ok(temp)
    }

    fn create_temp(&self, key: &Key) -> Result<(File, TempFile), StoreError> {
        loop {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let path = self.session.join(format!("put-{n}.tmp"));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => return Ok((f, TempFile(Some(path)))),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(self.err("create temp file", key, &path, e)),
            }
        }
    }

    /// Gives the synced temp file its final name.
    fn commit(
        &self,
        key: &Key,
        temp: TempFile,
        target: &Path,
        mode: PutMode,
    ) -> Result<PutOutcome, StoreError> {
        self.ensure_parent(key, target)?;
        let outcome = match mode {
            PutMode::Overwrite => {
                fs::rename(temp.path(), target)
                    .map_err(|e| self.err(place_op(mode), key, target, e))?;
                temp.forget();
                PutOutcome::Created
            }
            // The temp file is removed when `temp` drops; the link keeps the data.
            PutMode::Create => link_new(temp.path(), target)
                .map_err(|e| self.err(place_op(mode), key, target, e))?,
        };
        self.sync_parent(key, target)?;
        Ok(outcome)
    }

    /// Creates the missing directories above `target`, syncing each new entry's parent.
    fn ensure_parent(&self, key: &Key, target: &Path) -> Result<(), StoreError> {
        match target.parent() {
            Some(dir) => self.ensure_dir(key, dir),
            None => Ok(()),
        }
    }

    fn ensure_dir(&self, key: &Key, dir: &Path) -> Result<(), StoreError> {
        match fs::metadata(dir) {
            Ok(md) if md.is_dir() => return Ok(()),
            Ok(_) => {
                return Err(self.err(
                    "create directory",
                    key,
                    dir,
                    io::Error::other("a file is in the way"),
                ));
            }
            Err(e) if is_missing(&e) => {}
            Err(e) => return Err(self.err("read metadata of", key, dir, e)),
        }
        let parent = match dir.parent() {
            Some(p) if p.starts_with(&self.root) && p != dir => p,
            _ => return Ok(()),
        };
        self.ensure_dir(key, parent)?;
        match fs::create_dir(dir) {
            Ok(()) => sync_dir(parent).map_err(|e| self.err("sync directory", key, parent, e)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
            Err(e) => Err(self.err("create directory", key, dir, e)),
        }
    }

    fn sync_parent(&self, key: &Key, target: &Path) -> Result<(), StoreError> {
        match target.parent() {
            Some(dir) => sync_dir(dir).map_err(|e| self.err("sync directory", key, dir, e)),
            None => Ok(()),
        }
    }

    #[cfg(unix)]
    fn set_mode(&self, key: &Key, path: &Path) -> Result<(), StoreError> {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(self.file_mode))
            .map_err(|e| self.err("set permissions of payload file", key, path, e))
    }

    #[cfg(not(unix))]
    fn set_mode(&self, _key: &Key, _path: &Path) -> Result<(), StoreError> {
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        check_prefix(prefix)?;
        let (dir, partial) = match prefix.rsplit_once('/') {
            Some((dir, partial)) => (dir, partial),
            None => ("", prefix),
        };
        let mut keys = Vec::new();
        if is_tmp(dir) {
            return Ok(keys);
        }
        let base = if dir.is_empty() {
            self.root.clone()
        } else {
            self.root.join(dir)
        };
        self.walk(&base, dir, Some(partial), &mut keys)
            .map_err(|(path, e)| StoreError::io("list", prefix, path.display().to_string(), e))?;
        keys.sort();
        Ok(keys)
    }

    /// Appends the files below `dir` (whose key is `dir_key`, "" for the root) to `out`; at the
    /// first level only names starting with `partial`.
    fn walk(
        &self,
        dir: &Path,
        dir_key: &str,
        partial: Option<&str>,
        out: &mut Vec<Key>,
    ) -> Result<(), (PathBuf, io::Error)> {
        let entries = match fs::read_dir(dir) {
            Ok(it) => it,
            Err(e) if is_missing(&e) => return Ok(()),
            Err(e) => return Err((dir.to_owned(), e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| (dir.to_owned(), e))?;
            let Ok(name) = entry.file_name().into_string() else {
                tracing::debug!(dir = %dir.display(), "store: skipping a non-UTF-8 file name");
                continue;
            };
            if partial.is_some_and(|p| !name.starts_with(p)) {
                continue;
            }
            let key = if dir_key.is_empty() {
                name
            } else {
                format!("{dir_key}/{name}")
            };
            if is_tmp(&key) {
                continue;
            }
            let path = entry.path();
            let file_type = match entry.file_type() {
                Ok(t) => t,
                Err(e) if is_missing(&e) => continue,
                Err(e) => return Err((path, e)),
            };
            let is_file = if file_type.is_dir() {
                self.walk(&path, &key, None, out)?;
                false
            } else if file_type.is_symlink() {
                // Follow links to files; never descend through a linked directory (loops).
                fs::metadata(&path).is_ok_and(|md| md.is_file())
            } else {
                file_type.is_file()
            };
            if is_file {
                match Key::new(key) {
                    Ok(k) => out.push(k),
                    Err(e) => {
                        tracing::debug!(error = %e, "store: skipping a file with an invalid key")
                    }
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Store for FsStore {
    async fn head(&self, key: &Key) -> Result<Option<Meta>, StoreError> {
        let k = key.clone();
        self.blocking(key, move |inner| inner.head(&k)).await
    }

    async fn get(
        &self,
        key: &Key,
        range: Option<Range<u64>>,
    ) -> Result<Option<GetResult>, StoreError> {
        // Open and stat in one trip to the blocking pool. Metadata from the open handle
        // describes exactly the bytes we will stream, even if the name is replaced meanwhile.
        let k = key.clone();
        let opened = self
            .blocking(key, move |inner| {
                let path = inner.path_of(&k)?;
                let file = match File::open(&path) {
                    Ok(f) => f,
                    Err(e) if is_missing(&e) => return Ok(None),
                    Err(e) => return Err(inner.err("open", &k, &path, e)),
                };
                let md = file
                    .metadata()
                    .map_err(|e| inner.err("read metadata of", &k, &path, e))?;
                if !md.is_file() {
                    return Ok(None);
                }
                Ok(Some((file, meta_of(&md), path)))
            })
            .await?;
        let Some((file, meta, path)) = opened else {
            return Ok(None);
        };
        let range = resolve_range(key, range, meta.size)?;
        let body = positional_stream(Arc::new(file), range.clone(), key.clone(), path).boxed();
        Ok(Some(GetResult { meta, range, body }))
    }

    async fn get_bytes(&self, key: &Key, limit: u64) -> Result<Option<Bytes>, StoreError> {
        let k = key.clone();
        self.blocking(key, move |inner| inner.get_bytes(&k, limit))
            .await
    }

    async fn put(
        &self,
        key: &Key,
        payload: Payload,
        mode: PutMode,
    ) -> Result<PutOutcome, StoreError> {
        let k = key.clone();
        self.blocking(key, move |inner| inner.put(&k, payload, mode))
            .await
    }

    async fn put_if_match(
        &self,
        key: &Key,
        bytes: Bytes,
        etag: &str,
    ) -> Result<SwapOutcome, StoreError> {
        let (k, etag) = (key.clone(), etag.to_owned());
        self.blocking(key, move |inner| inner.put_if_match(&k, &bytes, &etag))
            .await
    }

    async fn delete(&self, key: &Key) -> Result<(), StoreError> {
        let k = key.clone();
        self.blocking(key, move |inner| inner.delete(&k)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        let p = prefix.to_owned();
        let inner = Arc::clone(&self.inner);
        match tokio::task::spawn_blocking(move || inner.list(&p)).await {
            Ok(r) => r,
            Err(e) => Err(StoreError::io(
                "list",
                prefix,
                self.inner.root.display().to_string(),
                io::Error::other(e.to_string()),
            )),
        }
    }

    fn staging_dir(&self) -> &Path {
        &self.inner.session
    }

    fn describe(&self) -> String {
        format!("file://{}", self.inner.root.display())
    }
}

/// A temp file path removed on drop unless forgotten.
struct TempFile(Option<PathBuf>);

impl TempFile {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    /// The file was renamed away: nothing to remove.
    fn forget(mut self) {
        self.0 = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take()
            && let Err(e) = fs::remove_file(&p)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %p.display(), error = %e, "store: cannot remove temp file");
        }
    }
}

fn place_op(mode: PutMode) -> &'static str {
    match mode {
        PutMode::Overwrite => "rename into place",
        PutMode::Create => "link into place",
    }
}

/// Hard-links `src` at `target` unless `target` exists: the atomic create-only primitive.
fn link_new(src: &Path, target: &Path) -> io::Result<PutOutcome> {
    match fs::hard_link(src, target) {
        Ok(()) => Ok(PutOutcome::Created),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if fs::metadata(target).is_ok_and(|md| md.is_file()) {
                Ok(PutOutcome::AlreadyExists)
            } else {
                Err(io::Error::other("a directory is in the way"))
            }
        }
        Err(e) => Err(e),
    }
}

/// Whether `key` (or a prefix's directory part) is inside the fs temp area.
fn is_tmp(key: &str) -> bool {
    key == TMP_DIR
        || key
            .strip_prefix(TMP_DIR)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Errors that mean "no such object": the file or one of its parents is missing, or a parent is
/// a file.
/// Streams `range` of `file` in chunks of at most [`READ_CHUNK`] bytes. Each chunk is one
/// positional read (`pread`) on the blocking pool straight into a fresh buffer that is handed
/// to the HTTP layer as is: one copy, no shared cursor, memory bounded by one chunk per reader.
fn positional_stream(
    file: Arc<File>,
    range: Range<u64>,
    key: Key,
    path: PathBuf,
) -> impl futures::Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures::stream::try_unfold(range.start, move |pos| {
        let file = Arc::clone(&file);
        let (end, key, path) = (range.end, key.clone(), path.clone());
        async move {
            if pos >= end {
                return Ok(None);
            }
            let len = (end - pos).min(READ_CHUNK as u64) as usize;
            // Allocated here, on a runtime worker, not on the blocking thread: buffers then come
            // from the workers' few malloc arenas instead of one arena per blocking thread,
            // which kept peak RSS high under hundreds of concurrent downloads.
            let mut buf = vec![0u8; len];
            let chunk = tokio::task::spawn_blocking(move || -> io::Result<Vec<u8>> {
                use std::os::unix::fs::FileExt;
                let mut filled = 0;
                while filled < len {
                    match file.read_at(&mut buf[filled..], pos + filled as u64) {
                        Ok(0) => {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                format!(
                                    "{} ({key}) ended at byte {} while streaming it",
                                    path.display(),
                                    pos + filled as u64
                                ),
                            ));
                        }
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(buf)
            })
            .await
            .map_err(io::Error::other)??;
            let next = pos + chunk.len() as u64;
            Ok(Some((Bytes::from(chunk), next)))
        }
    })
}

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn meta_of(md: &fs::Metadata) -> Meta {
    let modified = md.modified().unwrap_or(UNIX_EPOCH);
    let nanos = modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Meta {
        size: md.len(),
        etag: format!("\"{:x}-{:x}-{:x}\"", md.len(), nanos, inode(md)),
        modified,
    }
}

#[cfg(unix)]
fn inode(md: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(md)
}

#[cfg(not(unix))]
fn inode(_md: &fs::Metadata) -> u64 {
    0
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn probe_file_mode(session: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    let probe = session.join("mode-probe");
    let mode = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|f| f.metadata())
        .map(|md| md.permissions().mode() & 0o777)
        .unwrap_or(0o644);
    let _ = fs::remove_file(&probe);
    mode
}

#[cfg(not(unix))]
fn probe_file_mode(_session: &Path) -> u32 {
    0o644
}

/// Creates a uniquely named, locked session: `<tmp_root>/<name>.lock` then `<tmp_root>/<name>/`.
fn new_session(tmp_root: &Path) -> io::Result<(PathBuf, PathBuf, File)> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    for _ in 0..100 {
        let n = SESSIONS.fetch_add(1, Ordering::Relaxed);
        let name = format!("{:x}-{:x}-{n}", std::process::id(), nanos);
        let lock_path = tmp_root.join(format!("{name}.lock"));
        let lock = match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&lock_path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        match lock.try_lock() {
            Ok(()) => {}
            // A cleaner in another process grabbed it between create and lock; it will delete it.
            Err(fs::TryLockError::WouldBlock) => continue,
            Err(fs::TryLockError::Error(e)) => {
                let _ = fs::remove_file(&lock_path);
                return Err(e);
            }
        }
        // A cleaner may have locked, deleted and released the file before we locked it: make
        // sure the name still refers to the file we hold.
        if !same_file(&lock, &lock_path) {
            continue;
        }
        let session = tmp_root.join(&name);
        if let Err(e) = fs::create_dir(&session) {
            let _ = fs::remove_file(&lock_path);
            return Err(e);
        }
        return Ok((session, lock_path, lock));
    }
    Err(io::Error::other("could not create a unique temp session"))
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// Removes what dead sessions left in `tmp_root`: sessions whose lock can be taken, session
/// directories without a lock file, and stray files.
fn clean_stale_sessions(tmp_root: &Path) -> io::Result<()> {
    for entry in fs::read_dir(tmp_root)? {
        let entry = entry?;
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let result =
            if let Some(session) = name.strip_suffix(".lock").filter(|_| file_type.is_file()) {
                clean_session_if_dead(tmp_root, session, &path)
            } else if file_type.is_dir() {
                if tmp_root.join(format!("{name}.lock")).exists() {
                    Ok(())
                } else {
                    tracing::info!(path = %path.display(), "store: removing stale temp directory");
                    fs::remove_dir_all(&path)
                }
            } else {
                tracing::info!(path = %path.display(), "store: removing stale temp file");
                fs::remove_file(&path)
            };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "store: cannot clean stale temp data");
            }
        }
    }
    Ok(())
}

fn clean_session_if_dead(tmp_root: &Path, session: &str, lock_path: &Path) -> io::Result<()> {
    let lock = OpenOptions::new().read(true).write(true).open(lock_path)?;
    match lock.try_lock() {
        Ok(()) => {
            let dir = tmp_root.join(session);
            tracing::info!(path = %dir.display(), "store: removing temp files of a dead session");
            match fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            fs::remove_file(lock_path)
        }
        Err(fs::TryLockError::WouldBlock) => Ok(()),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that yields some bytes, then fails: a write interrupted half-way.
    struct FailingReader {
        left: usize,
    }

    impl Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::other("source broke mid-stream"));
            }
            let n = buf.len().min(self.left);
            buf[..n].fill(b'x');
            self.left -= n;
            Ok(n)
        }
    }

    fn session_files(store: &FsStore) -> Vec<PathBuf> {
        fs::read_dir(&store.inner.session)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }

    #[test]
    fn write_failing_mid_stream_leaves_no_temp_and_no_target() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let key = Key::new("example.com/m/@v/v1.0.0.zip").unwrap();
        let target = store.path_of(&key).unwrap();
        for mode in [PutMode::Create, PutMode::Overwrite] {
            let mut src = FailingReader { left: 200_000 };
            let err = store
                .inner
                .put_reader(&key, &target, &mut src, mode)
                .unwrap_err();
            assert!(matches!(err, StoreError::Io { op: "write", .. }), "{err}");
            assert!(!target.exists());
            assert!(
                session_files(&store).is_empty(),
                "{:?}",
                session_files(&store)
            );
        }
    }

    #[test]
    fn write_failing_mid_stream_keeps_previous_overwrite_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let key = Key::new("example.com/m/@v/list").unwrap();
        let target = store.path_of(&key).unwrap();
        store
            .inner
            .put(
                &key,
                Payload::Bytes(Bytes::from_static(b"v1.0.0\n")),
                PutMode::Overwrite,
            )
            .unwrap();
        let mut src = FailingReader { left: 10 };
        assert!(
            store
                .inner
                .put_reader(&key, &target, &mut src, PutMode::Overwrite)
                .is_err()
        );
        assert_eq!(fs::read(&target).unwrap(), b"v1.0.0\n");
        assert!(session_files(&store).is_empty());
    }

    #[test]
    fn tmp_area_is_not_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        for k in [".modferry/tmp", ".modferry/tmp/x", ".modferry/tmp/a/b"] {
            let key = Key::new(k).unwrap();
            assert!(
                matches!(store.path_of(&key), Err(StoreError::InvalidKey { .. })),
                "{k}"
            );
        }
        assert!(store.path_of(&Key::new(".modferry/tmpx").unwrap()).is_ok());
        assert!(
            store
                .path_of(&Key::new(".modferry/meta/a").unwrap())
                .is_ok()
        );
    }

    #[cfg(unix)]
    #[test]
    fn payload_file_gets_the_store_file_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let staged = store.inner.session.join("private");
        fs::write(&staged, b"data").unwrap();
        fs::set_permissions(&staged, fs::Permissions::from_mode(0o600)).unwrap();
        let key = Key::new("a/b").unwrap();
        store
            .inner
            .put(&key, Payload::File(staged), PutMode::Create)
            .unwrap();
        let mode = fs::metadata(store.path_of(&key).unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, store.inner.file_mode);
    }
}
