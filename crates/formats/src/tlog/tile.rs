//! Tiles of the log: x/mod `sumdb/tlog/tile.go` (`Tile`, `Tile.Path`, `ParseTilePath`,
//! `TileForIndex`, `HashFromTile`, `NewTiles`, `ReadTileData`, `TileReader`, `TileHashReader`).
//! The rules are stated in the [`tlog`](super#tiles) module documentation.

use std::collections::HashMap;
use std::fmt;

use super::{
    HASH_SIZE, Hash, HashReader, TlogError, Tree, invalid, node_hash, read_exact,
    split_stored_hash_index, stored_hash_index, subtree_index,
};

/// The tile height sum.golang.org and the go command use.
pub const SUMDB_TILE_HEIGHT: u8 = 8;

/// The greatest tile height.
pub const MAX_TILE_HEIGHT: u8 = 30;

/// The greatest tile level; higher levels cannot exist in a tree of at most 2^63 records.
pub const MAX_TILE_LEVEL: i8 = 63;

/// The level of data tiles, which hold records rather than hashes.
pub const DATA_LEVEL: i8 = -1;

/// A tile: `w` consecutive stored hashes of tree level `h·l`, starting at position `n·2^h`
/// (Go's `tlog.Tile`). Level [`DATA_LEVEL`] holds the records themselves.
///
/// The fields are not checked on construction; functions that need them in range say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, std::hash::Hash, PartialOrd, Ord)]
pub struct Tile {
    /// Height: the tile covers `h` tree levels (1 to 30; 8 for sum.golang.org).
    pub h: u8,
    /// Level in the tiling (0 to 63), or [`DATA_LEVEL`].
    pub l: i8,
    /// Number within the level (≥ 0).
    pub n: i64,
    /// Width: how many hashes it holds (1 to `2^h`; `2^h` is a complete tile).
    pub w: i32,
}

/// `2^h` as Go computes it for an `int` (0 once the shift reaches 64 bits).
fn full_width(h: u8) -> i64 {
    1i64.checked_shl(u32::from(h)).unwrap_or(0)
}

/// `x >> s` for non-negative `x`, where shifting by 64 or more gives 0.
fn shr(x: i64, s: u32) -> i64 {
    x.checked_shr(s).unwrap_or(0)
}

impl Tile {
    /// The tile's path, `tile/H/L/NNN[.p/W]` (Go's `Tile.Path`); see the module documentation.
    pub fn path(&self) -> String {
        let mut n = self.n;
        let mut digits = format!("{:03}", n % 1000);
        while n >= 1000 {
            n /= 1000;
            digits = format!("x{:03}/{digits}", n % 1000);
        }
        let level = if self.l == DATA_LEVEL {
            "data".to_owned()
        } else {
            self.l.to_string()
        };
        let partial = if i64::from(self.w) != full_width(self.h) {
            format!(".p/{}", self.w)
        } else {
            String::new()
        };
        format!("tile/{}/{level}/{digits}{partial}", self.h)
    }

    /// Parses a tile path; only the canonical path of a tile with height 1 to 30 and level
    /// `data` or 0 to 63 is accepted (Go's `ParseTilePath`).
    pub fn parse_path(path: &str) -> Result<Tile, TlogError> {
        parse_tile_path(path)
    }

    /// Whether this is a data tile (level [`DATA_LEVEL`]).
    pub fn is_data(&self) -> bool {
        self.l == DATA_LEVEL
    }

    /// Whether the tile holds all `2^h` entries.
    pub fn is_complete(&self) -> bool {
        i64::from(self.w) == full_width(self.h)
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// The tile's path (Go's `Tile.Path`).
pub fn tile_path(tile: &Tile) -> String {
    tile.path()
}

/// A decimal number written with digits only.
fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a tile path (Go's `ParseTilePath`): `tile/H/L/NNN[.p/W]`, canonical form only.
pub fn parse_tile_path(path: &str) -> Result<Tile, TlogError> {
    let bad = || TlogError::MalformedTilePath {
        path: path.to_owned(),
    };
    let mut f: Vec<&str> = path.split('/').collect();
    if f.len() < 4 || f[0] != "tile" {
        return Err(bad());
    }
    let h = digits(f[1])
        .filter(|h| (1..=i64::from(MAX_TILE_HEIGHT)).contains(h))
        .ok_or_else(bad)? as u8;
    let l = if f[2] == "data" {
        DATA_LEVEL
    } else {
        digits(f[2])
            .filter(|l| *l <= i64::from(MAX_TILE_LEVEL))
            .ok_or_else(bad)? as i8
    };
    let mut w = full_width(h);
    let last = f.len() - 1;
    if let Some(stem) = f[last - 1].strip_suffix(".p") {
        w = digits(f[last])
            .filter(|ww| *ww > 0 && *ww < w)
            .ok_or_else(bad)?;
        f[last - 1] = stem;
        f.pop();
    }
    let mut n = 0i64;
    for elem in &f[3..] {
        let part = digits(elem.strip_prefix('x').unwrap_or(elem))
            .filter(|p| *p < 1000)
            .ok_or_else(bad)?;
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(part))
            .ok_or_else(bad)?;
    }
    let tile = Tile {
        h,
        l,
        n,
        w: w as i32,
    };
    // Only the canonical spelling: no leading zeros beyond three digits, `x` exactly on the
    // leading groups, no `.p/W` on a complete tile.
    if tile.path() != path {
        return Err(bad());
    }
    Ok(tile)
}

fn check_height(op: &'static str, h: u8) -> Result<u32, TlogError> {
    if (1..=MAX_TILE_HEIGHT).contains(&h) {
        Ok(u32::from(h))
    } else {
        Err(invalid(op, format!("tile height {h} not in 1..=30")))
    }
}

/// The tile of height `h` and least width that holds stored hash `index`, and the byte range
/// in that tile's data whose [`tile_hash`] is the hash at `index`.
fn locate(h: u8, index: i64) -> Result<(Tile, usize, usize), TlogError> {
    let hh = u32::from(h);
    let (level, n) = split_stored_hash_index(index)?;
    let tile_level = level / hh;
    let within = level - tile_level * hh; // the hash's level inside the tile
    let tile_n = shr(n << within, hh);
    let pos = n - shr(tile_n << hh, within); // the hash's position inside the tile, at its level
    let tile = Tile {
        h,
        l: tile_level as i8,
        n: tile_n,
        w: ((pos + 1) << within) as i32,
    };
    let start = (pos << within) as usize * HASH_SIZE;
    let end = ((pos + 1) << within) as usize * HASH_SIZE;
    Ok((tile, start, end))
}

/// The tile of height `h` (1 to 30) and least width that stores hash `index` (Go's
/// `TileForIndex`).
pub fn tile_for_index(h: u8, index: i64) -> Result<Tile, TlogError> {
    check_height("TileForIndex", h)?;
    Ok(locate(h, index)?.0)
}

/// The hash of the subtree whose lowest level is the `2^k` hashes in `data`.
fn tile_hash(data: &[u8]) -> Hash {
    let count = data.len() / HASH_SIZE;
    if count <= 1 {
        let mut h = Hash::default();
        let m = data.len().min(HASH_SIZE);
        h.0[..m].copy_from_slice(&data[..m]);
        return h;
    }
    let (left, right) = data.split_at(count / 2 * HASH_SIZE);
    node_hash(tile_hash(left), tile_hash(right))
}

/// The hash stored at `index`, computed from the data of tile `t`, which must be the tile
/// [`tile_for_index`] names or a wider one at the same place (Go's `HashFromTile`).
pub fn hash_from_tile(t: &Tile, data: &[u8], index: i64) -> Result<Hash, TlogError> {
    let bad = |reason| TlogError::InvalidTile { tile: *t, reason };
    if !(1..=MAX_TILE_HEIGHT).contains(&t.h) {
        return Err(bad("height not in 1..=30"));
    }
    if !(0..=MAX_TILE_LEVEL).contains(&t.l) {
        return Err(bad("not a hash tile level"));
    }
    if t.w < 1 || i64::from(t.w) > full_width(t.h) {
        return Err(bad("width not in 1..=2^height"));
    }
    if data.len() < t.w as usize * HASH_SIZE {
        return Err(TlogError::TileDataTooShort {
            tile: *t,
            len: data.len(),
        });
    }
    let (want, start, end) = locate(t.h, index)?;
    if t.l != want.l || t.n != want.n || t.w < want.w {
        return Err(TlogError::IndexNotInTile {
            index,
            want,
            tile: *t,
        });
    }
    Ok(tile_hash(&data[start..end]))
}

/// The tiles of height `h` to publish when the tree grows from `old_size` to `new_size` records:
/// every tile that is new or wider, complete tiles first within each level, levels bottom up
/// (Go's `NewTiles`).
pub fn new_tiles(h: u8, old_size: i64, new_size: i64) -> Result<Vec<Tile>, TlogError> {
    let hh = check_height("NewTiles", h)?;
    if old_size < 0 || new_size < old_size {
        return Err(invalid(
            "NewTiles",
            format!("tree sizes {old_size} to {new_size}"),
        ));
    }
    let mut tiles = Vec::new();
    for level in 0u32.. {
        let new_n = shr(new_size, hh * level);
        if new_n == 0 {
            break;
        }
        let old_n = shr(old_size, hh * level);
        if old_n == new_n {
            continue;
        }
        for n in (old_n >> hh)..(new_n >> hh) {
            tiles.push(Tile {
                h,
                l: level as i8,
                n,
                w: 1 << hh,
            });
        }
        let n = new_n >> hh;
        let w = new_n - (n << hh);
        if w > 0 {
            tiles.push(Tile {
                h,
                l: level as i8,
                n,
                w: w as i32,
            });
        }
    }
    Ok(tiles)
}

/// The data of hash tile `t`: its hashes, read from `r`, concatenated (Go's `ReadTileData`).
/// A width of 0 means a complete tile.
pub fn read_tile_data<R: HashReader + ?Sized>(t: &Tile, r: &R) -> Result<Vec<u8>, TlogError> {
    let bad = |reason| TlogError::InvalidTile { tile: *t, reason };
    let hh = check_height("ReadTileData", t.h)?;
    if !(0..=MAX_TILE_LEVEL).contains(&t.l) {
        return Err(bad("not a hash tile level"));
    }
    let full = full_width(t.h);
    let width = if t.w == 0 { full } else { i64::from(t.w) };
    if width < 1 || width > full {
        return Err(bad("width not in 1..=2^height"));
    }
    let start =
        t.n.checked_shl(hh)
            .filter(|s| t.n >= 0 && s >> hh == t.n)
            .ok_or(bad("number out of range"))?;
    let level = hh * t.l as u32;
    let indexes: Vec<i64> = (0..width)
        .map(|i| stored_hash_index(level, start + i))
        .collect();
    let hashes = read_exact(r, &indexes)?;
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// Reads tiles of a log, typically from a cache or a tile server (Go's `tlog.TileReader`).
pub trait TileReader {
    /// The height of the tiles it reads.
    fn height(&self) -> u8;

    /// The data of each tile, in order; each must be exactly `w · 32` bytes. The data is not
    /// trusted until [`TileReader::save_tiles`] is called with it.
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TlogError>;

    /// Called with tiles from [`TileReader::read_tiles`] once they have been proven against the
    /// tree head, so they may be kept (for example written to a persistent cache).
    fn save_tiles(&self, tiles: &[Tile], data: &[Vec<u8>]) {
        let _ = (tiles, data);
    }
}

impl<R: TileReader + ?Sized> TileReader for &R {
    fn height(&self) -> u8 {
        (**self).height()
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TlogError> {
        (**self).read_tiles(tiles)
    }
    fn save_tiles(&self, tiles: &[Tile], data: &[Vec<u8>]) {
        (**self).save_tiles(tiles, data)
    }
}

/// A [`HashReader`] that reads hashes from the tiles of a trusted tree, proving every tile it
/// uses against the tree head before returning anything (Go's `TileHashReader`).
pub struct TileHashReader<R> {
    tree: Tree,
    reader: R,
}

impl<R: TileReader> TileHashReader<R> {
    /// Reads hashes of `tree` through `reader`.
    pub fn new(tree: Tree, reader: R) -> Self {
        TileHashReader { tree, reader }
    }
}

/// The `k`'th ancestor of tile `t` in the tiles of a tree of `size` records, narrowed to the
/// tree's edge; `None` if the tree has nothing there.
fn tile_parent(t: Tile, k: u32, size: i64) -> Option<Tile> {
    let hh = u32::from(t.h);
    let l = i64::from(t.l) + i64::from(k);
    if l > i64::from(MAX_TILE_LEVEL) {
        return None;
    }
    let mut p = Tile {
        h: t.h,
        l: l as i8,
        n: shr(t.n, k * hh),
        w: 1 << hh,
    };
    let max = shr(size, l as u32 * hh);
    let first = p.n.checked_shl(hh)?;
    if first + i64::from(p.w) >= max {
        if first >= max {
            return None;
        }
        p.w = (max - first) as i32;
    }
    Some(p)
}

fn bad_math(detail: String) -> TlogError {
    TlogError::BadTileRead { detail }
}

impl<R: TileReader> HashReader for TileHashReader<R> {
    fn read_hashes(&self, indexes: &[i64]) -> Result<Vec<Hash>, TlogError> {
        if indexes.is_empty() {
            return Ok(Vec::new());
        }
        let h = self.reader.height();
        check_height("TileHashReader", h)?;
        let size = self.tree.n;
        if size <= 0 {
            return Err(TlogError::IndexNotInTree {
                index: indexes[0],
                size,
            });
        }

        let mut order: HashMap<Tile, usize> = HashMap::new();
        let mut tiles: Vec<Tile> = Vec::new();

        // First the tiles on the tree's right edge: they must hash to the tree head.
        let mut edge = Vec::new();
        subtree_index(0, size, &mut edge);
        let mut edge_tile = Vec::with_capacity(edge.len());
        for &x in &edge {
            let tile = tile_parent(locate(h, x)?.0, 0, size)
                .ok_or_else(|| bad_math(format!("no tile for tree hash {x}")))?;
            let j = *order.entry(tile).or_insert_with(|| {
                tiles.push(tile);
                tiles.len() - 1
            });
            edge_tile.push(j);
        }

        let edge_count = tiles.len();

        // Then each index's tile, after any ancestors not yet planned (a parent is proven
        // before its children).
        let end = stored_hash_index(0, size);
        let mut index_tile = Vec::with_capacity(indexes.len());
        for &x in indexes {
            if x < 0 || x >= end {
                return Err(TlogError::IndexNotInTree { index: x, size });
            }
            let tile = locate(h, x)?.0;
            let mut k = 0u32;
            let found = loop {
                if k > 64 {
                    return Err(bad_math(format!("no planned ancestor for index {x}")));
                }
                if let Some(j) = tile_parent(tile, k, size).and_then(|p| order.get(&p)) {
                    break *j;
                }
                k += 1;
            };
            if k == 0 {
                index_tile.push(found);
                continue;
            }
            for kk in (0..k).rev() {
                let p = tile_parent(tile, kk, size)
                    .ok_or_else(|| bad_math(format!("lost tile for index {x}")))?;
                if !p.is_complete() {
                    // A tile with a parent tile is complete.
                    return Err(bad_math(format!("partial tile {p} has a parent")));
                }
                order.insert(p, tiles.len());
                tiles.push(p);
            }
            index_tile.push(tiles.len() - 1);
        }

        let data = self.reader.read_tiles(&tiles)?;
        if data.len() != tiles.len() {
            return Err(TlogError::BadTileRead {
                detail: format!("len={}, want {}", data.len(), tiles.len()),
            });
        }
        for (tile, d) in tiles.iter().zip(&data) {
            if d.len() != tile.w as usize * HASH_SIZE {
                return Err(TlogError::BadTileRead {
                    detail: format!(
                        "{tile} len={}, want {}",
                        d.len(),
                        tile.w as usize * HASH_SIZE
                    ),
                });
            }
        }

        // The edge tiles must give the tree hash.
        let mut th: Option<Hash> = None;
        for (&x, &j) in edge.iter().zip(&edge_tile).rev() {
            let hx = hash_from_tile(&tiles[j], &data[j], x)?;
            th = Some(match th {
                None => hx,
                Some(right) => node_hash(hx, right),
            });
        }
        if th != Some(self.tree.hash) {
            return Err(TlogError::InconsistentTile);
        }

        // Every later tile must hash to its parent's entry for it.
        for i in edge_count..tiles.len() {
            let tile = tiles[i];
            let parent = tile_parent(tile, 1, size)
                .ok_or_else(|| bad_math(format!("lost parent of {tile}")))?;
            let &j = order
                .get(&parent)
                .ok_or_else(|| bad_math(format!("lost parent of {tile}")))?;
            let want = hash_from_tile(
                &parent,
                &data[j],
                stored_hash_index(u32::from(parent.h) * parent.l as u32, tile.n),
            )?;
            if want != tile_hash(&data[i]) {
                return Err(TlogError::InconsistentTile);
            }
        }

        self.reader.save_tiles(&tiles, &data);

        indexes
            .iter()
            .zip(&index_tile)
            .map(|(&x, &j)| hash_from_tile(&tiles[j], &data[j], x))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::build_log;
    use super::super::tree_hash;
    use super::*;
    use proptest::prelude::*;
    use std::cell::RefCell;

    #[test]
    fn tile_path_groups_digits_and_marks_partial_tiles() {
        const CASES: &[(Tile, &str)] = &[
            (
                Tile {
                    h: 8,
                    l: 0,
                    n: 0,
                    w: 256,
                },
                "tile/8/0/000",
            ),
            (
                Tile {
                    h: 8,
                    l: 0,
                    n: 1,
                    w: 10,
                },
                "tile/8/0/001.p/10",
            ),
            (
                Tile {
                    h: 8,
                    l: 1,
                    n: 1234,
                    w: 256,
                },
                "tile/8/1/x001/234",
            ),
            (
                Tile {
                    h: 3,
                    l: 4,
                    n: 1234067,
                    w: 1,
                },
                "tile/3/4/x001/x234/067.p/1",
            ),
            (
                Tile {
                    h: 8,
                    l: -1,
                    n: 2,
                    w: 88,
                },
                "tile/8/data/002.p/88",
            ),
            (
                Tile {
                    h: 30,
                    l: 63,
                    n: 1000,
                    w: 1 << 30,
                },
                "tile/30/63/x001/000",
            ),
        ];
        for &(tile, path) in CASES {
            assert_eq!(tile.path(), path);
            assert_eq!(parse_tile_path(path).unwrap(), tile, "{path}");
        }
    }

    #[test]
    fn parse_tile_path_accepts_only_canonical_paths() {
        const BAD: &[&str] = &[
            "",
            "tile",
            "tile/8/0",
            "tiles/8/0/000",
            "/tile/8/0/000",
            "tile/8/0/000/",
            "tile/0/0/000",
            "tile/31/0/000",
            "tile/08/0/000",
            "tile/+8/0/000",
            "tile/8/-1/000",
            "tile/8/64/000",
            "tile/8/00/000",
            "tile/8/0/0",
            "tile/8/0/0000",
            "tile/8/0/1000",
            "tile/8/0/x000/001",
            "tile/8/0/001/234",
            "tile/8/0/x001/x234",
            "tile/8/0/-01",
            "tile/8/0/000.p/0",
            "tile/8/0/000.p/256",
            "tile/8/0/000.p/010",
            "tile/8/0/000.p/",
            "tile/8/0/000.p",
            "tile/8/0.p/5",
            "tile/8/data.p/5",
            "tile/8/DATA/000",
            "tile/8/0/x9223372/x036/x854/x775/x807/x000/000",
        ];
        for path in BAD {
            assert!(
                matches!(
                    parse_tile_path(path),
                    Err(TlogError::MalformedTilePath { .. })
                ),
                "{path:?} parsed"
            );
        }
    }

    #[test]
    fn tile_for_index_finds_the_narrowest_tile() {
        // Height 2: records 0..4 fill tile 0/000; the level-2 hash over them lives in 1/000.p/1.
        const CASES: &[(i64, &str)] = &[
            (0, "tile/2/0/000.p/1"),
            (1, "tile/2/0/000.p/2"),
            (2, "tile/2/0/000.p/2"),
            (4, "tile/2/0/000"),
            (6, "tile/2/1/000.p/1"),
            (7, "tile/2/0/001.p/1"),
        ];
        for &(index, path) in CASES {
            assert_eq!(tile_for_index(2, index).unwrap().path(), path, "{index}");
        }
        assert!(tile_for_index(0, 0).is_err());
        assert!(tile_for_index(31, 0).is_err());
        assert!(tile_for_index(8, -1).is_err());
    }

    #[test]
    fn new_tiles_lists_new_and_grown_tiles() {
        let paths = |old, new| -> Vec<String> {
            new_tiles(8, old, new)
                .unwrap()
                .iter()
                .map(Tile::path)
                .collect()
        };
        assert!(paths(0, 0).is_empty());
        assert_eq!(paths(0, 1), ["tile/8/0/000.p/1"]);
        assert_eq!(
            paths(0, 600),
            [
                "tile/8/0/000",
                "tile/8/0/001",
                "tile/8/0/002.p/88",
                "tile/8/1/000.p/2"
            ]
        );
        assert_eq!(paths(600, 601), ["tile/8/0/002.p/89"]);
        assert_eq!(paths(600, 600), Vec::<String>::new());
        assert!(new_tiles(0, 0, 1).is_err());
        assert!(new_tiles(8, 5, 4).is_err());
        assert!(new_tiles(8, -1, 4).is_err());
    }

    #[test]
    fn hash_from_tile_checks_the_tile() {
        let stored = build_log(20);
        let tile = Tile {
            h: 2,
            l: 0,
            n: 1,
            w: 4,
        };
        let data = read_tile_data(&tile, &stored).unwrap();
        let index = stored_hash_index(0, 5);
        assert_eq!(
            hash_from_tile(&tile, &data, index).unwrap(),
            stored[index as usize]
        );
        // The level-1 hash over records 4 and 5 comes from the same data.
        let index = stored_hash_index(1, 2);
        assert_eq!(
            hash_from_tile(&tile, &data, index).unwrap(),
            stored[index as usize]
        );
        assert!(matches!(
            hash_from_tile(&tile, &data[..100], index),
            Err(TlogError::TileDataTooShort { .. })
        ));
        assert!(matches!(
            hash_from_tile(&tile, &data, stored_hash_index(0, 0)),
            Err(TlogError::IndexNotInTile { .. })
        ));
        for bad in [
            Tile { h: 0, ..tile },
            Tile { l: -1, ..tile },
            Tile { w: 0, ..tile },
            Tile { w: 5, ..tile },
        ] {
            assert!(matches!(
                hash_from_tile(&bad, &data, index),
                Err(TlogError::InvalidTile { .. })
            ));
        }
    }

    /// Serves the tiles of a log from its stored hashes, optionally corrupting one.
    struct MemTiles {
        h: u8,
        stored: Vec<Hash>,
        corrupt: Option<Tile>,
        saved: RefCell<Vec<Tile>>,
    }

    impl TileReader for MemTiles {
        fn height(&self) -> u8 {
            self.h
        }
        fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TlogError> {
            tiles
                .iter()
                .map(|t| {
                    let mut d = read_tile_data(t, &self.stored)?;
                    if Some(*t) == self.corrupt {
                        d[0] ^= 1;
                    }
                    Ok(d)
                })
                .collect()
        }
        fn save_tiles(&self, tiles: &[Tile], _: &[Vec<u8>]) {
            self.saved.borrow_mut().extend_from_slice(tiles);
        }
    }

    #[test]
    fn tile_hash_reader_proves_tiles_against_the_tree() {
        let stored = build_log(100);
        for h in [1u8, 2, 3, 8] {
            for size in [1i64, 2, 7, 16, 17, 64, 99, 100] {
                let tree = Tree {
                    n: size,
                    hash: tree_hash(size, &stored).unwrap(),
                };
                let tiles = MemTiles {
                    h,
                    stored: stored.clone(),
                    corrupt: None,
                    saved: RefCell::new(Vec::new()),
                };
                let reader = TileHashReader::new(tree, &tiles);
                let all: Vec<i64> = (0..stored_hash_index(0, size)).collect();
                let got = reader.read_hashes(&all).unwrap();
                assert_eq!(got, stored[..all.len()], "h={h} size={size}");
                for n in 0..=size {
                    assert_eq!(
                        tree_hash(n, &reader).unwrap(),
                        tree_hash(n, &stored).unwrap()
                    );
                }
                assert!(!tiles.saved.borrow().is_empty());
                assert!(matches!(
                    reader.read_hashes(&[stored_hash_index(0, size)]),
                    Err(TlogError::IndexNotInTree { .. })
                ));
            }
        }
    }

    #[test]
    fn tile_hash_reader_refuses_a_corrupt_tile() {
        let stored = build_log(100);
        let tree = Tree {
            n: 100,
            hash: tree_hash(100, &stored).unwrap(),
        };
        for corrupt in new_tiles(2, 0, 100).unwrap() {
            let tiles = MemTiles {
                h: 2,
                stored: stored.clone(),
                corrupt: Some(corrupt),
                saved: RefCell::new(Vec::new()),
            };
            let reader = TileHashReader::new(tree, &tiles);
            // Read every record hash: every tile is used, so the corrupt one must be caught.
            let all: Vec<i64> = (0..100).map(|n| stored_hash_index(0, n)).collect();
            assert!(
                matches!(reader.read_hashes(&all), Err(TlogError::InconsistentTile)),
                "{corrupt}"
            );
            assert!(tiles.saved.borrow().is_empty());
        }
    }

    proptest! {
        #[test]
        fn tile_paths_round_trip(h in 1u8..=30, l in -1i8..=63, n in 0i64..i64::MAX, w in 1i64..=(1 << 30)) {
            let w = w.min(1 << h) as i32;
            let tile = Tile { h, l, n, w };
            prop_assert_eq!(parse_tile_path(&tile.path()).unwrap(), tile);
        }

        #[test]
        fn parse_tile_path_never_panics(s in "(tile/)?[0-9x./a-z+-]{0,40}") {
            if let Ok(t) = parse_tile_path(&s) {
                prop_assert_eq!(t.path(), s);
            }
        }

        #[test]
        fn tile_functions_never_panic(h in any::<u8>(), l in any::<i8>(), n in any::<i64>(), w in any::<i32>(), index in any::<i64>()) {
            let t = Tile { h, l, n, w };
            let _ = t.path();
            let _ = hash_from_tile(&t, &[0; 64], index);
            let _ = tile_for_index(h, index);
            let _ = new_tiles(h, n, n.saturating_add(index & 0xffff));
            if h <= 12 {
                let _ = read_tile_data(&t, &Vec::<Hash>::new());
            }
        }
    }
}
