//! Keys remembered for a while, forgotten in the order they came: the de-duplication
//! memory (every input id applied within `routing.dedupe_window_hours`, so that a
//! redelivered input changes nothing) and the closed contacts (each tenant's contact ids
//! closed within `routing.closed_contact_retention_hours`, for late surveys and so that
//! an id is not reused).
//!
//! They hold a day's or a week's traffic, a million keys or more, and are asked on every
//! input, so they are laid out for the cache:
//! - The keys' bytes are appended in the order they came, which is also the order they
//!   expire in: no allocation per key, and memory written once, front to back, instead of
//!   a million small objects kept alive for a day. Keys and bytes are kept in fixed-size
//!   blocks, so growing never copies what is held, and expired blocks are dropped whole.
//! - The lookup table is one array of 8-byte slots (32 bits of the key's hash and its
//!   position in the ring), probed linearly: a probe for a new key, the common case,
//!   reads one cache line of one array. (A general hash map reads a control array and then
//!   an entry array, two misses per probe once the table outgrows the cache; measured,
//!   the de-duplication probe was the largest single stall of the input path.)
//! - Only when the 32 bits agree is the key itself read and compared, so two keys whose
//!   hashes collide are still told apart.
//!
//! Each memory also has a bound on how many keys it holds (`routing.dedupe_max_ids`,
//! `routing.closed_contact_max`): past it the oldest key is forgotten first, as if its
//! time had passed. Without it, memory grows with the rate (a day of ids at 5,000 inputs/s
//! is 432 million keys); with it, a stated number of bytes. Which keys are held is still a
//! function of the log alone (the order keys came in), so replays and restores agree.
//!
//! A snapshot reads the keys while the engine goes on: [`RecentKeys::frozen`] shares the
//! blocks (reference-counted) instead of copying them, and a block still being written is
//! copied only when the engine next appends to it (copy on write). Taking the view costs
//! one counter increment per block, a few thousand for millions of keys.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::print_table::{print_of, PrintTable};

/// Positions (in the ring and in the byte buffer) are kept modulo 2^32 in the table and
/// the entries; that stays unambiguous while fewer than this many are live.
const LIVE_LIMIT: usize = 1 << 31;

#[derive(Clone)]
struct Remembered {
    at: i64,
    /// Where the key's bytes start, as a position in the byte blocks (see [`Bytes`]),
    /// modulo 2^32.
    start: u32,
    len: u32,
    /// Which keyspace (a tenant, for contact ids).
    tag: u32,
    print: u32,
}

/// Entries per block of the ring, and bytes per block of the byte buffer.
const BLOCK_ENTRIES: usize = 4096;
const BLOCK_BYTES: usize = 1 << 16;

/// The last block, writable: shared with a snapshot in progress, it is copied first (at
/// full capacity, so the copy is not reallocated as it fills).
fn writable<T: Clone>(block: &mut Arc<Vec<T>>, capacity: usize) -> &mut Vec<T> {
    if Arc::get_mut(block).is_none() {
        let mut copy = Vec::with_capacity(capacity);
        copy.extend_from_slice(block);
        *block = Arc::new(copy);
    }
    Arc::get_mut(block).expect("a block just copied has one owner")
}

/// Items in the order they came, in blocks of fixed size: appending never moves what is
/// stored (a growing array copies everything it holds at each doubling, a day of keys in
/// one input), and the expired front is dropped a block at a time.
#[derive(Clone)]
struct Blocks<T> {
    blocks: VecDeque<Arc<Vec<T>>>,
    /// Where the first live item is in `blocks[0]`.
    front: usize,
    len: usize,
}

impl<T> Default for Blocks<T> {
    fn default() -> Self {
        Blocks {
            blocks: VecDeque::new(),
            front: 0,
            len: 0,
        }
    }
}

impl<T: Clone> Blocks<T> {
    fn get(&self, i: usize) -> &T {
        let k = self.front + i;
        &self.blocks[k / BLOCK_ENTRIES][k % BLOCK_ENTRIES]
    }

    fn first(&self) -> Option<&T> {
        (self.len > 0).then(|| self.get(0))
    }

    fn push(&mut self, item: T) {
        if self.blocks.back().is_none_or(|b| b.len() == BLOCK_ENTRIES) {
            self.blocks
                .push_back(Arc::new(Vec::with_capacity(BLOCK_ENTRIES)));
        }
        if let Some(b) = self.blocks.back_mut() {
            writable(b, BLOCK_ENTRIES).push(item);
        }
        self.len += 1;
    }

    fn pop_front(&mut self) {
        if self.len == 0 {
            return;
        }
        self.front += 1;
        self.len -= 1;
        if self.front == BLOCK_ENTRIES {
            self.blocks.pop_front();
            self.front = 0;
        }
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.blocks
            .iter()
            .flat_map(|b| b.iter())
            .skip(self.front)
            .take(self.len)
    }
}

/// The keys' bytes in blocks of [`BLOCK_BYTES`], block `i` starting at position
/// `base + i * BLOCK_BYTES`; a key never straddles two blocks.
#[derive(Default, Clone)]
struct Bytes {
    blocks: VecDeque<Arc<Vec<u8>>>,
    /// The position of the first byte of `blocks[0]`, modulo 2^32.
    base: u32,
}

impl Bytes {
    fn get(&self, start: u32, len: u32) -> &[u8] {
        let at = start.wrapping_sub(self.base) as usize;
        let (block, off) = (at / BLOCK_BYTES, at % BLOCK_BYTES);
        &self.blocks[block][off..off + len as usize]
    }

    fn push(&mut self, b: &[u8]) -> u32 {
        assert!(b.len() <= BLOCK_BYTES, "a key longer than a block");
        assert!(
            self.blocks.len() * BLOCK_BYTES < LIVE_LIMIT,
            "remembered keys exceed 2 GiB"
        );
        if self
            .blocks
            .back()
            .is_none_or(|v| v.len() + b.len() > BLOCK_BYTES)
        {
            self.blocks
                .push_back(Arc::new(Vec::with_capacity(BLOCK_BYTES)));
        }
        let block = self.blocks.len() - 1;
        let v = writable(&mut self.blocks[block], BLOCK_BYTES);
        let start = self
            .base
            .wrapping_add((block * BLOCK_BYTES + v.len()) as u32);
        v.extend_from_slice(b);
        start
    }

    /// The position just past the last byte.
    fn end(&self) -> u32 {
        let written = self.blocks.back().map_or(0, |b| b.len());
        let before = self.blocks.len().saturating_sub(1) * BLOCK_BYTES;
        self.base.wrapping_add((before + written) as u32)
    }

    /// Nothing before `start` is needed any more: drop the blocks wholly before it.
    fn release_before(&mut self, start: u32) {
        while self.blocks.len() > 1 && start.wrapping_sub(self.base) as usize >= BLOCK_BYTES {
            self.blocks.pop_front();
            self.base = self.base.wrapping_add(BLOCK_BYTES as u32);
        }
    }
}

/// The keys in the order they came, and their bytes.
#[derive(Default, Clone)]
struct Ring {
    entries: Blocks<Remembered>,
    /// The position of `entries[0]`, counted from the first key ever remembered, modulo
    /// 2^32.
    first: u32,
    bytes: Bytes,
}

impl Ring {
    fn get(&self, pos: u32) -> &Remembered {
        self.entries.get(pos.wrapping_sub(self.first) as usize)
    }

    /// Is the key at position `pos` `id` under `tag`?
    fn holds(&self, pos: u32, tag: u32, id: &str) -> bool {
        let r = self.get(pos);
        r.tag == tag && self.bytes.get(r.start, r.len) == id.as_bytes()
    }

    /// Append a key; its position.
    fn push(&mut self, at: i64, print: u32, tag: u32, id: &str) -> u32 {
        assert!(self.entries.len < LIVE_LIMIT, "remembered keys exceed 2^31");
        let pos = self.first.wrapping_add(self.entries.len as u32);
        let start = self.bytes.push(id.as_bytes());
        self.entries.push(Remembered {
            at,
            start,
            len: id.len() as u32,
            tag,
            print,
        });
        pos
    }
}

pub struct RecentKeys {
    table: PrintTable,
    ring: Ring,
    /// The most keys held; past it the oldest is forgotten.
    limit: usize,
}

impl Default for RecentKeys {
    fn default() -> Self {
        RecentKeys::with_limit(u64::MAX)
    }
}

/// The keys of a [`RecentKeys`] as they were when [`RecentKeys::frozen`] was called,
/// readable on another thread while the memory goes on changing.
#[derive(Clone)]
pub struct FrozenKeys {
    ring: Ring,
}

impl FrozenKeys {
    /// (remembered at, tag, key), oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (i64, u32, &str)> {
        self.ring.entries.iter().map(|r| {
            // The bytes were copied from a str, whole.
            let id = std::str::from_utf8(self.ring.bytes.get(r.start, r.len)).unwrap_or_default();
            (r.at, r.tag, id)
        })
    }

    pub fn len(&self) -> usize {
        self.ring.entries.len
    }

    pub fn is_empty(&self) -> bool {
        self.ring.entries.len == 0
    }
}

impl RecentKeys {
    pub fn new() -> RecentKeys {
        RecentKeys::default()
    }

    /// A memory that holds at most `limit` keys (at least one).
    pub fn with_limit(limit: u64) -> RecentKeys {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX).max(1);
        RecentKeys {
            // A key is added before the oldest is forgotten: one more than the bound.
            table: PrintTable::expecting(limit.saturating_add(1)),
            ring: Ring::default(),
            limit,
        }
    }

    /// The keys as they are now, shared rather than copied (see the module's notes).
    pub fn frozen(&self) -> FrozenKeys {
        FrozenKeys {
            ring: self.ring.clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.ring.entries.len
    }

    pub fn is_empty(&self) -> bool {
        self.ring.entries.len == 0
    }

    /// Remember `id` under `tag` at time `at`; false if it already was. Times must not
    /// decrease.
    pub fn insert(&mut self, tag: u32, id: &str, at: i64) -> bool {
        self.insert_if(tag, id, at, || true)
    }

    /// As [`RecentKeys::insert`], but a key not yet remembered is remembered only if
    /// `admit` says yes (true either way).
    pub fn insert_if(&mut self, tag: u32, id: &str, at: i64, admit: impl FnOnce() -> bool) -> bool {
        let print = print_of(tag, id);
        let RecentKeys { table, ring, .. } = self;
        match table.find(print, |pos| ring.holds(pos, tag, id)) {
            Ok(_) => false,
            Err(empty) => {
                if admit() {
                    let pos = ring.push(at, print, tag, id);
                    table.fill(empty, print, pos);
                    if ring.entries.len > self.limit {
                        self.forget_oldest();
                        self.release_bytes();
                    }
                }
                true
            }
        }
    }

    /// Forget the oldest key (there is one).
    fn forget_oldest(&mut self) {
        let ring = &mut self.ring;
        if let Some(front) = ring.entries.first() {
            let (pos, print) = (ring.first, front.print);
            self.table.remove(print, pos);
            ring.entries.pop_front();
            ring.first = ring.first.wrapping_add(1);
        }
    }

    /// Drop the byte blocks no live key uses.
    fn release_bytes(&mut self) {
        let ring = &mut self.ring;
        let live_from = match ring.entries.first() {
            Some(front) => front.start,
            None => ring.bytes.end(),
        };
        ring.bytes.release_before(live_from);
    }

    /// Start loading the slot a probe for `id` under `tag` reads first. The table is far
    /// larger than the cache, so that load is a trip to memory; issued one input ahead,
    /// it overlaps with the work on the input before.
    #[inline]
    pub fn prefetch(&self, tag: u32, id: &str) {
        self.table.prefetch(print_of(tag, id));
    }

    /// Is `id` remembered under `tag`?
    pub fn contains(&self, tag: u32, id: &str) -> bool {
        let print = print_of(tag, id);
        self.table
            .find(print, |pos| self.ring.holds(pos, tag, id))
            .is_ok()
    }

    /// Forget the keys remembered before `before`.
    pub fn expire(&mut self, before: i64) {
        let mut expired = false;
        while self.ring.entries.first().is_some_and(|f| f.at < before) {
            self.forget_oldest();
            expired = true;
        }
        if expired {
            self.release_bytes();
        }
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

    /// A memory at its bound of 100,000 ids takes its table's full size while it still
    /// holds a few hundred, and keeps it while ids come and go: no input ever waits for
    /// the table to double (past 655,000 ids a doubling held a soak's loop 36 ms).
    #[test]
    fn a_bounded_memory_sizes_its_table_once_while_small() {
        let mut seen = RecentKeys::with_limit(100_000);
        for n in 0..300_000u32 {
            assert!(seen.insert(0, &format!("ev-{n}"), i64::from(n)));
            if n == 1_000 || n == 299_999 {
                assert_eq!(seen.table.slot_count(), 1 << 18, "after {n} ids");
            }
        }
        assert_eq!(seen.len(), 100_000);
        assert!(
            !seen.insert(0, "ev-299999", 300_000),
            "the newest is still a duplicate"
        );
        assert!(seen.insert(0, "ev-0", 300_000), "the oldest was forgotten");
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

    /// Keys of every length up to 200 bytes fill many blocks of bytes and entries; after
    /// expiring the older half, every live key is found, in order, and no expired one.
    #[test]
    fn keys_across_block_boundaries() {
        let mut keys = RecentKeys::new();
        let key = |i: usize| format!("{i}-{}", "x".repeat(i % 200));
        let n = 3 * BLOCK_ENTRIES + 17;
        for i in 0..n {
            assert!(keys.insert(1, &key(i), i as i64));
        }
        keys.expire((n / 2) as i64);
        assert_eq!(keys.len(), n - n / 2);
        for i in 0..n {
            assert_eq!(keys.contains(1, &key(i)), i >= n / 2, "key {i}");
        }
        let live: Vec<String> = keys.iter().map(|(_, _, k)| k.to_string()).collect();
        let want: Vec<String> = (n / 2..n).map(key).collect();
        assert_eq!(live, want);
        assert!(
            keys.ring.bytes.blocks.len() < (n * 100) / BLOCK_BYTES,
            "expired byte blocks were dropped"
        );
        keys.expire(n as i64);
        assert!(keys.is_empty());
        assert!(
            keys.insert(1, &key(0), n as i64),
            "forgotten keys are new again"
        );
    }

    /// Past its limit the memory forgets its oldest keys first, whatever their time.
    #[test]
    fn a_full_memory_forgets_the_oldest_first() {
        let mut seen = RecentKeys::with_limit(3 * BLOCK_ENTRIES as u64);
        let n = 10 * BLOCK_ENTRIES;
        for i in 0..n {
            assert!(seen.insert(0, &format!("id-{i}"), 0));
        }
        assert_eq!(seen.len(), 3 * BLOCK_ENTRIES);
        for i in 0..n {
            let held = i >= n - 3 * BLOCK_ENTRIES;
            assert_eq!(seen.contains(0, &format!("id-{i}")), held, "id-{i}");
        }
        assert!(
            seen.ring.bytes.blocks.len() <= 2,
            "the bytes of forgotten keys are released"
        );
        assert!(seen.insert(0, "id-0", 1), "a forgotten id is new again");
    }

    /// A frozen view keeps what was there when it was taken while the memory goes on,
    /// and appending after it copies only the block being written.
    #[test]
    fn a_frozen_view_does_not_change() {
        let mut seen = RecentKeys::new();
        for i in 0..(BLOCK_ENTRIES + 10) {
            seen.insert(0, &format!("k{i}"), i as i64);
        }
        let view = seen.frozen();
        let before: Vec<(i64, String)> = view.iter().map(|(t, _, k)| (t, k.into())).collect();
        for i in 0..BLOCK_ENTRIES {
            seen.insert(0, &format!("later{i}"), 1_000_000 + i as i64);
        }
        seen.expire(1_000_000);
        let after: Vec<(i64, String)> = view.iter().map(|(t, _, k)| (t, k.into())).collect();
        assert_eq!(before, after);
        assert_eq!(view.len(), BLOCK_ENTRIES + 10);
        assert_eq!(seen.len(), BLOCK_ENTRIES);
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
