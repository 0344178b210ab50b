//! Module zip files: which files go in, how the zip is laid out, and how a received zip is checked.
//!
//! Implements golang.org/x/mod `zip/zip.go` (`CheckFiles`, `Create`, `CheckZip`, the
//! `collisionChecker`, `isVendoredPackage`) and the zip checks the go command makes when it
//! downloads a module (cmd/go/internal/modfetch/fetch.go `downloadZip`, `hashZip`), which
//! [`validate_zip`] combines into the one check a proxy runs before storing a zip it relays.
//! Walking a directory (`CreateFromDir`) is I/O and lives in `modferry-sources` (`localdir`).
//!
//! # The rules
//!
//! - Every entry of a module zip is named `<module>@<version>/<file path>`; the version must be
//!   canonical and suit the module path (see [`crate::module`]); every file path must pass
//!   [`crate::module::check_file_path`] and be clean (no `.`/`..` elements, no doubled or trailing
//!   slashes) and relative.
//! - No two paths may be equal under Unicode simple case folding (Go's `strings.EqualFold`); this
//!   includes the directories that contain them, and a path may not be both a file and a
//!   directory. The same file may not appear twice.
//! - `go.mod` may only appear at the root and only spelled `go.mod`.
//! - Sizes: the zip file and the sum of the uncompressed files are each at most
//!   [`MAX_ZIP_FILE`] (500 MiB); the root `go.mod` and root `LICENSE` at most [`MAX_GO_MOD`] and
//!   [`MAX_LICENSE`] (16 MiB each). Other `LICENSE` files have no own limit.
//!
//! When a zip is made from a file list ([`check_files`], [`create`]), some files are left out
//! rather than rejected ("omitted"):
//! - files of nested modules: any file below a directory (other than the root) that holds a
//!   regular file whose name folds to `go.mod`;
//! - vendored packages: files in a subdirectory of a `vendor` directory (`vendor/x/y.go`, but not
//!   `vendor/y.go`). When the root go.mod's `go` line is 1.24 or later, `vendor/modules.txt` is also
//!   left out, and `a/vendor/b.go` is kept (before 1.24 Go looked for the subdirectory at the wrong
//!   offset and so dropped `a/vendor/b.go`; the old behaviour is kept for old modules because
//!   their hashes depend on it);
//! - `.hg_archival.txt` at the root, symbolic links, and anything that is not a regular file.
//!
//! A directory walk additionally leaves out `.bzr`, `.git`, `.hg` and `.svn` directories; see
//! `modferry_sources::localdir`.
//!
//! # Deliberate deviations
//!
//! - Only the first [`MAX_GO_MOD`] + 1 bytes of the root go.mod are read for its `go` line (Go
//!   reads it all); this only matters for a go.mod too large to be valid anyway.
//! - [`validate_zip`] is stricter than Go's `CheckZip` (which trusts declared sizes and reads no
//!   data): it uses [`crate::module::check`] (no `+incompatible` on v0/v1), stops at the first
//!   broken rule, reads every byte, requires each entry to be exactly as long as its header says
//!   (Go's reader fails on that later, when hashing or unzipping), and rejects directory entries
//!   with content (Go ignores them).
//! - Case folding maps each character through its single-character upper case, then lower case,
//!   with four explicit exceptions (dotless ı, and three pairs Unicode 15.1 added to simple
//!   folding); a test checks the result against Go's full `unicode.SimpleFold` table, so no
//!   tables are needed here.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};

use crate::dirhash::{self, Hash1Builder};
use crate::module::{self, ModuleError, PathError, VersionReason};

/// The largest module zip file, and the largest total uncompressed size of its files (500 MiB).
pub const MAX_ZIP_FILE: u64 = 500 << 20;
/// The largest root `go.mod` file in a module zip (16 MiB).
pub const MAX_GO_MOD: u64 = 16 << 20;
/// The largest root `LICENSE` file in a module zip (16 MiB).
pub const MAX_LICENSE: u64 = 16 << 20;

/// Size limits, so tests can exercise the limit logic without 500 MiB of data. Everything public
/// uses [`Limits::GO`] unless it says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Limit for the zip file and for the sum of uncompressed sizes ([`MAX_ZIP_FILE`]).
    pub zip_file: u64,
    /// Limit for the root go.mod ([`MAX_GO_MOD`]).
    pub go_mod: u64,
    /// Limit for the root LICENSE ([`MAX_LICENSE`]).
    pub license: u64,
}

impl Limits {
    /// The limits the go command enforces.
    pub const GO: Limits = Limits {
        zip_file: MAX_ZIP_FILE,
        go_mod: MAX_GO_MOD,
        license: MAX_LICENSE,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::GO
    }
}

// ---------------------------------------------------------------------------------------------
// Files

/// What a [`File`] is, as `lstat` would say (symbolic links are not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file of this many bytes.
    Regular {
        /// The size in bytes; [`create`] fails if the file turns out to be longer.
        size: u64,
    },
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A device, pipe, socket or anything else that is not a regular file.
    Irregular,
}

/// A file to put in a module zip (Go's `zip.File`): a directory entry, a git object, a test
/// fixture. Formats does no I/O itself; the caller supplies `open`.
pub trait File {
    /// The clean, slash-separated path relative to the module root, like `sub/a.go`.
    fn path(&self) -> &str;
    /// What the file is; symbolic links describe themselves, not their targets.
    fn kind(&self) -> FileKind;
    /// Opens a regular file's content. Only called for regular files.
    fn open(&self) -> io::Result<Box<dyn Read + '_>>;
}

impl<T: File + ?Sized> File for &T {
    fn path(&self) -> &str {
        (**self).path()
    }
    fn kind(&self) -> FileKind {
        (**self).kind()
    }
    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        (**self).open()
    }
}

/// Why a file is left out of a module zip or makes it invalid. Messages match Go's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileReason {
    // Omitted.
    /// A `.bzr`, `.git`, `.hg` or `.svn` directory (directory walks only).
    VcsDirectory,
    /// In a vendored package (see the module docs).
    Vendored,
    /// Below a directory that has its own go.mod.
    InNestedModule,
    /// A directory that has its own go.mod (directory walks only).
    NestedModuleDirectory,
    /// The `.hg_archival.txt` that `hg archive` adds at the root.
    HgArchival,
    /// A symbolic link.
    Symlink,
    /// Not a regular file.
    NotRegular,

    // Invalid.
    /// The path is not in clean form (`a/./b`, `a//b`, `a/`).
    NotClean,
    /// The path is absolute.
    NotRelative,
    /// The path breaks the file path rules.
    BadPath(PathError),
    /// The path is not valid UTF-8 (only from zips and directories; shown lossily).
    NotUtf8,
    /// A root go.mod spelled with other case (`GO.MOD`).
    GoModCase,
    /// A go.mod below the root of a zip.
    GoModNotInRoot,
    /// Two paths (or their parent directories) differ only in case.
    CaseCollision {
        /// The path seen first.
        first: String,
        /// The path seen second.
        second: String,
    },
    /// A path used both as a file and as a directory.
    FileAndDirectory {
        /// The path concerned (the file itself or one of its parents).
        path: String,
    },
    /// The same file listed twice.
    Duplicate {
        /// The repeated path.
        path: String,
    },
    /// The root go.mod is larger than the limit.
    GoModTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The root LICENSE is larger than the limit.
    LicenseTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A zip entry outside `<module>@<version>/`.
    MissingPrefix {
        /// The prefix every entry must have.
        prefix: String,
    },
}

impl FileReason {
    /// Whether the file is left out (true) rather than making the module invalid (false).
    pub fn is_omission(&self) -> bool {
        matches!(
            self,
            FileReason::VcsDirectory
                | FileReason::Vendored
                | FileReason::InNestedModule
                | FileReason::NestedModuleDirectory
                | FileReason::HgArchival
                | FileReason::Symlink
                | FileReason::NotRegular
        )
    }
}

impl fmt::Display for FileReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileReason::VcsDirectory => f.write_str("directory is a version control repository"),
            FileReason::Vendored => f.write_str("file is in vendor directory"),
            FileReason::InNestedModule => f.write_str("file is in another module"),
            FileReason::NestedModuleDirectory => f.write_str("directory is in another module"),
            FileReason::HgArchival => {
                f.write_str("file is inserted by 'hg archive' and is always omitted")
            }
            FileReason::Symlink => f.write_str("file is a symbolic link"),
            FileReason::NotRegular => f.write_str("not a regular file"),
            FileReason::NotClean => f.write_str("file path is not clean"),
            FileReason::NotRelative => f.write_str("file path is not relative"),
            FileReason::BadPath(e) => e.fmt(f),
            FileReason::NotUtf8 => f.write_str("file path is not valid UTF-8"),
            FileReason::GoModCase => f.write_str("go.mod files must have lowercase names"),
            FileReason::GoModNotInRoot => f.write_str("go.mod file not in module root directory"),
            FileReason::CaseCollision { first, second } => {
                write!(
                    f,
                    "case-insensitive file name collision: {first:?} and {second:?}"
                )
            }
            FileReason::FileAndDirectory { path } => {
                write!(f, "entry {path:?} is both a file and a directory")
            }
            FileReason::Duplicate { path } => write!(f, "multiple entries for file {path:?}"),
            FileReason::GoModTooLarge { limit } => {
                write!(f, "go.mod file too large (max size is {limit} bytes)")
            }
            FileReason::LicenseTooLarge { limit } => {
                write!(f, "LICENSE file too large (max size is {limit} bytes)")
            }
            FileReason::MissingPrefix { prefix } => {
                write!(f, "path does not have prefix {prefix:?}")
            }
        }
    }
}

/// A file that is omitted or invalid, and why (Go's `zip.FileError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FileError {
    /// The file's path (relative to the module root, or the full zip entry name for zips).
    pub path: String,
    /// Why.
    pub reason: FileReason,
}

/// A module that is too large as a whole (Go's `CheckedFiles.SizeError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// The files of a source tree add up to more than the limit.
    #[error("module source tree too large (max size is {limit} bytes)")]
    TreeTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The zip file itself is larger than the limit.
    #[error("module zip file is too large ({size} bytes; limit is {limit} bytes)")]
    ZipTooLarge {
        /// The zip's size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The zip's entries add up to more than the limit uncompressed.
    #[error("total uncompressed size of module contents too large (max size is {limit} bytes)")]
    ContentTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
}

/// Which files of a module are valid, omitted or invalid (Go's `zip.CheckedFiles`). Every file
/// checked lands in exactly one list (except repeats of a path already reported).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckedFiles {
    /// Paths that belong in the zip, in input order.
    pub valid: Vec<String>,
    /// Files left out, and why.
    pub omitted: Vec<FileError>,
    /// Files that make the module invalid, and why.
    pub invalid: Vec<FileError>,
    /// Set when the module as a whole is too large.
    pub size_error: Option<SizeError>,
}

impl CheckedFiles {
    /// Whether these files make a valid module zip (no size error, no invalid file).
    pub fn is_ok(&self) -> bool {
        self.size_error.is_none() && self.invalid.is_empty()
    }

    /// The error that makes these files an invalid module (Go's `CheckedFiles.Err`): the size
    /// error if any, else the invalid files. `module` (`path@version`) names the module in it.
    pub fn error(&self, module: &str) -> Option<ZipError> {
        if let Some(error) = self.size_error {
            return Some(ZipError::TooLarge {
                module: module.to_owned(),
                error,
            });
        }
        if self.invalid.is_empty() {
            return None;
        }
        Some(ZipError::InvalidFiles {
            module: module.to_owned(),
            files: self.invalid.clone(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a module zip could not be made or was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    /// The module path or version is invalid, or the version is not canonical.
    #[error(transparent)]
    Module(#[from] ModuleError),
    /// The module is too large.
    #[error("zip for {module}: {error}")]
    TooLarge {
        /// `path@version`.
        module: String,
        /// Which limit.
        error: SizeError,
    },
    /// Files that make a source tree invalid ([`create`]).
    #[error("zip for {module}: invalid files: {}", join_errors(files))]
    InvalidFiles {
        /// `path@version`.
        module: String,
        /// Every invalid file.
        files: Vec<FileError>,
    },
    /// A zip entry not under `<module>@<version>/` (the go command's own wording).
    #[error("zip for {module} has unexpected file {name}")]
    UnexpectedFile {
        /// `path@version`.
        module: String,
        /// The entry name (lossily decoded if not UTF-8).
        name: String,
    },
    /// A zip entry that breaks a module zip rule.
    #[error("zip for {module} has invalid file {name}: {reason}")]
    InvalidFile {
        /// `path@version`.
        module: String,
        /// The entry name.
        name: String,
        /// The rule it breaks.
        reason: FileReason,
    },
    /// The data is not a readable zip archive.
    #[error("zip for {module} is not a valid zip file: {source}")]
    NotZip {
        /// `path@version`.
        module: String,
        /// What the zip reader said.
        #[source]
        source: zip::result::ZipError,
    },
    /// An entry's data cannot be read: bad CRC-32, corrupt deflate stream, truncated data,
    /// unsupported compression or encryption.
    #[error("zip for {module}: reading {name}: {source}")]
    Corrupt {
        /// `path@version`.
        module: String,
        /// The entry name.
        name: String,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// An entry holds a different number of bytes than its header declares.
    #[error(
        "zip for {module}: {name} declares {declared} uncompressed bytes but holds {}",
        if actual > declared { "more".to_owned() } else { actual.to_string() }
    )]
    SizeMismatch {
        /// `path@version`.
        module: String,
        /// The entry name.
        name: String,
        /// The size in the central directory.
        declared: u64,
        /// The bytes read (reading stops one byte past `declared`).
        actual: u64,
    },
    /// A directory entry (name ending in `/`) with content.
    #[error("zip for {module}: directory entry {name} has content")]
    DirectoryWithContent {
        /// `path@version`.
        module: String,
        /// The entry name.
        name: String,
    },
    /// Reading a source file failed ([`create`]).
    #[error("zip for {module}: reading {path}: {source}")]
    ReadFile {
        /// `path@version`.
        module: String,
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A source file is longer than its size said when it was listed ([`create`]).
    #[error("zip for {module}: file {path} is larger than declared size ({size} bytes)")]
    FileGrew {
        /// `path@version`.
        module: String,
        /// The file.
        path: String,
        /// The size given by [`File::kind`].
        size: u64,
    },
    /// Writing the zip failed ([`create`]).
    #[error("zip for {module}: writing zip: {source}")]
    Write {
        /// `path@version`.
        module: String,
        /// The writer's error.
        #[source]
        source: zip::result::ZipError,
    },
}

fn join_errors(files: &[FileError]) -> String {
    files
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------------------------
// Checking a file list

/// Classifies files as valid, omitted or invalid for a module zip (Go's `zip.CheckFiles`).
/// Only the root go.mod is opened (to read its `go` line); sizes come from [`File::kind`].
pub fn check_files<F: File>(files: &[F]) -> CheckedFiles {
    check_files_with(files, &Limits::GO).0
}

/// [`check_files`] with other limits; also returns the valid files' indexes and sizes.
fn check_files_with<F: File>(files: &[F], limits: &Limits) -> (CheckedFiles, Vec<(usize, u64)>) {
    let mut cf = CheckedFiles::default();
    let mut keep = Vec::new();
    let mut reported: HashSet<String> = HashSet::new();
    let mut report = |cf: &mut CheckedFiles, path: &str, reason: FileReason| {
        if !reported.insert(path.to_owned()) {
            return;
        }
        let fe = FileError {
            path: path.to_owned(),
            reason,
        };
        if fe.reason.is_omission() {
            cf.omitted.push(fe);
        } else {
            cf.invalid.push(fe);
        }
    };

    // Directories (other than the root) holding a regular go.mod, in any case, start another
    // module; the root go.mod says which vendoring rules apply.
    let mut module_dirs: HashSet<&str> = HashSet::new();
    let mut go124 = false;
    for f in files {
        let p = f.path();
        let (dir, base) = split_dir(p);
        if str_to_fold(base) != "go.mod" || !matches!(f.kind(), FileKind::Regular { .. }) {
            continue;
        }
        module_dirs.insert(dir);
        if dir.is_empty()
            && base == "go.mod"
            && let Ok(r) = f.open()
        {
            let mut data = Vec::new();
            if r.take(limits.go_mod.saturating_add(1))
                .read_to_end(&mut data)
                .is_ok()
            {
                go124 = go_line::at_least_go_1_24(&data);
            }
        }
    }
    let in_nested_module = |p: &str| {
        let mut rest = p;
        while let Some(i) = rest.rfind('/') {
            if module_dirs.contains(&p[..=i]) {
                return true;
            }
            rest = &rest[..i];
        }
        false
    };

    let mut collisions = Collisions::default();
    let mut budget = limits.zip_file;
    for (i, f) in files.iter().enumerate() {
        let p = f.path();
        if p != clean_path(p) {
            report(&mut cf, p, FileReason::NotClean);
            continue;
        }
        if p.starts_with('/') {
            report(&mut cf, p, FileReason::NotRelative);
            continue;
        }
        if is_vendored(p, go124) {
            report(&mut cf, p, FileReason::Vendored);
            continue;
        }
        if in_nested_module(p) {
            report(&mut cf, p, FileReason::InNestedModule);
            continue;
        }
        if p == ".hg_archival.txt" {
            report(&mut cf, p, FileReason::HgArchival);
            continue;
        }
        if let Err(e) = module::check_file_path(p) {
            report(&mut cf, p, FileReason::BadPath(e));
            continue;
        }
        if p.eq_ignore_ascii_case("go.mod") && p != "go.mod" {
            report(&mut cf, p, FileReason::GoModCase);
            continue;
        }
        let kind = f.kind();
        if let Err(reason) = collisions.check(p, kind == FileKind::Dir) {
            report(&mut cf, p, reason);
            continue;
        }
        let size = match kind {
            FileKind::Symlink => {
                report(&mut cf, p, FileReason::Symlink);
                continue;
            }
            FileKind::Dir | FileKind::Irregular => {
                report(&mut cf, p, FileReason::NotRegular);
                continue;
            }
            FileKind::Regular { size } => size,
        };
        if size <= budget {
            budget -= size;
        } else if cf.size_error.is_none() {
            cf.size_error = Some(SizeError::TreeTooLarge {
                limit: limits.zip_file,
            });
        }
        if p == "go.mod" && size > limits.go_mod {
            report(
                &mut cf,
                p,
                FileReason::GoModTooLarge {
                    limit: limits.go_mod,
                },
            );
            continue;
        }
        if p == "LICENSE" && size > limits.license {
            report(
                &mut cf,
                p,
                FileReason::LicenseTooLarge {
                    limit: limits.license,
                },
            );
            continue;
        }
        cf.valid.push(p.to_owned());
        keep.push((i, size));
    }
    (cf, keep)
}

/// Which vendoring rules decide what is a vendored package, chosen by the `go` line of the
/// module's root go.mod (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VendorRules {
    /// Before go 1.24, or no (parsable) go line: `vendor/modules.txt` is kept, and Go's old
    /// offset bug applies to nested `vendor` directories.
    #[default]
    Legacy,
    /// go 1.24 and later.
    Go124,
}

impl VendorRules {
    /// The rules for a module whose root go.mod has this content (only its go line matters).
    pub fn from_go_mod(data: &[u8]) -> Self {
        if go_line::at_least_go_1_24(data) {
            VendorRules::Go124
        } else {
            VendorRules::Legacy
        }
    }

    /// Whether `path` (slash-separated, relative to the module root) is in a vendored package
    /// and so left out of module zips (Go's `isVendoredPackage`).
    pub fn is_vendored(self, path: &str) -> bool {
        is_vendored(path, self == VendorRules::Go124)
    }
}

/// Go's `isVendoredPackage`; `go124` says whether the 1.24 rules apply.
fn is_vendored(name: &str, go124: bool) -> bool {
    if go124 && name == "vendor/modules.txt" {
        return true;
    }
    let start = if name.starts_with("vendor/") {
        "vendor/".len()
    } else if let Some(j) = name.find("/vendor/") {
        if go124 {
            j + "/vendor/".len()
        } else {
            // Before 1.24, Go skipped len("/vendor/") bytes from the start of the path rather
            // than from the match; kept for the hashes of older modules.
            "/vendor/".len()
        }
    } else {
        return false;
    };
    name.as_bytes()
        .get(start..)
        .is_some_and(|rest| rest.contains(&b'/'))
}

// ---------------------------------------------------------------------------------------------
// Creating a zip

/// Writes the module zip for `module_path@version` from `files` (Go's `zip.Create`).
///
/// Omitted files are skipped; any invalid file, a tree over the size limit, or a version that is
/// not canonical or does not suit the path is an error before anything is written. Files are
/// stored deflated under `<module>@<version>/` in the order given, with fixed timestamps, so the
/// same input gives the same bytes.
pub fn create<W: Write + Seek, F: File>(
    w: W,
    module_path: &str,
    version: &str,
    files: &[F],
) -> Result<(), ZipError> {
    check_module_version_like_go(module_path, version)?;
    let module = format!("{module_path}@{version}");
    let (cf, keep) = check_files_with(files, &Limits::GO);
    if let Some(e) = cf.error(&module) {
        return Err(e);
    }

    let prefix = format!("{module}/");
    let write_err = |source| ZipError::Write {
        module: module.clone(),
        source,
    };
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    let mut zw = zip::ZipWriter::new(w);
    for (i, size) in keep {
        let Some(f) = files.get(i) else { continue };
        let path = f.path();
        let read_err = |source| ZipError::ReadFile {
            module: module.clone(),
            path: path.to_owned(),
            source,
        };
        let r = f.open().map_err(read_err)?;
        zw.start_file(format!("{prefix}{path}"), opts)
            .map_err(write_err)?;
        let copied = io::copy(&mut r.take(size.saturating_add(1)), &mut zw).map_err(|e| {
            // io::copy mixes read and write errors; the writer's are rare and both are fatal.
            read_err(e)
        })?;
        if copied > size {
            return Err(ZipError::FileGrew {
                module: module.clone(),
                path: path.to_owned(),
                size,
            });
        }
    }
    zw.finish().map_err(write_err)?;
    Ok(())
}

/// The checks `zip.Create` and `zip.CheckZip` make on the module version: canonical, then
/// `module.Check` (valid path, semver, major version suits the path). Go accepts `+incompatible`
/// on any major version here.
fn check_module_version_like_go(path: &str, version: &str) -> Result<(), ModuleError> {
    let pseudo = crate::pseudo::is_pseudo_version(version);
    match module::canonical_version(version) {
        Some(c) if c == version => {}
        Some(canonical) => {
            return Err(ModuleError::Version {
                path: Some(path.to_owned()),
                version: version.to_owned(),
                pseudo,
                reason: VersionReason::NotCanonical { canonical },
            });
        }
        None => {
            return Err(ModuleError::Version {
                path: Some(path.to_owned()),
                version: version.to_owned(),
                pseudo,
                reason: VersionReason::NotSemver,
            });
        }
    }
    module::check_path(path)?;
    let (_, path_major) = module::split_path_version(path).unwrap_or((path, ""));
    module::check_path_major(version, path_major).map_err(|e| match e {
        ModuleError::Version {
            version,
            pseudo,
            reason,
            ..
        } => ModuleError::Version {
            path: Some(path.to_owned()),
            version,
            pseudo,
            reason,
        },
        other => other,
    })
}

// ---------------------------------------------------------------------------------------------
// Checking a zip

/// One entry of a zip's central directory.
struct Entry {
    /// The raw name bytes.
    raw: Vec<u8>,
    /// The name, lossily decoded for messages.
    name: String,
    /// The declared uncompressed size.
    size: u64,
}

fn read_entries<R: Read + Seek>(r: &mut R, module: &str) -> Result<Vec<Entry>, ZipError> {
    let entries = dirhash::central_directory(r).map_err(|e| ZipError::NotZip {
        module: module.to_owned(),
        source: zip::result::ZipError::Io(e),
    })?;
    Ok(entries
        .into_iter()
        .map(|e| Entry {
            name: String::from_utf8_lossy(&e.name).into_owned(),
            raw: e.name,
            size: e.uncompressed_size,
        })
        .collect())
}

/// The outcome of the name and declared-size rules over a zip's entries.
struct ZipScan {
    cf: CheckedFiles,
    /// Declared uncompressed total of the valid files.
    declared_total: u64,
}

/// Applies Go's `CheckZip` rules to the entries (names and declared sizes only).
fn scan_zip(entries: &[Entry], prefix: &str, limits: &Limits) -> ZipScan {
    let mut cf = CheckedFiles::default();
    let invalid = |cf: &mut CheckedFiles, e: &Entry, reason| {
        cf.invalid.push(FileError {
            path: e.name.clone(),
            reason,
        });
    };
    let mut collisions = Collisions::default();
    let mut total: u64 = 0;
    for e in entries {
        let Some(rest) = e.raw.strip_prefix(prefix.as_bytes()) else {
            invalid(
                &mut cf,
                e,
                FileReason::MissingPrefix {
                    prefix: prefix.to_owned(),
                },
            );
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        let Ok(rest) = std::str::from_utf8(rest) else {
            invalid(&mut cf, e, FileReason::NotUtf8);
            continue;
        };
        let (name, is_dir) = match rest.strip_suffix('/') {
            Some(dir) => (dir, true),
            None => (rest, false),
        };
        if clean_path(name) != name {
            invalid(&mut cf, e, FileReason::NotClean);
            continue;
        }
        if let Err(err) = module::check_file_path(name) {
            invalid(&mut cf, e, FileReason::BadPath(err));
            continue;
        }
        if let Err(reason) = collisions.check(name, is_dir) {
            invalid(&mut cf, e, reason);
            continue;
        }
        if is_dir {
            continue;
        }
        let (_, base) = split_dir(name);
        if str_to_fold(base) == "go.mod" {
            if base != name {
                invalid(&mut cf, e, FileReason::GoModNotInRoot);
                continue;
            }
            if name != "go.mod" {
                invalid(&mut cf, e, FileReason::GoModCase);
                continue;
            }
        }
        if e.size <= limits.zip_file - total {
            total += e.size;
        } else if cf.size_error.is_none() {
            cf.size_error = Some(SizeError::ContentTooLarge {
                limit: limits.zip_file,
            });
        }
        if name == "go.mod" && e.size > limits.go_mod {
            invalid(
                &mut cf,
                e,
                FileReason::GoModTooLarge {
                    limit: limits.go_mod,
                },
            );
            continue;
        }
        if name == "LICENSE" && e.size > limits.license {
            invalid(
                &mut cf,
                e,
                FileReason::LicenseTooLarge {
                    limit: limits.license,
                },
            );
            continue;
        }
        cf.valid.push(e.name.clone());
    }
    ZipScan {
        cf,
        declared_total: total,
    }
}

/// Checks a module zip's names and declared sizes without reading file contents (Go's
/// `zip.CheckZip`). `valid` and the paths in `invalid` are full entry names.
///
/// Errors are for an invalid module path or version and an unreadable archive; an oversized zip
/// gives `Ok` with only [`CheckedFiles::size_error`] set, and broken rules are reported in the
/// lists (use [`CheckedFiles::error`]).
pub fn check_zip<R: Read + Seek>(
    module_path: &str,
    version: &str,
    mut r: R,
) -> Result<CheckedFiles, ZipError> {
    check_module_version_like_go(module_path, version)?;
    let module = format!("{module_path}@{version}");
    let size = r.seek(SeekFrom::End(0)).map_err(|e| ZipError::NotZip {
        module: module.clone(),
        source: zip::result::ZipError::Io(e),
    })?;
    if size > MAX_ZIP_FILE {
        return Ok(CheckedFiles {
            size_error: Some(SizeError::ZipTooLarge {
                size,
                limit: MAX_ZIP_FILE,
            }),
            ..CheckedFiles::default()
        });
    }
    let entries = read_entries(&mut r, &module)?;
    Ok(scan_zip(&entries, &format!("{module}/"), &Limits::GO).cf)
}

/// What [`validate_zip`] learned about a valid module zip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipSummary {
    /// Number of file entries (directory entries not counted).
    pub files: usize,
    /// Total uncompressed bytes, as read.
    pub uncompressed: u64,
    /// Content of `<module>@<version>/go.mod`, if the zip has one.
    pub go_mod: Option<Vec<u8>>,
    /// The zip's `h1:` hash, as [`dirhash::hash_zip`] computes it.
    pub h1: String,
}

/// Checks a zip a proxy is about to store for `module_path@version`, reading it fully once;
/// `zip_size` is the zip's length in bytes.
///
/// Rejects (in this order): an invalid module version ([`module::check`]); a zip larger than
/// [`MAX_ZIP_FILE`]; data that is not a zip; any entry outside `<module>@<version>/`; any entry
/// breaking Go's name, case, go.mod and declared-size rules; then, reading each entry fully:
/// bad CRC-32 or compressed data, an entry longer or shorter than declared, content in a
/// directory entry, or more than [`MAX_ZIP_FILE`] bytes in total. Reading stops at the first
/// byte over a limit, so a zip bomb costs at most the limit. Returns the summary, including the
/// `h1:` hash computed in the same pass.
pub fn validate_zip<R: Read + Seek>(
    module_path: &str,
    version: &str,
    r: R,
    zip_size: u64,
) -> Result<ZipSummary, ZipError> {
    validate_zip_with_limits(module_path, version, r, zip_size, &Limits::GO)
}

/// [`validate_zip`] with other limits (for tests of the limit logic).
pub fn validate_zip_with_limits<R: Read + Seek>(
    module_path: &str,
    version: &str,
    mut r: R,
    zip_size: u64,
    limits: &Limits,
) -> Result<ZipSummary, ZipError> {
    module::check(module_path, version)?;
    let module = format!("{module_path}@{version}");
    let prefix = format!("{module}/");
    if zip_size > limits.zip_file {
        return Err(ZipError::TooLarge {
            module,
            error: SizeError::ZipTooLarge {
                size: zip_size,
                limit: limits.zip_file,
            },
        });
    }

    // Pass 1: names and declared sizes, before decompressing anything.
    let entries = read_entries(&mut r, &module)?;
    if let Some(e) = entries
        .iter()
        .find(|e| !e.raw.starts_with(prefix.as_bytes()))
    {
        return Err(ZipError::UnexpectedFile {
            module,
            name: e.name.clone(),
        });
    }
    let scan = scan_zip(&entries, &prefix, limits);
    if let Some(fe) = scan.cf.invalid.first() {
        return Err(ZipError::InvalidFile {
            module,
            name: fe.path.clone(),
            reason: fe.reason.clone(),
        });
    }
    if let Some(error) = scan.cf.size_error {
        return Err(ZipError::TooLarge { module, error });
    }
    debug_assert!(scan.declared_total <= limits.zip_file);

    // Pass 2: read every entry to its end (the reader checks CRC-32 there).
    r.seek(SeekFrom::Start(0)).map_err(|e| ZipError::NotZip {
        module: module.clone(),
        source: zip::result::ZipError::Io(e),
    })?;
    let mut archive = zip::ZipArchive::new(r).map_err(|source| ZipError::NotZip {
        module: module.clone(),
        source,
    })?;
    if archive.len() != entries.len() {
        // Names are unique by now (pass 1), so the reader must see the same entries.
        return Err(ZipError::NotZip {
            module,
            source: zip::result::ZipError::InvalidArchive(
                "central directory entries do not match the archive index".into(),
            ),
        });
    }
    let go_mod_name = format!("{prefix}go.mod");
    let mut hash = Hash1Builder::new();
    let mut summary = ZipSummary {
        files: 0,
        uncompressed: 0,
        go_mod: None,
        h1: String::new(),
    };
    // Declared sizes by name; each name is unique after pass 1 and is crossed off once read.
    let mut unread: HashMap<&[u8], u64> = entries.iter().map(|e| (&e.raw[..], e.size)).collect();
    for (i, entry) in entries.iter().enumerate() {
        let mut f = archive.by_index(i).map_err(|source| ZipError::Corrupt {
            module: module.clone(),
            name: entry.name.clone(),
            source: io::Error::other(source),
        })?;
        let raw = f.name_raw().to_vec();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let declared = f.size();
        if unread.remove(&raw[..]) != Some(declared) {
            return Err(ZipError::NotZip {
                module,
                source: zip::result::ZipError::InvalidArchive(
                    "central directory entries do not match the archive index".into(),
                ),
            });
        }
        let is_dir = raw.ends_with(b"/");
        let keep_go_mod = name == go_mod_name;
        let budget = limits.zip_file - summary.uncompressed;
        let limit = declared.min(budget);
        let (digest, actual, content) =
            read_entry(&mut f, limit, keep_go_mod).map_err(|source| ZipError::Corrupt {
                module: module.clone(),
                name: name.clone(),
                source,
            })?;
        if actual > budget {
            return Err(ZipError::TooLarge {
                module,
                error: SizeError::ContentTooLarge {
                    limit: limits.zip_file,
                },
            });
        }
        if actual != declared {
            return Err(ZipError::SizeMismatch {
                module,
                name,
                declared,
                actual,
            });
        }
        if is_dir && actual > 0 {
            return Err(ZipError::DirectoryWithContent { module, name });
        }
        summary.uncompressed += actual;
        if !is_dir && raw.len() > prefix.len() {
            summary.files += 1;
        }
        if keep_go_mod {
            summary.go_mod = content;
        }
        // Names were checked for newlines by the file path rules (or are the bare prefix).
        hash.add(raw, digest).map_err(|_| ZipError::InvalidFile {
            module: module.clone(),
            name: name.clone(),
            reason: FileReason::NotClean,
        })?;
    }
    summary.h1 = hash.finish();
    Ok(summary)
}

/// Reads an entry to its end or one byte past `limit`, hashing it; keeps the bytes if asked.
fn read_entry(
    r: &mut impl Read,
    limit: u64,
    keep: bool,
) -> io::Result<(dirhash::FileDigest, u64, Option<Vec<u8>>)> {
    if !keep {
        let (d, n) = dirhash::digest_limited(r, limit)?;
        return Ok((d, n, None));
    }
    let mut data = Vec::new();
    r.take(limit.saturating_add(1)).read_to_end(&mut data)?;
    if data.len() as u64 <= limit {
        // Reach the end so the reader verifies the CRC-32.
        let mut probe = [0u8; 1];
        let extra = r.read(&mut probe)?;
        if extra > 0 {
            data.push(probe[0]);
        }
    }
    let digest: dirhash::FileDigest = Sha256::digest(&data).into();
    let n = data.len() as u64;
    Ok((digest, n, Some(data)))
}

// ---------------------------------------------------------------------------------------------
// Paths and case folding

/// Splits after the last slash: `("a/b/", "c.go")`, `("", "go.mod")` (Go's `path.Split`).
fn split_dir(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(i) => (&p[..=i], &p[i + 1..]),
        None => ("", p),
    }
}

/// Go's `path.Clean`: single slashes, no `.` elements, `..` only at the start of relative paths,
/// no trailing slash, `.` for an empty result.
fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for elem in p.split('/') {
        match elem {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            e => out.push(e),
        }
    }
    let body = out.join("/");
    if rooted {
        format!("/{body}")
    } else if body.is_empty() {
        ".".to_owned()
    } else {
        body
    }
}

/// Maps a character to a representative of its simple case-folding class: equal results iff
/// Go's `unicode.SimpleFold` orbits agree (checked against Go's table in the tests).
fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    match c {
        // Dotless ı has an uppercase (I) but no simple case folding.
        '\u{131}' => return c,
        // Pairs that fold together although neither is the other's case (Unicode 15.1 added
        // them to CaseFolding.txt): ΐ/ΐ, ΰ/ΰ, ﬅ/ﬆ.
        '\u{1FD3}' => return '\u{390}',
        '\u{1FE3}' => return '\u{3B0}',
        '\u{FB05}' => return '\u{FB06}',
        _ => {}
    }
    // Only single-character mappings are simple case mappings.
    let mut upper = c.to_uppercase();
    let u = match (upper.next(), upper.next()) {
        (Some(u), None) => u,
        _ => c,
    };
    let mut lower = u.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => u,
    }
}

/// A string whose equality means `strings.EqualFold` equality (Go's `strToFold`).
fn str_to_fold(s: &str) -> String {
    s.chars().map(fold_char).collect()
}

/// Finds case-insensitive collisions, repeats, and paths used as both file and directory, over
/// each path and all its parent directories (Go's `collisionChecker`).
#[derive(Default)]
struct Collisions {
    seen: HashMap<String, (String, bool)>,
}

impl Collisions {
    fn check(&mut self, path: &str, is_dir: bool) -> Result<(), FileReason> {
        let mut p = path;
        let mut dir = is_dir;
        loop {
            let key = str_to_fold(p);
            match self.seen.get(&key) {
                Some((other, other_dir)) => {
                    if other != p {
                        return Err(FileReason::CaseCollision {
                            first: other.clone(),
                            second: p.to_owned(),
                        });
                    }
                    if *other_dir != dir {
                        return Err(FileReason::FileAndDirectory { path: p.to_owned() });
                    }
                    if !dir {
                        return Err(FileReason::Duplicate { path: p.to_owned() });
                    }
                }
                None => {
                    self.seen.insert(key, (p.to_owned(), dir));
                }
            }
            match p.rfind('/') {
                Some(i) if i > 0 => {
                    p = &p[..i];
                    dir = true;
                }
                _ => return Ok(()),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The root go.mod's go line

/// Reads the `go` line of a go.mod as `zip.go`'s `parseGoVers` does: `modfile.ParseLax`
/// ([`crate::modfile::parse_lax`]), then `go/version.Lang`.
mod go_line {
    /// Whether the go.mod declares a language version of at least Go 1.24. A go.mod that does
    /// not parse, or has no (valid) go line, counts as older.
    pub(super) fn at_least_go_1_24(data: &[u8]) -> bool {
        let Ok(parsed) = crate::modfile::parse_lax("go.mod", data) else {
            return false;
        };
        match parsed.go.as_deref().and_then(lang) {
            Some((major, minor)) => cmp_int(&major, "1")
                .then_with(|| cmp_int(&minor, "24"))
                .is_ge(),
            None => false,
        }
    }

    /// A decimal number without leading zeros at the start of `s`, and the rest.
    fn leading_int(s: &str) -> Option<(&str, &str)> {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || (s.starts_with('0') && n > 1) {
            return None;
        }
        Some(s.split_at(n))
    }

    /// `go/version.Lang` of `go<v>` as (major, minor), or `None` if Go deems `v` invalid
    /// (`internal/gover.Parse`: `N`, `N.N`, `N.N.N`, or `N.N<kind>[N]`).
    fn lang(v: &str) -> Option<(String, String)> {
        let (major, rest) = leading_int(v)?;
        if rest.is_empty() {
            return Some((major.to_owned(), "0".to_owned()));
        }
        let rest = rest.strip_prefix('.')?;
        let (minor, rest) = leading_int(rest)?;
        if let Some(patch) = rest.strip_prefix('.') {
            let (_, tail) = leading_int(patch)?;
            if !tail.is_empty() {
                return None;
            }
        } else if !rest.is_empty() {
            let kind = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            if kind == 0 {
                return None;
            }
            let pre = &rest[kind..];
            if !pre.is_empty() {
                let (_, tail) = leading_int(pre)?;
                if !tail.is_empty() {
                    return None;
                }
            }
        }
        Some((major.to_owned(), minor.to_owned()))
    }

    /// Compares decimal strings without leading zeros (Go's `gover.CmpInt`).
    fn cmp_int(a: &str, b: &str) -> std::cmp::Ordering {
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const GO_LINES: &[(&str, bool)] = &[
            ("module m\ngo 1.24\n", true),
            ("module m\ngo 1.23\n", false),
            ("module m\ngo 1.24.0\n", true),
            ("module m\ngo 1.25rc1\n", true),
            ("module m\ngo 1.9\n", false),
            ("module m\ngo 2.0\n", true),
            ("module m\ngo 1.100\n", true),
            ("module m\n", false),
            ("", false),
            ("go 1.24 // comment\n", true),
            ("// go 1.24\n", false),
            ("go 1.24\r\n", true),
            // modfile's lax fix-up keeps major.minor when a non-digit follows.
            ("go 1.24.x\n", true),
            ("go v1.24-custom\n", true),
            ("go v1.24\n", false),
            ("go 1.24.0rc1\n", false), // matches GoVersionRE, but gover rejects it
            ("go 1.024\n", false),
            ("go \"1.24\"\n", false),
            ("go 1.24 1.25\n", false),
            ("go 1.24\ngo 1.24\n", false),
            // Blocks are skipped; a go "block" is not a go line.
            ("require (\n\tgo 1.24\n)\ngo 1.22\n", false),
            ("go (\n1.24\n)\n", false),
            ("require ()\ngo 1.24\n", true),
            // Syntax errors fail the whole parse.
            ("go 1.24\nrequire (\n", false),
            ("go 1.24\n/* c */\n", false),
            ("go 1.24\nmodule \"m\n", false),
            ("\u{feff}go 1.24\n", false),
            // Any directive error that ParseLax reports hides the go line too.
            ("go 1.24\nrequire x v1 ) y\n", false),
            ("go 1.24\nrequire example.com/x v1\n", true),
            ("go 1.24\nrequire example.com/x notaversion\n", false),
            ("go 1.24\nreplace x => y\n", true),
        ];

        #[test]
        fn go_line_decides_go_1_24_vendoring() {
            for (gomod, want) in GO_LINES {
                assert_eq!(at_least_go_1_24(gomod.as_bytes()), *want, "{gomod:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// An in-memory [`File`].
    struct Mem {
        path: &'static str,
        kind: FileKind,
        data: &'static [u8],
    }

    impl File for Mem {
        fn path(&self) -> &str {
            self.path
        }
        fn kind(&self) -> FileKind {
            self.kind
        }
        fn open(&self) -> io::Result<Box<dyn Read + '_>> {
            Ok(Box::new(self.data))
        }
    }

    fn file(path: &'static str, data: &'static str) -> Mem {
        Mem {
            path,
            kind: FileKind::Regular {
                size: data.len() as u64,
            },
            data: data.as_bytes(),
        }
    }

    fn sized(path: &'static str, size: u64) -> Mem {
        Mem {
            path,
            kind: FileKind::Regular { size },
            data: b"",
        }
    }

    fn kind(path: &'static str, kind: FileKind) -> Mem {
        Mem {
            path,
            kind,
            data: b"",
        }
    }

    fn paths(list: &[FileError]) -> Vec<&str> {
        list.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn limits_are_gos() {
        assert_eq!(MAX_ZIP_FILE, 524_288_000);
        assert_eq!(MAX_GO_MOD, 16_777_216);
        assert_eq!(MAX_LICENSE, 16_777_216);
        assert_eq!(Limits::default(), Limits::GO);
    }

    const CLEAN: &[(&str, &str)] = &[
        ("", "."),
        ("a", "a"),
        ("a/b", "a/b"),
        ("a//b", "a/b"),
        ("a/./b", "a/b"),
        ("a/", "a"),
        ("./a", "a"),
        ("a/../b", "b"),
        ("a/../..", ".."),
        ("../a", "../a"),
        ("/../a", "/a"),
        ("/", "/"),
        ("//a/", "/a"),
    ];

    #[test]
    fn clean_path_matches_go_path_clean() {
        for (p, want) in CLEAN {
            assert_eq!(clean_path(p), *want, "{p:?}");
        }
    }

    const VENDORED: &[(&str, bool, bool)] = &[
        // (path, before 1.24, from 1.24)
        ("vendor/modules.txt", false, true),
        ("vendor/a.go", false, false),
        ("vendor/x/a.go", true, true),
        ("vendor/example.com/x/a.go", true, true),
        ("pkg/vendor/vendor.go", true, false),
        ("pkg/vendor/x/a.go", true, true),
        ("a/b/vendor/c.go", true, false),
        ("vendorx/a/b.go", false, false),
        ("x/vendor", false, false),
        ("\u{e9}/vendor/a", true, false),
    ];

    #[test]
    fn is_vendored_depends_on_go_1_24() {
        for (p, old, new) in VENDORED {
            assert_eq!(is_vendored(p, false), *old, "{p} before 1.24");
            assert_eq!(is_vendored(p, true), *new, "{p} from 1.24");
        }
    }

    #[test]
    fn check_files_omits_nested_modules_vendor_links_and_irregular_files() {
        let files = [
            file("go.mod", "module example.com/m\n\ngo 1.21\n"),
            file("a.go", "package m\n"),
            file("sub/go.mod", "module example.com/m/sub\n"),
            file("sub/x.go", "package sub\n"),
            file("sub/deep/y.go", "package deep\n"),
            file("other/GO.MOD", "module x\n"),
            file("other/z.go", "package z\n"),
            file("vendor/example.com/v/v.go", "package v\n"),
            file("vendor/modules.txt", "# x\n"),
            file(".hg_archival.txt", "repo: x\n"),
            kind("link.go", FileKind::Symlink),
            kind("pipe", FileKind::Irregular),
            kind("dir", FileKind::Dir),
        ];
        let cf = check_files(&files);
        assert_eq!(cf.valid, ["go.mod", "a.go", "vendor/modules.txt"]);
        assert_eq!(
            paths(&cf.omitted),
            [
                "sub/go.mod",
                "sub/x.go",
                "sub/deep/y.go",
                "other/GO.MOD",
                "other/z.go",
                "vendor/example.com/v/v.go",
                ".hg_archival.txt",
                "link.go",
                "pipe",
                "dir"
            ]
        );
        assert!(cf.invalid.is_empty(), "{:?}", cf.invalid);
        assert!(cf.is_ok());
    }

    #[test]
    fn check_files_reports_bad_names_case_and_collisions() {
        let files = [
            file("a/./b.go", ""),
            file("/abs.go", ""),
            file("a:b.go", ""),
            file("GO.MOD", ""),
            file("README", ""),
            file("readme", ""),
            file("Dir/a.go", ""),
            file("dir/b.go", ""),
            file("x", ""),
            file("x/y.go", ""),
            file("dup.go", ""),
            file("dup.go", ""),
            file("\u{212a}.go", ""),
            file("k.go", ""),
        ];
        let cf = check_files(&files);
        assert_eq!(
            cf.valid,
            ["README", "Dir/a.go", "x", "dup.go", "\u{212a}.go"]
        );
        let reasons: Vec<(&str, String)> = cf
            .invalid
            .iter()
            .map(|e| (e.path.as_str(), e.reason.to_string()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("a/./b.go", "file path is not clean".to_owned()),
                ("/abs.go", "file path is not relative".to_owned()),
                (
                    "a:b.go",
                    "malformed file path \"a:b.go\": invalid char ':'".to_owned()
                ),
                (
                    "GO.MOD",
                    "go.mod files must have lowercase names".to_owned()
                ),
                (
                    "readme",
                    "case-insensitive file name collision: \"README\" and \"readme\"".to_owned()
                ),
                (
                    "dir/b.go",
                    "case-insensitive file name collision: \"Dir\" and \"dir\"".to_owned()
                ),
                (
                    "x/y.go",
                    "entry \"x\" is both a file and a directory".to_owned()
                ),
                ("dup.go", "multiple entries for file \"dup.go\"".to_owned()),
                (
                    "k.go",
                    "case-insensitive file name collision: \"\u{212a}.go\" and \"k.go\"".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn check_files_reports_each_path_once() {
        // The first report of a path wins; a repeat of an invalid path is not listed again.
        let files = [file("a:b", ""), file("a:b", "")];
        let cf = check_files(&files);
        assert_eq!(paths(&cf.invalid), ["a:b"]);
    }

    #[test]
    fn check_files_applies_go_mod_license_and_total_limits() {
        let files = [
            sized("go.mod", MAX_GO_MOD + 1),
            sized("LICENSE", MAX_LICENSE + 1),
            sized("sub/LICENSE", MAX_LICENSE + 1),
        ];
        let cf = check_files(&files);
        assert_eq!(cf.valid, ["sub/LICENSE"]);
        assert_eq!(paths(&cf.invalid), ["go.mod", "LICENSE"]);
        assert_eq!(cf.size_error, None);

        let at_limit = [sized("go.mod", MAX_GO_MOD), sized("LICENSE", MAX_LICENSE)];
        assert!(check_files(&at_limit).is_ok());

        let total = [sized("a", MAX_ZIP_FILE - 10), sized("b", 10)];
        assert!(check_files(&total).is_ok());
        let over = [sized("a", MAX_ZIP_FILE - 10), sized("b", 11), sized("c", 0)];
        let cf = check_files(&over);
        assert_eq!(
            cf.size_error,
            Some(SizeError::TreeTooLarge {
                limit: MAX_ZIP_FILE
            })
        );
        // Go still lists the files as valid; the size error alone makes the tree invalid.
        assert_eq!(cf.valid, ["a", "b", "c"]);
        assert!(matches!(
            cf.error("m@v1.0.0"),
            Some(ZipError::TooLarge { .. })
        ));
    }

    #[test]
    fn check_files_vendoring_follows_root_go_line() {
        let tree = |gomod: &'static str| {
            [
                file("go.mod", gomod),
                file("vendor/modules.txt", ""),
                file("pkg/vendor/vendor.go", ""),
            ]
        };
        let old = check_files(&tree("module m\ngo 1.23\n"));
        assert_eq!(old.valid, ["go.mod", "vendor/modules.txt"]);
        let new = check_files(&tree("module m\ngo 1.24\n"));
        assert_eq!(new.valid, ["go.mod", "pkg/vendor/vendor.go"]);
    }

    fn zip_entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut a = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
        (0..a.len())
            .map(|i| {
                let mut f = a.by_index(i).unwrap();
                let mut data = Vec::new();
                f.read_to_end(&mut data).unwrap();
                (f.name().to_owned(), data)
            })
            .collect()
    }

    #[test]
    fn create_prefixes_valid_files_and_skips_omitted_ones() {
        let files = [
            file("go.mod", "module example.com/m\n"),
            file("a.go", "package m\n"),
            file("vendor/x/y.go", "package y\n"),
        ];
        let mut out = Cursor::new(Vec::new());
        create(&mut out, "example.com/m", "v1.0.0", &files).unwrap();
        let zip = out.into_inner();
        assert_eq!(
            zip_entries(&zip),
            [
                (
                    "example.com/m@v1.0.0/go.mod".to_owned(),
                    b"module example.com/m\n".to_vec()
                ),
                (
                    "example.com/m@v1.0.0/a.go".to_owned(),
                    b"package m\n".to_vec()
                ),
            ]
        );
        // Deterministic bytes.
        let mut again = Cursor::new(Vec::new());
        create(&mut again, "example.com/m", "v1.0.0", &files).unwrap();
        assert_eq!(again.into_inner(), zip);
        // And it validates.
        let s = validate_zip(
            "example.com/m",
            "v1.0.0",
            Cursor::new(&zip),
            zip.len() as u64,
        )
        .unwrap();
        assert_eq!(s.files, 2);
        assert_eq!(s.go_mod.as_deref(), Some(&b"module example.com/m\n"[..]));
        assert_eq!(s.h1, dirhash::hash_zip(Cursor::new(&zip)).unwrap());
    }

    const BAD_VERSIONS: &[(&str, &str)] = &[
        ("example.com/m", "v1.0"),
        ("example.com/m", "v1.0.0+meta"),
        ("example.com/m", "1.0.0"),
        ("example.com/m/v2", "v1.0.0"),
        ("example.com/m", "v2.0.0"),
        ("Example.com/m", "v1.0.0"),
    ];

    #[test]
    fn create_requires_canonical_version_matching_path() {
        for (path, version) in BAD_VERSIONS {
            let err = create(Cursor::new(Vec::new()), path, version, &[file("a", "")]).unwrap_err();
            assert!(
                matches!(err, ZipError::Module(_)),
                "{path}@{version}: {err}"
            );
        }
        // Go's Create accepts +incompatible on any major version; so do we.
        create(
            Cursor::new(Vec::new()),
            "example.com/m",
            "v2.0.0+incompatible",
            &[file("a", "")],
        )
        .unwrap();
    }

    #[test]
    fn create_fails_on_invalid_files_and_files_that_grew() {
        let err = create(
            Cursor::new(Vec::new()),
            "example.com/m",
            "v1.0.0",
            &[file("a", ""), file("A", "")],
        )
        .unwrap_err();
        assert!(
            matches!(&err, ZipError::InvalidFiles { files, .. } if files.len() == 1),
            "{err}"
        );

        let grew = Mem {
            path: "a.go",
            kind: FileKind::Regular { size: 3 },
            data: b"four",
        };
        let err = create(Cursor::new(Vec::new()), "example.com/m", "v1.0.0", &[grew]).unwrap_err();
        assert!(matches!(err, ZipError::FileGrew { size: 3, .. }), "{err}");
    }

    /// Zip bytes with the given entries, stored (not compressed), declaring `size` when given
    /// instead of the real length; duplicates allowed. A tiny writer so tests control every field.
    fn raw_zip(entries: &[(&str, &[u8], Option<u64>)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data, declared) in entries {
            let crc = crc32(data);
            let size = declared.unwrap_or(data.len() as u64) as u32;
            let offset = out.len() as u32;
            let mut local = Vec::new();
            local.extend(0x0403_4b50u32.to_le_bytes());
            local.extend(20u16.to_le_bytes()); // version needed
            local.extend(0x0800u16.to_le_bytes()); // UTF-8 names
            local.extend(0u16.to_le_bytes()); // stored
            local.extend([0u8; 4]); // time, date
            local.extend(crc.to_le_bytes());
            local.extend((data.len() as u32).to_le_bytes()); // compressed
            local.extend(size.to_le_bytes()); // uncompressed
            local.extend((name.len() as u16).to_le_bytes());
            local.extend(0u16.to_le_bytes());
            local.extend(name.as_bytes());
            out.extend(&local);
            out.extend(*data);
            central.extend(0x0201_4b50u32.to_le_bytes());
            central.extend(20u16.to_le_bytes()); // made by
            central.extend(local[4..30].iter()); // same fields as the local header
            central.extend(0u16.to_le_bytes()); // comment length
            central.extend(0u16.to_le_bytes()); // disk
            central.extend(0u16.to_le_bytes()); // internal attrs
            central.extend(0u32.to_le_bytes()); // external attrs
            central.extend(offset.to_le_bytes());
            central.extend(name.as_bytes());
        }
        let start = out.len() as u32;
        out.extend(&central);
        out.extend(0x0605_4b50u32.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend((entries.len() as u16).to_le_bytes());
        out.extend((entries.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(start.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn validate(zip: &[u8]) -> Result<ZipSummary, ZipError> {
        validate_zip(
            "example.com/m",
            "v1.0.0",
            Cursor::new(zip),
            zip.len() as u64,
        )
    }

    const P: &str = "example.com/m@v1.0.0/";

    #[test]
    fn validate_zip_accepts_a_good_zip_with_directory_entries() {
        let zip = raw_zip(&[
            ("example.com/m@v1.0.0/", b"", None),
            (
                "example.com/m@v1.0.0/go.mod",
                b"module example.com/m\n",
                None,
            ),
            ("example.com/m@v1.0.0/sub/", b"", None),
            ("example.com/m@v1.0.0/sub/a.go", b"package sub\n", None),
        ]);
        let s = validate(&zip).unwrap();
        assert_eq!(s.files, 2);
        assert_eq!(s.uncompressed, 33);
        assert_eq!(s.go_mod.as_deref(), Some(&b"module example.com/m\n"[..]));
        assert_eq!(s.h1, dirhash::hash_zip(Cursor::new(&zip)).unwrap());
    }

    #[test]
    fn validate_zip_rejects_each_rule_with_the_file_named() {
        type Case = (
            &'static [(&'static str, &'static [u8], Option<u64>)],
            &'static str,
        );
        const CASES: &[Case] = &[
            (
                &[("other@v1.0.0/x.go", b"", None)],
                "zip for example.com/m@v1.0.0 has unexpected file other@v1.0.0/x.go",
            ),
            (
                &[
                    ("example.com/m@v1.0.0/a", b"", None),
                    ("example.com/m@v1.0.0/a", b"", None),
                ],
                "has invalid file example.com/m@v1.0.0/a: multiple entries for file \"a\"",
            ),
            (
                &[
                    ("example.com/m@v1.0.0/a", b"", None),
                    ("example.com/m@v1.0.0/a/b", b"", None),
                ],
                "is both a file and a directory",
            ),
            (
                &[
                    ("example.com/m@v1.0.0/A.go", b"", None),
                    ("example.com/m@v1.0.0/a.go", b"", None),
                ],
                "case-insensitive file name collision",
            ),
            (
                &[("example.com/m@v1.0.0/sub/go.mod", b"", None)],
                "go.mod file not in module root directory",
            ),
            (&[("example.com/m@v1.0.0/Go.Mod", b"", None)], "lowercase"),
            (&[("example.com/m@v1.0.0/a//b", b"", None)], "not clean"),
            (
                &[("example.com/m@v1.0.0/a:b", b"", None)],
                "invalid char ':'",
            ),
            (
                &[("example.com/m@v1.0.0/a", b"0123456789", Some(5))],
                "a declares 5 uncompressed bytes but holds more",
            ),
            (
                &[("example.com/m@v1.0.0/a", b"0123", Some(5))],
                "declares 5 uncompressed bytes but holds 4",
            ),
            (
                &[("example.com/m@v1.0.0/d/", b"x", None)],
                "directory entry example.com/m@v1.0.0/d/ has content",
            ),
        ];
        for (entries, want) in CASES {
            let zip = raw_zip(entries);
            let err = validate(&zip).unwrap_err().to_string();
            assert!(
                err.contains(want),
                "{entries:?}: got {err:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn validate_zip_rejects_declared_sizes_over_gos_limits_before_reading() {
        // Declared sizes alone trip the real limits; the data is never inflated.
        let big = raw_zip(&[
            ("example.com/m@v1.0.0/a", b"", Some(300 << 20)),
            ("example.com/m@v1.0.0/b", b"", Some(300 << 20)),
        ]);
        assert!(matches!(
            validate(&big),
            Err(ZipError::TooLarge {
                error: SizeError::ContentTooLarge {
                    limit: MAX_ZIP_FILE
                },
                ..
            })
        ));
        let gomod = raw_zip(&[("example.com/m@v1.0.0/go.mod", b"", Some(MAX_GO_MOD + 1))]);
        assert!(matches!(
            validate(&gomod),
            Err(ZipError::InvalidFile {
                reason: FileReason::GoModTooLarge { .. },
                ..
            })
        ));
        let license = raw_zip(&[("example.com/m@v1.0.0/LICENSE", b"", Some(MAX_LICENSE + 1))]);
        assert!(matches!(
            validate(&license),
            Err(ZipError::InvalidFile {
                reason: FileReason::LicenseTooLarge { .. },
                ..
            })
        ));
        let zip = raw_zip(&[]);
        let err = validate_zip(
            "example.com/m",
            "v1.0.0",
            Cursor::new(&zip),
            MAX_ZIP_FILE + 1,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ZipError::TooLarge {
                error: SizeError::ZipTooLarge { .. },
                ..
            }
        ));
    }

    #[test]
    fn validate_zip_stops_reading_at_the_total_limit() {
        let limits = Limits {
            zip_file: 10,
            go_mod: 4,
            license: 4,
        };
        let zip = raw_zip(&[
            ("example.com/m@v1.0.0/a", &b"123456"[..], None),
            ("example.com/m@v1.0.0/b", b"12345", None),
        ]);
        let err =
            validate_zip_with_limits("example.com/m", "v1.0.0", Cursor::new(&zip), 0, &limits)
                .unwrap_err();
        assert!(matches!(err, ZipError::TooLarge { .. }), "{err}");
        let ok = raw_zip(&[
            ("example.com/m@v1.0.0/a", b"123456", None),
            ("example.com/m@v1.0.0/b", b"1234", None),
        ]);
        validate_zip_with_limits("example.com/m", "v1.0.0", Cursor::new(&ok), 0, &limits).unwrap();
        let gomod = raw_zip(&[("example.com/m@v1.0.0/go.mod", b"12345", None)]);
        let err =
            validate_zip_with_limits("example.com/m", "v1.0.0", Cursor::new(&gomod), 0, &limits)
                .unwrap_err();
        assert!(
            matches!(
                err,
                ZipError::InvalidFile {
                    reason: FileReason::GoModTooLarge { limit: 4 },
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn validate_zip_detects_corruption() {
        let zip = raw_zip(&[("example.com/m@v1.0.0/a.go", b"package m\n", None)]);
        let at = zip.windows(7).position(|w| w == b"package").unwrap();
        let mut flipped = zip.clone();
        flipped[at] ^= 0x20;
        assert!(matches!(validate(&flipped), Err(ZipError::Corrupt { .. })));
        assert!(matches!(
            validate(&zip[..zip.len() - 5]),
            Err(ZipError::NotZip { .. })
        ));
        assert!(matches!(
            validate(b"PK\x03\x04 nope"),
            Err(ZipError::NotZip { .. })
        ));
        assert!(matches!(validate(b""), Err(ZipError::NotZip { .. })));
    }

    #[test]
    fn validate_zip_uses_the_strict_module_check() {
        let zip = raw_zip(&[]);
        for (path, version) in BAD_VERSIONS
            .iter()
            .chain(&[("example.com/m", "v1.0.0+incompatible")])
        {
            let err = validate_zip(path, version, Cursor::new(&zip), zip.len() as u64).unwrap_err();
            assert!(
                matches!(err, ZipError::Module(_)),
                "{path}@{version}: {err}"
            );
        }
    }

    #[test]
    fn check_zip_reports_like_go() {
        let zip = raw_zip(&[
            ("example.com/m@v1.0.0/", b"", None),
            (
                "example.com/m@v1.0.0/go.mod",
                b"module example.com/m\n",
                None,
            ),
            ("example.com/m@v1.0.0/a", b"", None),
            ("example.com/m@v1.0.0/a", b"", None),
            ("other/x", b"", None),
            ("example.com/m@v1.0.0/big", b"", Some(MAX_ZIP_FILE + 1)),
        ]);
        let cf = check_zip("example.com/m", "v1.0.0", Cursor::new(&zip)).unwrap();
        assert_eq!(
            cf.valid,
            [format!("{P}go.mod"), format!("{P}a"), format!("{P}big")]
        );
        assert_eq!(paths(&cf.invalid), [format!("{P}a").as_str(), "other/x"]);
        assert_eq!(
            cf.size_error,
            Some(SizeError::ContentTooLarge {
                limit: MAX_ZIP_FILE
            })
        );
    }

    /// Go's `unicode.SimpleFold` classes, from the oracle (`oracle foldclasses`).
    const GO_FOLD_CLASSES: &str = include_str!("../tests/data/zip/fold_classes.txt");

    #[test]
    fn str_to_fold_matches_go_simple_fold_classes() {
        let mut go_class: HashMap<char, usize> = HashMap::new();
        for (i, line) in GO_FOLD_CLASSES.lines().enumerate() {
            for hex in line.split_whitespace() {
                let c = char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap();
                go_class.insert(c, i);
            }
        }
        // Group every character by our fold; each group must be exactly one of Go's classes
        // (or a single character Go folds to nothing else).
        let mut ours: HashMap<char, Vec<char>> = HashMap::new();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            ours.entry(fold_char(c)).or_default().push(c);
        }
        let mut mismatches = Vec::new();
        for group in ours.values() {
            let classes: HashSet<Option<usize>> =
                group.iter().map(|c| go_class.get(c).copied()).collect();
            let ok = match (group.len(), classes.len()) {
                (1, 1) => !go_class.contains_key(&group[0]),
                (n, 1) => {
                    let class = classes.iter().next().copied().flatten();
                    class.is_some_and(|k| go_class.values().filter(|&&v| v == k).count() == n)
                }
                _ => false,
            };
            if !ok {
                mismatches.push(group.clone());
            }
        }
        // Single characters that Go folds with others but we keep alone show up as
        // incomplete groups above; this catches the rest.
        assert!(
            mismatches.is_empty(),
            "fold classes differ from Go's: {mismatches:?}"
        );
    }
}
