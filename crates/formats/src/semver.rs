//! TODO: semver
