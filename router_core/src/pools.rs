//! The agent index: agents grouped by profile, and per group and channel ordered sets of
//! the agents who can take that channel now, one set per selection order in use.
//!
//! Finding the best agent for a contact looks at the first few agents of each eligible
//! group: O(groups x log agents), never a scan of all agents.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use crate::agents::{Agent, Profile};
use crate::channels::{Channel, CHANNEL_COUNT};
use crate::config::Strategy;

/// (has items, idle since, agent index): fully idle agents first, longest idle first.
pub type IdleKey = (bool, i64, u32);
/// (load on the channel, then as IdleKey). Within a group capacity is equal, so the least
/// loaded agent has the most spare capacity.
pub type SpareKey = (u16, bool, i64, u32);
/// (last accepted on the channel, agent index).
pub type RrKey = (i64, u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    idle: IdleKey,
    spare: SpareKey,
    rr: RrKey,
}

#[derive(Default)]
pub struct ChannelSets {
    pub idle: BTreeSet<IdleKey>,
    pub spare: BTreeSet<SpareKey>,
    pub rr: BTreeSet<RrKey>,
}

pub struct Group {
    pub profile: Profile,
    pub sets: [ChannelSets; CHANNEL_COUNT],
}

/// A candidate in strategy order: smaller key wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RankKey(pub i64, pub i64, pub i64, pub u32);

pub struct AgentPools {
    pub groups: Vec<Group>,
    by_profile: FxHashMap<Profile, u32>,
    /// Group of each agent, by agent index.
    pub group_of: Vec<u32>,
    slots: Vec<[Option<Slot>; CHANNEL_COUNT]>,
    use_spare: bool,
    use_rr: bool,
}

pub struct Ranked {
    pub agent: u32,
    pub key: RankKey,
    pub score: i64,
}

impl AgentPools {
    pub fn new(use_spare: bool, use_rr: bool) -> AgentPools {
        AgentPools {
            groups: Vec::new(),
            by_profile: FxHashMap::default(),
            group_of: Vec::new(),
            slots: Vec::new(),
            use_spare,
            use_rr,
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
            sets: Default::default(),
        });
        self.by_profile.insert(profile.clone(), g);
        (g, true)
    }

    /// Put agent `idx` (new, or with a new profile) in group `g`, not in any set yet.
    pub fn place(&mut self, idx: u32, g: u32) {
        let i = idx as usize;
        if i >= self.group_of.len() {
            self.group_of.resize(i + 1, u32::MAX);
            self.slots.resize(i + 1, [None; CHANNEL_COUNT]);
        }
        let old = self.group_of[i];
        if old != u32::MAX && old != g {
            for ch in Channel::ALL {
                if let Some(slot) = self.slots[i][ch.index()].take() {
                    self.remove_slot(old, ch, slot);
                }
            }
        }
        self.group_of[i] = g;
    }

    fn remove_slot(&mut self, g: u32, ch: Channel, s: Slot) {
        let sets = &mut self.groups[g as usize].sets[ch.index()];
        sets.idle.remove(&s.idle);
        if self.use_spare {
            sets.spare.remove(&s.spare);
        }
        if self.use_rr {
            sets.rr.remove(&s.rr);
        }
    }

    fn insert_slot(&mut self, g: u32, ch: Channel, s: Slot) {
        let sets = &mut self.groups[g as usize].sets[ch.index()];
        sets.idle.insert(s.idle);
        if self.use_spare {
            sets.spare.insert(s.spare);
        }
        if self.use_rr {
            sets.rr.insert(s.rr);
        }
    }

    /// Bring the agent's set memberships in line with its state. Call after every change
    /// to an agent.
    pub fn refresh(&mut self, idx: u32, agent: &Agent) {
        let i = idx as usize;
        let g = self.group_of[i];
        let has_items = !agent.items.is_empty();
        let takeable = agent.takeable();
        for ch in Channel::ALL {
            let c = ch.index();
            let want = if takeable[c] {
                Some(Slot {
                    idle: (has_items, agent.idle_since, idx),
                    spare: (agent.load[c], has_items, agent.idle_since, idx),
                    rr: (agent.last_assigned[c], idx),
                })
            } else {
                None
            };
            let have = self.slots[i][c];
            if have == want {
                continue;
            }
            match (have, want) {
                // Most changes touch one ordering only (an acceptance moves only the
                // round-robin key, a second chat only the load): re-seat just those.
                (Some(h), Some(w)) => {
                    let sets = &mut self.groups[g as usize].sets[c];
                    if h.idle != w.idle {
                        sets.idle.remove(&h.idle);
                        sets.idle.insert(w.idle);
                    }
                    if self.use_spare && h.spare != w.spare {
                        sets.spare.remove(&h.spare);
                        sets.spare.insert(w.spare);
                    }
                    if self.use_rr && h.rr != w.rr {
                        sets.rr.remove(&h.rr);
                        sets.rr.insert(w.rr);
                    }
                }
                (Some(h), None) => self.remove_slot(g, ch, h),
                (None, Some(w)) => self.insert_slot(g, ch, w),
                (None, None) => {}
            }
            self.slots[i][c] = want;
        }
    }

    pub fn can_take(&self, idx: u32, ch: Channel) -> bool {
        self.slots[idx as usize][ch.index()].is_some()
    }

    pub fn takeable(&self, idx: u32) -> [bool; CHANNEL_COUNT] {
        let s = &self.slots[idx as usize];
        let mut out = [false; CHANNEL_COUNT];
        for c in 0..CHANNEL_COUNT {
            out[c] = s[c].is_some();
        }
        out
    }

    /// The key and score of agent `idx` (which must be in the sets for `ch`).
    pub fn rank_of(
        &self,
        idx: u32,
        ch: Channel,
        strategy: Strategy,
        prof_sum: i64,
        now: i64,
    ) -> Option<(RankKey, i64)> {
        let s = self.slots[idx as usize][ch.index()]?;
        let g = &self.groups[self.group_of[idx as usize] as usize];
        Some(rank(s, g, ch, strategy, prof_sum, now))
    }

    /// The best `limit` agents among `groups` for channel `ch` in strategy order,
    /// skipping `excluded`; and how many agents in those groups could take it.
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
        let mut found: Vec<Ranked> = Vec::new();
        let mut considered: u64 = 0;
        for &g in groups {
            let group = &self.groups[g as usize];
            let sets = &group.sets[c];
            let n = sets.idle.len();
            if n == 0 {
                continue;
            }
            considered += n as u64;
            let ps = prof_sum(&group.profile);
            let mut taken = 0;
            let push = |idx: u32, found: &mut Vec<Ranked>| -> bool {
                if excluded.contains(&idx) {
                    return false;
                }
                let Some(s) = self.slots[idx as usize][c] else {
                    return false;
                };
                let (key, score) = rank(s, group, ch, strategy, ps, now);
                found.push(Ranked {
                    agent: idx,
                    key,
                    score,
                });
                true
            };
            match strategy {
                Strategy::LongestIdle | Strategy::BestProficiency => {
                    for &(_, _, idx) in &sets.idle {
                        if push(idx, &mut found) {
                            taken += 1;
                            if taken == limit {
                                break;
                            }
                        }
                    }
                }
                Strategy::MostSpareCapacity => {
                    for &(_, _, _, idx) in &sets.spare {
                        if push(idx, &mut found) {
                            taken += 1;
                            if taken == limit {
                                break;
                            }
                        }
                    }
                }
                Strategy::RoundRobin => {
                    for &(_, idx) in &sets.rr {
                        if push(idx, &mut found) {
                            taken += 1;
                            if taken == limit {
                                break;
                            }
                        }
                    }
                }
            }
        }
        // Excluded agents that sit in these groups' sets were counted; take them out.
        for &x in excluded {
            let i = x as usize;
            if i < self.slots.len()
                && self.slots[i][c].is_some()
                && groups.contains(&self.group_of[i])
            {
                considered -= 1;
            }
        }
        found.sort_by_key(|r| r.key);
        found.truncate(limit);
        (found, considered)
    }
}

fn rank(
    s: Slot,
    g: &Group,
    ch: Channel,
    strategy: Strategy,
    prof_sum: i64,
    now: i64,
) -> (RankKey, i64) {
    let (has_items, idle_since, idx) = s.idle;
    let busy = has_items as i64;
    match strategy {
        Strategy::LongestIdle => (RankKey(0, busy, idle_since, idx), now - idle_since),
        Strategy::BestProficiency => (RankKey(-prof_sum, busy, idle_since, idx), prof_sum),
        Strategy::MostSpareCapacity => {
            let spare = g.profile.capacity[ch.index()] as i64 - s.spare.0 as i64;
            (RankKey(-spare, busy, idle_since, idx), spare)
        }
        Strategy::RoundRobin => {
            let last = s.rr.0;
            let score = if last == i64::MIN { now } else { now - last };
            (RankKey(last, 0, 0, idx), score)
        }
    }
}
