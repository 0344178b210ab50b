//! Storage backends for the module store.
