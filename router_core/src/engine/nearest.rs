//! Why a contact waits with nobody able to serve it (`contact_queued.nearest`,
//! docs/routing.md 3): when no logged-in agent meets its needs, the logged-in agent who
//! misses the fewest of them, and what that agent misses.
//!
//! Cheap by construction: whether anyone logged in meets a class's needs is a look at the
//! class's matching groups' logged-in counts (usually the first group answers). Only when
//! nobody does are the groups (distinct profiles, not agents) compared, once per class
//! until who is logged in changes.

use super::*;
use crate::agents::Need;
use crate::events::{Nearest, NEAREST_MISSING_MAX};

impl Engine {
    /// Agent group `g` gained (+1) or lost (-1) a logged-in agent.
    pub(super) fn note_login(&mut self, g: Option<u32>, delta: i32) {
        let Some(g) = g else {
            return;
        };
        let g = g as usize;
        if self.logged_in.len() <= g {
            self.logged_in.resize(g + 1, 0);
        }
        if delta > 0 {
            self.logged_in[g] += 1;
            self.logged_in_total += 1;
        } else {
            self.logged_in[g] -= 1;
            self.logged_in_total -= 1;
        }
        self.roster += 1;
    }

    /// The explanation for a contact in the shared line, or None when some logged-in agent
    /// meets its needs (it waits for a free one, or for a cool-down to end).
    pub(super) fn nearest(&mut self, uid: u64) -> Option<Box<Nearest>> {
        let k = self.contacts[&uid].class;
        let class = &self.waiting.classes[k as usize];
        let served = |g: &u32| self.logged_in.get(*g as usize).is_some_and(|n| *n > 0);
        if class.groups.iter().any(served) {
            return None;
        }
        if let Some((roster, found)) = self.nearest_cache.get(&k) {
            if *roster == self.roster {
                return found.clone();
            }
        }
        let found = Some(Box::new(
            self.closest(&self.waiting.classes[k as usize].need),
        ));
        self.nearest_cache.insert(k, (self.roster, found.clone()));
        found
    }

    /// The logged-in agent missing the fewest needs (ties: the first in agent order).
    fn closest(&self, need: &Need) -> Nearest {
        if self.logged_in_total == 0 {
            return Nearest {
                agent: None,
                missing: Vec::new(),
            };
        }
        // (misses, agent index, group) of the best so far. Groups are compared by their
        // profile; the agent index settles ties, so the answer does not depend on the
        // order groups were made in (a restored engine makes them in another order).
        let mut best: Option<(usize, u32, u32)> = None;
        for (g, n) in self.logged_in.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let misses = self
                .misses(&self.pools.groups[g].profile, need, usize::MAX)
                .0;
            if best.is_some_and(|(m, _, _)| misses > m) {
                continue;
            }
            let first = self
                .pools
                .members(g as u32)
                .iter()
                .copied()
                .filter(|a| self.agents[*a as usize].presence != Presence::Offline)
                .min()
                .expect("a group with logged-in agents has members");
            if best.is_none_or(|(m, a, _)| (misses, first) < (m, a)) {
                best = Some((misses, first, g as u32));
            }
        }
        let (_, a, g) = best.expect("someone is logged in");
        let profile = &self.pools.groups[g as usize].profile;
        Nearest {
            agent: Some(self.agents[a as usize].name.clone()),
            missing: self.misses(profile, need, NEAREST_MISSING_MAX).1,
        }
    }

    /// How many of `need` a profile misses, and the first `shown` of them as `kind:value`
    /// in a fixed order (tenant, channel, pool, team, language, skills by name).
    fn misses(&self, p: &Profile, need: &Need, shown: usize) -> (usize, Vec<String>) {
        let mut n = 0usize;
        let mut list = Vec::new();
        let mut miss = |text: &dyn Fn() -> String| {
            n += 1;
            if list.len() < shown {
                list.push(text());
            }
        };
        if !p.serves_tenant(need.tenant) {
            miss(&|| format!("tenant:{}", &**self.tenants.name(need.tenant)));
        }
        if p.capacity[need.channel.index()] == 0 {
            miss(&|| format!("channel:{}", need.channel.as_str()));
        }
        match need.pool {
            Pool::Own if p.partner => miss(&|| "pool:own".to_string()),
            Pool::Partner if !p.partner => miss(&|| "pool:partner".to_string()),
            _ => {}
        }
        if !need.teams.is_empty() && need.teams.binary_search(&p.team).is_err() {
            miss(&|| "team".to_string());
        }
        if !p.speaks(need.language) {
            let l = need
                .language
                .expect("a language is missed only when asked for");
            miss(&|| format!("language:{}", &**self.languages.name(l)));
        }
        let mut skills: Vec<(&str, u8)> = need
            .skills
            .iter()
            .filter(|&&(s, min)| p.proficiency(s) < min)
            .map(|&(s, min)| (&**self.skills.name(s), min))
            .collect();
        skills.sort_unstable();
        for (name, min) in skills {
            miss(&|| format!("skill:{name}>={min}"));
        }
        (n, list)
    }
}
