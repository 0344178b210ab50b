//! The checksum database's tamper-evident log: x/mod `sumdb/tlog/tlog.go` (hashes, the stored
//! hash layout, tree hashes and proofs), with tiles in [`tile`](self#tiles) (`tlog/tile.go`) and
//! tree heads, records and lookup responses in [`record`](self#tree-heads-and-records)
//! (`tlog/note.go`, `sumdb/server.go`, `sumdb/client.go`). Everything is re-exported here.
//!
//! The log is an RFC 6962 (Certificate Transparency) Merkle tree over records:
//!
//! - A record's hash is SHA-256(`0x00` || data); an interior node's is
//!   SHA-256(`0x01` || left || right); the empty tree's is SHA-256 of nothing.
//! - The tree of `n` records splits into a left subtree of the largest power of two `k < n`
//!   records and a right subtree of the rest, recursively, so only complete subtrees (of `2^l`
//!   records starting at a multiple of `2^l`) are ever stored.
//! - Stored hashes are laid out in one sequence (Crosby and Wallach, "Efficient Data Structures
//!   for Tamper-Evident Logging", section 3.3): writing record `n` appends its record hash, then
//!   the hash of every complete subtree that record finishes, lowest first. So record `n` adds
//!   `1 + (number of trailing 1 bits of n)` hashes, and the hash at level `l`, position `n` is
//!   stored right after the hash at level `l+1`, position `2n+1`'s subtree is complete.
//!   [`stored_hash_index`] and [`split_stored_hash_index`] convert between (level, n) and the
//!   position in that sequence.
//! - A record proof (RFC 6962 "audit path") lists the hashes of the subtrees beside the path from
//!   the record to the root, bottom up; a tree proof (RFC 6962 "consistency proof") shows that a
//!   tree of `n` records is a prefix of one of `t` records. Checking either recomputes the root
//!   and refuses a proof with missing or extra hashes.
//!
//! # Tiles
//!
//! A tile of height `H` at level `L` and offset `N` holds `W` consecutive stored hashes of tree
//! level `H·L`, starting at position `N·2^H`; it is complete when `W = 2^H` (sum.golang.org uses
//! `H = 8`). Level `-1` is a *data tile*: the records themselves. A tile's path is
//! `tile/H/L/NNN[.p/W]`, where `L` is `data` for data tiles, `N` is written in groups of three
//! digits, all but the last prefixed by `x` (`1234067` is `x001/x234/067`), and `.p/W` marks a
//! partial tile (`0 < W < 2^H`). Only the canonical form parses: `1 ≤ H ≤ 30`, and (a deviation
//! from Go, which accepts any level) `L ≤ 63`, as levels beyond that cannot exist.
//!
//! [`TileHashReader`] reads hashes from a [`TileReader`] and accepts them only after proving the
//! tiles against a trusted tree head: the tiles on the tree's right edge must hash to the tree
//! hash, and every other tile must hash to the entry its parent tile holds for it.
//!
//! # Tree heads and records
//!
//! - A tree head's text is `go.sum database tree\n<N>\n<base64 hash>\n`; more lines may follow
//!   and are ignored; `N` is canonical decimal; the text is at most 1,000,000 bytes.
//! - Record text is UTF-8 with no control character other than `\n`, ends in `\n` and never has
//!   two `\n` in a row (a single leading `\n` passes, as in Go). A formatted record is `<id>\n<text>\n` (the text, then a blank line); a lookup
//!   response (`/lookup/<module>@<version>`) is a formatted record followed by the signed tree
//!   head; a data tile is the formatted records without their id lines. The ids in responses are
//!   parsed as Go's `strconv.ParseInt` does (a sign and leading zeros are accepted).
//! - For the go.sum database a record's text is the two go.sum lines of one module version,
//!   `<path> <version> <h1>\n<path> <version>/go.mod <h1>\n`.
//!
//! Deviations from Go: where Go panics or loops on impossible inputs (negative sizes or indexes,
//! a tile height of 0, trees of more than 2^62 records), these functions return
//! [`TlogError::InvalidInputs`] instead; [`new_tiles`] refuses a new size below the old one.
//! A [`TileHashReader`] asked for no hashes returns none without reading tiles.

mod record;
mod tile;

pub use record::*;
pub use tile::*;

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::note::decode_go_base64;

/// The size of a [`Hash`](struct@Hash) in bytes.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 hash of a record or of a subtree; it prints as base64.
#[derive(Clone, Copy, PartialEq, Eq, std::hash::Hash, Default, PartialOrd, Ord)]
pub struct Hash(pub [u8; HASH_SIZE]);

impl Hash {
    /// Parses the base64 form of a hash (Go's `tlog.ParseHash`).
    pub fn parse(s: &str) -> Result<Hash, TlogError> {
        decode_go_base64(s)
            .and_then(|data| <[u8; HASH_SIZE]>::try_from(data).ok())
            .map(Hash)
            .ok_or_else(|| TlogError::MalformedHash { text: s.to_owned() })
    }

    /// The hash's bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl FromStr for Hash {
    type Err = TlogError;
    fn from_str(s: &str) -> Result<Hash, TlogError> {
        Hash::parse(s)
    }
}

/// The hash of the empty tree: SHA-256 of no bytes.
pub const EMPTY_TREE_HASH: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TlogError {
    /// Text that should be a base64 hash is not one (Go: "malformed hash").
    #[error("malformed hash {text:?}")]
    MalformedHash {
        /// The text.
        text: String,
    },
    /// Arguments outside the function's domain, like a record index beyond the tree (Go:
    /// "tlog: invalid inputs in ProveRecord").
    #[error("tlog: invalid inputs in {op}: {detail}")]
    InvalidInputs {
        /// The Go name of the operation.
        op: &'static str,
        /// What is out of range.
        detail: String,
    },
    /// A proof does not prove what it should (Go: "invalid transparency proof").
    #[error("invalid transparency proof")]
    ProofFailed,
    /// A [`HashReader`] returned the wrong number of hashes.
    #[error("tlog: ReadHashes({want} indexes) = {got} hashes")]
    ShortRead {
        /// How many were asked for.
        want: usize,
        /// How many came back.
        got: usize,
    },
    /// A hash asked of a [`HashReader`] over stored hashes is not stored there.
    #[error("stored hash {index} not found")]
    HashNotStored {
        /// The stored hash index.
        index: i64,
    },
    /// The error of a [`HashReader`] or [`TileReader`] implementation.
    #[error(transparent)]
    Reader(Box<dyn std::error::Error + Send + Sync>),
    /// A tree head's text is malformed (Go: "malformed tree note").
    #[error("malformed tree note: {reason}")]
    MalformedTree {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A record, lookup response or data tile is malformed (Go: "malformed record data").
    #[error("malformed record data: {reason}")]
    MalformedRecord {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A tile path is not the canonical path of a tile (Go: `malformed tile path "…"`).
    #[error("malformed tile path {path:?}")]
    MalformedTilePath {
        /// The path.
        path: String,
    },
    /// A tile's fields are out of range for the operation (Go: "invalid tile").
    #[error("invalid tile {tile}: {reason}")]
    InvalidTile {
        /// The tile (its path).
        tile: Tile,
        /// What is out of range.
        reason: &'static str,
    },
    /// Tile data is shorter than the tile's width says.
    #[error("data len {len} too short for tile {tile}")]
    TileDataTooShort {
        /// The tile.
        tile: Tile,
        /// The data's length.
        len: usize,
    },
    /// A stored hash index is not in the tile it was looked up in.
    #[error("index {index} is in {want} not {tile}")]
    IndexNotInTile {
        /// The stored hash index.
        index: i64,
        /// The tile holding it.
        want: Tile,
        /// The tile it was looked up in.
        tile: Tile,
    },
    /// A hash was asked of a [`TileHashReader`] that is not in its tree.
    #[error("index {index} not in tree of size {size}")]
    IndexNotInTree {
        /// The stored hash index.
        index: i64,
        /// The tree's size.
        size: i64,
    },
    /// A [`TileReader`] returned the wrong number or sizes of tiles.
    #[error("TileReader returned bad result slice ({detail})")]
    BadTileRead {
        /// What was wrong.
        detail: String,
    },
    /// Tiles do not hash to the trusted tree head (Go: "downloaded inconsistent tile").
    #[error("downloaded inconsistent tile")]
    InconsistentTile,
}

fn invalid(op: &'static str, detail: impl Into<String>) -> TlogError {
    TlogError::InvalidInputs {
        op,
        detail: detail.into(),
    }
}

/// Reads stored hashes by their stored hash index (Go's `tlog.HashReader`).
pub trait HashReader {
    /// Returns the hashes at `indexes`, one per index, in order, or an error. Callers ask for
    /// indexes in increasing order where they can.
    fn read_hashes(&self, indexes: &[i64]) -> Result<Vec<Hash>, TlogError>;
}

/// All stored hashes of a log, in stored order.
impl HashReader for [Hash] {
    fn read_hashes(&self, indexes: &[i64]) -> Result<Vec<Hash>, TlogError> {
        indexes
            .iter()
            .map(|&index| {
                usize::try_from(index)
                    .ok()
                    .and_then(|i| self.get(i).copied())
                    .ok_or(TlogError::HashNotStored { index })
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    fn read_hashes(&self, indexes: &[i64]) -> Result<Vec<Hash>, TlogError> {
        self.as_slice().read_hashes(indexes)
    }
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, indexes: &[i64]) -> Result<Vec<Hash>, TlogError> {
        (**self).read_hashes(indexes)
    }
}

/// A [`HashReader`] made of a function (Go's `tlog.HashReaderFunc`).
pub struct HashReaderFn<F>(pub F);

impl<F: Fn(&[i64]) -> Result<Vec<Hash>, TlogError>> HashReader for HashReaderFn<F> {
    fn read_hashes(&self, indexes: &[i64]) -> Result<Vec<Hash>, TlogError> {
        (self.0)(indexes)
    }
}

/// Reads `indexes` and checks that one hash came back for each.
fn read_exact<R: HashReader + ?Sized>(r: &R, indexes: &[i64]) -> Result<Vec<Hash>, TlogError> {
    let hashes = r.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(TlogError::ShortRead {
            want: indexes.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes)
}

/// The hash of a record with this data: SHA-256(`0x00` || data).
pub fn record_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash(h.finalize().into())
}

/// The hash of an interior node: SHA-256(`0x01` || left || right).
pub fn node_hash(left: Hash, right: Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// Where the hash of tree level `level`, position `n` is stored in the stored hash sequence.
///
/// Meaningful for `n ≥ 0` while the result fits in an `i64`; other inputs give Go's (wrapped)
/// answer and never panic.
pub fn stored_hash_index(level: u32, n: i64) -> i64 {
    // Level l's hash n follows level l+1's hash 2n+1; go down to level 0. After 64 steps every
    // bit is set, so more steps change nothing.
    let mut n = n;
    for _ in 0..level.min(64) {
        n = n.wrapping_mul(2).wrapping_add(1);
    }
    // Level 0's hash n is stored after n + n/2 + n/4 + … earlier hashes.
    let mut i = 0i64;
    while n > 0 {
        i = i.wrapping_add(n);
        n >>= 1;
    }
    i.wrapping_add(i64::from(level))
}

/// The (level, position) of the hash stored at `index`: the inverse of [`stored_hash_index`].
pub fn split_stored_hash_index(index: i64) -> Result<(u32, i64), TlogError> {
    if index < 0 {
        return Err(invalid(
            "SplitStoredHashIndex",
            format!("negative index {index}"),
        ));
    }
    // Record n's hashes start at stored_hash_index(0, n) < 2n, so the record that stored
    // `index` is at least index/2; step forward while the next record starts at or before it.
    let mut n = index / 2;
    let mut start = stored_hash_index(0, n);
    loop {
        let added = 1 + i64::from((n as u64).wrapping_add(1).trailing_zeros());
        match start.checked_add(added) {
            Some(next) if next <= index => {
                n += 1;
                start = next;
            }
            _ => break,
        }
    }
    // The hash is the (index-start)'th one record n stored: level index-start.
    let level = (index - start) as u32;
    Ok((level, n.checked_shr(level).unwrap_or(0)))
}

/// How many hashes are stored for a tree of `n` records (0 for `n ≤ 0`).
pub fn stored_hash_count(n: i64) -> i64 {
    if n <= 0 {
        return 0;
    }
    // The hashes up to record n-1's own, then one per subtree that record completes.
    stored_hash_index(0, n - 1) + 1 + i64::from(((n - 1) as u64).trailing_ones())
}

/// The hashes to store, starting at `stored_hash_index(0, n)`, when record `n` with `data` is
/// appended; reads the hashes of the subtrees it completes from `r` (Go's `StoredHashes`).
pub fn stored_hashes<R: HashReader + ?Sized>(
    n: i64,
    data: &[u8],
    r: &R,
) -> Result<Vec<Hash>, TlogError> {
    stored_hashes_for_record_hash(n, record_hash(data), r)
}

/// Like [`stored_hashes`], given the record's hash instead of its data.
pub fn stored_hashes_for_record_hash<R: HashReader + ?Sized>(
    n: i64,
    h: Hash,
    r: &R,
) -> Result<Vec<Hash>, TlogError> {
    if n < 0 {
        return Err(invalid("StoredHashes", format!("negative record {n}")));
    }
    // Each trailing 1 bit of n completes a subtree whose left sibling is already stored.
    let m = (n as u64).wrapping_add(1).trailing_zeros();
    let indexes: Vec<i64> = (0..m)
        .rev()
        .map(|i| stored_hash_index(i, (n >> i) - 1))
        .collect();
    let old = read_exact(r, &indexes)?;
    let mut hashes = Vec::with_capacity(1 + old.len());
    let mut h = h;
    hashes.push(h);
    for left in old.iter().rev() {
        h = node_hash(*left, h);
        hashes.push(h);
    }
    Ok(hashes)
}

/// The largest power of two `k < m` and its log₂, for `m ≥ 2` (and `(1, 0)` below that).
fn maxpow2(m: u64) -> (i64, u32) {
    if m <= 2 {
        return (1, 0);
    }
    let l = 63 - (m - 1).leading_zeros();
    (1i64 << l, l)
}

/// The largest power of two `k ≤ hi - lo` and its log₂: the first complete subtree of [lo, hi).
fn first_subtree(lo: i64, hi: i64) -> (i64, u32) {
    maxpow2((hi - lo) as u64 + 1)
}

/// Appends the stored indexes of the complete subtrees that make up records [lo, hi).
fn subtree_index(mut lo: i64, hi: i64, need: &mut Vec<i64>) {
    while lo < hi {
        let (k, level) = first_subtree(lo, hi);
        need.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
}

/// Hands out the hashes read for an index plan, in plan order.
struct Plan<'a> {
    hashes: &'a [Hash],
}

impl Plan<'_> {
    fn take(&mut self, count: usize) -> Result<&[Hash], TlogError> {
        if count == 0 || count > self.hashes.len() {
            // The plans below read exactly what their index lists asked for.
            return Err(TlogError::ShortRead {
                want: count,
                got: self.hashes.len(),
            });
        }
        let (now, rest) = self.hashes.split_at(count);
        self.hashes = rest;
        Ok(now)
    }
}

/// The hash of records [lo, hi) from its complete subtrees' hashes (as [`subtree_index`] lists).
fn subtree_hash(lo: i64, hi: i64, plan: &mut Plan<'_>) -> Result<Hash, TlogError> {
    let mut count = 0;
    let mut at = lo;
    while at < hi {
        at += first_subtree(at, hi).0;
        count += 1;
    }
    let parts = plan.take(count)?;
    let (last, rest) = parts.split_last().ok_or(TlogError::ProofFailed)?;
    Ok(rest.iter().rev().fold(*last, |h, left| node_hash(*left, h)))
}

/// The hash of the tree of the first `n` records, from their stored hashes (Go's `TreeHash`).
pub fn tree_hash<R: HashReader + ?Sized>(n: i64, r: &R) -> Result<Hash, TlogError> {
    if n < 0 {
        return Err(invalid("TreeHash", format!("negative tree size {n}")));
    }
    if n == 0 {
        return Ok(EMPTY_TREE_HASH);
    }
    let mut indexes = Vec::new();
    subtree_index(0, n, &mut indexes);
    let hashes = read_exact(r, &indexes)?;
    subtree_hash(0, n, &mut Plan { hashes: &hashes })
}

/// A proof that a tree contains a record: RFC 6962's audit path, bottom up.
pub type RecordProof = Vec<Hash>;

/// A proof that a tree extends an earlier one: RFC 6962's consistency proof.
pub type TreeProof = Vec<Hash>;

fn leaf_proof_index(lo: i64, hi: i64, n: i64, need: &mut Vec<i64>) {
    if lo + 1 == hi {
        return;
    }
    let (k, _) = maxpow2((hi - lo) as u64);
    if n < lo + k {
        leaf_proof_index(lo, lo + k, n, need);
        subtree_index(lo + k, hi, need);
    } else {
        subtree_index(lo, lo + k, need);
        leaf_proof_index(lo + k, hi, n, need);
    }
}

fn leaf_proof(
    lo: i64,
    hi: i64,
    n: i64,
    plan: &mut Plan<'_>,
    proof: &mut RecordProof,
) -> Result<(), TlogError> {
    if lo + 1 == hi {
        // The checker knows the record's own hash.
        return Ok(());
    }
    let (k, _) = maxpow2((hi - lo) as u64);
    let sibling = if n < lo + k {
        leaf_proof(lo, lo + k, n, plan, proof)?;
        subtree_hash(lo + k, hi, plan)?
    } else {
        let sibling = subtree_hash(lo, lo + k, plan)?;
        leaf_proof(lo + k, hi, n, plan, proof)?;
        sibling
    };
    proof.push(sibling);
    Ok(())
}

/// The proof that the tree of `t` records contains record `n` (Go's `ProveRecord`).
pub fn prove_record<R: HashReader + ?Sized>(
    t: i64,
    n: i64,
    r: &R,
) -> Result<RecordProof, TlogError> {
    if t < 0 || n < 0 || n >= t {
        return Err(invalid(
            "ProveRecord",
            format!("record {n} in tree of size {t}"),
        ));
    }
    let mut indexes = Vec::new();
    leaf_proof_index(0, t, n, &mut indexes);
    if indexes.is_empty() {
        return Ok(RecordProof::new());
    }
    let hashes = read_exact(r, &indexes)?;
    let mut proof = RecordProof::new();
    leaf_proof(0, t, n, &mut Plan { hashes: &hashes }, &mut proof)?;
    Ok(proof)
}

/// Checks that `p` proves that the tree of `t` records with hash `th` has record `n` with hash
/// `h` (Go's `CheckRecord`).
pub fn check_record(p: &[Hash], t: i64, th: Hash, n: i64, h: Hash) -> Result<(), TlogError> {
    if t < 0 || n < 0 || n >= t {
        return Err(invalid(
            "CheckRecord",
            format!("record {n} in tree of size {t}"),
        ));
    }
    if run_record_proof(p, 0, t, n, h)? == th {
        Ok(())
    } else {
        Err(TlogError::ProofFailed)
    }
}

/// The hash of records [lo, hi) implied by proof `p` that record `n` has hash `leaf`.
fn run_record_proof(p: &[Hash], lo: i64, hi: i64, n: i64, leaf: Hash) -> Result<Hash, TlogError> {
    if lo + 1 == hi {
        // Nothing may be left over.
        return if p.is_empty() {
            Ok(leaf)
        } else {
            Err(TlogError::ProofFailed)
        };
    }
    let (sibling, rest) = p.split_last().ok_or(TlogError::ProofFailed)?;
    let (k, _) = maxpow2((hi - lo) as u64);
    if n < lo + k {
        Ok(node_hash(
            run_record_proof(rest, lo, lo + k, n, leaf)?,
            *sibling,
        ))
    } else {
        Ok(node_hash(
            *sibling,
            run_record_proof(rest, lo + k, hi, n, leaf)?,
        ))
    }
}

fn tree_proof_index(lo: i64, hi: i64, n: i64, need: &mut Vec<i64>) {
    if n == hi {
        if lo != 0 {
            subtree_index(lo, hi, need);
        }
        return;
    }
    let (k, _) = maxpow2((hi - lo) as u64);
    if n <= lo + k {
        tree_proof_index(lo, lo + k, n, need);
        subtree_index(lo + k, hi, need);
    } else {
        subtree_index(lo, lo + k, need);
        tree_proof_index(lo + k, hi, n, need);
    }
}

fn tree_proof(
    lo: i64,
    hi: i64,
    n: i64,
    plan: &mut Plan<'_>,
    proof: &mut TreeProof,
) -> Result<(), TlogError> {
    if n == hi {
        // The old tree's own hash is known to the checker; other common subtrees are sent.
        if lo != 0 {
            proof.push(subtree_hash(lo, hi, plan)?);
        }
        return Ok(());
    }
    let (k, _) = maxpow2((hi - lo) as u64);
    let sibling = if n <= lo + k {
        tree_proof(lo, lo + k, n, plan, proof)?;
        subtree_hash(lo + k, hi, plan)?
    } else {
        let sibling = subtree_hash(lo, lo + k, plan)?;
        tree_proof(lo + k, hi, n, plan, proof)?;
        sibling
    };
    proof.push(sibling);
    Ok(())
}

/// The proof that the tree of `t` records contains the tree of its first `n` records (Go's
/// `ProveTree`).
pub fn prove_tree<R: HashReader + ?Sized>(t: i64, n: i64, r: &R) -> Result<TreeProof, TlogError> {
    if t < 1 || n < 1 || n > t {
        return Err(invalid(
            "ProveTree",
            format!("tree of size {n} in tree of size {t}"),
        ));
    }
    let mut indexes = Vec::new();
    tree_proof_index(0, t, n, &mut indexes);
    if indexes.is_empty() {
        return Ok(TreeProof::new());
    }
    let hashes = read_exact(r, &indexes)?;
    let mut proof = TreeProof::new();
    tree_proof(0, t, n, &mut Plan { hashes: &hashes }, &mut proof)?;
    Ok(proof)
}

/// Checks that `p` proves that the tree of `t` records with hash `th` extends the tree of `n`
/// records with hash `h` (Go's `CheckTree`).
pub fn check_tree(p: &[Hash], t: i64, th: Hash, n: i64, h: Hash) -> Result<(), TlogError> {
    if t < 1 || n < 1 || n > t {
        return Err(invalid(
            "CheckTree",
            format!("tree of size {n} in tree of size {t}"),
        ));
    }
    let (old, new) = run_tree_proof(p, 0, t, n, h)?;
    if new == th && old == h {
        Ok(())
    } else {
        Err(TlogError::ProofFailed)
    }
}

/// The hashes of records [lo, hi) in the old tree (of `n` records, hash `old`) and in the new
/// one, as implied by proof `p`.
fn run_tree_proof(
    p: &[Hash],
    lo: i64,
    hi: i64,
    n: i64,
    old: Hash,
) -> Result<(Hash, Hash), TlogError> {
    if n == hi {
        return match (lo, p) {
            (0, []) => Ok((old, old)),
            (0, _) => Err(TlogError::ProofFailed),
            (_, [common]) => Ok((*common, *common)),
            _ => Err(TlogError::ProofFailed),
        };
    }
    let (sibling, rest) = p.split_last().ok_or(TlogError::ProofFailed)?;
    let (k, _) = maxpow2((hi - lo) as u64);
    if n <= lo + k {
        let (oh, th) = run_tree_proof(rest, lo, lo + k, n, old)?;
        Ok((oh, node_hash(th, *sibling)))
    } else {
        let (oh, th) = run_tree_proof(rest, lo + k, hi, n, old)?;
        Ok((node_hash(*sibling, oh), node_hash(*sibling, th)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The stored hashes of a log of `n` records whose data is `record i`.
    pub(crate) fn build_log(n: i64) -> Vec<Hash> {
        let mut stored = Vec::new();
        for i in 0..n {
            let new = stored_hashes(i, format!("record {i}").as_bytes(), &stored).unwrap();
            assert_eq!(stored.len() as i64, stored_hash_index(0, i));
            stored.extend(new);
        }
        stored
    }

    /// The tree hash by the RFC 6962 recursion over record hashes, with no stored layout.
    fn naive_tree_hash(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => EMPTY_TREE_HASH,
            1 => leaves[0],
            n => {
                let k = maxpow2(n as u64).0 as usize;
                node_hash(naive_tree_hash(&leaves[..k]), naive_tree_hash(&leaves[k..]))
            }
        }
    }

    #[test]
    fn record_and_node_hashes_prefix_their_input() {
        assert_eq!(
            record_hash(b"").to_string(),
            "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
        );
        let mut both = vec![1u8];
        both.extend_from_slice(&[0xaa; 32]);
        both.extend_from_slice(&[0xbb; 32]);
        assert_eq!(
            node_hash(Hash([0xaa; 32]), Hash([0xbb; 32])).0,
            <[u8; 32]>::from(Sha256::digest(&both))
        );
        assert_eq!(EMPTY_TREE_HASH.0, <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn hash_parse_requires_32_bytes_of_padded_base64() {
        let h = record_hash(b"x");
        assert_eq!(Hash::parse(&h.to_string()).unwrap(), h);
        assert_eq!(h.to_string().parse::<Hash>().unwrap(), h);
        for bad in ["", "AAAA", &h.to_string()[..43], "!!!!"] {
            assert!(matches!(
                Hash::parse(bad),
                Err(TlogError::MalformedHash { .. })
            ));
        }
    }

    #[test]
    fn stored_hash_index_orders_levels_after_their_subtrees() {
        // (level, n) → index for the first records: 0:(0,0) 1:(0,1) 2:(1,0) 3:(0,2) 4:(0,3)
        // 5:(1,1) 6:(2,0) 7:(0,4).
        const CASES: &[(u32, i64, i64)] = &[
            (0, 0, 0),
            (0, 1, 1),
            (1, 0, 2),
            (0, 2, 3),
            (0, 3, 4),
            (1, 1, 5),
            (2, 0, 6),
            (0, 4, 7),
            (3, 0, 14),
        ];
        for &(level, n, index) in CASES {
            assert_eq!(stored_hash_index(level, n), index, "({level}, {n})");
            assert_eq!(split_stored_hash_index(index).unwrap(), (level, n));
        }
        assert!(split_stored_hash_index(-1).is_err());
    }

    #[test]
    fn stored_hash_count_counts_completed_subtrees() {
        const CASES: &[(i64, i64)] = &[(0, 0), (-5, 0), (1, 1), (2, 3), (3, 4), (4, 7), (8, 15)];
        for &(n, want) in CASES {
            assert_eq!(stored_hash_count(n), want, "{n}");
        }
        for n in 1..200 {
            assert_eq!(stored_hash_count(n), build_log(n).len() as i64);
        }
    }

    #[test]
    fn tree_hash_matches_the_rfc6962_recursion() {
        let stored = build_log(70);
        let leaves: Vec<Hash> = (0..70)
            .map(|i| record_hash(format!("record {i}").as_bytes()))
            .collect();
        for n in 0..=70 {
            assert_eq!(
                tree_hash(n, &stored).unwrap(),
                naive_tree_hash(&leaves[..n as usize]),
                "{n}"
            );
        }
        assert!(tree_hash(-1, &stored).is_err());
        assert!(matches!(
            tree_hash(71, &stored),
            Err(TlogError::HashNotStored { .. })
        ));
    }

    #[test]
    fn proofs_check_and_refuse_tampering() {
        let stored = build_log(40);
        for t in 1..=40 {
            let th = tree_hash(t, &stored).unwrap();
            for n in 0..t {
                let h = record_hash(format!("record {n}").as_bytes());
                let p = prove_record(t, n, &stored).unwrap();
                check_record(&p, t, th, n, h).unwrap();
                assert!(check_record(&p, t, th, n, record_hash(b"other")).is_err());
                if let Some((_, shorter)) = p.split_last() {
                    assert!(check_record(shorter, t, th, n, h).is_err());
                }
                let mut longer = p.clone();
                longer.push(h);
                assert!(check_record(&longer, t, th, n, h).is_err());
            }
            for n in 1..=t {
                let h = tree_hash(n, &stored).unwrap();
                let p = prove_tree(t, n, &stored).unwrap();
                check_tree(&p, t, th, n, h).unwrap();
                assert!(check_tree(&p, t, th, n, record_hash(b"other")).is_err());
                for i in 0..p.len() {
                    let mut bad = p.clone();
                    bad[i].0[0] ^= 1;
                    assert!(check_tree(&bad, t, th, n, h).is_err());
                }
            }
        }
    }

    #[test]
    fn proofs_refuse_out_of_range_inputs() {
        let stored = build_log(4);
        const BAD_RECORD: &[(i64, i64)] = &[(0, 0), (4, 4), (4, -1), (-1, 0)];
        for &(t, n) in BAD_RECORD {
            assert!(matches!(
                prove_record(t, n, &stored),
                Err(TlogError::InvalidInputs { .. })
            ));
            assert!(check_record(&[], t, Hash::default(), n, Hash::default()).is_err());
        }
        const BAD_TREE: &[(i64, i64)] = &[(0, 0), (4, 0), (4, 5), (-1, 1)];
        for &(t, n) in BAD_TREE {
            assert!(matches!(
                prove_tree(t, n, &stored),
                Err(TlogError::InvalidInputs { .. })
            ));
            assert!(check_tree(&[], t, Hash::default(), n, Hash::default()).is_err());
        }
    }

    #[test]
    fn readers_returning_too_few_hashes_are_reported() {
        let short = HashReaderFn(|_: &[i64]| Ok(vec![]));
        assert!(matches!(
            tree_hash(3, &short),
            Err(TlogError::ShortRead { want: 2, got: 0 })
        ));
        assert!(matches!(
            stored_hashes(1, b"x", &short),
            Err(TlogError::ShortRead { .. })
        ));
    }

    proptest! {
        #[test]
        fn split_stored_hash_index_inverts_stored_hash_index(level in 0u32..40, n in 0i64..(1 << 20)) {
            let index = stored_hash_index(level, n);
            prop_assert_eq!(split_stored_hash_index(index).unwrap(), (level, n));
        }

        #[test]
        fn index_math_never_panics(level in any::<u32>(), n in any::<i64>()) {
            let i = stored_hash_index(level, n);
            let _ = split_stored_hash_index(i);
            let _ = split_stored_hash_index(n);
            let _ = stored_hash_count(n);
        }

        #[test]
        fn checks_never_panic_on_garbage(
            t in -2i64..1000, n in -2i64..1000, len in 0usize..30, seed in any::<u8>(),
        ) {
            let p: Vec<Hash> = (0..len).map(|i| Hash([seed.wrapping_add(i as u8); 32])).collect();
            let _ = check_record(&p, t, Hash::default(), n, Hash::default());
            let _ = check_tree(&p, t, Hash::default(), n, Hash::default());
        }
    }
}
