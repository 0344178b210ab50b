//! TODO: gosum
