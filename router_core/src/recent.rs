//! Keys remembered for a while, forgotten in the order they came: the de-duplication
//! memory (every input id applied within `routing.dedupe_window_hours`, so that a
//! redelivered input changes nothing) and the closed contacts (each tenant's contact ids
//! closed within `routing.closed_contact_retention_hours`, for late surveys and so that
//! an id is not reused).
//!
//! They hold a day's or a week's traffic, a million keys or more, and are asked on every
//! input, so they are laid out for the cache. The keys' bytes are appended to one buffer
//! in the order they came, which is also the order they expire in: no allocation per key,
//! and memory that is written once, front to back, instead of a million small objects
//! kept alive for a day (measured: that alone cost a third of the core's time). The lookup
//! table holds only each key's 64-bit hash and position in the ring (16 bytes): a probe
//! reads the table and, only when the hashes agree, the key itself, so two keys whose
//! hashes collide are still told apart.

use hashbrown::hash_table::{Entry, HashTable};
use rustc_hash::FxHasher;
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

fn hash_of(tag: u32, key: &str) -> u64 {
    let mut h = FxHasher::default();
    tag.hash(&mut h);
    key.hash(&mut h);
    h.finish()
}

struct Remembered {
    at: i64,
    hash: u64,
    /// Which keyspace (a tenant, for contact ids).
    tag: u32,
    /// Where the id's bytes start in `bytes`, counted from the first byte ever written.
    start: u64,
    len: u32,
}

/// The ids' bytes, appended in order; the expired front is dropped in large steps.
#[derive(Default)]
struct Bytes {
    buf: Vec<u8>,
    /// The position of `buf[0]`.
    base: u64,
}

impl Bytes {
    fn get(&self, start: u64, len: u32) -> &[u8] {
        let at = (start - self.base) as usize;
        &self.buf[at..at + len as usize]
    }

    fn push(&mut self, b: &[u8]) -> u64 {
        let start = self.base + self.buf.len() as u64;
        self.buf.extend_from_slice(b);
        start
    }

    /// Nothing before `start` is needed any more.
    fn release_before(&mut self, start: u64) {
        let dead = (start - self.base) as usize;
        // Moving the live bytes down costs their length; doing it only once the dead part
        // is as large keeps the cost per byte constant.
        if dead >= 1 << 16 && dead >= self.buf.len() / 2 {
            self.buf.drain(..dead);
            self.base = start;
        }
    }
}

/// The keys in the order they came, and their bytes.
#[derive(Default)]
struct Ring {
    entries: VecDeque<Remembered>,
    /// The position of `entries[0]`, counted from the first key ever remembered.
    first: u64,
    bytes: Bytes,
}

impl Ring {
    /// Is the key at position `pos` `id` under `tag`?
    fn holds(&self, pos: u64, tag: u32, id: &str) -> bool {
        let r = &self.entries[(pos - self.first) as usize];
        r.tag == tag && self.bytes.get(r.start, r.len) == id.as_bytes()
    }

    /// Append a key; its position.
    fn push(&mut self, at: i64, hash: u64, tag: u32, id: &str) -> u64 {
        let pos = self.first + self.entries.len() as u64;
        let start = self.bytes.push(id.as_bytes());
        self.entries.push_back(Remembered {
            at,
            hash,
            tag,
            start,
            len: id.len() as u32,
        });
        pos
    }
}

#[derive(Default)]
pub struct RecentKeys {
    /// (hash, position in the ring). The hash is kept beside the position so that growing
    /// the table, and most probes, read only the table and not the ring.
    table: HashTable<(u64, u64)>,
    ring: Ring,
}

impl RecentKeys {
    pub fn new() -> RecentKeys {
        RecentKeys::default()
    }

    pub fn len(&self) -> usize {
        self.ring.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ring.entries.is_empty()
    }

    /// Remember `id` under `tag` at time `at`; false if it already was. Times must not
    /// decrease.
    pub fn insert(&mut self, tag: u32, id: &str, at: i64) -> bool {
        self.insert_if(tag, id, at, || true)
    }

    /// As [`RecentKeys::insert`], but a key not yet remembered is remembered only if
    /// `admit` says yes (true either way).
    pub fn insert_if(&mut self, tag: u32, id: &str, at: i64, admit: impl FnOnce() -> bool) -> bool {
        let hash = hash_of(tag, id);
        let RecentKeys { table, ring } = self;
        let entry = table.entry(
            hash,
            |&(h, pos)| h == hash && ring.holds(pos, tag, id),
            |&(h, _)| h,
        );
        match entry {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                if admit() {
                    v.insert((hash, ring.push(at, hash, tag, id)));
                }
                true
            }
        }
    }

    /// Is `id` remembered under `tag`?
    pub fn contains(&self, tag: u32, id: &str) -> bool {
        let hash = hash_of(tag, id);
        self.table
            .find(hash, |&(h, pos)| h == hash && self.ring.holds(pos, tag, id))
            .is_some()
    }

    /// Forget the keys remembered before `before`.
    pub fn expire(&mut self, before: i64) {
        let ring = &mut self.ring;
        while let Some(front) = ring.entries.front() {
            if front.at >= before {
                break;
            }
            let (hash, pos) = (front.hash, ring.first);
            if let Ok(e) = self.table.find_entry(hash, |&(_, p)| p == pos) {
                e.remove();
            }
            ring.entries.pop_front();
            ring.first += 1;
        }
        let live_from = match ring.entries.front() {
            Some(front) => front.start,
            None => ring.bytes.base + ring.bytes.buf.len() as u64,
        };
        ring.bytes.release_before(live_from);
    }

    /// (remembered at, tag, key), oldest first: what a snapshot keeps.
    pub fn iter(&self) -> impl Iterator<Item = (i64, u32, &str)> {
        self.ring.entries.iter().map(|r| {
            // The bytes were copied from a str, whole.
            let id = std::str::from_utf8(self.ring.bytes.get(r.start, r.len)).unwrap_or_default();
            (r.at, r.tag, id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> &str {
        s
    }

    #[test]
    fn remembers_within_the_window_and_forgets_after() {
        let mut seen = RecentKeys::new();
        assert!(seen.insert_if(0, id("a"), 10, || true));
        assert!(seen.insert_if(0, id("b"), 20, || true));
        assert!(!seen.insert_if(0, id("a"), 25, || true), "a is a duplicate");
        seen.expire(15);
        assert_eq!(seen.len(), 1);
        assert!(seen.insert_if(0, id("a"), 30, || true), "a was forgotten");
        assert!(!seen.insert_if(0, id("b"), 30, || true));
        let kept: Vec<_> = seen.iter().map(|(t, _, s)| (t, s.to_string())).collect();
        assert_eq!(kept, vec![(20, "b".to_string()), (30, "a".to_string())]);
    }

    #[test]
    fn tags_keep_keys_apart() {
        let mut closed = RecentKeys::new();
        assert!(closed.insert_if(3, "c1", 10, || true));
        assert!(closed.contains(3, "c1"));
        assert!(
            !closed.contains(4, "c1"),
            "another tenant's c1 is another contact"
        );
        assert!(closed.insert_if(4, "c1", 11, || true));
        assert!(!closed.insert_if(3, "c1", 12, || true));
    }

    #[test]
    fn an_id_not_admitted_is_not_remembered() {
        let mut seen = RecentKeys::new();
        assert!(seen.insert_if(0, id("far-future"), 10, || false));
        assert!(seen.is_empty());
        assert!(seen.insert_if(0, id("far-future"), 11, || true));
        assert!(!seen.insert_if(0, id("far-future"), 12, || true));
    }

    /// Many ids, expired in waves, against a plain set with the same rule.
    #[test]
    fn agrees_with_a_plain_set() {
        use std::collections::{HashMap, VecDeque};
        let mut seen = RecentKeys::new();
        let mut model: HashMap<String, i64> = HashMap::new();
        let mut order: VecDeque<(i64, String)> = VecDeque::new();
        let mut state = 1u64;
        for t in 0..50_000i64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let s = format!("id-{}", (state >> 33) % 20_000);
            let fresh = !model.contains_key(&s);
            assert_eq!(seen.insert_if(0, id(&s), t, || true), fresh, "at {t}: {s}");
            if fresh {
                model.insert(s.clone(), t);
                order.push_back((t, s));
            }
            if t % 1000 == 999 {
                let before = t - 5_000;
                seen.expire(before);
                while order.front().is_some_and(|(at, _)| *at < before) {
                    let (_, s) = order.pop_front().unwrap();
                    model.remove(&s);
                }
                assert_eq!(seen.len(), model.len());
            }
        }
    }
}
