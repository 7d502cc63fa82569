//! An ordered set of packed integer keys, for the index sets that are re-seated on almost
//! every input (agents in a group, waiting contacts of a class).
//!
//! Such sets mostly hold tens to a few thousand keys. A sorted ring buffer is then several
//! times cheaper than a B-tree to search, insert into and walk: one binary search over
//! contiguous memory and one short `memmove` toward the nearer end, against a descent
//! through nodes scattered over the heap. The sets are used first-in, first-out (the
//! longest idle agent is taken and a freed agent joins at the end; the oldest contact is
//! answered and a new one joins at the end), and a ring buffer does both ends without
//! moving anything. Past [`GROW_AT`] keys a `memmove` in the middle would cost more than
//! the descent, so the set turns into a `BTreeSet` and a change costs O(log n) again; it
//! turns back below [`SHRINK_AT`] (well apart, so a set at the edge does not flip on
//! every change).
//!
//! The order, and so every decision made from it, is the same in either form.

use std::collections::{btree_set, vec_deque, BTreeSet, VecDeque};

/// Keys at which a sorted vector becomes a B-tree.
pub const GROW_AT: usize = 4096;
/// Keys at which a B-tree becomes a sorted vector again.
pub const SHRINK_AT: usize = 1024;

#[derive(Clone, Debug)]
pub enum OrderedKeys<K: Ord + Copy> {
    Small(VecDeque<K>),
    Large(BTreeSet<K>),
}

impl<K: Ord + Copy> Default for OrderedKeys<K> {
    fn default() -> Self {
        OrderedKeys::Small(VecDeque::new())
    }
}

impl<K: Ord + Copy> OrderedKeys<K> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        match self {
            OrderedKeys::Small(v) => v.len(),
            OrderedKeys::Large(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Add `key`; false if it was already there.
    pub fn insert(&mut self, key: K) -> bool {
        match self {
            OrderedKeys::Small(v) => {
                // New keys are often the largest (an agent idle since now, a contact that
                // arrived last): try the end before searching.
                let at = match v.back() {
                    None => 0,
                    Some(last) if *last < key => v.len(),
                    _ => match v.binary_search(&key) {
                        Ok(_) => return false,
                        Err(at) => at,
                    },
                };
                v.insert(at, key);
                if v.len() >= GROW_AT {
                    *self = OrderedKeys::Large(v.iter().copied().collect());
                }
                true
            }
            OrderedKeys::Large(b) => b.insert(key),
        }
    }

    /// Remove `key`; false if it was not there.
    pub fn remove(&mut self, key: &K) -> bool {
        match self {
            OrderedKeys::Small(v) => match v.binary_search(key) {
                Ok(at) => {
                    v.remove(at);
                    true
                }
                Err(_) => false,
            },
            OrderedKeys::Large(b) => {
                let removed = b.remove(key);
                if b.len() < SHRINK_AT {
                    *self = OrderedKeys::Small(b.iter().copied().collect());
                }
                removed
            }
        }
    }

    pub fn contains(&self, key: &K) -> bool {
        match self {
            OrderedKeys::Small(v) => v.binary_search(key).is_ok(),
            OrderedKeys::Large(b) => b.contains(key),
        }
    }

    pub fn first(&self) -> Option<&K> {
        match self {
            OrderedKeys::Small(v) => v.front(),
            OrderedKeys::Large(b) => b.first(),
        }
    }

    /// The keys in ascending order.
    pub fn iter(&self) -> Iter<'_, K> {
        match self {
            OrderedKeys::Small(v) => Iter::Small(v.iter()),
            OrderedKeys::Large(b) => Iter::Large(b.iter()),
        }
    }
}

impl<K: Ord + Copy> FromIterator<K> for OrderedKeys<K> {
    fn from_iter<I: IntoIterator<Item = K>>(iter: I) -> Self {
        let mut v: Vec<K> = iter.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        if v.len() >= GROW_AT {
            OrderedKeys::Large(v.into_iter().collect())
        } else {
            OrderedKeys::Small(v.into())
        }
    }
}

pub enum Iter<'a, K> {
    Small(vec_deque::Iter<'a, K>),
    Large(btree_set::Iter<'a, K>),
}

impl<'a, K> Iterator for Iter<'a, K> {
    type Item = &'a K;

    #[inline]
    fn next(&mut self) -> Option<&'a K> {
        match self {
            Iter::Small(i) => i.next(),
            Iter::Large(i) => i.next(),
        }
    }
}

impl<'a, K: Ord + Copy> IntoIterator for &'a OrderedKeys<K> {
    type Item = &'a K;
    type IntoIter = Iter<'a, K>;

    fn into_iter(self) -> Iter<'a, K> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64, as in the workload generator.
    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Random inserts and removals, growing past GROW_AT and shrinking below SHRINK_AT,
    /// agree with a BTreeSet at every step.
    #[test]
    fn behaves_as_a_btree_set_in_both_forms() {
        let mut rng = 7u64;
        let mut keys: OrderedKeys<u128> = OrderedKeys::new();
        let mut model: BTreeSet<u128> = BTreeSet::new();
        let mut was_large = false;
        let mut was_small_again = false;
        for step in 0..60_000u32 {
            // First grow (mostly inserts), then shrink (mostly removals).
            let grow = step < 20_000;
            let r = next(&mut rng);
            let key = (r % 8_000) as u128;
            if (r >> 32) % 10 < if grow { 8 } else { 1 } {
                assert_eq!(keys.insert(key), model.insert(key));
            } else {
                assert_eq!(keys.remove(&key), model.remove(&key));
            }
            assert_eq!(keys.len(), model.len());
            assert_eq!(keys.first(), model.first());
            assert_eq!(keys.contains(&key), model.contains(&key));
            if step % 997 == 0 {
                assert!(keys.iter().eq(model.iter()));
            }
            match keys {
                OrderedKeys::Large(_) => was_large = true,
                OrderedKeys::Small(_) if was_large => was_small_again = true,
                _ => {}
            }
        }
        assert!(keys.iter().eq(model.iter()));
        assert!(was_large, "grew into a B-tree (len {})", keys.len());
        assert!(was_small_again, "shrank back (len {})", keys.len());
    }

    #[test]
    fn collects_sorted_and_without_repeats() {
        let keys: OrderedKeys<u32> = [5, 1, 3, 1, 5].into_iter().collect();
        assert_eq!(keys.iter().copied().collect::<Vec<_>>(), vec![1, 3, 5]);
    }
}
