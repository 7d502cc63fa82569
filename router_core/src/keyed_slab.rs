//! Values by a `u64` key, kept in a slab: the open contacts by uid.
//!
//! A hash map holding the values themselves puts each new one at a random place in a
//! table that outgrows the cache (a contact is about 250 bytes, ten thousand of them are
//! open at 10k agents), so every arrival wrote four cold cache lines. Here the map holds
//! only the slot number, and a freed slot is the next one filled: a new contact is
//! written where the last closed one was, memory that is still in the cache.

use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;

pub struct KeyedSlab<T> {
    slot_of: FxHashMap<u64, u32>,
    slots: Vec<Option<T>>,
    /// Freed slots, the most recently freed last.
    free: Vec<u32>,
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
            slot_of: FxHashMap::with_capacity_and_hasher(n, Default::default()),
            slots: Vec::with_capacity(n),
            free: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    #[inline]
    pub fn get(&self, key: &u64) -> Option<&T> {
        let &i = self.slot_of.get(key)?;
        self.slots[i as usize].as_ref()
    }

    #[inline]
    pub fn get_mut(&mut self, key: &u64) -> Option<&mut T> {
        let &i = self.slot_of.get(key)?;
        self.slots[i as usize].as_mut()
    }

    /// Store `value` under `key`; the value it replaces, if any.
    pub fn insert(&mut self, key: u64, value: T) -> Option<T> {
        match self.slot_of.entry(key) {
            Entry::Occupied(o) => self.slots[*o.get() as usize].replace(value),
            Entry::Vacant(v) => {
                match self.free.pop() {
                    Some(i) => {
                        self.slots[i as usize] = Some(value);
                        v.insert(i);
                    }
                    None => {
                        v.insert(self.slots.len() as u32);
                        self.slots.push(Some(value));
                    }
                }
                None
            }
        }
    }

    pub fn remove(&mut self, key: &u64) -> Option<T> {
        let i = self.slot_of.remove(key)?;
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
            let key = (state >> 40) % 500;
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
