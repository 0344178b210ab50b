//! TODO: module zips from a local directory
