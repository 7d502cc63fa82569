//! Matching a contact to agents: the candidates, the waiting line and cool-downs.

use super::*;

impl Engine {
    pub(super) fn cooling_agents(&self, c: &Contact) -> Vec<u32> {
        c.cooldowns
            .iter()
            .filter(|(_, until)| *until > self.clock)
            .map(|(a, _)| *a)
            .collect()
    }

    /// The eligible agents for a waiting contact, best first (at most RUNNERS_UP + 1).
    pub(super) fn candidates(&mut self, uid: u64) -> (Vec<crate::pools::Ranked>, u64, Strategy) {
        let c = &self.contacts[&uid];
        let q = &self.queues[c.queue as usize];
        let class = &self.waiting.classes[c.class as usize];
        self.pools
            .keep_ordering(&class.groups, c.channel, q.strategy);
        let excluded = self.cooling_agents(c);
        let need = &class.need;
        let (ranked, considered) = self.pools.best(
            &class.groups,
            c.channel,
            q.strategy,
            |p| p.proficiency_sum(need),
            &excluded,
            self.clock,
            RUNNERS_UP + 1,
        );
        (ranked, considered, q.strategy)
    }

    /// Route a contact that is in no agent's hands and not in the waiting index: offer it
    /// to the best eligible agent, or let it wait.
    pub(super) fn route(&mut self, uid: u64, requeued: bool) {
        let c = &self.contacts[&uid];
        let q = c.queue;
        // An offer failed after closing: the contact is handled as at closing.
        if requeued && !self.is_open(q) && !c.overflowed && self.apply_closing(uid, false) {
            return;
        }
        if let Some(a) = self.contacts[&uid].reserved {
            if self.can_offer(a, uid) {
                self.offer(uid, a, Self::continuity_reason());
            } else {
                self.wait(uid, requeued);
            }
            return;
        }
        let (ranked, considered, strategy) = self.candidates(uid);
        if let Some(best) = ranked.first() {
            let reason = OfferReason {
                strategy: strategy.as_str(),
                score: best.score,
                considered,
                runners_up: ranked[1..].iter().map(|r| self.candidate(r)).collect(),
            };
            let a = best.agent;
            self.offer(uid, a, reason);
        } else {
            self.wait(uid, requeued);
        }
    }

    pub(super) fn wait(&mut self, uid: u64, requeued: bool) {
        {
            let c = self.contacts.get_mut(&uid).expect("routed contact exists");
            c.state = CState::Waiting;
            let (q, t) = (c.queue, c.tenant);
            // A parked contact waits for its queue, a kept one for its agent: only a
            // contact in the shared line can be waiting for a profile nobody has.
            let nearest = if c.parked || c.reserved.is_some() {
                None
            } else {
                self.nearest(uid)
            };
            let c = &self.contacts[&uid];
            let (name, channel, priority) = (
                c.name.clone(),
                c.channel,
                c.priority + c.attr_bonus + c.tag_bonus,
            );
            self.enqueue(uid);
            let body = Body::ContactQueued {
                tenant: self.tenant_name(t),
                contact: name,
                queue: self.queues[q as usize].name.clone(),
                channel,
                priority,
                waiting: self.queue_waiting[q as usize],
                requeued,
                nearest: Omitted(nearest),
            };
            self.emit(body);
        }
    }

    /// Put a waiting contact in line: the shared index, or its reserved agent's set.
    pub(crate) fn enqueue(&mut self, uid: u64) {
        let c = &self.contacts[&uid];
        let (k, key, q, reserved) = (c.class, c.key, c.queue, c.reserved);
        if c.parked {
            self.parked[q as usize].insert(key);
        } else {
            match reserved {
                Some(a) => {
                    self.reserved_for.entry(a).or_default().insert(key);
                }
                None => self.waiting.insert(k, key),
            }
        }
        self.queue_waiting[q as usize] += 1;
    }

    /// Take a waiting contact out of line (before it is offered, moved or closed).
    pub(super) fn dequeue(&mut self, uid: u64) {
        let c = &self.contacts[&uid];
        let (k, key, q, reserved) = (c.class, c.key, c.queue, c.reserved);
        if c.parked {
            self.parked[q as usize].remove(&key);
        } else {
            match reserved {
                Some(a) => {
                    if let Some(set) = self.reserved_for.get_mut(&a) {
                        set.remove(&key);
                        if set.is_empty() {
                            self.reserved_for.remove(&a);
                        }
                    }
                }
                None => self.waiting.remove(k, key),
            }
        }
        self.queue_waiting[q as usize] -= 1;
    }

    /// Could agent `a` be offered this contact now (blending, capacity, needs, cool-down)?
    pub(super) fn can_offer(&self, a: u32, uid: u64) -> bool {
        let c = &self.contacts[&uid];
        self.pools.can_take(a, c.channel)
            && self.agents[a as usize]
                .profile
                .matches(&self.waiting.classes[c.class as usize].need)
            && !self.is_cooling(uid, a)
    }

    /// Agent `a` declined or missed contact `uid` and is not offered it again yet.
    #[inline]
    pub(super) fn is_cooling(&self, uid: u64, a: u32) -> bool {
        self.contacts[&uid]
            .cooldowns
            .iter()
            .any(|&(x, until)| x == a && until > self.clock)
    }

    pub(super) fn candidate(&self, r: &crate::pools::Ranked) -> Candidate {
        Candidate {
            agent: self.agents[r.agent as usize].name.clone(),
            score: r.score,
        }
    }

    pub(super) fn continuity_reason() -> OfferReason {
        OfferReason {
            strategy: "continuity",
            score: 0,
            considered: 1,
            runners_up: Vec::new(),
        }
    }

    /// A waiting contact that may have just become offerable (a step reached, a
    /// continuity time ended, unparked): offer it if an agent is eligible now.
    pub(super) fn route_waiting(&mut self, uid: u64) {
        let clock = self.clock;
        if let Some(c) = self.contacts.get_mut(&uid) {
            c.cooldowns.retain(|(_, until)| *until > clock);
            if c.parked {
                return;
            }
        }
        if let Some(a) = self.contacts[&uid].reserved {
            // Kept for one agent: a step may have made that agent eligible just now.
            if self.can_offer(a, uid) {
                self.dequeue(uid);
                self.route(uid, true);
            }
            return;
        }
        let (ranked, _, _) = self.candidates(uid);
        if ranked.is_empty() {
            return;
        }
        self.dequeue(uid);
        self.route(uid, true);
    }

    /// A waiting contact's cool-down ended (docs/routing.md, 6). Only the agent whose
    /// cool-down ended can have become eligible for it, and other contacts' cool-downs
    /// for that agent may end at the same millisecond, their timers not fired yet: so the
    /// agent takes the line in its own order (drain), not this contact first. An older
    /// contact of the same priority is then offered first (section 7); this contact is
    /// offered when it is the agent's best, or waits on.
    pub(super) fn cooled(&mut self, uid: u64) {
        let clock = self.clock;
        if let Some(c) = self.contacts.get_mut(&uid) {
            c.cooldowns.retain(|(_, until)| *until > clock);
        }
        loop {
            let Some(c) = self.contacts.get(&uid) else {
                return;
            };
            if c.state != CState::Waiting || c.parked {
                return;
            }
            let agent = match c.reserved {
                Some(a) => self.can_offer(a, uid).then_some(a),
                None => self.candidates(uid).0.first().map(|r| r.agent),
            };
            let Some(a) = agent else {
                return;
            };
            // The agent is eligible for this contact, so draining it offers at least one
            // contact (this one or one before it): the loop ends. The check guards that.
            let offers = self.stats.offers;
            self.drain(a);
            if self.stats.offers == offers {
                return;
            }
        }
    }
}
