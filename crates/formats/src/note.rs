//! Signed notes and their keys: x/mod `sumdb/note/note.go` (`NewVerifier`, `NewSigner`,
//! `GenerateKey`, `NewEd25519VerifierKey`, `Open`, `Sign`).
//!
//! A checksum database signs its tree heads as *notes*: a UTF-8 text followed by signature lines.
//!
//! Keys:
//!
//! - A key belongs to a server *name*: non-empty, with no Unicode white space and no `+`.
//! - The key data is one algorithm byte followed by the key; the only algorithm is Ed25519 (`1`),
//!   whose key is 32 bytes (the public key, or for a signer the private seed).
//! - The *key hash* is the first four bytes, read big-endian, of
//!   SHA-256(`name` `\n` `alg byte` `public key`). It identifies the public key among the
//!   server's keys.
//! - A verifier key reads `<name>+<hash>+<base64(alg || public key)>`; a signer key reads
//!   `PRIVATE+KEY+<name>+<hash>+<base64(alg || seed)>`. The hash is exactly eight hex digits
//!   (either case), the base64 is the padded standard alphabet (Go's decoder skips `\r` and `\n`
//!   in it and does not insist that unused trailing bits are zero; so do we).
//! - Checks run in Go's order, which decides which error a bad key gets: first the shape (the
//!   fields, the hex, the base64, the name, non-empty key data); then, for a verifier key, the
//!   hash against the key data, then the algorithm, then the key length; for a signer key, the
//!   algorithm, then the seed length, then the hash against the public key derived from the seed.
//!
//! Note format:
//!
//! - The whole note is valid UTF-8 with no ASCII control character other than `\n`.
//! - It is the text (ending in `\n`), a blank line, then one or more signature lines
//!   `— <name> <base64(key hash, 4 bytes big-endian || signature)>\n` (U+2014 EM DASH, a space).
//!   The text ends at the *last* blank line of the note.
//! - A signature's decoded bytes are at least five (the hash and a non-empty signature); the
//!   signature is over the text including its final newline, not the blank line.
//! - More than 100 signature lines (counting duplicates) make the note malformed.
//!
//! Opening ([`open`]) with a list of known verifiers:
//!
//! - A signature whose (name, hash) is not known is kept as unverified; an identical unverified
//!   line is kept once.
//! - A known key's first signature must verify (else [`NoteError::InvalidSignature`]); later
//!   signatures by the same (name, hash) are skipped without being checked.
//! - Two known verifiers with the same (name, hash) make any signature by that key an error
//!   ([`NoteError::AmbiguousKey`]), as Go's `VerifierList` does.
//! - A note with no verified signature is refused with [`NoteError::Unverified`], which carries
//!   the parsed note.
//!
//! Signing ([`sign`], [`sign_note`]): the text must end in `\n`; existing signatures of a note
//! (verified, then unverified) come first unless one of the new signers has the same
//! (name, hash), then one line per new signer, in order.
//!
//! Deviations from Go, all stricter: [`generate_key`] and [`new_ed25519_verifier_key`] reject an
//! invalid name (Go makes a key that no parser accepts), and signing refuses a text that [`open`]
//! could never accept (a control character other than newline). Go has no size limit in `Open`
//! and neither do we: callers bound what they read. Key generation takes the 32-byte seed from
//! the caller, so this crate does no I/O and needs no random source.

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// The algorithm byte of Ed25519 keys, the only algorithm notes use.
pub const ALG_ED25519: u8 = 1;

/// The most signature lines [`open`] reads (duplicates included); more make the note malformed.
pub const MAX_SIGNATURES: usize = 100;

/// What starts every signature line: U+2014 EM DASH and a space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// What starts a signer key.
const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// Go's `base64.StdEncoding` decoder: padding required, non-zero trailing bits accepted.
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Decodes `s` as Go's `base64.StdEncoding.DecodeString` does: padded standard alphabet, `\r` and
/// `\n` anywhere are skipped, unused trailing bits may be non-zero.
pub(crate) fn decode_go_base64(s: &str) -> Option<Vec<u8>> {
    if s.contains(['\r', '\n']) {
        let kept: String = s.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
        GO_STD_BASE64.decode(kept).ok()
    } else {
        GO_STD_BASE64.decode(s).ok()
    }
}

/// Which kind of key a key error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A public verifier key, `<name>+<hash>+<keydata>`.
    Verifier,
    /// A private signer key, `PRIVATE+KEY+<name>+<hash>+<keydata>`.
    Signer,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::Verifier => "verifier",
            KeyKind::Signer => "signer",
        })
    }
}

/// Why a key or a note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The key is not of the form `<name>+<hash>+<keydata>` (Go: "malformed verifier id").
    #[error("malformed {kind} key: {reason}")]
    MalformedKey {
        /// Verifier or signer key.
        kind: KeyKind,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key data names an algorithm other than Ed25519 (Go: "unknown verifier algorithm").
    #[error("unknown {kind} key algorithm {alg}")]
    UnknownAlgorithm {
        /// Verifier or signer key.
        kind: KeyKind,
        /// The algorithm byte.
        alg: u8,
    },
    /// The hash written in the key is not the hash of its name and public key (Go: "invalid
    /// verifier hash").
    #[error("{kind} key for {name} says hash {stated:08x} but the key hashes to {computed:08x}")]
    KeyHashMismatch {
        /// Verifier or signer key.
        kind: KeyKind,
        /// The key's name.
        name: String,
        /// The hash written in the key.
        stated: u32,
        /// The hash of the name and public key.
        computed: u32,
    },
    /// A name for a new key is empty or has white space or `+`.
    #[error("invalid key name {name:?}: must be non-empty, without white space or '+'")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// The note does not follow the signed note format (Go: "malformed note").
    #[error("malformed note: {reason}")]
    MalformedNote {
        /// What is wrong with it.
        reason: String,
    },
    /// Several known verifiers have this name and hash (Go: "ambiguous key").
    #[error("ambiguous key {name}+{hash:08x}")]
    AmbiguousKey {
        /// The key's name.
        name: String,
        /// The key hash.
        hash: u32,
    },
    /// A known key's signature does not verify (Go: `InvalidSignatureError`).
    #[error("invalid signature for key {name}+{hash:08x}")]
    InvalidSignature {
        /// The key's name.
        name: String,
        /// The key hash.
        hash: u32,
    },
    /// The note is well-formed but no known key signed it (Go: `UnverifiedNoteError`); the
    /// parsed note, with its unverified signatures, is inside.
    #[error("note has no verifiable signatures")]
    Unverified(Box<Note>),
}

fn malformed_note(reason: impl Into<String>) -> NoteError {
    NoteError::MalformedNote {
        reason: reason.into(),
    }
}

/// Reports whether `name` may name a key: non-empty, with no Unicode white space and no `+`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == '+')
}

/// The key hash of a server name and its public key data (algorithm byte included): the first
/// four bytes of SHA-256(`name` `\n` `key`), big-endian.
pub fn key_hash(name: &str, key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(key);
    let sum = h.finalize();
    u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]])
}

/// Parses exactly eight hex digits (either case) into a key hash.
fn parse_hash8(s: &str) -> Option<u32> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Splits `<name>+<hash>+<keydata>` and checks its shape, as Go does before looking at the key.
fn split_key(kind: KeyKind, s: &str) -> Result<(&str, u32, Vec<u8>), NoteError> {
    let bad = |reason| NoteError::MalformedKey { kind, reason };
    let (name, rest) = s.split_once('+').unwrap_or((s, ""));
    let (hash16, key64) = rest.split_once('+').unwrap_or((rest, ""));
    let hash = parse_hash8(hash16).ok_or(bad("the key hash is not eight hex digits"))?;
    let key = decode_go_base64(key64).ok_or(bad("the key data is not valid base64"))?;
    if !is_valid_name(name) {
        return Err(bad("the name is empty or contains white space or '+'"));
    }
    if key.is_empty() {
        return Err(bad("the key data is empty"));
    }
    Ok((name, hash, key))
}

/// A public key that verifies one server's signatures: Go's `note.Verifier` built by
/// `NewVerifier`.
#[derive(Clone, Debug)]
pub struct Verifier {
    name: String,
    hash: u32,
    key: [u8; 32],
    /// The decoded point; `None` when the 32 bytes are not a curve point (nothing verifies then,
    /// as in Go, where such a key parses but every signature fails).
    point: Option<VerifyingKey>,
}

impl Verifier {
    /// Parses a verifier key `<name>+<hash>+<base64(0x01 || 32-byte public key)>`.
    pub fn parse(vkey: &str) -> Result<Verifier, NoteError> {
        const KIND: KeyKind = KeyKind::Verifier;
        let (name, hash, data) = split_key(KIND, vkey)?;
        let computed = key_hash(name, &data);
        if hash != computed {
            return Err(NoteError::KeyHashMismatch {
                kind: KIND,
                name: name.to_owned(),
                stated: hash,
                computed,
            });
        }
        let (alg, key) = (data[0], &data[1..]);
        if alg != ALG_ED25519 {
            return Err(NoteError::UnknownAlgorithm { kind: KIND, alg });
        }
        let key: [u8; 32] = key.try_into().map_err(|_| NoteError::MalformedKey {
            kind: KIND,
            reason: "an Ed25519 public key must be 32 bytes",
        })?;
        Ok(Verifier {
            name: name.to_owned(),
            hash,
            key,
            point: VerifyingKey::from_bytes(&key).ok(),
        })
    }

    /// The server name the key belongs to.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash.
    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.key
    }

    /// Reports whether `sig` is a valid Ed25519 signature of `msg` by this key (Go's
    /// `ed25519.Verify`: 64 bytes, canonical scalar, cofactorless check).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let (Some(point), Ok(sig)) = (&self.point, <&[u8; 64]>::try_from(sig)) else {
            return false;
        };
        point
            .verify(msg, &ed25519_dalek::Signature::from_bytes(sig))
            .is_ok()
    }
}

/// Formats the verifier key: `<name>+<hash>+<base64(0x01 || public key)>`.
impl fmt::Display for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_verifier_key(&self.name, self.hash, &self.key))
    }
}

fn format_verifier_key(name: &str, hash: u32, key: &[u8; 32]) -> String {
    let mut data = Vec::with_capacity(33);
    data.push(ALG_ED25519);
    data.extend_from_slice(key);
    format!("{name}+{hash:08x}+{}", STANDARD.encode(data))
}

/// A private key that signs notes for one server: Go's `note.Signer` built by `NewSigner`.
#[derive(Clone)]
pub struct Signer {
    name: String,
    hash: u32,
    key: SigningKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("hash", &format_args!("{:08x}", self.hash))
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Parses a signer key `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || 32-byte seed)>`.
    pub fn parse(skey: &str) -> Result<Signer, NoteError> {
        const KIND: KeyKind = KeyKind::Signer;
        // Go cuts two fields off the front and compares them, so "PRIVATE+KEY" must be exact.
        let rest = skey
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or(NoteError::MalformedKey {
                kind: KIND,
                reason: "a signer key starts with PRIVATE+KEY+",
            })?;
        let (name, hash, data) = split_key(KIND, rest)?;
        let (alg, seed) = (data[0], &data[1..]);
        if alg != ALG_ED25519 {
            return Err(NoteError::UnknownAlgorithm { kind: KIND, alg });
        }
        let seed: [u8; 32] = seed.try_into().map_err(|_| NoteError::MalformedKey {
            kind: KIND,
            reason: "an Ed25519 seed must be 32 bytes",
        })?;
        let key = SigningKey::from_bytes(&seed);
        let computed = ed25519_key_hash(name, key.verifying_key().as_bytes());
        if hash != computed {
            return Err(NoteError::KeyHashMismatch {
                kind: KIND,
                name: name.to_owned(),
                stated: hash,
                computed,
            });
        }
        Ok(Signer {
            name: name.to_owned(),
            hash,
            key,
        })
    }

    /// The server name the key belongs to.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash (of the public key).
    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// The 64-byte Ed25519 signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key.sign(msg).to_bytes().to_vec()
    }

    /// The matching verifier key, `<name>+<hash>+<base64(0x01 || public key)>`.
    pub fn verifier_key(&self) -> String {
        format_verifier_key(&self.name, self.hash, self.key.verifying_key().as_bytes())
    }

    /// The matching [`Verifier`].
    pub fn verifier(&self) -> Verifier {
        let vk = self.key.verifying_key();
        Verifier {
            name: self.name.clone(),
            hash: self.hash,
            key: vk.to_bytes(),
            point: Some(vk),
        }
    }
}

fn ed25519_key_hash(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut data = [0u8; 33];
    data[0] = ALG_ED25519;
    data[1..].copy_from_slice(public_key);
    key_hash(name, &data)
}

/// Makes a signer key and its verifier key for server `name` from a 32-byte Ed25519 seed
/// (Go's `GenerateKey` reads exactly these 32 bytes from its random source). The caller supplies
/// the randomness; the signer key is secret. Returns `(signer key, verifier key)`.
pub fn generate_key(name: &str, seed: [u8; 32]) -> Result<(String, String), NoteError> {
    if !is_valid_name(name) {
        return Err(NoteError::InvalidName {
            name: name.to_owned(),
        });
    }
    let key = SigningKey::from_bytes(&seed);
    let public = key.verifying_key().to_bytes();
    let hash = ed25519_key_hash(name, &public);
    let mut private = Vec::with_capacity(33);
    private.push(ALG_ED25519);
    private.extend_from_slice(&seed);
    let skey = format!(
        "{PRIVATE_KEY_PREFIX}{name}+{hash:08x}+{}",
        STANDARD.encode(&private)
    );
    private.fill(0);
    Ok((skey, format_verifier_key(name, hash, &public)))
}

/// The verifier key for server `name` and a 32-byte Ed25519 public key (Go's
/// `NewEd25519VerifierKey`).
pub fn new_ed25519_verifier_key(name: &str, public_key: &[u8; 32]) -> Result<String, NoteError> {
    if !is_valid_name(name) {
        return Err(NoteError::InvalidName {
            name: name.to_owned(),
        });
    }
    Ok(format_verifier_key(
        name,
        ed25519_key_hash(name, public_key),
        public_key,
    ))
}

/// One signature line of a note, verified or not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    /// The name of the key that made it.
    pub name: String,
    /// The key hash.
    pub hash: u32,
    /// The base64 of the key hash and the signature bytes, as written in the note.
    pub base64: String,
}

/// A note's text and signatures (Go's `note.Note`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Note {
    /// The text, ending in a newline.
    pub text: String,
    /// The signatures made by known keys, all verified, in note order.
    pub sigs: Vec<Signature>,
    /// The signatures by unknown keys, not verified, in note order.
    pub unverified: Vec<Signature>,
}

/// Finds the one known verifier for `(name, hash)`, if any.
fn find_verifier<'a>(
    known: &'a [Verifier],
    name: &str,
    hash: u32,
) -> Result<Option<&'a Verifier>, NoteError> {
    let mut found = known.iter().filter(|v| v.hash == hash && v.name == name);
    let first = found.next();
    if first.is_some() && found.next().is_some() {
        return Err(NoteError::AmbiguousKey {
            name: name.to_owned(),
            hash,
        });
    }
    Ok(first)
}

/// Checks that `msg` is UTF-8 without control characters other than newline.
fn check_note_chars(msg: &[u8]) -> Result<&str, NoteError> {
    let text = std::str::from_utf8(msg)
        .map_err(|e| malformed_note(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    if let Some((i, c)) = text.char_indices().find(|&(_, c)| c < ' ' && c != '\n') {
        return Err(malformed_note(format!(
            "control character U+{:04X} at byte {i}",
            u32::from(c)
        )));
    }
    Ok(text)
}

/// Parses the signed note `msg` and verifies its signatures by the `known` keys (Go's
/// `note.Open`); see the module documentation for the rules.
pub fn open(msg: &[u8], known: &[Verifier]) -> Result<Note, NoteError> {
    let msg = check_note_chars(msg)?;
    let split = msg
        .rfind("\n\n")
        .ok_or_else(|| malformed_note("no blank line before the signatures"))?;
    let (text, mut sigs) = (&msg[..split + 1], &msg[split + 2..]);
    if sigs.is_empty() {
        return Err(malformed_note("no signature lines"));
    }
    if !sigs.ends_with('\n') {
        return Err(malformed_note(
            "the last signature line does not end in a newline",
        ));
    }

    let mut note = Note {
        text: text.to_owned(),
        ..Note::default()
    };
    let mut seen: HashSet<(&str, u32)> = HashSet::new();
    let mut seen_unverified: HashSet<&str> = HashSet::new();
    let mut count = 0usize;
    while let Some((line, rest)) = sigs.split_once('\n') {
        sigs = rest;
        count += 1;
        let body = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(|| {
            malformed_note(format!("signature line {count} does not start with \"— \""))
        })?;
        let (name, b64) = body.split_once(' ').unwrap_or((body, ""));
        if !is_valid_name(name) {
            return Err(malformed_note(format!(
                "signature line {count} has an invalid key name {name:?}"
            )));
        }
        let raw = decode_go_base64(b64)
            .filter(|raw| !b64.is_empty() && raw.len() >= 5)
            .ok_or_else(|| {
                malformed_note(format!(
                    "signature line {count} does not hold base64 of a key hash and a signature"
                ))
            })?;
        if count > MAX_SIGNATURES {
            return Err(malformed_note(format!(
                "more than {MAX_SIGNATURES} signature lines"
            )));
        }
        let hash = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let sig = Signature {
            name: name.to_owned(),
            hash,
            base64: b64.to_owned(),
        };
        let Some(verifier) = find_verifier(known, name, hash)? else {
            if seen_unverified.insert(body) {
                note.unverified.push(sig);
            }
            continue;
        };
        if !seen.insert((name, hash)) {
            continue;
        }
        if !verifier.verify(text.as_bytes(), &raw[4..]) {
            return Err(NoteError::InvalidSignature {
                name: name.to_owned(),
                hash,
            });
        }
        note.sigs.push(sig);
    }

    if note.sigs.is_empty() {
        return Err(NoteError::Unverified(Box::new(note)));
    }
    Ok(note)
}

/// Signs `text` (which must end in a newline) with each signer, in order, and returns the signed
/// note (Go's `note.Sign` of a note with no signatures yet).
pub fn sign(text: &str, signers: &[&Signer]) -> Result<Vec<u8>, NoteError> {
    sign_note(
        &Note {
            text: text.to_owned(),
            ..Note::default()
        },
        signers,
    )
}

/// Signs `note` again (Go's `note.Sign`): its existing signatures, verified then unverified, are
/// kept unless a new signer has the same (name, hash); the new signatures follow, in order.
pub fn sign_note(note: &Note, signers: &[&Signer]) -> Result<Vec<u8>, NoteError> {
    if !note.text.ends_with('\n') {
        return Err(malformed_note("the text does not end in a newline"));
    }
    check_note_chars(note.text.as_bytes())?;

    let mut out = String::with_capacity(note.text.len() + 1 + 110 * signers.len());
    out.push_str(&note.text);
    out.push('\n');

    let replaced: HashSet<(&str, u32)> =
        signers.iter().map(|s| (s.name.as_str(), s.hash)).collect();
    for sig in note.sigs.iter().chain(&note.unverified) {
        if !is_valid_name(&sig.name) {
            return Err(malformed_note(format!(
                "existing signature has an invalid key name {:?}",
                sig.name
            )));
        }
        if replaced.contains(&(sig.name.as_str(), sig.hash)) {
            continue;
        }
        let raw = decode_go_base64(&sig.base64)
            .filter(|raw| raw.len() >= 4)
            .ok_or_else(|| {
                malformed_note(format!(
                    "existing signature by {} is not valid base64",
                    sig.name
                ))
            })?;
        if u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]) != sig.hash {
            return Err(malformed_note(format!(
                "existing signature by {} does not start with its key hash {:08x}",
                sig.name, sig.hash
            )));
        }
        push_signature_line(&mut out, &sig.name, &sig.base64);
    }

    for signer in signers {
        let mut raw = signer.hash.to_be_bytes().to_vec();
        raw.extend_from_slice(&signer.sign(note.text.as_bytes()));
        push_signature_line(&mut out, &signer.name, &STANDARD.encode(raw));
    }
    Ok(out.into_bytes())
}

fn push_signature_line(out: &mut String, name: &str, b64: &str) {
    out.push_str(SIGNATURE_PREFIX);
    out.push_str(name);
    out.push(' ');
    out.push_str(b64);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The go command's built-in key for sum.golang.org (public; cmd/go/internal/modfetch/key.go).
    const SUM_GOLANG_ORG: &str =
        "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";

    fn signer(name: &str, fill: u8) -> Signer {
        let (skey, _) = generate_key(name, [fill; 32]).unwrap();
        Signer::parse(&skey).unwrap()
    }

    #[test]
    fn verifier_parse_accepts_the_sum_golang_org_key() {
        let v = Verifier::parse(SUM_GOLANG_ORG).unwrap();
        assert_eq!(v.name(), "sum.golang.org");
        assert_eq!(v.key_hash(), 0x033de0ae);
        assert_eq!(v.to_string(), SUM_GOLANG_ORG);
        // A garbled copy (45 base64 characters) is refused.
        assert!(matches!(
            Verifier::parse(
                "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ly18pmPuhNmlFdlyG"
            ),
            Err(NoteError::MalformedKey { .. })
        ));
    }

    #[test]
    fn is_valid_name_rejects_empty_space_and_plus() {
        const CASES: &[(&str, bool)] = &[
            ("sum.golang.org", true),
            ("example.com/sumdb", true),
            ("ünïcödé", true),
            ("", false),
            ("a b", false),
            ("a\tb", false),
            ("a\u{a0}b", false),
            ("a\u{2003}b", false),
            ("a\u{3000}b", false),
            ("a+b", false),
            ("a\u{7f}b", true),
        ];
        for &(name, want) in CASES {
            assert_eq!(is_valid_name(name), want, "{name:?}");
        }
    }

    #[test]
    fn key_parse_checks_shape_hash_algorithm_then_length() {
        let (skey, vkey) = generate_key("example.com", [7; 32]).unwrap();
        let (_, hash_and_key) = vkey.split_once('+').unwrap();
        let (hash, key64) = hash_and_key.split_once('+').unwrap();
        let key = STANDARD.decode(key64).unwrap();

        // A verifier key whose data has a wrong algorithm but a correct hash.
        let mut alg2 = key.clone();
        alg2[0] = 2;
        let alg2_key = format!(
            "example.com+{:08x}+{}",
            key_hash("example.com", &alg2),
            STANDARD.encode(&alg2)
        );
        // Correct algorithm and hash, but 31 bytes of key.
        let short = &key[..32];
        let short_key = format!(
            "example.com+{:08x}+{}",
            key_hash("example.com", short),
            STANDARD.encode(short)
        );
        let upper = format!("example.com+{}+{key64}", hash.to_uppercase());
        let wrapped = format!("example.com+{hash}+{}\r\n{}", &key64[..10], &key64[10..]);

        type Check = fn(&Result<Verifier, NoteError>) -> bool;
        let cases: Vec<(String, Check)> = vec![
            (vkey.clone(), |r| r.is_ok()),
            (upper, |r| r.is_ok()),
            (wrapped, |r| r.is_ok()),
            ("example.com".into(), |r| {
                matches!(r, Err(NoteError::MalformedKey { .. }))
            }),
            (format!("example.com+{hash}"), |r| {
                matches!(r, Err(NoteError::MalformedKey { .. }))
            }),
            (format!("example.com++{hash}+{key64}"), |r| {
                matches!(r, Err(NoteError::MalformedKey { .. }))
            }),
            (format!("+{hash}+{key64}"), |r| {
                matches!(r, Err(NoteError::MalformedKey { .. }))
            }),
            (format!("example.com+{}+{key64}", &hash[..7]), |r| {
                matches!(r, Err(NoteError::MalformedKey { .. }))
            }),
            (format!("example.com+{}+{key64}", "+1234567"), |r| {
                matches!(r, Err(NoteError::MalformedKey { .. }))
            }),
            (
                format!("example.com+{hash}+{}", &key64[..key64.len() - 1]),
                |r| matches!(r, Err(NoteError::MalformedKey { .. })),
            ),
            (format!("example.org+{hash}+{key64}"), |r| {
                matches!(r, Err(NoteError::KeyHashMismatch { .. }))
            }),
            (alg2_key, |r| {
                matches!(r, Err(NoteError::UnknownAlgorithm { alg: 2, .. }))
            }),
            (short_key, |r| {
                matches!(r, Err(NoteError::MalformedKey { .. }))
            }),
            (skey.clone(), |r| {
                matches!(r, Err(NoteError::MalformedKey { .. }))
            }),
        ];
        for (input, check) in &cases {
            let got = Verifier::parse(input);
            assert!(check(&got), "{input:?}: {got:?}");
        }

        assert!(Signer::parse(&skey).is_ok());
        for bad in [
            vkey.clone(),
            skey.replacen("PRIVATE", "private", 1),
            skey.replacen("+KEY+", "+KEYS+", 1),
        ] {
            assert!(
                matches!(Signer::parse(&bad), Err(NoteError::MalformedKey { .. })),
                "{bad:?}"
            );
        }
        let wrong_hash = skey.replacen(hash, "00000000", 1);
        assert!(matches!(
            Signer::parse(&wrong_hash),
            Err(NoteError::KeyHashMismatch { .. })
        ));
    }

    #[test]
    fn generate_key_rejects_invalid_names() {
        for name in ["", "a b", "a+b"] {
            assert!(matches!(
                generate_key(name, [0; 32]),
                Err(NoteError::InvalidName { .. })
            ));
            assert!(new_ed25519_verifier_key(name, &[0; 32]).is_err());
        }
        let s = signer("example.com", 9);
        assert_eq!(
            new_ed25519_verifier_key("example.com", s.verifier().public_key()).unwrap(),
            s.verifier_key()
        );
        assert_eq!(s.verifier().to_string(), s.verifier_key());
        assert!(!format!("{s:?}").contains(&STANDARD.encode([9u8; 32])));
    }

    #[test]
    fn sign_then_open_verifies_every_known_signer() {
        let a = signer("a.example", 1);
        let b = signer("b.example", 2);
        let msg = sign("hello\nworld\n", &[&a, &b]).unwrap();
        let text = String::from_utf8(msg.clone()).unwrap();
        assert!(text.starts_with("hello\nworld\n\n\u{2014} a.example "));

        let note = open(&msg, &[a.verifier(), b.verifier()]).unwrap();
        assert_eq!(note.text, "hello\nworld\n");
        assert_eq!(note.sigs.len(), 2);
        assert!(note.unverified.is_empty());

        let note = open(&msg, &[b.verifier()]).unwrap();
        assert_eq!(note.sigs[0].name, "b.example");
        assert_eq!(note.unverified[0].name, "a.example");
        assert_eq!(note.unverified[0].hash, a.key_hash());

        match open(&msg, &[]) {
            Err(NoteError::Unverified(n)) => assert_eq!(n.unverified.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sign_requires_a_final_newline_and_no_control_characters() {
        let a = signer("a.example", 1);
        assert!(matches!(
            sign("no newline", &[&a]),
            Err(NoteError::MalformedNote { .. })
        ));
        assert!(matches!(
            sign("tab\there\n", &[&a]),
            Err(NoteError::MalformedNote { .. })
        ));
    }

    #[test]
    fn sign_note_keeps_existing_signatures_unless_resigned() {
        let a = signer("a.example", 1);
        let b = signer("b.example", 2);
        let msg = sign("text\n", &[&a]).unwrap();
        let note = open(&msg, &[a.verifier()]).unwrap();

        let both = sign_note(&note, &[&b]).unwrap();
        let reopened = open(&both, &[a.verifier(), b.verifier()]).unwrap();
        let names: Vec<_> = reopened.sigs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a.example", "b.example"]);

        // Re-signing with a replaces a's old line instead of repeating it.
        let again = sign_note(&reopened, &[&a]).unwrap();
        let reopened = open(&again, &[a.verifier(), b.verifier()]).unwrap();
        let names: Vec<_> = reopened.sigs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["b.example", "a.example"]);

        let mut bad = note.clone();
        bad.sigs[0].hash ^= 1;
        assert!(matches!(
            sign_note(&bad, &[&b]),
            Err(NoteError::MalformedNote { .. })
        ));
    }

    #[test]
    fn open_rejects_malformed_notes() {
        let a = signer("a.example", 1);
        let good = String::from_utf8(sign("text\n", &[&a]).unwrap()).unwrap();
        let line = good.strip_prefix("text\n\n").unwrap().to_owned();
        let cases: Vec<(String, &str)> = vec![
            ("text\n".into(), "no blank line"),
            ("text\n\n".into(), "no signature lines"),
            (good.trim_end().into(), "does not end in a newline"),
            (format!("text\n\n{line}\n"), "no signature lines"),
            (format!("text\n\n{line}extra\n"), "does not start with"),
            (
                format!("text\n\n- a.example {}", &line[12..]),
                "does not start with",
            ),
            (format!("te\rxt\n\n{line}"), "control character U+000D"),
            (
                "text\n\n\u{2014} a.example\n".into(),
                "does not hold base64",
            ),
            (
                "text\n\n\u{2014} a.example \n".into(),
                "does not hold base64",
            ),
            (
                "text\n\n\u{2014} a.example AAAAAA==\n".into(),
                "does not hold base64",
            ),
            (
                "text\n\n\u{2014} a.example !!!!\n".into(),
                "does not hold base64",
            ),
            ("text\n\n\u{2014}  AAAAAAA=\n".into(), "invalid key name"),
            ("text\n\n\u{2014} a+b AAAAAAA=\n".into(), "invalid key name"),
        ];
        for (msg, want) in &cases {
            match open(msg.as_bytes(), &[a.verifier()]) {
                Err(NoteError::MalformedNote { reason }) => {
                    assert!(reason.contains(want), "{msg:?}: {reason}")
                }
                other => panic!("{msg:?}: {other:?}"),
            }
        }
        let invalid_utf8 = [b"te\xffxt\n\n".as_slice(), line.as_bytes()].concat();
        assert!(matches!(
            open(&invalid_utf8, &[a.verifier()]),
            Err(NoteError::MalformedNote { .. })
        ));
    }

    #[test]
    fn open_takes_the_text_up_to_the_last_blank_line() {
        let a = signer("a.example", 1);
        let msg = sign("one\n\ntwo\n\n", &[&a]).unwrap();
        assert_eq!(open(&msg, &[a.verifier()]).unwrap().text, "one\n\ntwo\n\n");
    }

    #[test]
    fn open_limits_signature_lines_to_100() {
        let a = signer("a.example", 1);
        let msg = String::from_utf8(sign("text\n", &[&a]).unwrap()).unwrap();
        let line = msg.strip_prefix("text\n\n").unwrap();
        let hundred = format!("text\n\n{}", line.repeat(100));
        assert_eq!(
            open(hundred.as_bytes(), &[a.verifier()])
                .unwrap()
                .sigs
                .len(),
            1
        );
        let too_many = format!("text\n\n{}", line.repeat(101));
        assert!(matches!(
            open(too_many.as_bytes(), &[a.verifier()]),
            Err(NoteError::MalformedNote { .. })
        ));
    }

    #[test]
    fn open_reports_invalid_and_ambiguous_keys() {
        let a = signer("a.example", 1);
        let msg = sign("text\n", &[&a]).unwrap();
        let tampered = String::from_utf8(msg.clone())
            .unwrap()
            .replacen("text", "test", 1);
        assert_eq!(
            open(tampered.as_bytes(), &[a.verifier()]),
            Err(NoteError::InvalidSignature {
                name: "a.example".into(),
                hash: a.key_hash()
            })
        );
        assert!(matches!(
            open(&msg, &[a.verifier(), a.verifier()]),
            Err(NoteError::AmbiguousKey { .. })
        ));
    }

    #[test]
    fn open_drops_duplicate_signatures() {
        let a = signer("a.example", 1);
        let b = signer("b.example", 2);
        let msg = String::from_utf8(sign("text\n", &[&a, &b]).unwrap()).unwrap();
        let lines = msg.strip_prefix("text\n\n").unwrap();
        let doubled = format!("text\n\n{lines}{lines}");
        let note = open(doubled.as_bytes(), &[a.verifier()]).unwrap();
        assert_eq!(note.sigs.len(), 1);
        assert_eq!(note.unverified.len(), 1);

        // A second, different (bad) signature by a known key is skipped unchecked.
        let a_line = lines.lines().next().unwrap();
        let forged = format!(
            "{}AAAA{}",
            &a_line[..a_line.len() - 8],
            &a_line[a_line.len() - 4..]
        );
        let msg = format!("text\n\n{a_line}\n{forged}\n");
        assert_eq!(open(msg.as_bytes(), &[a.verifier()]).unwrap().sigs.len(), 1);
    }

    #[test]
    fn verify_rejects_wrong_lengths() {
        let a = signer("a.example", 1);
        let v = a.verifier();
        let sig = a.sign(b"m");
        assert!(v.verify(b"m", &sig));
        assert!(!v.verify(b"n", &sig));
        assert!(!v.verify(b"m", &sig[..63]));
        assert!(!v.verify(b"m", &[sig.as_slice(), b"x"].concat()));
    }

    proptest! {
        #[test]
        fn open_never_panics_on_arbitrary_bytes(msg in proptest::collection::vec(any::<u8>(), 0..400)) {
            let a = signer("a.example", 1);
            let _ = open(&msg, &[a.verifier()]);
        }

        #[test]
        fn open_never_panics_on_note_like_text(
            text in "[a-z\n]{0,20}",
            tail in "(\u{2014} [a-z.+ ]{0,8}[A-Za-z0-9+/=]{0,20}\n){0,3}",
        ) {
            let msg = format!("{text}\n\n{tail}");
            let _ = open(msg.as_bytes(), &[]);
        }

        #[test]
        fn key_parsers_never_panic(s in "\\PC{0,80}") {
            let _ = Verifier::parse(&s);
            let _ = Signer::parse(&s);
            let _ = Signer::parse(&format!("PRIVATE+KEY+{s}"));
        }

        #[test]
        fn sign_then_open_round_trips(
            text in "([ -~\u{a0}-\u{2fff}]{0,30}\n){1,5}",
            seed in any::<[u8; 32]>(),
            name in "[a-z0-9./-]{1,20}",
        ) {
            let (skey, vkey) = generate_key(&name, seed).unwrap();
            let s = Signer::parse(&skey).unwrap();
            prop_assert_eq!(s.verifier_key(), vkey.clone());
            let v = Verifier::parse(&vkey).unwrap();
            let msg = sign(&text, &[&s]).unwrap();
            let note = open(&msg, &[v]).unwrap();
            prop_assert_eq!(note.text, text);
            prop_assert_eq!(note.sigs.len(), 1);
        }
    }
}
