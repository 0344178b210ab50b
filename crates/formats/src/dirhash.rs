//! TODO: dirhash
