//! Values by a `u64` key, kept in a slab: the open contacts by uid.
//!
//! A hash map holding the values themselves puts each new one at a random place in a
//! table that outgrows the cache (a contact is about 250 bytes, ten thousand of them are
//! open at 10k agents), so every arrival wrote four cold cache lines. Here the map holds
//! only the slot number, and a freed slot is the next one filled: a new contact is
//! written where the last closed one was, memory that is still in the cache.
//!
//! Keys are uids, handed out in increasing order, and most values live a short while. So
//! the slot of a key is found by position in a window over the recent keys, one array
//! read, instead of a probe of a hash table with a cold bucket on most inputs. Keys that
//! stay while the window moves on (a callback due tomorrow) move to a small hash map. The
//! window is kept to at most twice the values held plus [`WINDOW_SLACK`], so memory stays
//! in proportion to the values held, whatever order the keys come in.

use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// A window position whose key holds no value.
const NONE: u32 = u32::MAX;

/// Positions the window may hold beyond twice the values held.
const WINDOW_SLACK: usize = 4096;

pub struct KeyedSlab<T> {
    /// The slot of each key from `base` on, by position.
    window: VecDeque<u32>,
    /// The key at the window's first position. Every key in `older` is below it.
    base: u64,
    /// Slots of keys that fell behind the window while still held.
    older: FxHashMap<u64, u32>,
    slots: Vec<Option<T>>,
    /// Freed slots, the most recently freed last.
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for KeyedSlab<T> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<T> KeyedSlab<T> {
    /// Room for `n` values before any growth (growing copies every value held).
    pub fn with_capacity(n: usize) -> Self {
        KeyedSlab {
            window: VecDeque::with_capacity(n),
            base: 0,
            older: FxHashMap::default(),
            slots: Vec::with_capacity(n),
            free: Vec::new(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The window position of `key`, if the window covers it.
    #[inline]
    fn position(&self, key: u64) -> Option<usize> {
        let off = key.wrapping_sub(self.base);
        (key >= self.base && off < self.window.len() as u64).then_some(off as usize)
    }

    /// The slot holding `key`'s value: stable while the key is held.
    #[inline]
    pub fn slot(&self, key: &u64) -> Option<u32> {
        let key = *key;
        match self.position(key) {
            Some(p) => Some(self.window[p]).filter(|&s| s != NONE),
            None if key < self.base => self.older.get(&key).copied(),
            None => None,
        }
    }

    #[inline]
    pub fn get(&self, key: &u64) -> Option<&T> {
        let i = self.slot(key)?;
        self.slots[i as usize].as_ref()
    }

    #[inline]
    pub fn get_mut(&mut self, key: &u64) -> Option<&mut T> {
        let i = self.slot(key)?;
        self.slots[i as usize].as_mut()
    }

    /// The value in `slot`, if one is held there.
    #[inline]
    pub fn at(&self, slot: u32) -> Option<&T> {
        self.slots.get(slot as usize)?.as_ref()
    }

    /// Store `value` under `key`; the value it replaces, if any.
    pub fn insert(&mut self, key: u64, value: T) -> Option<T> {
        if let Some(i) = self.slot(&key) {
            return self.slots[i as usize].replace(value);
        }
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(value);
                i
            }
            None => {
                self.slots.push(Some(value));
                (self.slots.len() - 1) as u32
            }
        };
        self.len += 1;
        if key < self.base {
            self.older.insert(key, slot);
            return None;
        }
        if self.window.is_empty() {
            // Every key before is behind `base`, so the window may start here.
            self.base = key;
        }
        let off = key - self.base;
        if let Some(free) = self.window.get_mut(off as usize) {
            *free = slot;
            return None;
        }
        if off > (2 * self.len + WINDOW_SLACK) as u64 {
            // Far ahead of the window: start a new one here.
            self.retire(self.window.len());
            self.base = key;
        } else {
            self.window.resize(off as usize, NONE);
        }
        self.window.push_back(slot);
        let limit = 2 * self.len + WINDOW_SLACK;
        if self.window.len() > limit {
            self.retire(self.window.len() - limit);
        }
        None
    }

    /// Move the first `n` window positions behind the window.
    fn retire(&mut self, n: usize) {
        for slot in self.window.drain(..n) {
            if slot != NONE {
                self.older.insert(self.base, slot);
            }
            self.base += 1;
        }
        self.trim();
    }

    /// Drop free positions from the window's front.
    fn trim(&mut self) {
        while self.window.front() == Some(&NONE) {
            self.window.pop_front();
            self.base += 1;
        }
    }

    pub fn remove(&mut self, key: &u64) -> Option<T> {
        let i = match self.position(*key) {
            Some(p) => {
                let i = std::mem::replace(&mut self.window[p], NONE);
                if i == NONE {
                    return None;
                }
                if p == 0 {
                    self.trim();
                }
                i
            }
            None if *key < self.base => self.older.remove(key)?,
            None => return None,
        };
        self.len -= 1;
        self.free.push(i);
        self.slots[i as usize].take()
    }

    /// The values, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }
}

impl<T> std::ops::Index<&u64> for KeyedSlab<T> {
    type Output = T;

    #[inline]
    fn index(&self, key: &u64) -> &T {
        self.get(key).expect("no value under this key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_slot_is_filled_next_and_keys_stay_apart() {
        let mut s: KeyedSlab<String> = KeyedSlab::default();
        assert_eq!(s.insert(10, "a".into()), None);
        assert_eq!(s.insert(11, "b".into()), None);
        assert_eq!(s.remove(&10), Some("a".into()));
        assert_eq!(s.remove(&10), None, "removed once");
        assert_eq!(s.insert(12, "c".into()), None);
        assert_eq!(s.slots.len(), 2, "slot of 10 reused");
        assert_eq!(s[&12], "c");
        assert_eq!(s.get(&11).map(String::as_str), Some("b"));
        assert_eq!(s.insert(11, "B".into()), Some("b".into()));
        assert_eq!(s.len(), 2);
        let mut all: Vec<&String> = s.values().collect();
        all.sort();
        assert_eq!(all, ["B", "c"]);
    }

    /// A key held while thousands of later ones come and go moves behind the window and
    /// is still found; the window stays in proportion to the values held.
    #[test]
    fn a_long_lived_key_outlasts_the_window() {
        let mut s: KeyedSlab<u64> = KeyedSlab::default();
        s.insert(1, 1);
        for k in 2..100_000u64 {
            s.insert(k, k);
            if k > 10 {
                assert_eq!(s.remove(&(k - 8)), Some(k - 8));
            }
        }
        assert_eq!(s[&1], 1);
        assert!(s.window.len() <= 2 * s.len() + WINDOW_SLACK);
        assert_eq!(s.remove(&1), Some(1));
        assert_eq!(s.get(&1), None);
        // Keys far ahead, then behind, of everything held.
        s.insert(u64::MAX - 1, 7);
        s.insert(5, 5);
        assert_eq!((s[&(u64::MAX - 1)], s[&5]), (7, 5));
    }

    /// Random inserts and removals against a plain map.
    #[test]
    fn agrees_with_a_map() {
        let mut s: KeyedSlab<u64> = KeyedSlab::default();
        let mut m: std::collections::HashMap<u64, u64> = Default::default();
        let mut state = 3u64;
        for step in 0..20_000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Keys mostly rising, as uids are, with stragglers and jumps.
            let key = match (state >> 33) % 8 {
                0 => (state >> 40) % 500,
                1 => step * 7 + (state >> 50),
                _ => step / 2 + (state >> 40) % 64,
            };
            if state >> 63 == 0 {
                assert_eq!(s.insert(key, step), m.insert(key, step));
            } else {
                assert_eq!(s.remove(&key), m.remove(&key));
            }
            assert_eq!(s.len(), m.len());
            if let Some(v) = m.get(&key) {
                *s.get_mut(&key).expect("present") += 0;
                assert_eq!(s.get(&key), Some(v));
            }
        }
        let mut a: Vec<u64> = s.values().copied().collect();
        let mut b: Vec<u64> = m.values().copied().collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
    }
}
