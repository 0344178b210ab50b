//! The checks behind `modferry doctor`: each turns one way a Go build fails offline into a
//! [`Finding`] with the fix.
//!
//! The go command's rules they mirror (cmd/go):
//! - GOPROXY list walking (`modfetch/proxy.go`): entries are tried in order; after a `,` only
//!   a 404/410 falls through, after a `|` any error does; `off` ends the list; GONOPROXY
//!   modules skip the list and go straight to their VCS host.
//! - Checksums (`modfetch/fetch.go` checkModSum): a hash already in go.sum is trusted without
//!   asking the checksum database, which is consulted only for lines go.sum lacks, and never
//!   for GONOSUMDB modules or with GOSUMDB=off.
//! - go.sum needs (`modload/modfile.go` goModSummary, `modload/import.go`): the `/go.mod` hash
//!   of every module in the graph, and the zip hash of each module that provides packages
//!   (approximated here by the direct requirements).
//! - A fetched go.mod must declare the path it was required as or its replacement's path;
//!   directory replacements are exempt (`modload/modfile.go`).
//! - vendor/modules.txt consistency (`modload/vendor.go` checkVendorConsistency).
//! - Toolchain switching (`toolchain/select.go`): a `go` line newer than the local toolchain
//!   needs a switch; GOTOOLCHAIN=local forbids it, `auto`/`path` permit it; the `toolchain`
//!   line matters only when switching is allowed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Result;
use modferry_formats::module::{escape_path, escape_version, match_prefix_patterns};
use modferry_formats::{dirhash, modfile};

use super::findings::{Code, Finding};
use super::goenv::{GoEnv, compare_go};
use super::net::{self, Fetched, MirrorDescription};
use super::project::{Need, Project, Target, resolve_dir};

/// Runs every check on the project in `dir`; `Err` only when doctor cannot run at all.
pub async fn diagnose(dir: &Path, env: &GoEnv, mirror: Option<&str>) -> Result<Vec<Finding>> {
    let client = net::client();
    let mut out = Vec::new();

    // The mirror's description decides some fixes; read it first.
    let mut mirror_desc: Option<MirrorDescription> = None;
    if let Some(m) = mirror {
        match net::describe_mirror(&client, m).await {
            Ok(d) => mirror_desc = d,
            Err(e) => out.push(Finding::new(
                Code::GoproxyUnreachable,
                m,
                format!("the mirror {m} does not answer ({e}); the go command cannot download anything through it"),
                format!("start the mirror (modferry serve) or check the URL, firewall and HTTPS_PROXY/NO_PROXY; then `export GOPROXY={m}`"),
            )),
        }
    }
    let ctx = Ctx {
        env,
        mirror,
        desc: mirror_desc.as_ref(),
    };

    env_checks(&ctx, &mut out);
    let project = Project::load(dir, env)?;
    let vendor = project.vendor_mode(env);
    replace_checks(&project, &mut out);
    workspace_checks(&project, &mut out);
    if vendor || env.mod_flag().as_deref() == Some("vendor") {
        vendor_checks(&project, env, &mut out);
    }
    toolchain_checks(&project, env, &mut out);

    let needs = project.needs();
    let modules: Vec<(&Need, String, String)> = needs
        .iter()
        .filter_map(|n| match &n.target {
            Target::Module { path, version } => Some((n, path.clone(), version.clone())),
            Target::Dir { .. } => None,
        })
        .collect();

    if !vendor {
        gosum_checks(&project, &modules, &mut out);
        cache_checks(&project, env, &modules, &mut out);
    }

    // What the go command would have to download.
    let missing: Vec<&(&Need, String, String)> = if vendor {
        Vec::new()
    } else {
        modules
            .iter()
            .filter(|(n, p, v)| !in_cache(env, p, v, n.indirect))
            .collect()
    };
    let (via_proxy, direct): (Vec<_>, Vec<_>) =
        missing.iter().partition(|(_, p, _)| !env.is_noproxy(p));

    let proxy_fut = async {
        if via_proxy.is_empty() {
            Vec::new()
        } else {
            proxy_checks(&ctx, &client, &via_proxy).await
        }
    };
    let sumdb_fut = async {
        if vendor {
            Vec::new()
        } else {
            sumdb_checks(&ctx, &project, &client, &modules).await
        }
    };
    let direct_fut = async { direct_checks(&ctx, &client, &direct).await };
    let mirror_fut = async {
        match mirror {
            Some(m) if mirror_desc.is_some() || out.iter().all(|f| f.subject != m) => {
                mirror_checks(&ctx, &project, m, &modules).await
            }
            _ => Vec::new(),
        }
    };
    let (a, b, c, d) = tokio::join!(proxy_fut, sumdb_fut, direct_fut, mirror_fut);
    out.extend(a);
    out.extend(b);
    out.extend(c);
    out.extend(d);
    Ok(out)
}

struct Ctx<'a> {
    env: &'a GoEnv,
    mirror: Option<&'a str>,
    desc: Option<&'a MirrorDescription>,
}

impl Ctx<'_> {
    fn mirror_or_placeholder(&self) -> &str {
        self.mirror.unwrap_or("<mirror URL>")
    }

    /// Whether the mirror description or GONOPROXY treats `module` as private.
    fn is_private(&self, module: &str) -> bool {
        self.env.is_noproxy(module)
            || self
                .desc
                .is_some_and(|d| match_prefix_patterns(&d.private.join(","), module))
    }
}

/// The pattern to suggest for a module: its first path element (a host).
fn host_pattern(module: &str) -> String {
    let host = module.split('/').next().unwrap_or(module);
    host.to_string()
}

fn append_pattern(current: &str, pattern: &str) -> String {
    if current.trim().is_empty() {
        pattern.to_string()
    } else {
        format!("{current},{pattern}")
    }
}

/// `$GOMODCACHE/cache/download/<escaped path>/@v/<escaped version>.<ext>`.
pub fn cache_file(modcache: &Path, path: &str, version: &str, ext: &str) -> Option<PathBuf> {
    let (p, v) = (escape_path(path).ok()?, escape_version(version).ok()?);
    Some(
        modcache
            .join("cache/download")
            .join(p)
            .join("@v")
            .join(format!("{v}.{ext}")),
    )
}

/// Whether the module cache has what a build needs of `path@version` without a download.
fn in_cache(env: &GoEnv, path: &str, version: &str, indirect: bool) -> bool {
    let mc = env.modcache();
    let has = |ext| cache_file(&mc, path, version, ext).is_some_and(|f| f.is_file());
    has("mod") && (indirect || has("zip"))
}

// ---- environment ---------------------------------------------------------------------------

fn env_checks(ctx: &Ctx, out: &mut Vec<Finding>) {
    let env = ctx.env;
    if env.get("GO111MODULE").trim() == "off" {
        out.push(Finding::new(
            Code::GopathMode,
            "GO111MODULE=off",
            "GO111MODULE=off puts the go command in GOPATH mode: go.mod, go.sum and every proxy are ignored and imports are looked up under $GOPATH/src, so module builds fail with \"cannot find package\"",
            "go env -u GO111MODULE; unset GO111MODULE (or export GO111MODULE=on)",
        ));
    }
    if ctx.env.sumdb_off() {
        let fix = match ctx.desc.and_then(|d| d.sumdbs.first()) {
            Some(name) => format!(
                "export GOSUMDB={name} with GOPROXY={} — the mirror serves that checksum database under /sumdb/{name}/, so verification works offline",
                ctx.mirror_or_placeholder()
            ),
            None => "unset GOSUMDB (go uses sum.golang.org) and serve it through your mirror's /sumdb/ proxy; list private modules in GONOSUMDB instead of turning verification off".to_string(),
        };
        out.push(Finding::new(
            Code::GosumdbOff,
            "GOSUMDB=off",
            "checksum verification is disabled: modules missing from go.sum are trusted on first download, whatever the proxy serves",
            fix,
        ));
    }
    let git_ssl = std::env::var("GIT_SSL_NO_VERIFY").unwrap_or_default();
    if !git_ssl.is_empty() && git_ssl != "0" && git_ssl != "false" {
        out.push(Finding::new(
            Code::InsecureTlsWorkaround,
            "GIT_SSL_NO_VERIFY",
            "GIT_SSL_NO_VERIFY turns off certificate checks for every git host, so a man in the middle can serve any code",
            "unset GIT_SSL_NO_VERIFY and trust the host's CA instead: git config --global http.https://<host>/.sslCAInfo /path/to/ca.pem (and export SSL_CERT_FILE=/path/to/ca.pem for the go command)",
        ));
    }
    let insecure = env.get("GOINSECURE");
    if !insecure.trim().is_empty() {
        out.push(Finding::new(
            Code::InsecureTlsWorkaround,
            format!("GOINSECURE={insecure}"),
            format!("GOINSECURE={insecure} lets the go command fetch these modules over plain HTTP or with unverified certificates"),
            format!(
                "give the go command the host's CA instead: export SSL_CERT_FILE=/path/to/ca.pem (and git config --global http.https://{}/.sslCAInfo /path/to/ca.pem), then go env -u GOINSECURE; unset GOINSECURE",
                insecure.split(',').next().unwrap_or("<host>").trim_end_matches("/*")
            ),
        ));
    }
}

// ---- go.mod / go.work ----------------------------------------------------------------------

fn replace_checks(project: &Project, out: &mut Vec<Finding>) {
    for (base, r) in project.replaces() {
        if r.new_version.is_some() {
            continue;
        }
        let old = match &r.old_version {
            Some(v) => format!("{}@{v}", r.old_path),
            None => r.old_path.clone(),
        };
        let subject = format!("replace {old} => {}", r.new_path);
        let dir = resolve_dir(&base, &r.new_path);
        if !dir.join("go.mod").is_file() {
            let what = if dir.is_dir() {
                "has no go.mod"
            } else {
                "does not exist"
            };
            out.push(Finding::new(
                Code::ReplaceTargetMissing,
                subject.clone(),
                format!(
                    "the replacement directory {} {what} on this machine, so the go command cannot read {}/go.mod and stops (the project only builds where that directory exists)",
                    dir.display(),
                    r.new_path
                ),
                format!(
                    "check out {} at {} (with its go.mod), or drop the replacement and use a published version: go mod edit -dropreplace={old}",
                    r.old_path,
                    dir.display()
                ),
            ));
        }
        if Path::new(&r.new_path).is_absolute() {
            out.push(Finding::new(
                Code::ReplaceAbsolutePath,
                subject,
                format!(
                    "the replacement is an absolute path ({}); it exists only on machines laid out like this one",
                    r.new_path
                ),
                format!(
                    "use a path relative to go.mod (go mod edit -replace={old}=../<dir>), or publish the module to your mirror and drop the replace"
                ),
            ));
        }
    }
}

fn workspace_checks(project: &Project, out: &mut Vec<Finding>) {
    let Some((wpath, _)) = &project.work else {
        return;
    };
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (dir, m) in &project.work_modules {
        let Some(path) = m
            .as_ref()
            .and_then(|m| m.module.as_ref())
            .map(|m| m.path.clone())
        else {
            continue;
        };
        if let Some(first) = seen.get(&path) {
            out.push(Finding::new(
                Code::ModulePathMismatch,
                format!("{} use {}", wpath.display(), dir.display()),
                format!(
                    "{} declares module path {path}, which {} already provides; the go command refuses a workspace where a module appears twice",
                    dir.display(),
                    first.display()
                ),
                format!(
                    "remove one of them (go work edit -dropuse={}), or give the fork its own module path (go mod edit -module <new path> in {})",
                    dir.display(),
                    dir.display()
                ),
            ));
        } else {
            seen.insert(path, dir.clone());
        }
    }
}

fn vendor_checks(project: &Project, env: &GoEnv, out: &mut Vec<Finding>) {
    let fix =
        "go mod vendor (regenerates vendor/ from go.mod), or build without it: GOFLAGS=-mod=mod";
    let Some(vendor) = &project.vendor else {
        let forced = env.mod_flag().as_deref() == Some("vendor");
        out.push(Finding::new(
            Code::VendorInconsistent,
            "vendor/modules.txt",
            if forced && !project.vendor_dir_exists {
                "GOFLAGS has -mod=vendor but the project has no vendor directory, so no dependency can be found".to_string()
            } else {
                "vendor/ exists without vendor/modules.txt, so the go command cannot tell which modules it holds".to_string()
            },
            fix,
        ));
        return;
    };
    let mut problems = Vec::new();
    let explicit: BTreeSet<(&str, &str)> = vendor
        .iter()
        .filter(|m| m.explicit)
        .map(|m| (m.path.as_str(), m.version.as_str()))
        .collect();
    let required: BTreeSet<(&str, &str)> = project
        .go_mod
        .require
        .iter()
        .map(|r| (r.path.as_str(), r.version.as_str()))
        .collect();
    for (p, v) in &required {
        if !explicit.contains(&(*p, *v)) {
            match vendor.iter().find(|m| m.path == *p && !m.version.is_empty()) {
                Some(m) if m.version != *v => problems.push(format!(
                    "{p}@{v} is required in go.mod, but vendor/modules.txt has {p}@{}",
                    m.version
                )),
                _ => problems.push(format!(
                    "{p}@{v} is required in go.mod, but not marked as explicit in vendor/modules.txt"
                )),
            }
        }
    }
    for m in vendor
        .iter()
        .filter(|m| m.explicit && !m.version.is_empty())
    {
        if !required.contains(&(m.path.as_str(), m.version.as_str())) {
            problems.push(format!(
                "{}@{} is marked as explicit in vendor/modules.txt, but not required in go.mod",
                m.path, m.version
            ));
        }
    }
    for r in &project.go_mod.replace {
        let key_v = r.old_version.clone().unwrap_or_default();
        let vm = vendor
            .iter()
            .find(|m| m.path == r.old_path && m.version == key_v);
        let want = (r.new_path.clone(), r.new_version.clone());
        match vm.and_then(|m| m.replacement.clone()) {
            Some(got) if got == want => {}
            Some(got) => problems.push(format!(
                "{} is replaced by {} in go.mod, but by {} in vendor/modules.txt",
                r.old_path, r.new_path, got.0
            )),
            None => problems.push(format!(
                "{} is replaced in go.mod, but not marked as replaced in vendor/modules.txt",
                r.old_path
            )),
        }
    }
    for m in vendor.iter().filter(|m| m.replacement.is_some()) {
        let replaced = project.go_mod.replace.iter().any(|r| {
            r.old_path == m.path && r.old_version.clone().unwrap_or_default() == m.version
        });
        if !replaced {
            problems.push(format!(
                "{} is marked as replaced in vendor/modules.txt, but not replaced in go.mod",
                m.path
            ));
        }
    }
    for p in problems {
        out.push(Finding::new(
            Code::VendorInconsistent,
            "vendor/modules.txt",
            format!("{p}; the go command stops with \"inconsistent vendoring\""),
            fix,
        ));
    }
}

fn toolchain_checks(project: &Project, env: &GoEnv, out: &mut Vec<Finding>) {
    let Some(local) = env.local_go_version() else {
        return;
    };
    let gotoolchain = env.get("GOTOOLCHAIN").trim().to_string();
    let may_switch = gotoolchain != "local" && !gotoolchain.ends_with("+local");
    let mut files: Vec<(String, Option<String>, Option<String>)> = vec![(
        "go.mod".into(),
        project.go_mod.go.clone(),
        project.go_mod.toolchain.clone(),
    )];
    if let Some((p, w)) = &project.work {
        files.push((p.display().to_string(), w.go.clone(), w.toolchain.clone()));
    }
    for (file, go, toolchain) in files {
        let go_newer = go
            .as_deref()
            .filter(|g| compare_go(g, &local).is_some_and(|o| o.is_gt()));
        let tc_newer = toolchain
            .as_deref()
            .filter(|t| *t != "default")
            .filter(|t| compare_go(t, &local).is_some_and(|o| o.is_gt()));
        let wanted = match (go_newer, tc_newer) {
            (Some(g), _) if !may_switch => Some(format!("go {g}")),
            (_, Some(t)) if may_switch => Some(t.to_string()),
            (Some(g), _) => Some(format!("go {g}")),
            _ => None,
        };
        let Some(wanted) = wanted else { continue };
        let ver = wanted
            .trim_start_matches("go ")
            .trim_start_matches("go")
            .to_string();
        let message = if may_switch {
            format!(
                "{file} asks for {wanted} but the local toolchain is go{local}; with GOTOOLCHAIN={} the go command downloads golang.org/toolchain@v0.0.1-go{ver}.<os>-<arch> through GOPROXY first, which fails offline unless the mirror has it",
                if gotoolchain.is_empty() {
                    "auto"
                } else {
                    &gotoolchain
                }
            )
        } else {
            format!(
                "{file} asks for {wanted} but the local toolchain is go{local} and GOTOOLCHAIN=local forbids switching, so the go command refuses to build"
            )
        };
        out.push(Finding::new(
            Code::ToolchainDownload,
            format!("{file}: {wanted}"),
            message,
            format!(
                "install go{ver} on this machine, or lower the requirement to the local toolchain: go mod edit -go={} -toolchain=none (or mirror golang.org/toolchain@v0.0.1-go{ver}.<os>-<arch>)",
                local
            ),
        ));
    }
}

// ---- go.sum and module cache ---------------------------------------------------------------

fn gosum_checks(project: &Project, modules: &[(&Need, String, String)], out: &mut Vec<Finding>) {
    for (n, p, v) in modules {
        let mut lacking = Vec::new();
        if project.sum_for(p, v, true).is_empty() {
            lacking.push(format!("{p} {v}/go.mod"));
        }
        if !n.indirect && project.sum_for(p, v, false).is_empty() {
            lacking.push(format!("{p} {v}"));
        }
        if lacking.is_empty() {
            continue;
        }
        out.push(Finding::new(
            Code::GosumMissing,
            format!("{p}@{v}"),
            format!(
                "go.sum has no line for {}; with the default -mod=readonly the go command refuses to build (\"missing go.sum entry\")",
                lacking.join(" nor ")
            ),
            format!("go mod download {} (adds the hashes, verified by GOSUMDB unless GONOSUMDB covers it), or go mod tidy", n.path),
        ));
    }
}

fn cache_checks(
    project: &Project,
    env: &GoEnv,
    modules: &[(&Need, String, String)],
    out: &mut Vec<Finding>,
) {
    let mc = env.modcache();
    for (n, p, v) in modules {
        if let Some(f) = cache_file(&mc, p, v, "mod")
            && let Ok(data) = std::fs::read(&f)
        {
            let h = dirhash::hash_go_mod(&data);
            sum_compare(project, p, v, true, &h, "the module cache", out);
            path_compare(
                n,
                p,
                v,
                &data,
                &format!("the module cache ({})", f.display()),
                out,
            );
        }
        if let Some(f) = cache_file(&mc, p, v, "ziphash")
            && let Ok(h) = std::fs::read_to_string(&f)
        {
            sum_compare(project, p, v, false, h.trim(), "the module cache", out);
        }
    }
}

fn sum_compare(
    project: &Project,
    p: &str,
    v: &str,
    go_mod: bool,
    got: &str,
    whose: &str,
    out: &mut Vec<Finding>,
) {
    let suffix = if go_mod { "/go.mod" } else { "" };
    for want in project.sum_for(p, v, go_mod) {
        if want != got {
            out.push(Finding::new(
                Code::ChecksumMismatch,
                format!("{p}@{v}{suffix}"),
                format!(
                    "go.sum records {want} for {p} {v}{suffix} but {whose} has {got}; the go command stops with \"checksum mismatch … SECURITY ERROR\""
                ),
                format!(
                    "find out which side is wrong before going on; if go.sum was edited or merged badly, delete its lines for {p} {v} and run go mod download {p}@{v} (verified by the checksum database); if the module cache is corrupt, go clean -modcache"
                ),
            ));
        }
    }
}

fn path_compare(n: &Need, p: &str, v: &str, go_mod: &[u8], whose: &str, out: &mut Vec<Finding>) {
    let Some(declared) = modfile::module_path(go_mod) else {
        return;
    };
    if declared == n.path || declared == p {
        return;
    }
    let fix = if p == n.path {
        format!(
            "require the path it declares and keep the fork as a replacement: go mod edit -droprequire={p} -require={declared}@{v} -replace={declared}={p}@{v} (and import {declared}/...)"
        )
    } else {
        format!(
            "point the replacement at a module that declares {} or {p}",
            n.path
        )
    };
    let subject = if p == n.path {
        format!("{p}@{v}")
    } else {
        format!("{}@{} => {p}@{v}", n.path, n.version)
    };
    out.push(Finding::new(
        Code::ModulePathMismatch,
        subject,
        format!(
            "the go.mod of {p}@{v} in {whose} declares module {declared}, but it is required as {}; the go command stops with \"module declares its path as: {declared} but was required as: {}\"",
            n.path, n.path
        ),
        fix,
    ));
}

// ---- network -------------------------------------------------------------------------------

/// GOPROXY entries with whether any error (not only 404/410) falls through to the next.
fn proxy_list(v: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in v.chars() {
        if c == ',' || c == '|' {
            if !cur.trim().is_empty() {
                out.push((cur.trim().to_string(), c == '|'));
            }
            cur.clear();
        } else {
            cur.push(c);
        }
    }
    if !cur.trim().is_empty() {
        out.push((cur.trim().to_string(), false));
    }
    out
}

async fn proxy_checks(
    ctx: &Ctx<'_>,
    client: &reqwest::Client,
    missing: &[&&(&Need, String, String)],
) -> Vec<Finding> {
    let list = proxy_list(ctx.env.get("GOPROXY"));
    let names: Vec<String> = missing.iter().map(|(_, p, v)| format!("{p}@{v}")).collect();
    let shown = if names.len() > 3 {
        format!("{} and {} more", names[..3].join(", "), names.len() - 3)
    } else {
        names.join(", ")
    };
    let goproxy = ctx.env.get("GOPROXY");
    let mut why = Vec::new();
    for (entry, any_error) in &list {
        match entry.as_str() {
            "direct" => return Vec::new(),
            "off" => {
                return vec![Finding::new(
                    Code::GoproxyOff,
                    format!("GOPROXY={goproxy}"),
                    format!(
                        "GOPROXY ends in off before any usable proxy, and the module cache ({}) lacks {shown}; the go command stops with \"module lookup disabled by GOPROXY=off\"",
                        ctx.env.modcache().display()
                    ),
                    format!(
                        "export GOPROXY={} (a mirror that has these modules), or fill the module cache on a connected machine with go mod download and copy it",
                        ctx.mirror_or_placeholder()
                    ),
                )];
            }
            url => match net::probe_proxy(client, url).await {
                Ok(_) => return Vec::new(),
                Err(e) => {
                    why.push(format!("{url}: {e}"));
                    if !any_error {
                        break;
                    }
                }
            },
        }
    }
    if why.is_empty() {
        return Vec::new();
    }
    let reasons = why.join("; ");
    let (message, fix) = if net::is_tls_error(&reasons) {
        (
            format!(
                "no GOPROXY entry the go command would try answers with a certificate it trusts ({reasons}), and it must download {shown}; the go command fails with \"x509: certificate signed by unknown authority\" (GOINSECURE does not apply to proxies)"
            ),
            "give the go command the proxy's CA: export SSL_CERT_FILE=/path/to/ca.pem (a PEM bundle; it replaces the system roots, so include them if other hosts are needed)".to_string(),
        )
    } else {
        (
            format!(
                "no GOPROXY entry the go command would try answers ({reasons}), and it must download {shown}"
            ),
            format!(
                "export GOPROXY={} (a reachable mirror), or fix the network path (firewall, HTTPS_PROXY/NO_PROXY) to the proxy",
                ctx.mirror_or_placeholder()
            ),
        )
    };
    vec![Finding::new(
        Code::GoproxyUnreachable,
        format!("GOPROXY={goproxy}"),
        message,
        fix,
    )]
}

async fn sumdb_checks(
    ctx: &Ctx<'_>,
    project: &Project,
    client: &reqwest::Client,
    modules: &[(&Need, String, String)],
) -> Vec<Finding> {
    let env = ctx.env;
    // The go command's reading of GOSUMDB (aliases, known keys), else the plain name and URL.
    let db = match super::sumdb::parse_database(env.get("GOSUMDB")) {
        Ok(Some(d)) => Some(net::SumdbSetting {
            name: d.name().to_owned(),
            url: d.url,
        }),
        Ok(None) => None,
        Err(_) => net::parse_gosumdb(env.get("GOSUMDB")),
    };
    let Some(db) = db else {
        return Vec::new();
    };
    // Modules the go command would look up: not covered by GONOSUMDB and not fully in go.sum.
    let lookups: Vec<&(&Need, String, String)> = modules
        .iter()
        .filter(|(n, p, v)| {
            !env.is_nosumdb(p)
                && (project.sum_for(p, v, true).is_empty()
                    || (!n.indirect && project.sum_for(p, v, false).is_empty()))
        })
        .collect();
    // Modules whose go.sum lines can be compared with the database: never a private one, so
    // no private name leaves the machine.
    let present: Vec<(String, String)> = modules
        .iter()
        .filter(|(_, p, v)| {
            !env.is_nosumdb(p)
                && !ctx.is_private(p)
                && (!project.sum_for(p, v, true).is_empty()
                    || !project.sum_for(p, v, false).is_empty())
        })
        .map(|(_, p, v)| (p.clone(), v.clone()))
        .collect();
    if lookups.is_empty() && present.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (_, p, v) in &lookups {
        if ctx.is_private(p) {
            let pat = host_pattern(p);
            out.push(Finding::new(
                Code::PrivateModuleSumdb,
                format!("{p}@{v}"),
                format!(
                    "{p} is private (GONOPROXY or the mirror's private list) but GONOSUMDB/GOPRIVATE do not cover it, so the go command asks the public checksum database {} about it, which cannot know it: \"verifying module: … not found\"",
                    db.name
                ),
                format!(
                    "go env -w GONOSUMDB={} (or export GONOSUMDB={})",
                    append_pattern(env.get("GONOSUMDB"), &pat),
                    append_pattern(env.get("GONOSUMDB"), &pat)
                ),
            ));
        }
    }
    let proxies: Vec<String> = proxy_list(env.get("GOPROXY"))
        .into_iter()
        .map(|(e, _)| e)
        .take_while(|e| e != "off")
        .collect();
    let reached = net::probe_sumdb(client, &db, &proxies).await;
    if let Ok((_, base)) = &reached
        && !present.is_empty()
    {
        sumdb_compare(ctx, project, base, &present, &mut out).await;
    }
    if lookups.is_empty() {
        return out;
    }
    if let Err(why) = reached {
        let names: Vec<String> = lookups.iter().map(|(_, p, v)| format!("{p}@{v}")).collect();
        let fix = match ctx.desc.and_then(|d| d.sumdbs.first()) {
            Some(name) => format!(
                "export GOPROXY={} GOSUMDB={name} (the mirror serves that database), or complete go.sum on a connected machine",
                ctx.mirror_or_placeholder()
            ),
            None => "serve the database through your GOPROXY (<proxy>/sumdb/<name>/), complete go.sum on a connected machine (go mod download), or list private modules in GONOSUMDB".to_string(),
        };
        out.push(Finding::new(
            Code::GosumdbUnreachable,
            format!("GOSUMDB={}", env.get("GOSUMDB")),
            format!(
                "the checksum database {} cannot be reached through GOPROXY's /sumdb/ nor directly ({why}); the go command needs it to verify {} (not in go.sum) and fails with \"verifying module\"",
                db.name,
                names.join(", ")
            ),
            fix,
        ));
    }
    out
}

/// Compares the go.sum lines of `present` with the checksum database at `base` (verified
/// lookups); a database that cannot be used is left to the other checks.
async fn sumdb_compare(
    ctx: &Ctx<'_>,
    project: &Project,
    base: &str,
    present: &[(String, String)],
    out: &mut Vec<Finding>,
) {
    let env = ctx.env;
    let Ok(Some(db)) = super::sumdb::parse_database(env.get("GOSUMDB")) else {
        return;
    };
    let mut nosum = env.get("GONOSUMDB").to_string();
    if let Some(d) = ctx.desc {
        for p in &d.private {
            nosum = append_pattern(&nosum, p);
        }
    }
    let Ok(lookups) = super::sumdb::Lookups::new(&db, base, &nosum) else {
        return;
    };
    let whose = format!(
        "the checksum database {} (a record signed by its key and proven in its log)",
        db.name()
    );
    let mut results = lookups.hashes(present).await;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    for ((p, v), res) in results {
        let Ok((zip, gomod)) = res else { continue };
        if let Some(h) = gomod {
            sum_compare(project, &p, &v, true, &h, &whose, out);
        }
        if let Some(h) = zip {
            sum_compare(project, &p, &v, false, &h, &whose, out);
        }
    }
}

/// Where the go command's direct mode fails for one host's modules.
enum DirectFailure {
    /// The `?go-get=1` page cannot be fetched.
    Discovery(String),
    /// git cannot list the repository.
    Git { repo: String, why: String },
}

/// What the go command does first in direct mode for `module` (cmd/go `vcs/vcs.go`
/// `RepoRootForImportPath`, then `git ls-remote`): find the repository by the known hosting
/// sites or the `?go-get=1` page, then contact it with git. `Ok` when both work (or when the
/// repository is not git, or git is not installed: nothing more to check).
async fn probe_direct(client: &reqwest::Client, module: &str) -> Result<(), DirectFailure> {
    let repo = match modferry_sources::git::known_host_root(module) {
        Some(Ok(root)) => root.url,
        Some(Err(_)) => return Ok(()),
        None => {
            let page = net::go_get_page(client, module)
                .await
                .map_err(DirectFailure::Discovery)?;
            let imports = modferry_sources::git::parse_meta_go_imports(&page);
            match modferry_sources::git::match_go_import(&imports, module) {
                Ok(im) if im.vcs == "git" => im.repo_root.clone(),
                Ok(_) => return Ok(()),
                Err(why) => return Err(DirectFailure::Discovery(why)),
            }
        }
    };
    let Some(git) = super::goenv::find_on_path("git") else {
        return Ok(());
    };
    net::git_ls_remote(git, repo.clone())
        .await
        .map_err(|why| DirectFailure::Git { repo, why })
}

async fn direct_checks(
    ctx: &Ctx<'_>,
    client: &reqwest::Client,
    direct: &[&&(&Need, String, String)],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut hosts: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (_, p, v) in direct {
        hosts
            .entry(host_pattern(p))
            .or_default()
            .push((p.clone(), v.clone()));
    }
    let probes = futures::future::join_all(hosts.values().map(|mods| {
        let first = mods.first().map(|(p, _)| p.clone()).unwrap_or_default();
        async move { probe_direct(client, &first).await }
    }))
    .await;
    for ((host, mods), res) in hosts.iter().zip(probes) {
        let Err(failure) = res else { continue };
        let names: Vec<String> = mods.iter().map(|(p, v)| format!("{p}@{v}")).collect();
        let first = mods.first().map(|(p, _)| p.as_str()).unwrap_or(host);
        let mirror = ctx.mirror_or_placeholder();
        let via_mirror = format!(
            "serve it through the mirror instead: export GOPROXY={mirror} GONOPROXY= GOPRIVATE= GONOSUMDB={host} (GOPRIVATE implies GONOPROXY, so set GONOSUMDB alone)"
        );
        let (stage, why, repo) = match &failure {
            DirectFailure::Discovery(why) => ("the ?go-get=1 discovery page", why, None),
            DirectFailure::Git { repo, why } => ("git", why, Some(repo.as_str())),
        };
        let head = format!(
            "{} match GONOPROXY/GOPRIVATE ({}), so the go command bypasses GOPROXY and contacts {host} itself",
            names.join(", "),
            ctx.env.get("GONOPROXY"),
        );
        let (message, fix) = if net::is_tls_error(why) {
            let repo_url = repo.unwrap_or("https://<repository URL>");
            let cause = if net::is_unknown_authority(why) {
                "its certificate is self-signed or signed by an unknown authority (a private CA this machine does not trust)"
            } else {
                "the TLS handshake fails"
            };
            let go_says = match repo {
                None if net::is_unknown_authority(why) => {
                    "\"x509: certificate signed by unknown authority\""
                }
                None => "\"tls: failed to verify certificate: x509: …\"",
                Some(_) => {
                    "git's \"server certificate verification failed\" (\"SSL certificate problem\" with OpenSSL builds of git)"
                }
            };
            (
                format!(
                    "{head}; {stage} fails: {cause} ({why}); the go command stops with {go_says}"
                ),
                format!(
                    "trust the CA, not GIT_SSL_NO_VERIFY/GOINSECURE: either route the module through a modferry mirror that trusts it per rule — in its config, [[vcs]] prefix = \"{first}\", url = \"{repo_url}\", ca_file = \"/path/to/ca.pem\" — then export GOPROXY={mirror} GONOPROXY= GOPRIVATE= GONOSUMDB={host}; or, for the go command's direct mode, export SSL_CERT_FILE=/path/to/ca.pem (discovery; a bundle that replaces the system roots) and GIT_SSL_CAINFO=/path/to/ca.pem (git; or git config --global http.https://{host}/.sslCAInfo /path/to/ca.pem)"
                ),
            )
        } else {
            (
                format!("{head}; {stage} is unreachable ({why})"),
                via_mirror,
            )
        };
        out.push(Finding::new(
            Code::PrivateModuleDirect,
            names.join(", "),
            message,
            fix,
        ));
    }
    out
}

async fn mirror_checks(
    ctx: &Ctx<'_>,
    project: &Project,
    mirror: &str,
    modules: &[(&Need, String, String)],
) -> Vec<Finding> {
    let client = net::download_client();
    let checks = modules
        .iter()
        .filter(|(_, p, _)| !ctx.env.is_noproxy(p))
        .map(|(n, p, v)| {
            let client = &client;
            async move {
                let mut out = Vec::new();
                let missing = |why: String| {
                    Finding::new(
                        Code::ModuleNotInMirror,
                        format!("{p}@{v}"),
                        format!("the mirror {mirror} does not have {p}@{v} ({why}); a build through it fails with 404"),
                        format!(
                            "add it on a connected machine: run modferry serve with an upstream and fetch it once (GOPROXY={mirror} go mod download {p}@{v}), then copy the store"
                        ),
                    )
                };
                match net::fetch_file(client, mirror, p, v, "mod").await {
                    Fetched::Found(data) => {
                        let h = dirhash::hash_go_mod(&data);
                        sum_compare(project, p, v, true, &h, &format!("the mirror {mirror}"), &mut out);
                        path_compare(n, p, v, &data, &format!("the mirror {mirror}"), &mut out);
                    }
                    Fetched::Missing(why) | Fetched::Failed(why) => {
                        out.push(missing(why));
                        return out;
                    }
                }
                if project.sum_for(p, v, false).is_empty() {
                    return out;
                }
                match net::fetch_file(client, mirror, p, v, "zip").await {
                    Fetched::Found(data) => {
                        if let Ok(h) = dirhash::hash_zip(std::io::Cursor::new(data)) {
                            sum_compare(project, p, v, false, &h, &format!("the mirror {mirror}"), &mut out);
                        }
                    }
                    Fetched::Missing(why) | Fetched::Failed(why) => out.push(missing(why)),
                }
                out
            }
        });
    futures::future::join_all(checks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goproxy_list_records_pipe_fallthrough() {
        assert_eq!(
            proxy_list("http://a|http://b,direct"),
            vec![
                ("http://a".into(), true),
                ("http://b".into(), false),
                ("direct".into(), false)
            ]
        );
        assert_eq!(proxy_list("off"), vec![("off".into(), false)]);
    }
}
