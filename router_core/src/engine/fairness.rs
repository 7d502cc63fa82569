//! Fairness between tenants: each tenant's guaranteed share of recent offers
//! (docs/routing.md, 4b).

use super::*;

impl Engine {
    pub(super) fn record_offer(&mut self, tenant: u32) {
        if self.fair_share.iter().all(|s| *s == 0) {
            return;
        }
        self.prune_fair();
        self.fair_offers.push_back((self.clock, tenant));
        self.fair_counts[tenant as usize] += 1;
    }

    pub(super) fn prune_fair(&mut self) {
        let from = self.clock - self.routing.fair_share_window_seconds * 1000;
        while let Some(&(t, tenant)) = self.fair_offers.front() {
            if t > from {
                break;
            }
            self.fair_offers.pop_front();
            self.fair_counts[tenant as usize] -= 1;
        }
    }

    /// A tenant below its guaranteed share of recent offers, with a contact this agent
    /// can take: its best such contact (docs/routing.md, 4b, fairness).
    pub(super) fn fair_pick(
        &mut self,
        a: u32,
        g: u32,
        takeable: [bool; CHANNEL_COUNT],
        best_tenant: u32,
    ) -> Option<(ContactKey, u32)> {
        self.prune_fair();
        let total = self.fair_offers.len() as u64;
        for t in 0..self.fair_share.len() as u32 {
            let share = self.fair_share[t as usize];
            if t == best_tenant
                || share == 0
                || !self.agents[a as usize].profile.serves_tenant(t)
                || self.fair_counts[t as usize] * 100 >= share * total
            {
                continue;
            }
            let found = self
                .waiting
                .best_for(g, takeable, Some(t), |uid| self.is_cooling(uid, a));
            if found.is_some() {
                return found;
            }
        }
        None
    }
}
