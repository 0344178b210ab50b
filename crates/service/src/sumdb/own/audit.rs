//! Auditing our own checksum database: replays the whole log from the store and checks what a
//! client of x/mod `sumdb/client.go` relies on — each record's text and stored hashes
//! (`tlog.StoredHashes`), the tree hash against the signed head (`tlog.TreeHash`, `note.Open`),
//! and that the head extends the one the previous audit accepted (`tlog.ProveTree` /
//! `CheckTree`: a rewritten or forked log is a problem, not an update).
//!
//! The audit only reads, except that after a clean run it remembers the audited head at
//! `.modferry/sumdb-own/<name>/audit/head` for the next run.
//!
//! [`check_against`] also re-checks every record against a public database (verified lookups
//! through a [`ProxyDb`]: signed tree note, inclusion proof): a version the public database
//! knows must have the same hashes there. Modules matching the proxy's `nosum` patterns are
//! never looked up, so private module names do not leak.

use std::collections::HashMap;

use bytes::Bytes;
use modferry_formats::note::Verifier;
use modferry_formats::tlog::{self, Hash};
use modferry_store::{DynStore, Payload, PutMode};

use super::OwnError;
use super::log::{GoSumRecord, LogKeys, get, open_head, parse_hash_bytes};
use crate::error::ApiError;
use crate::sumdb::proxy::{ProxyDb, SumdbError};

/// What an audit found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AuditReport {
    /// Database name.
    pub name: String,
    /// The committed tree size.
    pub size: i64,
    /// The committed tree hash (base64).
    pub root: String,
    /// The size of the head the previous audit accepted, if any.
    pub previous_size: Option<i64>,
    /// Problems: any makes the audit fail.
    pub problems: Vec<String>,
    /// Remarks that are not problems (e.g. provisional records an interrupted append left).
    pub notes: Vec<String>,
    /// The signed head audited (for [`remember`]).
    #[serde(skip)]
    pub signed_head: Option<Bytes>,
}

impl AuditReport {
    /// Whether the log passed.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Audits the log of `verifier`'s database in `store`. An `Err` means the audit could not run
/// (no log, store failure); problems with the log are in the report. With `remember`, a clean
/// audit records its head as the baseline of the next one.
pub async fn audit(
    store: &DynStore,
    verifier: &Verifier,
    remember: bool,
) -> Result<AuditReport, OwnError> {
    let keys = LogKeys::new(verifier.name())?;
    let mut report = AuditReport {
        name: verifier.name().to_owned(),
        ..AuditReport::default()
    };
    let head_key = keys.head()?;
    let signed = get(store, &head_key)
        .await?
        .ok_or_else(|| OwnError::Corrupt {
            detail: format!(
                "no checksum database {} in this store ({head_key} is missing)",
                verifier.name()
            ),
        })?;
    let tree = match open_head(&signed, verifier) {
        Ok(t) => t,
        Err(e) => {
            report.problems.push(format!("signed head: {e}"));
            return Ok(report);
        }
    };
    report.size = tree.n;
    report.root = tree.hash.to_string();

    let mut hashes: Vec<Hash> = Vec::new();
    let mut seen: HashMap<(String, String), i64> = HashMap::new();
    let mut replayable = true;
    for id in 0..tree.n {
        let key = keys.record(id)?;
        let Some(data) = get(store, &key).await? else {
            report
                .problems
                .push(format!("record {id}: missing ({key})"));
            replayable = false;
            break;
        };
        let text = std::str::from_utf8(&data).ok();
        match text.and_then(GoSumRecord::parse) {
            None => report.problems.push(format!(
                "record {id}: not a valid go.sum record: {:?}",
                String::from_utf8_lossy(&data)
            )),
            Some(rec) => {
                let ikey = keys.index(&rec.module, &rec.version)?;
                match get(store, &ikey).await? {
                    Some(b) if b.as_ref() == id.to_string().as_bytes() => {}
                    Some(b) => report.problems.push(format!(
                        "record {id} ({}@{}): index entry says {:?}",
                        rec.module,
                        rec.version,
                        String::from_utf8_lossy(&b)
                    )),
                    None => report.problems.push(format!(
                        "record {id} ({}@{}): index entry missing",
                        rec.module, rec.version
                    )),
                }
                if let Some(first) = seen.insert((rec.module.clone(), rec.version.clone()), id) {
                    report.problems.push(format!(
                        "record {id}: {}@{} is already record {first} (append-only violated)",
                        rec.module, rec.version
                    ));
                }
            }
        }
        let add = tlog::stored_hashes(id, &data, &hashes)?;
        let hkey = keys.hashes(id)?;
        match get(store, &hkey).await?.as_deref().map(parse_hash_bytes) {
            Some(Some(stored)) if stored == add => {}
            Some(_) => report.problems.push(format!(
                "record {id}: stored hashes ({hkey}) do not match the record"
            )),
            None => report
                .problems
                .push(format!("record {id}: stored hashes missing ({hkey})")),
        }
        hashes.extend(add);
    }
    if !replayable {
        return Ok(report);
    }
    let th = tlog::tree_hash(tree.n, &hashes)?;
    if th != tree.hash {
        report.problems.push(format!(
            "the records hash to {th}, but the signed head of size {} says {}",
            tree.n, tree.hash
        ));
    }

    // Consistency with the head the previous audit accepted.
    let audit_key = keys.audit_head()?;
    if let Some(prev) = get(store, &audit_key).await? {
        match open_head(&prev, verifier) {
            Err(e) => report
                .problems
                .push(format!("previously audited head: {e}")),
            Ok(old) => {
                report.previous_size = Some(old.n);
                let consistent = old.n <= tree.n
                    && tlog::prove_tree(tree.n, old.n, &hashes)
                        .and_then(|p| tlog::check_tree(&p, tree.n, th, old.n, old.hash))
                        .is_ok();
                if !consistent {
                    report.problems.push(format!(
                        "the log is not an extension of the previously audited head (size {}, hash {}): records were rewritten or removed",
                        old.n, old.hash
                    ));
                }
            }
        }
    }

    let pending: Vec<i64> = store
        .list(&keys.records_prefix())
        .await
        .map_err(|e| OwnError::Store {
            op: "list",
            key: keys.records_prefix(),
            reason: e.to_string(),
        })?
        .iter()
        .filter_map(|k| keys.parse_record_key(k))
        .filter(|id| *id >= tree.n)
        .collect();
    if !pending.is_empty() {
        report.notes.push(format!(
            "{} provisional record(s) beyond the head (ids {pending:?}) from an interrupted append; \
             the server completes or removes them when it next starts",
            pending.len()
        ));
    }

    report.signed_head = Some(signed);
    if remember {
        self::remember(store, verifier, &report).await?;
    }
    Ok(report)
}

/// After a clean audit, records its head as the baseline the next audit must extend; does
/// nothing when the report has problems.
pub async fn remember(
    store: &DynStore,
    verifier: &Verifier,
    report: &AuditReport,
) -> Result<(), OwnError> {
    let (true, Some(signed)) = (report.ok(), &report.signed_head) else {
        return Ok(());
    };
    let key = LogKeys::new(verifier.name())?.audit_head()?;
    store
        .put(
            &key,
            Payload::Bytes(Bytes::clone(signed)),
            PutMode::Overwrite,
        )
        .await
        .map_err(|e| OwnError::Store {
            op: "write",
            key: key.to_string(),
            reason: e.to_string(),
        })?;
    Ok(())
}

/// Re-checks every committed record of the log against the public database `public`, adding
/// problems (different hashes) and notes (versions the public database does not know, or
/// that match its `nosum` patterns) to `report`. An `Err` means the public database could not
/// be asked (the audit could not run).
pub async fn check_against(
    store: &DynStore,
    verifier: &Verifier,
    public: &ProxyDb,
    report: &mut AuditReport,
) -> Result<(), OwnError> {
    let keys = LogKeys::new(verifier.name())?;
    let (mut matched, mut unknown, mut skipped) = (0usize, 0usize, 0usize);
    for id in 0..report.size {
        let key = keys.record(id)?;
        let Some(rec) = get(store, &key)
            .await?
            .as_deref()
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(GoSumRecord::parse)
        else {
            continue; // already reported by the replay
        };
        if public.is_private(&rec.module) {
            skipped += 1;
            continue;
        }
        match public.hashes(&rec.module, &rec.version).await {
            Ok((zip, gomod)) => {
                let same = zip.as_deref() == Some(rec.zip_h1.as_str())
                    && gomod.as_deref() == Some(rec.mod_h1.as_str());
                if same {
                    matched += 1;
                } else {
                    report.problems.push(format!(
                        "record {id}: {}@{} is {} {} here but {} {} in {}",
                        rec.module,
                        rec.version,
                        rec.zip_h1,
                        rec.mod_h1,
                        zip.as_deref().unwrap_or("(none)"),
                        gomod.as_deref().unwrap_or("(none)"),
                        public.name()
                    ));
                }
            }
            Err(SumdbError::Upstream(ApiError::NotFound { .. })) => unknown += 1,
            Err(e @ (SumdbError::Upstream(_) | SumdbError::Store(_))) => {
                return Err(OwnError::Unreachable {
                    name: public.name().to_owned(),
                    reason: e.to_string(),
                });
            }
            Err(e) => report
                .problems
                .push(format!("record {id}: {}@{}: {e}", rec.module, rec.version)),
        }
    }
    report.notes.push(format!(
        "against {}: {matched} record(s) match, {unknown} unknown there (private or not \
         published), {skipped} not asked (nosum patterns)",
        public.name()
    ));
    Ok(())
}
