//! Module zips from a directory on disk.
//!
//! Implements golang.org/x/mod `zip/zip.go` `CreateFromDir`, `CheckDir` and their directory walk
//! (`listFilesInDir`): the rules for which files belong in a module zip live in
//! [`modferry_formats::modzip`]; this module only walks the file system and adds what a walk
//! decides by itself:
//!
//! - entries are visited in name order (bytewise), symbolic links are not followed;
//! - `.bzr`, `.git`, `.hg` and `.svn` directories are skipped (at any depth);
//! - a subdirectory with an entry named `go.mod` that is not a directory (a file or a link) is
//!   another module and is skipped;
//! - paths in vendored packages are skipped (directories too, though the walk still descends into
//!   them, as Go's does), with the vendoring rules of the go line of the root `go.mod` (read
//!   through a symbolic link, unlike the file list check);
//! - symbolic links and other non-regular files are skipped ("not a regular file");
//! - a root that is itself a symbolic link is not followed either (it yields no files).
//!
//! Deviation: a file name that is not UTF-8 gets a lossily decoded path (U+FFFD), which the file
//! path rules then reject, as Go rejects the raw name; `CheckDir` reports paths joined to the
//! directory, [`check_dir`] keeps them relative to it.

use std::fs;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use modferry_formats::modzip::{
    self, CheckedFiles, File, FileError, FileKind, FileReason, VendorRules, ZipError,
};

/// Why a module zip could not be made from a directory.
#[derive(Debug, thiserror::Error)]
pub enum LocalDirError {
    /// Reading the directory tree failed.
    #[error("create zip from directory {dir}: reading {path}: {source}")]
    Walk {
        /// The directory the walk started at.
        dir: PathBuf,
        /// The entry that could not be read.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The files break a module zip rule, or writing the zip failed.
    #[error("create zip from directory {dir}: {source}")]
    Zip {
        /// The directory.
        dir: PathBuf,
        /// What [`modzip::create`] reported (boxed: it is large).
        #[source]
        source: Box<ZipError>,
    },
}

/// A regular file found by the walk; implements [`File`] with `std::fs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirFile {
    fs_path: PathBuf,
    path: String,
    size: u64,
}

impl DirFile {
    /// Where the file is on disk.
    pub fn fs_path(&self) -> &Path {
        &self.fs_path
    }
}

impl File for DirFile {
    fn path(&self) -> &str {
        &self.path
    }

    fn kind(&self) -> FileKind {
        FileKind::Regular { size: self.size }
    }

    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(fs::File::open(&self.fs_path)?))
    }
}

/// What a walk found: the regular files to check, and what it skipped by itself.
#[derive(Debug, Default)]
struct Listing {
    files: Vec<DirFile>,
    omitted: Vec<FileError>,
}

/// Lists the regular files of the module tree at `dir` that a module zip may contain, in walk
/// order, with slash-separated paths relative to `dir`. VCS directories, nested modules,
/// vendored packages, symbolic links and irregular files are left out (see the module docs).
pub fn list_dir_files(dir: &Path) -> Result<Vec<DirFile>, LocalDirError> {
    Ok(walk(dir)?.files)
}

/// Classifies the files of the module tree at `dir` (Go's `zip.CheckDir`): the walk's own
/// omissions, then [`modzip::check_files`] on the files it listed. Paths stay relative to `dir`.
pub fn check_dir(dir: &Path) -> Result<CheckedFiles, LocalDirError> {
    let listing = walk(dir)?;
    let mut cf = modzip::check_files(&listing.files);
    cf.omitted.extend(listing.omitted);
    Ok(cf)
}

/// Writes the module zip for `module_path@version` from the tree at `dir` (Go's
/// `zip.CreateFromDir`): the walk's files go to [`modzip::create`].
pub fn create_from_dir<W: Write + Seek>(
    w: W,
    module_path: &str,
    version: &str,
    dir: &Path,
) -> Result<(), LocalDirError> {
    let files = list_dir_files(dir)?;
    modzip::create(w, module_path, version, &files).map_err(|source| LocalDirError::Zip {
        dir: dir.to_owned(),
        source: Box::new(source),
    })
}

const VCS_DIRS: &[&str] = &[".bzr", ".git", ".hg", ".svn"];

fn walk(dir: &Path) -> Result<Listing, LocalDirError> {
    let err = |path: &Path, source| LocalDirError::Walk {
        dir: dir.to_owned(),
        path: path.to_owned(),
        source,
    };
    // Only the start of the root go.mod matters, and only its go line.
    let rules = match fs::File::open(dir.join("go.mod")) {
        Ok(f) => {
            let mut data = Vec::new();
            match f.take(modzip::MAX_GO_MOD + 1).read_to_end(&mut data) {
                Ok(_) => VendorRules::from_go_mod(&data),
                Err(_) => VendorRules::default(),
            }
        }
        Err(_) => VendorRules::default(),
    };

    let mut listing = Listing::default();
    let root_meta = fs::symlink_metadata(dir).map_err(|e| err(dir, e))?;
    if !root_meta.is_dir() {
        // Go's walk reports the root itself when it is not a directory.
        listing.omitted.push(FileError {
            path: ".".to_owned(),
            reason: FileReason::NotRegular,
        });
        return Ok(listing);
    }
    walk_dir(dir, Path::new(dir), "", rules, &mut listing)?;
    Ok(listing)
}

/// Visits the entries of `fs_dir` (at `rel_dir` in the module) depth-first in name order, like
/// Go's `filepath.Walk`, so that the first of two colliding paths is the same one Go sees first.
fn walk_dir(
    root: &Path,
    fs_dir: &Path,
    rel_dir: &str,
    rules: VendorRules,
    listing: &mut Listing,
) -> Result<(), LocalDirError> {
    let err = |path: &Path, source| LocalDirError::Walk {
        dir: root.to_owned(),
        path: path.to_owned(),
        source,
    };
    let mut names = Vec::new();
    for entry in fs::read_dir(fs_dir).map_err(|e| err(fs_dir, e))? {
        names.push(entry.map_err(|e| err(fs_dir, e))?.file_name());
    }
    names.sort();
    for name in names {
        let fs_path = fs_dir.join(&name);
        let name = name.to_string_lossy();
        let rel = if rel_dir.is_empty() {
            name.to_string()
        } else {
            format!("{rel_dir}/{name}")
        };
        let meta = fs::symlink_metadata(&fs_path).map_err(|e| err(&fs_path, e))?;
        if rules.is_vendored(&rel) {
            listing.omitted.push(FileError {
                path: rel.clone(),
                reason: FileReason::Vendored,
            });
            if meta.is_dir() {
                walk_dir(root, &fs_path, &rel, rules, listing)?;
            }
            continue;
        }
        if meta.is_dir() {
            if VCS_DIRS.contains(&name.as_ref()) {
                listing.omitted.push(FileError {
                    path: rel,
                    reason: FileReason::VcsDirectory,
                });
            } else if fs::symlink_metadata(fs_path.join("go.mod")).is_ok_and(|m| !m.is_dir()) {
                listing.omitted.push(FileError {
                    path: rel,
                    reason: FileReason::NestedModuleDirectory,
                });
            } else {
                walk_dir(root, &fs_path, &rel, rules, listing)?;
            }
            continue;
        }
        if !meta.is_file() {
            listing.omitted.push(FileError {
                path: rel,
                reason: FileReason::NotRegular,
            });
            continue;
        }
        listing.files.push(DirFile {
            fs_path,
            path: rel,
            size: meta.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "../../formats/tests/common/vectors.rs"]
mod vectors;

#[cfg(test)]
mod tests {
    use super::vectors::{self, TempDir, sorted, sorted_pairs};
    use super::*;
    use std::io::Cursor;

    fn zip_vectors() -> Vec<vectors::Vector> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../formats/tests/data/zip");
        vectors::load(&dir)
            .into_iter()
            .filter(|v| v.kind == "tree")
            .collect()
    }

    #[test]
    fn check_dir_and_create_from_dir_match_go_on_every_tree_vector() {
        let mut n = 0;
        for v in zip_vectors() {
            let tmp = TempDir::new("localdir");
            let root = tmp.path().join("m");
            v.materialize(&root).unwrap();
            let want = v.want("dir");

            let cf = check_dir(&root).unwrap();
            assert_eq!(sorted(&cf.valid), sorted(&want.valid), "{}: valid", v.name);
            assert_eq!(
                sorted_pairs(
                    cf.omitted
                        .iter()
                        .map(|e| (e.path.as_str(), e.reason.to_string()))
                ),
                sorted_pairs(want.omitted.iter().map(|(p, m)| (p.as_str(), m.clone()))),
                "{}: omitted",
                v.name
            );
            assert_eq!(
                sorted_pairs(
                    cf.invalid
                        .iter()
                        .map(|e| (e.path.as_str(), e.reason.to_string()))
                ),
                sorted_pairs(want.invalid.iter().map(|(p, m)| (p.as_str(), m.clone()))),
                "{}: invalid",
                v.name
            );
            assert_eq!(
                cf.size_error.map(|e| e.to_string()),
                want.size_error,
                "{}: size error",
                v.name
            );

            let mut out = Cursor::new(Vec::new());
            let result = create_from_dir(&mut out, &v.module, &v.version, &root);
            match (&want.h1, result) {
                (Some(h1), Ok(())) => {
                    let zip = out.into_inner();
                    let ours = modferry_formats::dirhash::hash_zip(Cursor::new(&zip)).unwrap();
                    assert_eq!(&ours, h1, "{}: h1", v.name);
                }
                (None, Err(LocalDirError::Zip { .. })) => {
                    assert!(want.create_err.is_some(), "{}", v.name);
                }
                (w, got) => panic!("{}: Go h1 {w:?}, ours {got:?}", v.name),
            }
            n += 1;
        }
        assert!(n >= 20, "only {n} vectors");
    }

    #[test]
    fn list_dir_files_walks_in_name_order() {
        let tmp = TempDir::new("localdir-order");
        let root = tmp.path();
        for p in ["b/z.go", "a.go", "b/a.go", "B.go", "c/d/e.go", "go.mod"] {
            let p = root.join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "x").unwrap();
        }
        let files = list_dir_files(root).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path()).collect();
        assert_eq!(
            paths,
            ["B.go", "a.go", "b/a.go", "b/z.go", "c/d/e.go", "go.mod"]
        );
        assert_eq!(files[0].kind(), FileKind::Regular { size: 1 });
    }

    #[test]
    fn walk_errors_name_the_missing_directory() {
        let tmp = TempDir::new("localdir-missing");
        let missing = tmp.path().join("nope");
        let err = list_dir_files(&missing).unwrap_err();
        assert!(
            matches!(&err, LocalDirError::Walk { path, .. } if *path == missing),
            "{err}"
        );
    }

    #[test]
    fn root_symlink_is_not_followed() {
        let tmp = TempDir::new("localdir-link");
        let real = tmp.path().join("real");
        fs::create_dir_all(&real).unwrap();
        fs::write(real.join("a.go"), "x").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let cf = check_dir(&link).unwrap();
        assert!(cf.valid.is_empty());
        assert_eq!(cf.omitted.len(), 1);
    }
}
