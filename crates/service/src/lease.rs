//! Leases: how replicas sharing one store agree that only one of them fetches a given file from
//! the upstream at a time.
//!
//! No Go rule lives here; this is modferry's own coordination (docs/scale-out.md). Within one
//! process [`SingleFlight`](crate::flight::SingleFlight) already joins concurrent misses; a lease
//! extends that across processes through the store itself, so it needs nothing but the
//! [`Store`](modferry_store::Store) trait's create-only write:
//!
//! - A lease on a target key `K` is the object `.modferry/meta/lease/K` (see
//!   [`layout::meta`]); its body is two lines, `owner <id>` and `expires <unix milliseconds>`.
//! - Taking it is `put(…, PutMode::Create)`: the store decides the one winner (S3: a
//!   conditional `If-None-Match: *` write; fs: a hard link).
//! - A replica that finds a live lease waits for the target object to appear, polling the
//!   store, until the lease is released or expires; then it tries to take the lease itself.
//! - An expired lease (its holder died or is stuck) is taken over by delete + create. Two
//!   replicas that see the same expired lease may both delete it, and one may delete the
//!   other's fresh lease: both then fetch. That race costs a duplicate upstream fetch, never
//!   correctness: immutable files are still written create-only and verified.
//! - Expiry compares the holder's wall clock with the reader's: replicas need clocks within a
//!   small fraction of the lease time of each other (NTP).
//! - The holder deletes the lease when done, success or failure, so waiters move on at once.
//!   If that delete fails (the store is down), the lease stays until it expires for the other
//!   replicas, but not for its owner: a lease found under this process's owner id that it does
//!   not hold any more is taken over at once, so the next request after the store comes back
//!   does not wait out the lease this process left behind.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use modferry_store::{DynStore, HeldKeys, Key, Payload, PutMode, PutOutcome, StoreError, layout};

/// The side-data kind under `.modferry/meta/` that holds leases.
pub const LEASE_KIND: &str = "lease";

/// How long a lease is valid by default: long enough for a large zip to be fetched and
/// validated, short enough that a dead holder delays others only briefly.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(60);

/// How often a waiting replica looks for the target object.
const POLL: Duration = Duration::from_millis(100);

/// Leases on one store, taken in the name of one owner (this process).
#[derive(Clone)]
pub struct Leases {
    store: DynStore,
    owner: String,
    ttl: Duration,
    /// Leases this process holds now (lease key → how many holders). One in the store under
    /// this owner id but not counted here is a leftover of a failed release.
    held: Arc<HeldKeys>,
}

/// A lease this process holds; give it back with [`Leases::release`].
#[derive(Debug)]
pub struct Lease {
    key: Key,
}

/// What [`Leases::acquire`] found.
#[derive(Debug)]
pub enum Acquired {
    /// This process holds the lease: fetch, store, then release.
    Owned(Lease),
    /// Another owner holds a live lease until the given time.
    Held {
        /// The holder's id, for logs.
        owner: String,
        /// When the lease expires.
        expires: SystemTime,
    },
}

/// The parsed body of a lease object.
#[derive(Debug, PartialEq, Eq)]
struct Body {
    owner: String,
    expires_ms: u128,
}

impl Body {
    fn encode(&self) -> String {
        format!("owner {}\nexpires {}\n", self.owner, self.expires_ms)
    }

    fn parse(text: &[u8]) -> Option<Body> {
        let text = std::str::from_utf8(text).ok()?;
        let mut owner = None;
        let mut expires = None;
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("owner", v)) => owner = Some(v.to_owned()),
                Some(("expires", v)) => expires = v.trim().parse::<u128>().ok(),
                _ => {}
            }
        }
        Some(Body {
            owner: owner?,
            expires_ms: expires?,
        })
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

fn ms_to_time(ms: u128) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// A process-unique owner id: host name (when known), process id and a random number.
pub fn owner_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(now_ms());
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".to_owned());
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        .collect();
    format!("{host}-{}-{:08x}", std::process::id(), h.finish() as u32)
}

impl Leases {
    /// Leases on `store`, valid for `ttl` each, owned by a fresh [`owner_id`].
    pub fn new(store: DynStore, ttl: Duration) -> Leases {
        Leases {
            store,
            owner: owner_id(),
            ttl,
            held: Arc::default(),
        }
    }

    /// The lease time.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// This process's owner id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn lease_key(target: &Key) -> Result<Key, StoreError> {
        layout::meta(LEASE_KIND, target)
    }

    /// Tries to take the lease on `target`: creates it, or takes over an expired (or
    /// unreadable) one, or one of this owner that it does not hold (a failed release).
    pub async fn acquire(&self, target: &Key) -> Result<Acquired, StoreError> {
        let key = Self::lease_key(target)?;
        // Twice at most: a create that loses, then (if the lease found is expired) a takeover.
        for _ in 0..2 {
            let body = Body {
                owner: self.owner.clone(),
                expires_ms: now_ms() + self.ttl.as_millis(),
            };
            let payload = Payload::Bytes(Bytes::from(body.encode()));
            if self.store.put(&key, payload, PutMode::Create).await? == PutOutcome::Created {
                self.held.take(key.as_str());
                return Ok(Acquired::Owned(Lease { key }));
            }
            let found = self.store.get_bytes(&key, 4096).await?;
            let parsed = found.as_deref().and_then(Body::parse);
            let leftover = parsed.as_ref().is_some_and(|b| b.owner == self.owner)
                && !self.held.holds(key.as_str());
            match parsed {
                Some(b) if b.expires_ms > now_ms() && !leftover => {
                    return Ok(Acquired::Held {
                        owner: b.owner,
                        expires: ms_to_time(b.expires_ms),
                    });
                }
                // Gone meanwhile: just try again.
                _ if found.is_none() => {}
                // Expired or garbage: take it over (see the module doc for the race).
                stale => {
                    tracing::info!(
                        lease = %key,
                        previous = stale.map(|b| b.owner).unwrap_or_default(),
                        "{}",
                        if leftover {
                            "taking over a lease this process failed to release"
                        } else {
                            "taking over an expired lease"
                        }
                    );
                    self.store.delete(&key).await?;
                }
            }
        }
        // Another replica won the takeover.
        Ok(Acquired::Held {
            owner: "unknown".to_owned(),
            expires: SystemTime::now() + self.ttl,
        })
    }

    /// Gives the lease back (deletes the object). Failures are logged: the lease then simply
    /// expires.
    pub async fn release(&self, lease: Lease) {
        let deleted = self.store.delete(&lease.key).await;
        self.held.give_back(lease.key.as_str());
        if let Err(e) = deleted {
            tracing::warn!(lease = %lease.key, error = %e, "cannot release a lease; it will expire");
        }
    }

    /// Waits while another owner's lease on `target` is live: returns `true` as soon as
    /// `ready()` says the target is there, `false` when the lease is released or expires (the
    /// caller then tries [`Leases::acquire`] again).
    pub async fn wait<F, Fut>(
        &self,
        target: &Key,
        expires: SystemTime,
        mut ready: F,
    ) -> Result<bool, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<bool, StoreError>>,
    {
        let key = Self::lease_key(target)?;
        loop {
            if ready().await? {
                return Ok(true);
            }
            if SystemTime::now() >= expires || self.store.head(&key).await?.is_none() {
                // One last look: the holder stores before it releases.
                return ready().await;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn lease_body_round_trips_and_rejects_garbage() {
        let b = Body {
            owner: "host-1-abcd".to_owned(),
            expires_ms: 1_700_000_000_123,
        };
        assert_eq!(Body::parse(b.encode().as_bytes()), Some(b));
        const BAD: &[&[u8]] = &[
            b"",
            b"owner x\n",
            b"expires 12\n",
            b"owner x\nexpires soon\n",
        ];
        for bad in BAD {
            assert_eq!(Body::parse(bad), None, "{bad:?}");
        }
    }

    fn store() -> (tempfile::TempDir, DynStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = modferry_store::FsStore::open(dir.path()).unwrap();
        (dir, Arc::new(s))
    }

    #[tokio::test]
    async fn lease_has_one_owner_until_released() {
        let (_d, store) = store();
        let a = Leases::new(Arc::clone(&store), Duration::from_secs(30));
        let b = Leases::new(Arc::clone(&store), Duration::from_secs(30));
        let target = Key::new("example.com/m/@v/v1.0.0.zip").unwrap();
        let Acquired::Owned(lease) = a.acquire(&target).await.unwrap() else {
            panic!("first acquire must own");
        };
        match b.acquire(&target).await.unwrap() {
            Acquired::Held { owner, .. } => assert_eq!(owner, a.owner()),
            other => panic!("second acquire must see the holder, got {other:?}"),
        }
        a.release(lease).await;
        assert!(matches!(
            b.acquire(&target).await.unwrap(),
            Acquired::Owned(_)
        ));
    }

    #[tokio::test]
    async fn lease_expired_is_taken_over() {
        let (_d, store) = store();
        let a = Leases::new(Arc::clone(&store), Duration::from_millis(1));
        let b = Leases::new(Arc::clone(&store), Duration::from_secs(30));
        let target = Key::new("example.com/m/@v/v1.0.0.zip").unwrap();
        assert!(matches!(
            a.acquire(&target).await.unwrap(),
            Acquired::Owned(_)
        ));
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(matches!(
            b.acquire(&target).await.unwrap(),
            Acquired::Owned(_)
        ));
    }

    #[tokio::test]
    async fn lease_left_by_a_failed_release_is_taken_over_by_its_owner_only() {
        let (_d, store) = store();
        let a = Leases::new(Arc::clone(&store), Duration::from_secs(30));
        let b = Leases::new(Arc::clone(&store), Duration::from_secs(30));
        let target = Key::new("example.com/m/@v/v1.0.0.zip").unwrap();
        let Acquired::Owned(lease) = a.acquire(&target).await.unwrap() else {
            panic!("first acquire must own");
        };
        // Held: a second acquire in the same process waits like any other.
        assert!(matches!(
            a.acquire(&target).await.unwrap(),
            Acquired::Held { .. }
        ));
        // The release's delete failed (store down): the object stays, the process let go.
        a.held.give_back(lease.key.as_str());
        assert!(matches!(
            b.acquire(&target).await.unwrap(),
            Acquired::Held { .. }
        ));
        assert!(matches!(
            a.acquire(&target).await.unwrap(),
            Acquired::Owned(_)
        ));
    }

    #[tokio::test]
    async fn lease_wait_returns_when_target_appears_or_lease_is_released() {
        let (_d, store) = store();
        let a = Leases::new(Arc::clone(&store), Duration::from_secs(30));
        let target = Key::new("example.com/m/@v/v1.0.0.zip").unwrap();
        let Acquired::Owned(lease) = a.acquire(&target).await.unwrap() else {
            panic!("must own");
        };
        let expires = SystemTime::now() + Duration::from_secs(30);
        let s2 = Arc::clone(&store);
        let t2 = target.clone();
        let waiter = tokio::spawn({
            let a = a.clone();
            async move {
                a.wait(&t2.clone(), expires, || {
                    let s = Arc::clone(&s2);
                    let t = t2.clone();
                    async move { Ok(s.head(&t).await?.is_some()) }
                })
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(150)).await;
        store
            .put(
                &target,
                Payload::Bytes(Bytes::from_static(b"z")),
                PutMode::Create,
            )
            .await
            .unwrap();
        assert!(waiter.await.unwrap().unwrap());
        a.release(lease).await;
        // Released without the target: wait says "go try yourself".
        let other = Key::new("example.com/m/@v/v2.0.0.zip").unwrap();
        let got = a
            .wait(&other, expires, || async { Ok(false) })
            .await
            .unwrap();
        assert!(!got);
    }
}
