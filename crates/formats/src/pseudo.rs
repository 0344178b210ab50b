//! TODO: pseudo
