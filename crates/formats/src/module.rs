//! TODO: module
