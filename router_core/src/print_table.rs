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
use std::alloc::{handle_alloc_error, GlobalAlloc, Layout, System};
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

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
    slots: Slots,
    /// 64 - log2(slots.len()): a home slot is the top bits of a Fibonacci product.
    shift: u32,
    len: usize,
    /// The size that holds every key the table is told to expect (see
    /// [`PrintTable::expecting`]); 0 when it is not told.
    full_slots: usize,
}

const MIN_SLOTS: usize = 16;

/// The slot array, in zeroed memory from the system allocator rather than the global
/// one. A full-size table (16 MiB for a million keys) is then fresh pages from the
/// kernel: zero without being written, and made resident one page at a time as keys
/// land on them. The extension's allocator (mimalloc) hands out such a block by clearing
/// it first: measured in the service's process, 36 ms in one input.
struct Slots {
    ptr: NonNull<u64>,
    len: usize,
}

// SAFETY: `Slots` owns its memory alone, as a `Vec` would.
unsafe impl Send for Slots {}
// SAFETY: shared access only reads.
unsafe impl Sync for Slots {}

impl Slots {
    fn layout(len: usize) -> Layout {
        Layout::array::<u64>(len).expect("a table's slots fit in memory")
    }

    fn zeroed(len: usize) -> Slots {
        let layout = Slots::layout(len.max(1));
        // SAFETY: the layout's size is not zero.
        let raw = unsafe { System.alloc_zeroed(layout) };
        let ptr = NonNull::new(raw.cast::<u64>()).unwrap_or_else(|| handle_alloc_error(layout));
        Slots { ptr, len }
    }
}

impl Deref for Slots {
    type Target = [u64];
    fn deref(&self) -> &[u64] {
        // SAFETY: `len` initialised (zeroed) u64s live at `ptr` for as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for Slots {
    fn deref_mut(&mut self) -> &mut [u64] {
        // SAFETY: as for `deref`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` by the same allocator with the same layout.
        unsafe { System.dealloc(self.ptr.as_ptr().cast(), Slots::layout(self.len.max(1))) }
    }
}

/// A table expecting many keys grows by doubling only up to this many slots (2 KiB),
/// then straight to its full size. Each doubling moves every key at once, in one input:
/// measured in a soak at 5,000 inputs/s, the doublings of the de-duplication memory past
/// 330,000 and 655,000 ids held the loop 25 and 36 ms, and the closed contacts' past
/// 655,000 held it 45 ms. The jump moves 160 keys. The full-size table's pages are
/// written (and so made resident) one by one as keys come, not all in one input: a jump
/// at 20,000 keys, whose moves touch every page of a 16 MiB table at once, still took
/// 9 ms alone and 35 ms in the soak.
const JUMP_FROM_SLOTS: usize = 1 << 8;

/// The largest full size a table takes on trust (128 MiB of slots, 10 million keys).
const MAX_EXPECTED_SLOTS: usize = 1 << 24;

impl Default for PrintTable {
    fn default() -> PrintTable {
        PrintTable::with_slots(MIN_SLOTS)
    }
}

impl PrintTable {
    fn with_slots(n: usize) -> PrintTable {
        PrintTable {
            slots: Slots::zeroed(n),
            shift: 64 - n.trailing_zeros(),
            len: 0,
            full_slots: 0,
        }
    }

    /// An empty table that will hold up to `keys` keys: it starts small, and once past
    /// [`JUMP_FROM_SLOTS`] grows straight to the size that holds them all, so a memory
    /// filling up to its bound never stops to move a million keys. (A zeroed allocation
    /// of that size costs address space, not memory, until its pages are written.)
    pub fn expecting(keys: usize) -> PrintTable {
        // At most 5/8 full with `keys` held: slots * 5 >= keys * 8 + 1.
        let need = keys.saturating_mul(8) / 5 + 1;
        let full = need
            .checked_next_power_of_two()
            .unwrap_or(usize::MAX)
            .min(MAX_EXPECTED_SLOTS);
        PrintTable {
            full_slots: full,
            ..PrintTable::default()
        }
    }

    pub fn slot_count(&self) -> usize {
        self.slots.len()
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
            let mut grown = self.slots.len() * 2;
            if grown >= JUMP_FROM_SLOTS {
                grown = grown.max(self.full_slots);
            }
            let mut bigger = PrintTable::with_slots(grown);
            bigger.full_slots = self.full_slots;
            let old = std::mem::replace(self, bigger);
            for &s in old.slots.iter().filter(|&&s| s != 0) {
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

    /// The doublings of a big table each moved every key in one input (36 ms at 655,000
    /// ids): one expecting its keys doubles only while small, then jumps to its full size
    /// and stays there however long keys come and go.
    #[test]
    fn a_table_expecting_its_keys_jumps_to_its_full_size_once() {
        let mut table = PrintTable::expecting(200_001);
        let mut sizes = vec![table.slot_count()];
        for pos in 0..600_000u32 {
            let print = print_of(0, &pos.to_string());
            let Err(at) = table.find(print, |p| p == pos) else {
                panic!("position {pos} is new")
            };
            table.fill(at, print, pos);
            if pos >= 200_000 {
                let gone = pos - 200_000;
                assert!(table.remove(print_of(0, &gone.to_string()), gone));
            }
            if *sizes.last().unwrap() != table.slot_count() {
                sizes.push(table.slot_count());
            }
        }
        let doublings: Vec<usize> = (4..=7).map(|k| 1 << k).collect();
        assert_eq!(sizes[..doublings.len()], doublings[..]);
        assert_eq!(sizes[doublings.len()..], [1 << 19]);
        assert_eq!(
            PrintTable::expecting(usize::MAX).full_slots,
            MAX_EXPECTED_SLOTS
        );
        assert_eq!(PrintTable::default().full_slots, 0);
    }

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
