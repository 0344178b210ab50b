//! Test vectors for module zips and h1: hashes, produced by Go's own x/mod code.
//!
//! Shared by `crates/formats/tests/zip_vectors.rs` and the `localdir` tests of modferry-sources
//! (included there with `#[path]`), so it uses only std. The format is documented in
//! tools/oracle/main.go; scripts/gen-vectors.sh regenerates the `want.*` lines.
#![allow(dead_code)]

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// One vector file.
#[derive(Debug)]
pub struct Vector {
    /// The file it came from.
    pub path: PathBuf,
    /// Its file name without `.txtar`.
    pub name: String,
    /// `tree` (default), `zip`, `hash1` or `gomod`.
    pub kind: String,
    pub module: String,
    pub version: String,
    /// The Go-made zip next to the vector (`zip=`).
    pub zip: Option<String>,
    /// Tree directives (`symlink`, `fifo`, `pad`, `rawfile`, `mkdir`) in order.
    pub directives: Vec<(String, String)>,
    /// Sections: name and exact content.
    pub sections: Vec<(String, Vec<u8>)>,
    /// `want.*` lines: key without `want.`, value.
    pub want: Vec<(String, String)>,
}

/// What Go reported for one mode (`files`, `dir`, `zip`) of a vector.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Want {
    pub valid: Vec<String>,
    /// (path, Go's message)
    pub omitted: Vec<(String, String)>,
    pub invalid: Vec<(String, String)>,
    pub size_error: Option<String>,
    pub err: Option<String>,
    pub h1: Option<String>,
    pub create_err: Option<String>,
    pub hash_err: Option<String>,
}

/// Loads every `*.txtar` in `dir`, sorted by name.
pub fn load(dir: &Path) -> Vec<Vector> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txtar"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no vectors in {}", dir.display());
    paths.iter().map(|p| parse(p)).collect()
}

fn marker_name(line: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(line).ok()?;
    let inner = s.strip_prefix("-- ")?.strip_suffix(" --")?;
    let name = inner.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

fn parse(path: &Path) -> Vector {
    let data = fs::read(path).unwrap();
    let mut comment = Vec::new();
    let mut sections: Vec<(String, Vec<u8>)> = Vec::new();
    for line in data.split_inclusive(|&b| b == b'\n') {
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        if let Some(name) = marker_name(bare) {
            sections.push((name, Vec::new()));
        } else if let Some((_, content)) = sections.last_mut() {
            content.extend_from_slice(line);
        } else {
            comment.extend_from_slice(line);
        }
    }
    let mut v = Vector {
        path: path.to_owned(),
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        kind: "tree".to_owned(),
        module: String::new(),
        version: String::new(),
        zip: None,
        directives: Vec::new(),
        sections,
        want: Vec::new(),
    };
    for line in String::from_utf8_lossy(&comment).lines() {
        let Some((key, val)) = line.split_once('=') else {
            continue;
        };
        if key.starts_with('#') || key.contains(char::is_whitespace) {
            continue;
        }
        if let Some(w) = key.strip_prefix("want.") {
            v.want.push((w.to_owned(), val.to_owned()));
            continue;
        }
        match key {
            "kind" => v.kind = val.to_owned(),
            "module" => v.module = val.to_owned(),
            "version" => v.version = val.to_owned(),
            "zip" => v.zip = Some(val.to_owned()),
            _ => v.directives.push((key.to_owned(), val.to_owned())),
        }
    }
    v
}

impl Vector {
    /// The lines Go wrote for `mode`.
    pub fn want(&self, mode: &str) -> Want {
        let mut w = Want::default();
        let prefix = format!("{mode}.");
        for (key, val) in &self.want {
            let Some(field) = key.strip_prefix(&prefix) else {
                continue;
            };
            let pair = || {
                let (p, m) = val.split_once(": ").unwrap_or((val, ""));
                (p.to_owned(), m.to_owned())
            };
            match field {
                "valid" => w.valid.push(val.clone()),
                "omitted" => w.omitted.push(pair()),
                "invalid" => w.invalid.push(pair()),
                "size_error" => w.size_error = Some(val.clone()),
                "err" => w.err = Some(val.clone()),
                "h1" => w.h1 = Some(val.clone()),
                "create_err" => w.create_err = Some(val.clone()),
                "hash_err" => w.hash_err = Some(val.clone()),
                other => panic!("{}: unknown want field {other}", self.name),
            }
        }
        w
    }

    /// The single `want.h1` of hash1/gomod vectors.
    pub fn want_h1(&self) -> &str {
        self.want
            .iter()
            .find(|(k, _)| k == "h1")
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{}: no want.h1", self.name))
    }

    /// The Go-made zip's bytes, if the vector has one.
    pub fn zip_bytes(&self) -> Option<Vec<u8>> {
        let name = self.zip.as_ref()?;
        let p = self.path.with_file_name(name);
        Some(fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
    }

    /// Creates the vector's tree under `root` (which must not exist yet).
    pub fn materialize(&self, root: &Path) -> io::Result<()> {
        fs::create_dir_all(root)?;
        for (name, data) in &self.sections {
            let p = root.join(name);
            if name.ends_with('/') {
                fs::create_dir_all(&p)?;
                continue;
            }
            fs::create_dir_all(p.parent().unwrap())?;
            fs::write(&p, data)?;
        }
        for (key, val) in &self.directives {
            match key.as_str() {
                "symlink" => {
                    let (name, target) = val.split_once(" -> ").expect("symlink=NAME -> TARGET");
                    let p = root.join(name);
                    fs::create_dir_all(p.parent().unwrap())?;
                    std::os::unix::fs::symlink(target, p)?;
                }
                "fifo" => {
                    let p = root.join(val);
                    fs::create_dir_all(p.parent().unwrap())?;
                    let status = std::process::Command::new("mkfifo").arg(&p).status()?;
                    assert!(status.success(), "mkfifo {}", p.display());
                }
                "pad" => {
                    let (name, size) = val.split_once(' ').expect("pad=NAME SIZE");
                    let p = root.join(name);
                    fs::create_dir_all(p.parent().unwrap())?;
                    let f = fs::OpenOptions::new()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(&p)?;
                    f.set_len(size.parse().expect("pad size"))?;
                }
                "rawfile" => {
                    let bytes = decode_hex(val);
                    let p = root.join(std::ffi::OsStr::from_bytes(&bytes));
                    fs::create_dir_all(p.parent().unwrap())?;
                    fs::write(p, b"")?;
                }
                "mkdir" => fs::create_dir_all(root.join(val))?,
                other => panic!("{}: unknown directive {other}", self.name),
            }
        }
        Ok(())
    }
}

fn decode_hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "modferry-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Go writes invalid UTF-8 lossily in want lines and words some messages differently where our
/// path is already lossy; compare messages after this.
pub fn normalize_message(m: &str) -> String {
    if m.contains("UTF-8") || m.contains('\u{FFFD}') {
        "<not UTF-8>".to_owned()
    } else {
        m.to_owned()
    }
}

/// Sorted (path, normalized message) pairs.
pub fn sorted_pairs<'a>(
    list: impl IntoIterator<Item = (&'a str, String)>,
) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .into_iter()
        .map(|(p, m)| (p.to_owned(), normalize_message(&m)))
        .collect();
    v.sort();
    v
}

/// Sorted copy.
pub fn sorted(list: &[String]) -> Vec<String> {
    let mut v = list.to_vec();
    v.sort();
    v
}
