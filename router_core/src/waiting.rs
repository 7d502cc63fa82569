//! The waiting-contact index: contacts grouped into classes by what they need, each class
//! in a fixed priority order, and for every agent group and channel an ordered set of the
//! heads of the classes that group can serve.
//!
//! An agent who frees up finds its best contact by walking its group's class heads: the
//! cost depends on the number of classes it can serve, not on how many contacts wait.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use crate::agents::{Need, Profile};
use crate::channels::{Channel, CHANNEL_COUNT};

/// Priority order of a waiting contact, smallest first: (negated static rank, arrival
/// time, arrival sequence). The static rank is `(priority + queue priority) * aging_ms -
/// arrived` with aging (so the order never changes as time passes), or just the priority.
pub type ContactKey = (i64, i64, u64);

pub fn contact_key(priority: i64, arrived: i64, seq: u64, aging_ms: i64) -> ContactKey {
    let rank = if aging_ms > 0 {
        priority.saturating_mul(aging_ms).saturating_sub(arrived)
    } else {
        priority
    };
    (rank.saturating_neg(), arrived, seq)
}

pub struct Class {
    pub need: Need,
    pub waiting: BTreeSet<ContactKey>,
    /// Agent groups whose profile matches this need.
    pub groups: Vec<u32>,
}

#[derive(Default)]
pub struct WaitIndex {
    pub classes: Vec<Class>,
    by_need: FxHashMap<Need, u32>,
    /// heads[group][channel]: (head key, class) of non-empty classes the group can serve.
    heads: Vec<[BTreeSet<(ContactKey, u32)>; CHANNEL_COUNT]>,
}

impl WaitIndex {
    /// The class for a need, creating it (and linking it to matching groups) if new.
    pub fn class_for<'a>(&mut self, need: &Need, groups: impl Iterator<Item = &'a Profile>) -> u32 {
        if let Some(&k) = self.by_need.get(need) {
            return k;
        }
        let k = self.classes.len() as u32;
        let matching = groups
            .enumerate()
            .filter(|(_, p)| p.matches(need))
            .map(|(g, _)| g as u32)
            .collect();
        self.classes.push(Class {
            need: need.clone(),
            waiting: BTreeSet::new(),
            groups: matching,
        });
        self.by_need.insert(need.clone(), k);
        k
    }

    /// A new agent group: link it to every class it can serve.
    pub fn add_group(&mut self, g: u32, profile: &Profile) {
        debug_assert_eq!(g as usize, self.heads.len());
        self.heads.push(Default::default());
        for (k, class) in self.classes.iter_mut().enumerate() {
            if profile.matches(&class.need) {
                class.groups.push(g);
                if let Some(&head) = class.waiting.first() {
                    self.heads[g as usize][class.need.channel.index()].insert((head, k as u32));
                }
            }
        }
    }

    pub fn insert(&mut self, k: u32, key: ContactKey) {
        let class = &mut self.classes[k as usize];
        let old = class.waiting.first().copied();
        class.waiting.insert(key);
        let new = class.waiting.first().copied();
        if old != new {
            self.move_head(k, old, new);
        }
    }

    pub fn remove(&mut self, k: u32, key: ContactKey) {
        let class = &mut self.classes[k as usize];
        let old = class.waiting.first().copied();
        class.waiting.remove(&key);
        let new = class.waiting.first().copied();
        if old != new {
            self.move_head(k, old, new);
        }
    }

    fn move_head(&mut self, k: u32, old: Option<ContactKey>, new: Option<ContactKey>) {
        let class = &self.classes[k as usize];
        let c = class.need.channel.index();
        for &g in &class.groups {
            let set = &mut self.heads[g as usize][c];
            if let Some(o) = old {
                set.remove(&(o, k));
            }
            if let Some(n) = new {
                set.insert((n, k));
            }
        }
    }

    /// The best waiting contact for an agent of group `g` who can take the channels in
    /// `takeable` (only of `tenant`, if given), skipping contacts for which `cooling` says the
    /// agent is cooling down.
    pub fn best_for(
        &self,
        g: u32,
        takeable: [bool; CHANNEL_COUNT],
        tenant: Option<u32>,
        cooling: impl Fn(u64) -> bool,
    ) -> Option<(ContactKey, u32)> {
        let mut best: Option<(ContactKey, u32)> = None;
        let heads = self.heads.get(g as usize)?;
        for ch in Channel::ALL {
            if !takeable[ch.index()] {
                continue;
            }
            for &(head, k) in &heads[ch.index()] {
                if best.is_some_and(|(b, _)| head >= b) {
                    break;
                }
                if tenant.is_some_and(|t| self.classes[k as usize].need.tenant != t) {
                    continue;
                }
                for &key in &self.classes[k as usize].waiting {
                    if best.is_some_and(|(b, _)| key >= b) {
                        break;
                    }
                    if !cooling(key.2) {
                        best = Some((key, k));
                        break;
                    }
                }
            }
        }
        best
    }
}
