//! The agent index: agents grouped by profile; per group, the set of free agents
//! (available, nothing in hand), and per group and channel ordered sets of the other
//! agents who can take that channel now, one set per selection order in use.
//!
//! Free agents are kept once per group, not once per channel: most changes are an agent
//! taking a contact or freeing up, and each then moves one key, not one per channel.
//!
//! Finding the best agent for a contact looks at the first few agents of each eligible
//! group: O(groups x log agents), never a scan of all agents.

use rustc_hash::FxHashMap;

use crate::agents::{Agent, Profile};
use crate::channels::{Channel, CHANNEL_COUNT};
use crate::config::Strategy;
use crate::ordered_keys::OrderedKeys;

/// (has items, idle since, agent index): fully idle agents first, longest idle first.
/// Packed into one integer with the same order (see `pack`): the sets are re-seated on
/// almost every input, and comparing one u128 is much cheaper than comparing a tuple.
pub type IdleKey = u128;
/// (load on the channel, then as IdleKey). Within a group capacity is equal, so the least
/// loaded agent has the most spare capacity.
pub type SpareKey = u128;
/// (last accepted on the channel, agent index).
pub type RrKey = u128;

/// An i64 as a u64 of the same order.
fn ordered(t: i64) -> u128 {
    ((t as u64) ^ (1 << 63)) as u128
}

/// Load in bits 97-112, has items in bit 96, the time in bits 32-95, the agent index in
/// bits 0-31: the fields do not overlap, so the integer order is the tuple order.
fn pack(load: u16, has_items: bool, time: i64, idx: u32) -> u128 {
    ((load as u128) << 97) | ((has_items as u128) << 96) | (ordered(time) << 32) | idx as u128
}

fn key_idx(key: u128) -> u32 {
    key as u32
}

fn key_time(key: u128) -> i64 {
    (((key >> 32) as u64) ^ (1 << 63)) as i64
}

#[cfg(test)]
fn key_has_items(key: u128) -> bool {
    (key >> 96) & 1 == 1
}

fn key_load(key: u128) -> u16 {
    (key >> 97) as u16
}

/// What an agent's keys are made of, as last seated in its group's sets. Kept as the raw
/// fields, not the keys: comparing and storing these is much cheaper than six channels'
/// worth of 128-bit keys, and most changes touch one or two of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Seat {
    /// Channels the agent can take now, one bit per channel.
    takeable: u8,
    /// Available with nothing in hand: in the group's `free` set, and able to take every
    /// channel the group has capacity for.
    free: bool,
    has_items: bool,
    idle_since: i64,
    load: [u16; CHANNEL_COUNT],
    last_assigned: [i64; CHANNEL_COUNT],
}

impl Seat {
    fn can_take(&self, c: usize) -> bool {
        self.takeable & (1 << c) != 0
    }

    fn idle_key(&self, idx: u32) -> IdleKey {
        pack(0, self.has_items, self.idle_since, idx)
    }

    /// For a free agent (no load) this equals its idle key.
    fn spare_key(&self, idx: u32, c: usize) -> SpareKey {
        pack(self.load[c], self.has_items, self.idle_since, idx)
    }

    fn rr_key(&self, idx: u32, c: usize) -> RrKey {
        pack(0, false, self.last_assigned[c], idx)
    }

    /// The key `strategy` orders channel `c` by.
    fn key_for(&self, idx: u32, c: usize, strategy: Strategy) -> u128 {
        match strategy {
            Strategy::LongestIdle | Strategy::BestProficiency => self.idle_key(idx),
            Strategy::MostSpareCapacity => self.spare_key(idx, c),
            Strategy::RoundRobin => self.rr_key(idx, c),
        }
    }

    /// In channel `c`'s busy sets: can take it, but not free.
    fn busy_on(&self, c: usize) -> bool {
        self.can_take(c) && !self.free
    }
}

/// The sets of one group and channel.
#[derive(Default)]
pub struct ChannelSets {
    /// Agents with work in hand who can take this channel too, longest idle first. The
    /// free agents come before all of them (a fully idle agent ranks first), so the
    /// longest-idle order on a channel is `free` followed by this set.
    pub busy: OrderedKeys<IdleKey>,
    /// The same agents by load, then as `busy`. A free agent's spare-capacity key equals
    /// its idle key and sorts before any of these, so the order is `free` then this set.
    pub busy_spare: OrderedKeys<SpareKey>,
    /// Every agent who can take this channel, free or not, least recently assigned first.
    pub rr: OrderedKeys<RrKey>,
}

pub struct Group {
    pub profile: Profile,
    /// Available agents with nothing in hand. One set for all channels: an agent who
    /// takes a call or frees up moves in or out of this set once, not once per channel.
    pub free: OrderedKeys<IdleKey>,
    pub sets: [ChannelSets; CHANNEL_COUNT],
    /// Per channel, which of the `busy_spare` and `rr` orderings are kept (SPARE, RR
    /// bits). Each is built the first time a contact on that channel is ranked by it among
    /// this group: a group that only ever serves longest-idle queues on a channel never
    /// pays for the other orderings.
    kept: [u8; CHANNEL_COUNT],
    /// The group's agents, to build an ordering when it is first needed.
    members: Vec<u32>,
}

const SPARE: u8 = 1;
const RR: u8 = 2;

fn ordering_bit(strategy: Strategy) -> u8 {
    match strategy {
        Strategy::LongestIdle | Strategy::BestProficiency => 0,
        Strategy::MostSpareCapacity => SPARE,
        Strategy::RoundRobin => RR,
    }
}

/// A candidate in strategy order: smaller key wins. It is the tuple (strategy's own
/// measure, has items, time, agent index) packed as the set keys are (see [`pack`]), with
/// the measure (proficiency or spare capacity, which differ between groups) in the bits
/// above the load's: one integer comparison instead of four.
pub type RankKey = u128;

/// Bits below the rank's own measure: has items, time and agent index.
const RANK_LOW: u128 = (1 << 97) - 1;

/// `measure` (smaller ranks first) as the top bits of a rank, order kept.
fn rank_prefix(measure: i64) -> u128 {
    // The measures are a negated proficiency sum (at most 255 per required skill) or
    // load minus capacity (u16 each): far inside 2^30 either way.
    ((measure.clamp(-(1 << 30), (1 << 30) - 1) + (1 << 30)) as u128) << 97
}

#[derive(Default)]
pub struct AgentPools {
    pub groups: Vec<Group>,
    by_profile: FxHashMap<Profile, u32>,
    /// Group of each agent, by agent index.
    pub group_of: Vec<u32>,
    seats: Vec<Seat>,
}

pub struct Ranked {
    pub agent: u32,
    pub key: RankKey,
    pub score: i64,
}

impl AgentPools {
    pub fn new() -> AgentPools {
        AgentPools {
            groups: Vec::new(),
            by_profile: FxHashMap::default(),
            group_of: Vec::new(),
            seats: Vec::new(),
        }
    }

    /// The group for a profile, and whether it was created just now.
    pub fn group_for(&mut self, profile: &Profile) -> (u32, bool) {
        if let Some(&g) = self.by_profile.get(profile) {
            return (g, false);
        }
        let g = self.groups.len() as u32;
        self.groups.push(Group {
            profile: profile.clone(),
            free: OrderedKeys::new(),
            sets: Default::default(),
            kept: [0; CHANNEL_COUNT],
            members: Vec::new(),
        });
        self.by_profile.insert(profile.clone(), g);
        (g, true)
    }

    /// Put agent `idx` (new, or with a new profile) in group `g`, not in any set yet.
    pub fn place(&mut self, idx: u32, g: u32) {
        let i = idx as usize;
        if i >= self.group_of.len() {
            self.group_of.resize(i + 1, u32::MAX);
            self.seats.resize(i + 1, Seat::default());
        }
        let old = self.group_of[i];
        if old == g {
            return;
        }
        if old != u32::MAX {
            let seat = std::mem::take(&mut self.seats[i]);
            reseat(&mut self.groups[old as usize], idx, &seat, &Seat::default());
            let members = &mut self.groups[old as usize].members;
            if let Some(p) = members.iter().position(|&x| x == idx) {
                members.swap_remove(p);
            }
        }
        self.groups[g as usize].members.push(idx);
        self.group_of[i] = g;
    }

    /// Make sure `groups` keep the ordering `strategy` ranks by on `ch`; call before
    /// [`AgentPools::best`].
    pub fn keep_ordering(&mut self, groups: &[u32], ch: Channel, strategy: Strategy) {
        let bit = ordering_bit(strategy);
        let c = ch.index();
        for &g in groups {
            let group = &mut self.groups[g as usize];
            if group.kept[c] & bit == bit {
                continue;
            }
            group.kept[c] |= bit;
            for &idx in &group.members {
                let seat = &self.seats[idx as usize];
                if !seat.can_take(c) {
                    continue;
                }
                if bit == SPARE {
                    if !seat.free {
                        group.sets[c].busy_spare.insert(seat.spare_key(idx, c));
                    }
                } else {
                    group.sets[c].rr.insert(seat.rr_key(idx, c));
                }
            }
        }
    }

    /// Bring the agent's set memberships in line with its state. Call after every change
    /// to an agent.
    pub fn refresh(&mut self, idx: u32, agent: &Agent) {
        let i = idx as usize;
        let takeable = agent.takeable();
        let mut mask = 0u8;
        for (c, &t) in takeable.iter().enumerate() {
            mask |= (t as u8) << c;
        }
        let has_items = !agent.items.is_empty();
        let want = Seat {
            takeable: mask,
            free: !has_items && mask != 0,
            has_items,
            idle_since: agent.idle_since,
            load: agent.load,
            last_assigned: agent.last_assigned,
        };
        let have = &mut self.seats[i];
        if *have == want {
            return;
        }
        // Nothing to move for a change the sets do not see (anything of an agent who was
        // and stays in no set).
        if have.takeable != 0 || mask != 0 {
            reseat(
                &mut self.groups[self.group_of[i] as usize],
                idx,
                have,
                &want,
            );
        }
        *have = want;
    }

    pub fn can_take(&self, idx: u32, ch: Channel) -> bool {
        self.seats[idx as usize].can_take(ch.index())
    }

    pub fn takeable(&self, idx: u32) -> [bool; CHANNEL_COUNT] {
        let s = &self.seats[idx as usize];
        let mut out = [false; CHANNEL_COUNT];
        for (c, t) in out.iter_mut().enumerate() {
            *t = s.can_take(c);
        }
        out
    }

    /// The key and score of agent `idx` (which must be able to take `ch`).
    pub fn rank_of(
        &self,
        idx: u32,
        ch: Channel,
        strategy: Strategy,
        prof_sum: i64,
        now: i64,
    ) -> Option<(RankKey, i64)> {
        let seat = &self.seats[idx as usize];
        if !seat.can_take(ch.index()) {
            return None;
        }
        let key = seat.key_for(idx, ch.index(), strategy);
        let g = &self.groups[self.group_of[idx as usize] as usize];
        Some(rank_by_key(key, g, ch, strategy, prof_sum, now))
    }

    /// The best `limit` agents among `groups` for channel `ch` in strategy order,
    /// skipping `excluded`; and how many agents in those groups could take it. The groups
    /// must keep the strategy's ordering ([`AgentPools::keep_ordering`]).
    #[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
    pub fn best(
        &self,
        groups: &[u32],
        ch: Channel,
        strategy: Strategy,
        prof_sum: impl Fn(&Profile) -> i64,
        excluded: &[u32],
        now: i64,
        limit: usize,
    ) -> (Vec<Ranked>, u64) {
        let c = ch.index();
        // The best `limit` so far, best first. Within a group the strategy's ordering is
        // also its rank order, so a group is left at its first agent that ranks below
        // the last of these: no more than `limit` ranks are worked out and kept per group,
        // and usually far fewer.
        let mut found: Vec<Ranked> = Vec::with_capacity(limit + 1);
        let mut considered: u64 = 0;
        for &g in groups {
            let group = &self.groups[g as usize];
            let sets = &group.sets[c];
            let n = group.free.len() + sets.busy.len();
            if n == 0 {
                continue;
            }
            considered += n as u64;
            // Only the best-proficiency order needs the group's proficiency sum.
            let ps = if strategy == Strategy::BestProficiency {
                prof_sum(&group.profile)
            } else {
                0
            };
            // Offer one agent of the group in strategy order; false once the rest of the
            // group cannot make the cut. The key the set holds is all the rank needs, so
            // the walk reads no agent's seat.
            let mut offer = |set_key: u128| -> bool {
                let idx = key_idx(set_key);
                if excluded.contains(&idx) {
                    return true;
                }
                let (key, score) = rank_by_key(set_key, group, ch, strategy, ps, now);
                if found.len() == limit && found.last().is_some_and(|r| key >= r.key) {
                    return false;
                }
                let at = found.partition_point(|r| r.key < key);
                found.insert(
                    at,
                    Ranked {
                        agent: idx,
                        key,
                        score,
                    },
                );
                found.truncate(limit);
                true
            };
            let (head, rest) = match strategy {
                Strategy::LongestIdle | Strategy::BestProficiency => {
                    (Some(&group.free), &sets.busy)
                }
                Strategy::MostSpareCapacity => (Some(&group.free), &sets.busy_spare),
                Strategy::RoundRobin => (None, &sets.rr),
            };
            for &key in head.into_iter().flatten().chain(rest) {
                if !offer(key) {
                    break;
                }
            }
        }
        // Excluded agents that sit in these groups' sets were counted; take them out.
        for &x in excluded {
            let i = x as usize;
            if i < self.seats.len()
                && self.seats[i].can_take(c)
                && groups.contains(&self.group_of[i])
            {
                considered -= 1;
            }
        }
        (found, considered)
    }
}

/// Move agent `idx` of `group` from seat `have` to seat `want` in the group's sets.
fn reseat(group: &mut Group, idx: u32, have: &Seat, want: &Seat) {
    let (hk, wk) = (have.idle_key(idx), want.idle_key(idx));
    if have.free != want.free || (want.free && hk != wk) {
        if have.free {
            group.free.remove(&hk);
        }
        if want.free {
            group.free.insert(wk);
        }
    }
    let mut channels = have.takeable | want.takeable;
    while channels != 0 {
        let c = channels.trailing_zeros() as usize;
        channels &= channels - 1;
        let kept = group.kept[c];
        let sets = &mut group.sets[c];
        let (hb, wb) = (have.busy_on(c), want.busy_on(c));
        // The busy keys move when membership, idle time or items change; the spare
        // key also with the load.
        let moved = hb != wb || (wb && hk != wk);
        if moved {
            if hb {
                sets.busy.remove(&hk);
            }
            if wb {
                sets.busy.insert(wk);
            }
        }
        if kept & SPARE != 0 && (moved || (wb && have.load[c] != want.load[c])) {
            if hb {
                sets.busy_spare.remove(&have.spare_key(idx, c));
            }
            if wb {
                sets.busy_spare.insert(want.spare_key(idx, c));
            }
        }
        let (hr, wr) = (have.can_take(c), want.can_take(c));
        if kept & RR != 0 && (hr != wr || (wr && have.last_assigned[c] != want.last_assigned[c])) {
            if hr {
                sets.rr.remove(&have.rr_key(idx, c));
            }
            if wr {
                sets.rr.insert(want.rr_key(idx, c));
            }
        }
    }
}

/// The rank of the agent a key belongs to, from the key alone: an idle key (free and
/// busy sets) for the longest-idle and best-proficiency orders, a spare key (a free
/// agent's is its idle key) for most spare capacity, a round-robin key for round robin
/// (see [`Seat::key_for`]).
fn rank_by_key(
    set_key: u128,
    g: &Group,
    ch: Channel,
    strategy: Strategy,
    prof_sum: i64,
    now: i64,
) -> (RankKey, i64) {
    let time = key_time(set_key);
    match strategy {
        // The idle and round-robin keys are already in rank order.
        Strategy::LongestIdle => (set_key, now - time),
        Strategy::BestProficiency => (rank_prefix(-prof_sum) | set_key, prof_sum),
        Strategy::MostSpareCapacity => {
            let spare = g.profile.capacity[ch.index()] as i64 - key_load(set_key) as i64;
            (rank_prefix(-spare) | (set_key & RANK_LOW), spare)
        }
        Strategy::RoundRobin => {
            let score = if time == i64::MIN { now } else { now - time };
            (set_key, score)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_order_as_tuples() {
        let times = [i64::MIN, -5, 0, 1, 1_767_600_000_000, i64::MAX];
        let mut tuples = Vec::new();
        for load in [0u16, 1, 3, u16::MAX] {
            for has in [false, true] {
                for &t in &times {
                    for idx in [0u32, 7, u32::MAX] {
                        tuples.push((load, has, t, idx));
                    }
                }
            }
        }
        let mut by_key = tuples.clone();
        by_key.sort_by_key(|&(l, h, t, i)| pack(l, h, t, i));
        tuples.sort();
        assert_eq!(by_key, tuples);
        for &(l, h, t, i) in &tuples {
            let k = pack(l, h, t, i);
            assert_eq!(
                (key_load(k), key_has_items(k), key_time(k), key_idx(k)),
                (l, h, t, i)
            );
        }
    }

    /// A rank orders as (measure, has items, time, agent), whatever the load in the key.
    #[test]
    fn ranks_order_as_tuples() {
        let mut tuples = Vec::new();
        for measure in [-12_750i64, -65_535, -3, 0, 2, 65_535] {
            for load in [0u16, 2, u16::MAX] {
                for has in [false, true] {
                    for t in [i64::MIN, -5, 0, 1_767_600_000_000, i64::MAX] {
                        for idx in [0u32, 7, u32::MAX] {
                            tuples.push((measure, has, t, idx, load));
                        }
                    }
                }
            }
        }
        let rank = |&(m, h, t, i, l): &(i64, bool, i64, u32, u16)| {
            rank_prefix(m) | (pack(l, h, t, i) & RANK_LOW)
        };
        let mut by_rank = tuples.clone();
        by_rank.sort_by_key(rank);
        tuples.sort_by_key(|&(m, h, t, i, _)| (m, h, t, i));
        let strip = |v: &[(i64, bool, i64, u32, u16)]| -> Vec<_> {
            v.iter().map(|&(m, h, t, i, _)| (m, h, t, i)).collect()
        };
        assert_eq!(strip(&by_rank), strip(&tuples));
    }
}
