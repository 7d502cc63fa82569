//! Why a contact waits with nobody able to serve it (`contact_queued.nearest`,
//! docs/routing.md 3): when no logged-in agent meets its needs, the logged-in agent who
//! misses the fewest of them, and what that agent misses.
//!
//! Cheap by construction: whether anyone logged in meets a class's needs is a look at the
//! class's matching groups' logged-in counts (usually the first group answers). Only when
//! nobody does are the groups (distinct profiles, not agents) compared, without
//! allocating, each by its first logged-in agent (per-group ordered sets); the answer is
//! kept per class until who is logged in, or a profile, changes.

use super::*;
use crate::agents::Need;
use crate::events::{Nearest, NEAREST_MISSING_MAX};

impl Engine {
    /// Agent `a` of group `g` logged in (`on`) or out, or joined or left the group.
    pub(super) fn note_login(&mut self, g: Option<u32>, a: u32, on: bool) {
        let Some(g) = g else {
            return;
        };
        let g = g as usize;
        if self.logged_in.len() <= g {
            self.logged_in.resize(g + 1, Default::default());
        }
        let changed = if on {
            self.logged_in[g].insert(a)
        } else {
            self.logged_in[g].remove(&a)
        };
        if changed {
            if on {
                self.logged_in_total += 1;
            } else {
                self.logged_in_total -= 1;
            }
        }
        self.roster += 1;
    }

    /// The explanation for a contact in the shared line, or None when some logged-in agent
    /// meets its needs (it waits for a free one, or for a cool-down to end).
    pub(super) fn nearest(&mut self, uid: u64) -> Option<Box<Nearest>> {
        let k = self.contacts[&uid].class;
        let class = &self.waiting.classes[k as usize];
        let served = |g: &u32| {
            self.logged_in
                .get(*g as usize)
                .is_some_and(|s| !s.is_empty())
        };
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
        // Groups are compared by their profile, without allocating, then by their first
        // logged-in agent: the answer does not depend on the order groups were made in (a
        // restored engine makes them in another order).
        let (_, a, g) = (self.logged_in.iter().enumerate())
            .filter_map(|(g, set)| {
                let first = *set.first()?;
                let misses = self.miss_count(&self.pools.groups[g].profile, need);
                Some((misses, first, g))
            })
            .min()
            .expect("someone is logged in");
        Nearest {
            agent: Some(self.agents[a as usize].name.clone()),
            missing: self.misses(&self.pools.groups[g].profile, need),
        }
    }

    /// How many of `need` a profile misses (as [`Engine::misses`] lists them).
    fn miss_count(&self, p: &Profile, need: &Need) -> usize {
        let pool = match need.pool {
            Pool::Own => p.partner,
            Pool::Partner => !p.partner,
            Pool::Any => false,
        };
        let team = !need.teams.is_empty() && need.teams.binary_search(&p.team).is_err();
        let skills = need
            .skills
            .iter()
            .filter(|&&(s, min)| p.proficiency(s) < min)
            .count();
        usize::from(!p.serves_tenant(need.tenant))
            + usize::from(p.capacity[need.channel.index()] == 0)
            + usize::from(pool)
            + usize::from(team)
            + usize::from(!p.speaks(need.language))
            + skills
    }

    /// What a profile misses of `need`, as `kind:value`, in a fixed order (tenant, channel,
    /// pool, team, language, skills by name), at most [`NEAREST_MISSING_MAX`].
    fn misses(&self, p: &Profile, need: &Need) -> Vec<String> {
        let mut list = Vec::new();
        if !p.serves_tenant(need.tenant) {
            list.push(format!("tenant:{}", &**self.tenants.name(need.tenant)));
        }
        if p.capacity[need.channel.index()] == 0 {
            list.push(format!("channel:{}", need.channel.as_str()));
        }
        match need.pool {
            Pool::Own if p.partner => list.push("pool:own".to_string()),
            Pool::Partner if !p.partner => list.push("pool:partner".to_string()),
            _ => {}
        }
        if !need.teams.is_empty() && need.teams.binary_search(&p.team).is_err() {
            list.push("team".to_string());
        }
        if let Some(l) = need.language.filter(|_| !p.speaks(need.language)) {
            list.push(format!("language:{}", &**self.languages.name(l)));
        }
        let mut skills: Vec<(&str, u8)> = need
            .skills
            .iter()
            .filter(|&&(s, min)| p.proficiency(s) < min)
            .map(|&(s, min)| (&**self.skills.name(s), min))
            .collect();
        skills.sort_unstable();
        list.extend(
            skills
                .iter()
                .map(|(name, min)| format!("skill:{name}>={min}")),
        );
        list.truncate(NEAREST_MISSING_MAX);
        list
    }
}
