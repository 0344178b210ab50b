//! Which coordination objects this process holds now: leases (service) and upload claims (S3
//! store) are objects in the shared store, created by one holder and deleted when it is done.
//! When the delete fails (the store is down) the object stays behind; its owner id is still
//! this process's, but this process no longer holds it. Counting what is held tells such a
//! leftover (taken over at once) from one held by a concurrent task of the same process
//! (waited for). No Go rule lives here.

use std::collections::HashMap;
use std::sync::Mutex;

/// A count per key of the holds taken and not yet given back.
#[derive(Debug, Default)]
pub struct HeldKeys {
    held: Mutex<HashMap<String, usize>>,
}

impl HeldKeys {
    /// Counts one more hold on `key`.
    pub fn take(&self, key: &str) {
        *self.map().entry(key.to_owned()).or_default() += 1;
    }

    /// Counts one hold on `key` as given back (whether or not its object could be deleted).
    pub fn give_back(&self, key: &str) {
        let mut held = self.map();
        if let Some(n) = held.get_mut(key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(key);
            }
        }
    }

    /// Whether this process holds `key` now.
    pub fn holds(&self, key: &str) -> bool {
        self.map().contains_key(key)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_keys_count_holds_until_each_is_given_back() {
        let h = HeldKeys::default();
        assert!(!h.holds("a"));
        h.take("a");
        h.take("a");
        h.give_back("a");
        assert!(h.holds("a"), "one hold is still taken");
        h.give_back("a");
        assert!(!h.holds("a"));
        h.give_back("a");
        assert!(
            !h.holds("a"),
            "giving back more than was taken changes nothing"
        );
    }
}
