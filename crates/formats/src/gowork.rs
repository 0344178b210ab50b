//! TODO: gowork
