//! `modferry bundle export`: write the chosen module versions of a store into a
//! deterministic `.tar.zst` bundle (format: docs/bundle-format.md).
//!
//! Determinism: entries are sorted (manifest first, then module files by archive name), every
//! tar header is fixed (GNU format, mode 0644, uid/gid 0, no user or group names, mtime from
//! `SOURCE_DATE_EPOCH` or 0), and zstd runs single-threaded at a fixed level. The same store
//! content, inputs and `SOURCE_DATE_EPOCH` give the same bytes.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

use modferry_formats::{dirhash, modzip};
use modferry_store::{DynStore, FileKind, Key, layout};

use super::manifest::{self, Entry, FileSum, Manifest, Since};
use crate::sync::graph::ModVer;
use crate::sync::report::Want;

/// The zstd level of bundles (fixed: the level is part of what makes bundles reproducible).
pub const ZSTD_LEVEL: i32 = 3;

/// Reads a store stream from blocking code.
pub struct StreamRead {
    handle: Handle,
    body: BoxStream<'static, std::io::Result<Bytes>>,
    buf: Bytes,
}

impl StreamRead {
    /// Wraps `body`; `handle` drives it.
    pub fn new(handle: Handle, body: BoxStream<'static, std::io::Result<Bytes>>) -> Self {
        StreamRead {
            handle,
            body,
            buf: Bytes::new(),
        }
    }
}

impl Read for StreamRead {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.handle.block_on(self.body.next()) {
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

/// Opens a stored object for blocking reads.
pub fn open_read(handle: &Handle, store: &DynStore, key: &Key) -> Result<StreamRead, String> {
    let got = handle
        .block_on(store.get(key, None))
        .map_err(|e| format!("reading {key}: {e}"))?
        .ok_or_else(|| format!("{key} is not in the store"))?;
    Ok(StreamRead::new(handle.clone(), got.body))
}

/// SHA-256 and size of a reader.
pub fn sha256_reader(mut r: impl Read) -> std::io::Result<FileSum> {
    let mut h = Sha256::new();
    let size = std::io::copy(&mut r, &mut h)?;
    Ok(FileSum {
        size,
        sha256: hex::encode(h.finalize()),
    })
}

/// Every module version stored (with `.info` and `.mod`), with whether its zip is stored.
pub fn all_stored(handle: &Handle, store: &DynStore) -> Result<BTreeMap<ModVer, Want>, String> {
    let keys = handle
        .block_on(store.list(""))
        .map_err(|e| format!("listing the store: {e}"))?;
    let mut files: BTreeMap<ModVer, Vec<FileKind>> = BTreeMap::new();
    for k in keys {
        let s = k.as_str();
        if layout::is_side_key(s) {
            continue;
        }
        let Some((dir, _)) = s.split_once("/@v/") else {
            continue;
        };
        let Ok(module) = modferry_formats::module::unescape_path(dir) else {
            continue;
        };
        if let Some((version, kind)) = layout::parse_version_key(&module, &k) {
            files
                .entry(ModVer::new(module, version))
                .or_default()
                .push(kind);
        }
    }
    Ok(files
        .into_iter()
        .filter(|(_, k)| k.contains(&FileKind::Info) && k.contains(&FileKind::Mod))
        .map(|(m, k)| {
            let w = if k.contains(&FileKind::Zip) {
                Want::Zip
            } else {
                Want::Mod
            };
            (m, w)
        })
        .collect())
}

/// Builds the manifest entry of `m` from the store (checksums of every file).
pub fn describe(
    handle: &Handle,
    store: &DynStore,
    m: &ModVer,
    want: Want,
) -> Result<Entry, String> {
    let what = m.to_string();
    let key = |kind| layout::version_file(&m.path, &m.version, kind).map_err(|e| e.to_string());
    let small = |kind: FileKind, limit: u64| -> Result<Bytes, String> {
        handle
            .block_on(store.get_bytes(&key(kind)?, limit))
            .map_err(|e| format!("{what}: {e}"))?
            .ok_or_else(|| format!("{what}: no .{} in the store (run sync first)", kind.ext()))
    };
    let info = small(FileKind::Info, manifest::MAX_INFO)?;
    let go_mod = small(FileKind::Mod, modzip::MAX_GO_MOD)?;
    let sum = |b: &Bytes| FileSum {
        size: b.len() as u64,
        sha256: hex::encode(Sha256::digest(b)),
    };
    let (zip, zip_h1) = match want {
        Want::Mod => (None, None),
        Want::Zip => {
            let zk = key(FileKind::Zip)?;
            let r = open_read(handle, store, &zk)
                .map_err(|e| format!("{what}: {e} (run sync first)"))?;
            let zs = sha256_reader(r).map_err(|e| format!("{what}: reading the zip: {e}"))?;
            let h1 = match handle.block_on(store.get_bytes(&key(FileKind::ZipHash)?, 1024)) {
                Ok(Some(b)) if String::from_utf8_lossy(&b).trim().starts_with("h1:") => {
                    String::from_utf8_lossy(&b).trim().to_string()
                }
                _ => {
                    let mut tmp = tempfile::tempfile_in(store.staging_dir())
                        .map_err(|e| format!("temp file: {e}"))?;
                    std::io::copy(&mut open_read(handle, store, &zk)?, &mut tmp)
                        .map_err(|e| format!("{what}: copying the zip: {e}"))?;
                    dirhash::hash_zip(tmp).map_err(|e| format!("{what}: hashing the zip: {e}"))?
                }
            };
            (Some(zs), Some(h1))
        }
    };
    Ok(Entry {
        module: m.path.clone(),
        version: m.version.clone(),
        info: sum(&info),
        go_mod_h1: dirhash::hash_go_mod(&go_mod),
        go_mod: sum(&go_mod),
        zip,
        zip_h1,
        source: store.describe(),
    })
}

/// Drops from `wants` what the older manifest already carried (the same files with the same
/// checksums are not sent again; a version whose zip the older bundle lacked is sent whole).
pub fn subtract(entries: Vec<Entry>, old: &Manifest) -> Vec<Entry> {
    let have: std::collections::HashMap<(&str, &str), &Entry> = old
        .modules
        .iter()
        .map(|e| ((e.module.as_str(), e.version.as_str()), e))
        .collect();
    entries
        .into_iter()
        .filter(
            |e| match have.get(&(e.module.as_str(), e.version.as_str())) {
                Some(o) => {
                    !(o.go_mod == e.go_mod
                        && o.info == e.info
                        && (e.zip.is_none() || o.zip == e.zip))
                }
                None => true,
            },
        )
        .collect()
}

/// Reads the manifest of a bundle, or a bare manifest.json file.
pub fn read_manifest_file(path: &Path) -> Result<Manifest, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let json = if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let dec = zstd::Decoder::new(&data[..]).map_err(|e| e.to_string())?;
        let mut ar = tar::Archive::new(dec);
        let mut entries = ar.entries().map_err(|e| e.to_string())?;
        let mut first = entries
            .next()
            .ok_or("the bundle is empty")?
            .map_err(|e| format!("reading the bundle: {e}"))?;
        let mut buf = Vec::new();
        (&mut first)
            .take(manifest::MAX_MANIFEST)
            .read_to_end(&mut buf)
            .map_err(|e| e.to_string())?;
        buf
    } else {
        data
    };
    let m: Manifest = serde_json::from_slice(&json)
        .map_err(|e| format!("{}: not a bundle manifest: {e}", path.display()))?;
    m.check()?;
    Ok(m)
}

/// Writes the bundle for `entries` (already described) to `out`, atomically.
pub fn write_bundle(
    handle: &Handle,
    store: &DynStore,
    mut entries: Vec<Entry>,
    since: Option<&Manifest>,
    sumdb: Option<super::sumdb::Section>,
    out: &Path,
) -> Result<Manifest, String> {
    entries.sort_by(|a, b| (&a.module, &a.version).cmp(&(&b.module, &b.version)));
    let (created, mtime) = manifest::creation_time()?;
    let manifest = Manifest {
        format: manifest::FORMAT.into(),
        format_version: manifest::FORMAT_VERSION,
        created,
        modferry_version: env!("CARGO_PKG_VERSION").into(),
        since: since.map(|m| Since {
            created: m.created.clone(),
            modules: m.modules.len(),
        }),
        modules: entries,
        sumdb,
    };
    let mut json = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    json.push(b'\n');

    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".bundle-")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a temp file in {}: {e}", dir.display()))?;
    let file = tmp.reopen().map_err(|e| e.to_string())?;
    let mut enc = zstd::Encoder::new(std::io::BufWriter::new(file), ZSTD_LEVEL)
        .map_err(|e| format!("zstd: {e}"))?;
    enc.include_checksum(true)
        .map_err(|e| format!("zstd: {e}"))?;
    let mut tar = tar::Builder::new(enc);
    let header = |size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        h
    };
    let io = |e: std::io::Error| format!("writing {}: {e}", out.display());
    tar.append_data(
        &mut header(json.len() as u64),
        manifest::MANIFEST_NAME,
        &json[..],
    )
    .map_err(io)?;
    let mut files: Vec<(String, Key, u64)> = Vec::new();
    for e in &manifest.modules {
        for (kind, name, sum) in e.files()? {
            let key =
                layout::version_file(&e.module, &e.version, kind).map_err(|x| x.to_string())?;
            files.push((name, key, sum.size));
        }
    }
    for (name, size) in super::sumdb::expected_files(manifest.sumdb.as_ref())? {
        let key = Key::new(name.as_str()).map_err(|x| x.to_string())?;
        files.push((name, key, size));
    }
    files.sort();
    for (name, key, size) in files {
        let r = open_read(handle, store, &key)?;
        tar.append_data(&mut header(size), &name, r.take(size))
            .map_err(|e| {
                format!("writing {name}: {e} (did the store change during the export?)")
            })?;
    }
    let enc = tar.into_inner().map_err(io)?;
    let mut w = enc.finish().map_err(io)?;
    w.flush().map_err(io)?;
    let f = w.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(io)?;
    tmp.persist(out)
        .map_err(|e| format!("cannot move the bundle to {}: {e}", out.display()))?;
    Ok(manifest)
}

/// Arc-free helper so callers can pass `&Arc<dyn Store>`.
pub fn store_of(mirror: &Arc<modferry_service::Mirror>) -> DynStore {
    Arc::clone(mirror.store())
}
