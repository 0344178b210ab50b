//! The bundle manifest (`manifest.json`, the first entry of every bundle): what the bundle
//! holds and how each file is checked. The schema is documented in docs/bundle-format.md; the
//! archive names of module files are the store keys (the go command's `cache/download` layout,
//! `cmd/go/internal/modfetch/cache.go` `CachePath`) under [`FILES_DIR`].

use serde::{Deserialize, Serialize};

use modferry_store::{FileKind, layout};

/// The value of [`Manifest::format`].
pub const FORMAT: &str = "modferry-bundle";
/// The manifest schema version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The archive name of the manifest.
pub const MANIFEST_NAME: &str = "manifest.json";
/// The archive directory holding module files.
pub const FILES_DIR: &str = "files/";
/// The largest manifest we read.
pub const MAX_MANIFEST: u64 = 256 << 20;
/// The largest `.info` we accept.
pub const MAX_INFO: u64 = 1 << 20;

/// The manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Schema version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Creation time, RFC 3339 UTC (from `SOURCE_DATE_EPOCH` when set).
    pub created: String,
    /// The modferry version that wrote the bundle.
    pub modferry_version: String,
    /// For an incremental bundle: the `created` time and the number of entries of the manifest
    /// it is relative to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Since>,
    /// One entry per module version, sorted by module path then version.
    pub modules: Vec<Entry>,
    /// Checksum-database data (signed tree heads, tiles, lookups, our own log) that lets the
    /// importing side verify offline: database name → data ([`super::sumdb`]); absent when the
    /// exporting side has no database configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sumdb: Option<super::sumdb::Section>,
}

/// What an incremental bundle is relative to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Since {
    /// `created` of the older manifest.
    pub created: String,
    /// Number of module versions in the older manifest.
    pub modules: usize,
}

/// One module version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Module path.
    pub module: String,
    /// Canonical version.
    pub version: String,
    /// The `.info` file.
    pub info: FileSum,
    /// The `.mod` file.
    #[serde(rename = "mod")]
    pub go_mod: FileSum,
    /// The zip, when the bundle carries it (absent for go.mod-only versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<FileSum>,
    /// `h1:` of the go.mod file (the `/go.mod` go.sum line).
    pub go_mod_h1: String,
    /// `h1:` of the zip (the go.sum line), when the zip is carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip_h1: Option<String>,
    /// Where the files came from (the exporting store).
    pub source: String,
}

/// Size and SHA-256 of one file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileSum {
    /// Bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

impl Entry {
    /// `module@version`.
    pub fn what(&self) -> String {
        format!("{}@{}", self.module, self.version)
    }

    /// The files of this entry: kind, archive name and checksum.
    pub fn files(&self) -> Result<Vec<(FileKind, String, &FileSum)>, String> {
        let mut out = Vec::new();
        let mut parts: Vec<(FileKind, &FileSum)> =
            vec![(FileKind::Info, &self.info), (FileKind::Mod, &self.go_mod)];
        if let Some(z) = &self.zip {
            parts.push((FileKind::Zip, z));
        }
        for (kind, sum) in parts {
            let key = layout::version_file(&self.module, &self.version, kind)
                .map_err(|e| format!("{}: {e}", self.what()))?;
            out.push((kind, format!("{FILES_DIR}{}", key.as_str()), sum));
        }
        Ok(out)
    }
}

impl Manifest {
    /// Checks the parts of the manifest that do not depend on file contents.
    pub fn check(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!(
                "manifest format is {:?}, expected {FORMAT:?}",
                self.format
            ));
        }
        if self.format_version != FORMAT_VERSION {
            return Err(format!(
                "manifest format_version {} is not supported (this modferry reads {FORMAT_VERSION})",
                self.format_version
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for e in &self.modules {
            modferry_formats::module::check(&e.module, &e.version)
                .map_err(|err| format!("manifest entry {}: {err}", e.what()))?;
            if !seen.insert((e.module.as_str(), e.version.as_str())) {
                return Err(format!("manifest lists {} twice", e.what()));
            }
            if e.zip.is_some() != e.zip_h1.is_some() {
                return Err(format!(
                    "manifest entry {}: zip and zip_h1 must both be present or both absent",
                    e.what()
                ));
            }
            for (_, _, sum) in e.files()? {
                if sum.sha256.len() != 64 || !sum.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "manifest entry {}: {:?} is not a hex SHA-256",
                        e.what(),
                        sum.sha256
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The creation time of a new bundle: `SOURCE_DATE_EPOCH` when set (reproducible builds),
/// else now; with the tar mtime (the epoch, or 0).
pub fn creation_time() -> Result<(String, u64), String> {
    let (t, mtime) = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => {
            let secs: i64 = s
                .trim()
                .parse()
                .map_err(|_| format!("SOURCE_DATE_EPOCH {s:?} is not a number of seconds"))?;
            let t = time::OffsetDateTime::from_unix_timestamp(secs)
                .map_err(|e| format!("SOURCE_DATE_EPOCH {s:?}: {e}"))?;
            (t, secs.max(0) as u64)
        }
        Err(_) => (time::OffsetDateTime::now_utc(), 0),
    };
    let text = t
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| e.to_string())?;
    Ok((text, mtime))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        let sum = FileSum {
            size: 1,
            sha256: "a".repeat(64),
        };
        Entry {
            module: "example.com/Upper".into(),
            version: "v1.0.0".into(),
            info: sum.clone(),
            go_mod: sum.clone(),
            zip: Some(sum),
            go_mod_h1: "h1:x".into(),
            zip_h1: Some("h1:y".into()),
            source: "file:///s".into(),
        }
    }

    #[test]
    fn archive_names_are_case_encoded_cache_paths() {
        let e = entry();
        let names: Vec<String> = e.files().unwrap().into_iter().map(|f| f.1).collect();
        assert_eq!(
            names,
            [
                "files/example.com/!upper/@v/v1.0.0.info",
                "files/example.com/!upper/@v/v1.0.0.mod",
                "files/example.com/!upper/@v/v1.0.0.zip"
            ]
        );
    }

    #[test]
    fn manifest_check_rejects_duplicates_bad_versions_and_bad_hashes() {
        let m = |modules: Vec<Entry>| Manifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            created: "2024-01-01T00:00:00Z".into(),
            modferry_version: "0".into(),
            since: None,
            modules,
            sumdb: None,
        };
        assert!(m(vec![entry()]).check().is_ok());
        assert!(
            m(vec![entry(), entry()])
                .check()
                .unwrap_err()
                .contains("twice")
        );
        let mut bad = entry();
        bad.version = "v1.0".into();
        assert!(m(vec![bad]).check().is_err());
        let mut bad = entry();
        bad.info.sha256 = "zz".into();
        assert!(m(vec![bad]).check().unwrap_err().contains("SHA-256"));
        let mut bad = entry();
        bad.zip_h1 = None;
        assert!(m(vec![bad]).check().is_err());
    }
}
