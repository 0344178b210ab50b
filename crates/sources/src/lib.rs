//! Module sources: where modules come from when the store does not have them.

pub mod localdir;
