//! TODO: modfile
