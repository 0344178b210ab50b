//! The module graph the go command loads for a main module (or a workspace), and from it the
//! files `go mod download all` followed by `go build ./...` fetch.
//!
//! Go's rules live in `cmd/go/internal/modload/buildlist.go` (`readModGraph`),
//! `modload/modfile.go` (`goModSummary`, `pruningForGoVersion`, `Replacement`) and
//! `cmd/go/internal/mvs/graph.go` (`Graph.Require`, `Graph.BuildList`); what is downloaded is in
//! `cmd/go/internal/modcmd/download.go` (`runDownload`, `DownloadModule`). Stated in our words:
//!
//! - A go.mod whose `go` line is 1.17 or later (language version, so `1.17rc1` counts) has a
//!   *pruned* graph; an older one, or one without a `go` line, an *unpruned* one.
//! - Loading a module version means reading its go.mod (the replacement's, when the main module
//!   replaces it: a module version's `.mod` from the proxy, a directory's go.mod from disk), and
//!   adding its requirements, minus versions the main module excludes, to the graph. Every
//!   requirement seen raises the selected version of its path (minimal version selection).
//! - The main module's requirements are the roots; each root is loaded. Below a module loaded
//!   in pruned mode, its requirements are loaded only when that module itself is unpruned (and
//!   then everything below it is loaded unpruned). In an unpruned main module everything
//!   reachable is loaded.
//! - In a workspace the workspace modules are the roots: their requirements are loaded with
//!   each workspace module's own pruning; then, until nothing changes, the selected version of
//!   every path the workspace depends on is loaded, together with the selected version of
//!   anything such a module (or a workspace module) requires at a lower version.
//! - The build list is the selected version of every path in the graph. `go mod download all`
//!   fetches `.info`, `.mod` and the zip of each (of its replacement, when replaced by a module
//!   version; nothing for a directory replacement); loading the graph fetched the `.mod` of
//!   every loaded version. A tidy main module needs nothing more for `go build ./...`.
//!
//! Deviations: the main module's go.mod is taken as written (the go command may first rewrite an
//! untidy one under `-mod=mod`); requirements on the `go` and `toolchain` pseudo-modules are
//! ignored here (the toolchain is a separate concern).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use modferry_formats::modfile::{self, ModFile, Replace};
use modferry_formats::semver;

/// A module version (`path@version`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModVer {
    /// The module path.
    pub path: String,
    /// The version.
    pub version: String,
}

impl ModVer {
    /// A module version.
    pub fn new(path: impl Into<String>, version: impl Into<String>) -> Self {
        ModVer {
            path: path.into(),
            version: version.into(),
        }
    }
}

impl std::fmt::Display for ModVer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.path, self.version)
    }
}

/// Where a module version's go.mod comes from after replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actual {
    /// A module version from the proxy.
    Module(ModVer),
    /// A local directory (its go.mod is read from disk; nothing is downloaded).
    Dir(PathBuf),
}

/// Fetches go.mod files of module versions (in sync: through the mirror, which stores them).
pub trait GoModLoader: Sync {
    /// The go.mod bytes of `m`, or the reason they cannot be had.
    fn load(&self, m: &ModVer) -> impl Future<Output = Result<Vec<u8>, String>> + Send;
}

/// A main module: its go.mod and the directory relative paths in it are resolved against.
#[derive(Debug, Clone)]
pub struct MainModule {
    /// The parsed go.mod.
    pub file: ModFile,
    /// The directory holding go.mod.
    pub dir: PathBuf,
}

/// What a graph walk needs from the proxy.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Needs {
    /// Versions whose `.info` and `.mod` are needed (every loaded go.mod).
    pub mods: BTreeSet<ModVer>,
    /// Versions whose zip (with `.info` and `.mod`) is needed (the build list, replaced).
    pub zips: BTreeSet<ModVer>,
    /// Versions whose go.mod could not be loaded, with the reason.
    pub errors: BTreeMap<ModVer, String>,
}

/// Whether a go version (a `go` line) has a pruned module graph: 1.17 or later.
pub fn is_pruned(go_version: Option<&str>) -> bool {
    let Some(v) = go_version else {
        return false;
    };
    let mut parts = v.split('.');
    let major: u64 = match parts.next().and_then(|p| p.parse().ok()) {
        Some(n) => n,
        None => return false,
    };
    let minor_digits: String = parts
        .next()
        .unwrap_or("")
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let minor: u64 = minor_digits.parse().unwrap_or(0);
    (major, minor) >= (1, 17)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Pruning {
    Pruned,
    Unpruned,
    Workspace,
}

/// A go.mod summary: what graph loading uses.
#[derive(Debug, Clone)]
struct Summary {
    pruned: bool,
    require: Vec<ModVer>,
}

/// The replacement rules of the main module(s) (`modload.Replacement`): an exact
/// `old@version` rule wins over a path-wide `old` rule; workspace rules win over modules'.
#[derive(Debug, Default, Clone)]
pub struct Replacements {
    exact: HashMap<ModVer, Actual>,
    any: HashMap<String, Actual>,
}

impl Replacements {
    /// Adds `replace` rules from a file in `dir`, keeping rules already present.
    pub fn add(&mut self, rules: &[Replace], dir: &Path) {
        for r in rules {
            let target = if modfile::is_directory_path(&r.new_path) {
                Actual::Dir(dir.join(&r.new_path))
            } else {
                Actual::Module(ModVer::new(
                    r.new_path.clone(),
                    r.new_version.clone().unwrap_or_default(),
                ))
            };
            match &r.old_version {
                Some(v) => {
                    self.exact
                        .entry(ModVer::new(r.old_path.clone(), v.clone()))
                        .or_insert(target);
                }
                None => {
                    self.any.entry(r.old_path.clone()).or_insert(target);
                }
            }
        }
    }

    /// Where `m` really comes from.
    pub fn resolve(&self, m: &ModVer) -> Actual {
        self.exact
            .get(m)
            .or_else(|| self.any.get(&m.path))
            .cloned()
            .unwrap_or_else(|| Actual::Module(m.clone()))
    }
}

/// The graph as loaded so far.
struct Graph {
    required: HashMap<ModVer, Vec<ModVer>>,
    selected: BTreeMap<String, String>,
    main_paths: HashSet<String>,
}

impl Graph {
    fn note(&mut self, r: &ModVer) {
        if self.main_paths.contains(&r.path) {
            return;
        }
        let cur = self.selected.entry(r.path.clone()).or_default();
        if cur.is_empty() || semver::compare(cur, &r.version) == std::cmp::Ordering::Less {
            *cur = r.version.clone();
        }
    }
}

/// Loads the graph of `mains` (one main module, or the modules of a workspace with its own
/// `replace` rules) and says what must be fetched. `jobs` bounds concurrent go.mod loads.
pub async fn walk<L: GoModLoader>(
    mains: &[MainModule],
    workspace: Option<&Replacements>,
    loader: &L,
    jobs: usize,
) -> Needs {
    let mut replacements = workspace.cloned().unwrap_or_default();
    let mut excluded: HashSet<ModVer> = HashSet::new();
    let mut roots: Vec<ModVer> = Vec::new();
    let mut main_paths = HashSet::new();
    for m in mains {
        replacements.add(&m.file.replace, &m.dir);
        for e in &m.file.exclude {
            excluded.insert(ModVer::new(e.path.clone(), e.version.clone()));
        }
        if let Some(decl) = &m.file.module {
            main_paths.insert(decl.path.clone());
        }
    }
    for m in mains {
        for r in &m.file.require {
            let mv = ModVer::new(r.path.clone(), r.version.clone());
            if !is_pseudo_module(&mv.path) && !main_paths.contains(&mv.path) {
                roots.push(mv);
            }
        }
    }
    let pruning = if workspace.is_some() {
        Pruning::Workspace
    } else if mains
        .first()
        .is_some_and(|m| is_pruned(m.file.go.as_deref()))
    {
        Pruning::Pruned
    } else {
        Pruning::Unpruned
    };

    let mut w = Walker {
        loader,
        jobs: jobs.max(1),
        replacements: &replacements,
        excluded: &excluded,
        graph: Graph {
            required: HashMap::new(),
            selected: BTreeMap::new(),
            main_paths,
        },
        summaries: HashMap::new(),
        enqueued: HashSet::new(),
        queue: Vec::new(),
        needs: Needs::default(),
    };
    if pruning == Pruning::Workspace {
        // The workspace modules are the roots: each is "loaded" from its own go.mod, and its
        // requirements are loaded with that module's own pruning.
        for m in mains {
            let Some(decl) = &m.file.module else {
                continue;
            };
            let reqs: Vec<ModVer> = m
                .file
                .require
                .iter()
                .map(|r| ModVer::new(r.path.clone(), r.version.clone()))
                .filter(|r| {
                    !w.excluded.contains(r)
                        && !is_pseudo_module(&r.path)
                        && !w.graph.main_paths.contains(&r.path)
                })
                .collect();
            for r in &reqs {
                w.graph.note(r);
            }
            let p = if is_pruned(m.file.go.as_deref()) {
                Pruning::Pruned
            } else {
                Pruning::Unpruned
            };
            for r in &reqs {
                w.enqueue(r.clone(), p);
            }
            w.graph
                .required
                .insert(ModVer::new(decl.path.clone(), ""), reqs);
        }
    } else {
        for r in &roots {
            w.graph.note(r);
        }
        for r in &roots {
            w.enqueue(r.clone(), pruning);
        }
    }
    w.drain().await;

    if pruning == Pruning::Workspace {
        // Keep loading the selected versions of everything the workspace depends on, and of
        // whatever those require at a lower version than selected, until nothing changes.
        let mut in_all: BTreeSet<String> = w.graph.main_paths.iter().cloned().collect();
        let mut seen: HashSet<ModVer> = in_all.iter().map(|p| ModVer::new(p.clone(), "")).collect();
        loop {
            let mut todo: BTreeSet<ModVer> = BTreeSet::new();
            for p in &in_all {
                let m = if w.graph.main_paths.contains(p) {
                    ModVer::new(p.clone(), "")
                } else {
                    let Some(sel) = w.graph.selected.get(p) else {
                        continue;
                    };
                    ModVer::new(p.clone(), sel.clone())
                };
                if !seen.contains(&m) {
                    todo.insert(m);
                    continue;
                }
                if let Some(reqs) = w.graph.required.get(&m) {
                    for r in reqs {
                        if let Some(s) = w.graph.selected.get(&r.path) {
                            let s = ModVer::new(r.path.clone(), s.clone());
                            if semver::compare(&s.version, &r.version)
                                == std::cmp::Ordering::Greater
                                && !seen.contains(&s)
                            {
                                todo.insert(s);
                            }
                        }
                    }
                }
            }
            if todo.is_empty() {
                break;
            }
            for m in todo {
                in_all.insert(m.path.clone());
                seen.insert(m.clone());
                w.enqueue(m, Pruning::Workspace);
            }
            w.drain().await;
        }
    }

    let mut needs = w.needs;
    for (path, version) in &w.graph.selected {
        let m = ModVer::new(path.clone(), version.clone());
        match replacements.resolve(&m) {
            Actual::Module(a) => {
                needs.zips.insert(a);
            }
            Actual::Dir(_) => {}
        }
    }
    needs
}

/// `go` and `toolchain` appear as requirements in the go command's graph; they are not modules.
fn is_pseudo_module(path: &str) -> bool {
    path == "go" || path == "toolchain"
}

/// A loaded go.mod: the module version it came from (none for a directory) and its bytes.
type LoadResult = Result<(Option<ModVer>, Vec<u8>), String>;

/// Loads the go.mod of `m` (of its replacement, when replaced).
async fn load_one<L: GoModLoader>(
    loader: &L,
    replacements: &Replacements,
    m: ModVer,
) -> (ModVer, LoadResult) {
    let res = match replacements.resolve(&m) {
        Actual::Module(a) => loader.load(&a).await.map(|data| (Some(a), data)),
        Actual::Dir(dir) => {
            let file = dir.join("go.mod");
            std::fs::read(&file)
                .map(|d| (None, d))
                .map_err(|e| format!("replacement directory: cannot read {}: {e}", file.display()))
        }
    };
    (m, res)
}

struct Walker<'a, L> {
    loader: &'a L,
    jobs: usize,
    replacements: &'a Replacements,
    excluded: &'a HashSet<ModVer>,
    graph: Graph,
    /// Each go.mod loaded so far: its summary, or `None` when it could not be had.
    summaries: HashMap<ModVer, Option<Summary>>,
    enqueued: HashSet<(ModVer, Pruning)>,
    /// Module versions reached with some pruning, not yet expanded.
    queue: Vec<(ModVer, Pruning)>,
    needs: Needs,
}

impl<L: GoModLoader> Walker<'_, L> {
    fn enqueue(&mut self, m: ModVer, pruning: Pruning) {
        if m.version == "none"
            || is_pseudo_module(&m.path)
            || self.graph.main_paths.contains(&m.path)
        {
            return;
        }
        if self.enqueued.insert((m.clone(), pruning)) {
            self.queue.push((m, pruning));
        }
    }

    /// Loads everything reachable from the queue, at most `jobs` go.mod files at a time.
    ///
    /// There are no level barriers: a module's requirements are queued as soon as its own
    /// go.mod is in, whatever else is still loading. The outcome does not depend on the order
    /// loads finish in: which (module, pruning) pairs get expanded is a closure, and the
    /// selected versions are maxima over the requirements of the modules loaded.
    async fn drain(&mut self) {
        let replacements = self.replacements;
        let loader = self.loader;
        let mut in_flight = futures::stream::FuturesUnordered::new();
        // Module versions being loaded (or waiting for a free slot), with the prunings they
        // were reached with.
        let mut waiting: HashMap<ModVer, Vec<Pruning>> = HashMap::new();
        let mut to_load: std::collections::VecDeque<ModVer> = Default::default();
        loop {
            while let Some((m, pruning)) = self.queue.pop() {
                if self.summaries.contains_key(&m) {
                    self.expand(&m, pruning);
                    continue;
                }
                let w = waiting.entry(m.clone()).or_default();
                if w.is_empty() {
                    to_load.push_back(m);
                }
                w.push(pruning);
            }
            while in_flight.len() < self.jobs {
                let Some(m) = to_load.pop_front() else {
                    break;
                };
                in_flight.push(load_one(loader, replacements, m));
            }
            let Some((m, res)) = in_flight.next().await else {
                break;
            };
            self.record(&m, res);
            for pruning in waiting.remove(&m).unwrap_or_default() {
                self.queue.push((m.clone(), pruning));
            }
        }
    }

    /// Records a loaded go.mod: its requirements join the graph.
    fn record(&mut self, m: &ModVer, res: LoadResult) {
        let summary = match res {
            Ok((actual, data)) => {
                if let Some(a) = actual {
                    self.needs.mods.insert(a);
                }
                match modfile::parse_lax("go.mod", &data) {
                    Ok(f) => Some(self.summarize(&f)),
                    Err(e) => {
                        self.needs
                            .errors
                            .insert(m.clone(), format!("parsing go.mod: {e}"));
                        None
                    }
                }
            }
            Err(reason) => {
                self.needs.errors.insert(m.clone(), reason);
                None
            }
        };
        if let Some(s) = &summary {
            for r in &s.require {
                self.graph.note(r);
            }
            self.graph.required.insert(m.clone(), s.require.clone());
        }
        self.summaries.insert(m.clone(), summary);
    }

    /// Queues the requirements of a loaded `m` reached with `pruning`, as far as pruning lets
    /// the graph go below it.
    fn expand(&mut self, m: &ModVer, pruning: Pruning) {
        let Some(Some(s)) = self.summaries.get(m) else {
            return;
        };
        let mod_pruned = s.pruned;
        if pruning == Pruning::Pruned && mod_pruned {
            return;
        }
        let next = if pruning == Pruning::Unpruned || !mod_pruned {
            Pruning::Unpruned
        } else {
            Pruning::Pruned
        };
        for r in s.require.clone() {
            self.enqueue(r, next);
        }
    }

    fn summarize(&self, f: &ModFile) -> Summary {
        Summary {
            pruned: is_pruned(f.go.as_deref()),
            require: f
                .require
                .iter()
                .map(|r| ModVer::new(r.path.clone(), r.version.clone()))
                .filter(|r| !self.excluded.contains(r))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loader over an in-memory table of go.mod files.
    struct Table(HashMap<ModVer, String>);

    impl GoModLoader for Table {
        fn load(&self, m: &ModVer) -> impl Future<Output = Result<Vec<u8>, String>> + Send {
            let r = self
                .0
                .get(m)
                .map(|s| s.clone().into_bytes())
                .ok_or_else(|| format!("{m}: not found"));
            async move { r }
        }
    }

    fn table(entries: &[(&str, &str)]) -> Table {
        Table(
            entries
                .iter()
                .map(|(mv, body)| {
                    let (p, v) = mv.split_once('@').unwrap();
                    (ModVer::new(p, v), body.to_string())
                })
                .collect(),
        )
    }

    fn main(text: &str) -> MainModule {
        MainModule {
            file: modfile::parse("go.mod", text.as_bytes()).unwrap(),
            dir: PathBuf::from("/nonexistent"),
        }
    }

    fn names(s: &BTreeSet<ModVer>) -> Vec<String> {
        s.iter().map(|m| m.to_string()).collect()
    }

    const DEPS: &[(&str, &str)] = &[
        (
            "a.com/a@v1.0.0",
            "module a.com/a\ngo 1.21\nrequire b.com/b v1.1.0\n",
        ),
        (
            "b.com/b@v1.1.0",
            "module b.com/b\ngo 1.21\nrequire c.com/c v1.0.0\n",
        ),
        ("b.com/b@v1.0.0", "module b.com/b\ngo 1.21\n"),
        ("c.com/c@v1.0.0", "module c.com/c\ngo 1.21\n"),
        (
            "old.com/o@v1.0.0",
            "module old.com/o\nrequire b.com/b v1.0.0\n",
        ),
    ];

    #[tokio::test]
    async fn pruned_graph_loads_roots_only_and_selects_their_requirements() {
        let t = table(DEPS);
        let m = main("module x\ngo 1.21\nrequire a.com/a v1.0.0\n");
        let n = walk(&[m], None, &t, 4).await;
        assert_eq!(names(&n.mods), ["a.com/a@v1.0.0"]);
        assert_eq!(names(&n.zips), ["a.com/a@v1.0.0", "b.com/b@v1.1.0"]);
        assert!(n.errors.is_empty());
    }

    #[tokio::test]
    async fn unpruned_main_module_loads_everything_reachable() {
        let t = table(DEPS);
        let m = main("module x\ngo 1.16\nrequire a.com/a v1.0.0\n");
        let n = walk(&[m], None, &t, 4).await;
        assert_eq!(
            names(&n.mods),
            ["a.com/a@v1.0.0", "b.com/b@v1.1.0", "c.com/c@v1.0.0"]
        );
        assert_eq!(names(&n.zips), names(&n.mods));
    }

    #[tokio::test]
    async fn unpruned_dependency_of_pruned_main_is_loaded_transitively() {
        let t = table(DEPS);
        let m = main("module x\ngo 1.21\nrequire old.com/o v1.0.0\n");
        let n = walk(&[m], None, &t, 4).await;
        assert_eq!(names(&n.mods), ["b.com/b@v1.0.0", "old.com/o@v1.0.0"]);
        assert_eq!(names(&n.zips), ["b.com/b@v1.0.0", "old.com/o@v1.0.0"]);
    }

    #[tokio::test]
    async fn exclude_drops_requirements_on_the_excluded_version() {
        let t = table(DEPS);
        let m = main(
            "module x\ngo 1.16\nrequire (\n\ta.com/a v1.0.0\n\tb.com/b v1.0.0\n)\nexclude b.com/b v1.1.0\n",
        );
        let n = walk(&[m], None, &t, 4).await;
        assert_eq!(names(&n.mods), ["a.com/a@v1.0.0", "b.com/b@v1.0.0"]);
        assert_eq!(names(&n.zips), ["a.com/a@v1.0.0", "b.com/b@v1.0.0"]);
    }

    #[tokio::test]
    async fn replace_by_another_version_fetches_the_replacement() {
        let t = table(DEPS);
        let m = main(
            "module x\ngo 1.16\nrequire a.com/a v1.0.0\nreplace b.com/b v1.1.0 => b.com/b v1.0.0\n",
        );
        let n = walk(&[m], None, &t, 4).await;
        // b@v1.1.0 is replaced: its go.mod is b@v1.0.0's, which requires nothing.
        assert_eq!(names(&n.mods), ["a.com/a@v1.0.0", "b.com/b@v1.0.0"]);
        assert_eq!(names(&n.zips), ["a.com/a@v1.0.0", "b.com/b@v1.0.0"]);
    }

    #[tokio::test]
    async fn replace_by_directory_reads_go_mod_from_disk_and_fetches_nothing_for_it() {
        let t = table(DEPS);
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("local")).unwrap();
        std::fs::write(
            d.path().join("local/go.mod"),
            "module a.com/a\ngo 1.21\nrequire c.com/c v1.0.0\n",
        )
        .unwrap();
        let mut m = main("module x\ngo 1.21\nrequire a.com/a v1.0.0\nreplace a.com/a => ./local\n");
        m.dir = d.path().to_path_buf();
        let n = walk(&[m], None, &t, 4).await;
        assert!(n.mods.is_empty(), "{:?}", n.mods);
        assert_eq!(names(&n.zips), ["c.com/c@v1.0.0"]);
    }

    #[tokio::test]
    async fn missing_go_mod_is_reported_per_module() {
        let t = table(&[]);
        let m = main("module x\ngo 1.21\nrequire a.com/a v1.0.0\n");
        let n = walk(&[m], None, &t, 4).await;
        assert_eq!(n.errors.len(), 1);
        assert!(n.mods.is_empty());
    }

    /// A loader over a table whose loads of `gate` wait until `opener` starts loading, and
    /// that counts loads in flight.
    struct Gated {
        table: Table,
        gate: ModVer,
        opener: ModVer,
        opened: tokio::sync::Notify,
        in_flight: std::sync::atomic::AtomicUsize,
        max_in_flight: std::sync::atomic::AtomicUsize,
    }

    impl Gated {
        fn new(table: Table, gate: &str, opener: &str) -> Self {
            let mv = |s: &str| {
                let (p, v) = s.split_once('@').unwrap();
                ModVer::new(p, v)
            };
            Gated {
                table,
                gate: mv(gate),
                opener: mv(opener),
                opened: tokio::sync::Notify::new(),
                in_flight: Default::default(),
                max_in_flight: Default::default(),
            }
        }
    }

    impl GoModLoader for Gated {
        fn load(&self, m: &ModVer) -> impl Future<Output = Result<Vec<u8>, String>> + Send {
            use std::sync::atomic::Ordering::SeqCst;
            let m = m.clone();
            async move {
                let now = self.in_flight.fetch_add(1, SeqCst) + 1;
                self.max_in_flight.fetch_max(now, SeqCst);
                if m == self.opener {
                    self.opened.notify_one();
                }
                if m == self.gate {
                    self.opened.notified().await;
                }
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                self.in_flight.fetch_sub(1, SeqCst);
                self.table.load(&m).await
            }
        }
    }

    #[tokio::test]
    async fn readmodgraph_loads_a_requirement_without_waiting_for_the_rest_of_its_level() {
        // slow.com/s cannot finish before c.com/c (a requirement of f.com/f, on the same level
        // as s) starts loading: a walk with level barriers would never get there.
        let t = table(&[
            ("slow.com/s@v1.0.0", "module slow.com/s\ngo 1.16\n"),
            (
                "f.com/f@v1.0.0",
                "module f.com/f\ngo 1.16\nrequire c.com/c v1.0.0\n",
            ),
            ("c.com/c@v1.0.0", "module c.com/c\ngo 1.16\n"),
        ]);
        let loader = Gated::new(t, "slow.com/s@v1.0.0", "c.com/c@v1.0.0");
        let m = main("module x\ngo 1.16\nrequire (\n\tslow.com/s v1.0.0\n\tf.com/f v1.0.0\n)\n");
        let n = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            walk(&[m], None, &loader, 4),
        )
        .await
        .expect("the walk waited for the whole level");
        assert_eq!(
            names(&n.zips),
            ["c.com/c@v1.0.0", "f.com/f@v1.0.0", "slow.com/s@v1.0.0"]
        );
    }

    #[tokio::test]
    async fn readmodgraph_keeps_at_most_jobs_go_mod_loads_in_flight() {
        use std::sync::atomic::Ordering::SeqCst;
        let entries: Vec<(String, String)> = (0..20)
            .map(|i| {
                (
                    format!("m.com/m{i}@v1.0.0"),
                    format!("module m.com/m{i}\ngo 1.16\n"),
                )
            })
            .collect();
        let refs: Vec<(&str, &str)> = entries
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let loader = Gated::new(table(&refs), "none@v0.0.0", "none@v0.0.0");
        let mut text = String::from("module x\ngo 1.16\nrequire (\n");
        for i in 0..20 {
            text.push_str(&format!("\tm.com/m{i} v1.0.0\n"));
        }
        text.push_str(")\n");
        let n = walk(&[main(&text)], None, &loader, 3).await;
        assert_eq!(n.mods.len(), 20);
        assert_eq!(loader.max_in_flight.load(SeqCst), 3);
    }

    #[test]
    fn go_1_17_and_later_is_pruned() {
        let cases: &[(Option<&str>, bool)] = &[
            (None, false),
            (Some("1.16"), false),
            (Some("1.16.15"), false),
            (Some("1.17"), true),
            (Some("1.17rc1"), true),
            (Some("1.21.0"), true),
            (Some("2.0"), true),
            (Some("1"), false),
        ];
        for (v, want) in cases {
            assert_eq!(is_pruned(*v), *want, "{v:?}");
        }
    }
}
