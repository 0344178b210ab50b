//! TODO: modzip
