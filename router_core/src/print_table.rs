//! An open-addressing table from a 32-bit print of a key to a 32-bit position where the
//! key itself is kept (a ring of remembered ids, a slab of contacts, the agent list).
//!
//! The table holds no keys, only their prints: a probe reads one array of 8-byte slots,
//! and only where the print agrees does the caller compare the key it holds at that
//! position, so keys whose prints collide are still told apart. A home slot is a function
//! of the print alone, so a caller can start loading it before it needs the answer
//! ([`PrintTable::prefetch`]): a general hash map has no such handle, and its first
//! probe on a large table is a trip to memory.

use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};

/// The 32 bits of a key's hash the table keeps: they choose the key's home slot and
/// filter probes. Never 0, so that a 0 slot is an empty one.
pub fn print_of(tag: u32, key: &str) -> u32 {
    let mut h = FxHasher::default();
    tag.hash(&mut h);
    key.hash(&mut h);
    (h.finish() >> 32) as u32 | 1
}

/// Open addressing with linear probing over 8-byte slots: 0 for empty, else
/// `print << 32 | position`. Deletion shifts the following run back (no tombstones), so
/// a table whose keys come and go forever stays as short to probe as a fresh one.
pub struct PrintTable {
    slots: Vec<u64>,
    /// 64 - log2(slots.len()): a home slot is the top bits of a Fibonacci product.
    shift: u32,
    len: usize,
}

const MIN_SLOTS: usize = 16;

impl Default for PrintTable {
    fn default() -> PrintTable {
        PrintTable::with_slots(MIN_SLOTS)
    }
}

impl PrintTable {
    fn with_slots(n: usize) -> PrintTable {
        PrintTable {
            slots: vec![0; n],
            shift: 64 - n.trailing_zeros(),
            len: 0,
        }
    }

    fn home(&self, print: u32) -> usize {
        ((print as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot holding a key with this print for which `is(position)` holds, or else the
    /// empty slot where such a key would go.
    pub fn find(&self, print: u32, mut is: impl FnMut(u32) -> bool) -> Result<usize, usize> {
        let mask = self.mask();
        let mut i = self.home(print);
        loop {
            let s = self.slots[i];
            if s == 0 {
                return Err(i);
            }
            if (s >> 32) as u32 == print && is(s as u32) {
                return Ok(i);
            }
            i = (i + 1) & mask;
        }
    }

    pub fn fill(&mut self, empty: usize, print: u32, pos: u32) {
        self.slots[empty] = (print as u64) << 32 | pos as u64;
        self.len += 1;
        // At most 5/8 full: a probe for a missing key then ends within a few slots.
        if self.len * 8 > self.slots.len() * 5 {
            let old = std::mem::replace(self, PrintTable::with_slots(self.slots.len() * 2));
            for s in old.slots.into_iter().filter(|&s| s != 0) {
                let Err(at) = self.find((s >> 32) as u32, |_| false) else {
                    unreachable!("a probe that matches nothing ends at an empty slot")
                };
                self.slots[at] = s;
            }
            self.len = old.len;
        }
    }

    /// Empty slot `i`, moving back each following key that may live there.
    fn remove_at(&mut self, mut i: usize) {
        let mask = self.mask();
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s == 0 {
                break;
            }
            // The key at j may move to the hole at i if its home is not after i on the
            // way to j.
            let home = self.home((s >> 32) as u32);
            if j.wrapping_sub(home) & mask >= j.wrapping_sub(i) & mask {
                self.slots[i] = s;
                i = j;
            }
        }
        self.slots[i] = 0;
        self.len -= 1;
    }

    /// The position of the key with this print for which `is(position)` holds.
    #[inline]
    pub fn get(&self, print: u32, is: impl FnMut(u32) -> bool) -> Option<u32> {
        self.find(print, is).ok().map(|i| self.position(i))
    }

    /// The position held in `slot` (as found by [`PrintTable::find`]).
    #[inline]
    pub fn position(&self, slot: usize) -> u32 {
        self.slots[slot] as u32
    }

    /// Add `position` under `print`, which must not be held yet for the same key.
    pub fn add(&mut self, print: u32, position: u32) {
        let Err(empty) = self.find(print, |p| p == position) else {
            return;
        };
        self.fill(empty, print, position);
    }

    /// Remove `position` from under `print`; false if it was not there.
    pub fn remove(&mut self, print: u32, position: u32) -> bool {
        match self.find(print, |p| p == position) {
            Ok(i) => {
                self.remove_at(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Start loading the home slot of `print`, which a probe for it reads first.
    #[inline]
    pub fn prefetch(&self, print: u32) {
        let slot = &self.slots[self.home(print)];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint; it reads nothing and never faults.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>((slot as *const u64).cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys whose prints collide (a few prints for many keys) make long runs; removing from
    /// the middle of a run must leave every other key findable.
    #[test]
    fn removal_keeps_colliding_runs_findable() {
        let mut table = PrintTable::default();
        let mut live: Vec<(u32, u32)> = Vec::new();
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        for pos in 0..5_000u32 {
            let print = (next() % 40) << 1 | 1;
            let Err(at) = table.find(print, |p| p == pos) else {
                panic!("position {pos} is new")
            };
            table.fill(at, print, pos);
            live.push((print, pos));
            if next() % 3 == 0 {
                let (print, pos) = live.swap_remove(next() as usize % live.len());
                let Ok(at) = table.find(print, |p| p == pos) else {
                    panic!("position {pos} was filled")
                };
                table.remove_at(at);
            }
            if pos % 500 == 0 {
                for &(print, pos) in &live {
                    assert!(table.find(print, |p| p == pos).is_ok(), "{pos} lost");
                }
            }
        }
        assert_eq!(table.len, live.len());
        for &(print, pos) in &live {
            assert!(table.find(print, |p| p == pos).is_ok(), "{pos} lost");
        }
    }
}
