//! Single-flight: concurrent requests for the same missing file cause exactly one upstream
//! fetch. The fetch runs as its own task, so a client that disconnects does not cancel the
//! work the other waiting clients (and the store) depend on. Failures are shared too: a
//! burst of requests for a broken version produces one upstream request, not one each.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

type Flight<T> = Shared<BoxFuture<'static, T>>;

/// Deduplicates concurrent work by key.
pub struct SingleFlight<T: Clone + Send + Sync + 'static> {
    inflight: Arc<Mutex<HashMap<String, Flight<T>>>>,
}

impl<T: Clone + Send + Sync + 'static> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight {
            inflight: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    /// Runs `make()` for `key` unless a run for the same key is already under way, in which
    /// case this call waits for that run and returns a clone of its result.
    pub async fn run<F, Fut>(&self, key: &str, make: F) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let flight = {
            let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(f) = map.get(key) {
                f.clone()
            } else {
                let map_ref = Arc::clone(&self.inflight);
                let owned_key = key.to_string();
                let work = make();
                // The task itself frees the key when the work ends (or panics), so the key is
                // free again even when every waiter has gone away (nobody polls the shared
                // future then). It cannot free it before the insert below: that holds the lock.
                let task = tokio::spawn(async move {
                    let _free = FreeKey {
                        map: map_ref,
                        key: owned_key,
                    };
                    work.await
                });
                let fut: BoxFuture<'static, T> = async move {
                    match task.await {
                        Ok(v) => v,
                        // The task panicked or was cancelled at shutdown; re-raise the panic
                        // so it is not mistaken for a result.
                        Err(e) => std::panic::resume_unwind(e.into_panic()),
                    }
                }
                .boxed();
                let shared = fut.shared();
                map.insert(key.to_string(), shared.clone());
                shared
            }
        };
        flight.await
    }
}

/// Removes a flight's key from the map when dropped: at the end of the flight's task.
struct FreeKey<T: Clone + Send + Sync + 'static> {
    map: Arc<Mutex<HashMap<String, Flight<T>>>>,
    key: String,
}

impl<T: Clone + Send + Sync + 'static> Drop for FreeKey<T> {
    fn drop(&mut self) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

/// Per-key async locks, for read-modify-write sequences (regenerating `@v/list`).
#[derive(Default)]
pub struct KeyedLocks {
    locks: Mutex<HashMap<String, std::sync::Weak<tokio::sync::Mutex<()>>>>,
}

impl KeyedLocks {
    /// Returns the lock for `key`, creating it when nobody holds it.
    pub fn get(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = map.get(key).and_then(|w| w.upgrade()) {
            return l;
        }
        map.retain(|_, w| w.strong_count() > 0);
        let l = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(key.to_string(), Arc::downgrade(&l));
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn single_flight_runs_concurrent_callers_once() {
        let sf: Arc<SingleFlight<u32>> = Arc::new(SingleFlight::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..20 {
            let sf = Arc::clone(&sf);
            let runs = Arc::clone(&runs);
            handles.push(tokio::spawn(async move {
                sf.run("k", move || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    7
                })
                .await
            }));
        }
        for h in handles {
            assert_eq!(h.await.unwrap(), 7);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // Once finished, the key is free again: a new call runs again.
        let again = sf.run("k", || async { 8 }).await;
        assert_eq!(again, 8);
    }

    #[tokio::test]
    async fn single_flight_frees_the_key_when_every_waiter_has_gone() {
        let sf: Arc<SingleFlight<u32>> = Arc::new(SingleFlight::default());
        let only = {
            let sf = Arc::clone(&sf);
            tokio::spawn(async move {
                sf.run("k", || async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    1
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        only.abort();
        // The work finishes with nobody waiting; afterwards the key is free: a new call runs
        // anew instead of being handed the old, finished flight's result.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(sf.inflight.lock().unwrap().is_empty());
        assert_eq!(sf.run("k", || async { 2 }).await, 2);
    }

    #[tokio::test]
    async fn single_flight_survives_a_cancelled_first_caller() {
        let sf: Arc<SingleFlight<u32>> = Arc::new(SingleFlight::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let r = Arc::clone(&runs);
        let first = {
            let sf = Arc::clone(&sf);
            tokio::spawn(async move {
                sf.run("k", move || async move {
                    r.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    1
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        first.abort();
        let second = sf.run("k", || async { 2 }).await;
        assert_eq!(second, 1, "the second caller joins the running fetch");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
