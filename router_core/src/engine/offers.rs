//! Offers and their outcomes: making an offer, an agent taking the best waiting contacts
//! (drain), acceptance, rejection, expiry, completion and abandonment.

use super::*;

impl Engine {
    pub(super) fn offer(&mut self, uid: u64, a: u32, reason: OfferReason) {
        let clock = self.clock;
        let c = self.contacts.get_mut(&uid).expect("offered contact exists");
        c.reserved = None; // the previous agent had their chance (or the time ran out)
        c.attempt += 1;
        c.state = CState::Offered(a);
        let (t, name, q, ch, attempt) = (c.tenant, c.name.clone(), c.queue, c.channel, c.attempt);
        let queue = &self.queues[q as usize];
        let (qname, timeout, interruptible) = (
            queue.name.clone(),
            queue.offer_timeout_ms,
            queue.interruptible,
        );
        self.agents[a as usize].add_item(Item {
            contact: uid,
            channel: ch,
            phase: Phase::Offered,
            interruptible,
        });
        self.refresh(a);
        let expires_at = clock + timeout;
        self.set_timer(
            expires_at,
            Timer::OfferExpiry {
                contact: uid,
                attempt,
            },
        );
        self.stats.offers += 1;
        self.record_offer(t);
        let body = Body::OfferMade {
            tenant: self.tenant_name(t),
            contact: name.clone(),
            queue: qname,
            channel: ch,
            agent: self.agents[a as usize].name.clone(),
            offer: OfferId {
                contact: name.clone(),
                attempt,
            },
            attempt,
            expires_at,
            reason,
        };
        self.emit(body);
    }

    /// Offer the agent the best waiting contacts it is eligible for, until none is left or
    /// it can take no more.
    pub(super) fn drain(&mut self, a: u32) {
        loop {
            if self.agents[a as usize].presence != Presence::Available {
                return;
            }
            let takeable = self.pools.takeable(a);
            if !takeable.iter().any(|t| *t) {
                return;
            }
            let g = self.pools.group_of[a as usize];
            let mut best = self
                .waiting
                .best_for(g, takeable, None, |uid| self.is_cooling(uid, a));
            if let Some((_, k)) = best {
                if self.fair_share.iter().any(|s| *s > 0) {
                    let x = self.waiting.classes[k as usize].need.tenant;
                    if let Some(fair) = self.fair_pick(a, g, takeable, x) {
                        best = Some(fair);
                    }
                }
            }
            // Contacts kept for this agent (returning customers) compete by the same order.
            let mine = self.reserved_for.get(&a).and_then(|set| {
                set.iter().copied().find(|key| {
                    let c = &self.contacts[&key.2];
                    takeable[c.channel.index()]
                        && self.agents[a as usize]
                            .profile
                            .matches(&self.waiting.classes[c.class as usize].need)
                })
            });
            if let Some(key) = mine {
                if best.is_none_or(|(b, _)| key < b) {
                    self.dequeue(key.2);
                    self.offer(key.2, a, Self::continuity_reason());
                    continue;
                }
            }
            let Some((key, _)) = best else { return };
            let uid = key.2;
            self.dequeue(uid);
            let (ranked, considered, strategy) = self.candidates(uid);
            let own = match ranked.iter().find(|r| r.agent == a) {
                Some(r) => r.score,
                None => {
                    let c = &self.contacts[&uid];
                    let need = &self.waiting.classes[c.class as usize].need;
                    let ps = self.agents[a as usize].profile.proficiency_sum(need);
                    self.pools
                        .rank_of(a, c.channel, strategy, ps, self.clock)
                        .map(|r| r.1)
                        .unwrap_or(0)
                }
            };
            let reason = OfferReason {
                strategy: strategy.as_str(),
                score: own,
                considered,
                runners_up: ranked
                    .iter()
                    .filter(|r| r.agent != a)
                    .take(RUNNERS_UP)
                    .map(|r| self.candidate(r))
                    .collect(),
            };
            self.offer(uid, a, reason);
        }
    }

    pub(super) fn expire_offer(&mut self, uid: u64, a: u32) {
        self.stats.expired += 1;
        let clock = self.clock;
        let agent = &mut self.agents[a as usize];
        agent.missed += 1;
        let missed = agent.missed;
        let aname = agent.name.clone();
        let c = &self.contacts[&uid];
        let body = Body::OfferExpired {
            tenant: self.tenant_name(c.tenant),
            contact: c.name.clone(),
            agent: aname,
            offer: OfferId {
                contact: c.name.clone(),
                attempt: c.attempt,
            },
            missed_in_row: missed,
        };
        self.emit(body);
        self.release(a, uid);
        self.resume_if_no_live(a);
        self.cool_down(uid, a, clock);
        if missed >= self.routing.max_missed_offers
            && self.agents[a as usize].presence == Presence::Available
        {
            self.set_presence(
                a,
                Presence::NotResponding,
                Some(Name::from("missed_offers")),
                "engine",
            );
            self.revoke_offers(a, "agent_not_responding");
        }
        self.route(uid, true);
        self.drain(a);
    }

    pub(super) fn cool_down(&mut self, uid: u64, a: u32, clock: i64) {
        let cd = self.routing.decline_cooldown_seconds * 1000;
        let c = self.contacts.get_mut(&uid).expect("contact exists");
        c.state = CState::Waiting;
        if cd > 0 {
            c.cooldowns.retain(|(x, until)| *x != a && *until > clock);
            c.cooldowns.push((a, clock + cd));
            self.set_timer(clock + cd, Timer::CooldownEnd { contact: uid });
        }
    }

    /// Say how the contact ended (`contact_closed`), then close it.
    pub(super) fn close_with(
        &mut self,
        uid: u64,
        outcome: &'static str,
        agent: Option<u32>,
        reason: Option<&'static str>,
        announcement: Option<Name>,
    ) {
        let c = &self.contacts[&uid];
        let body = Body::ContactClosed {
            tenant: self.tenant_name(c.tenant),
            contact: c.name.clone(),
            queue: self.queues[c.queue as usize].name.clone(),
            channel: c.channel,
            outcome,
            agent: agent.map(|a| self.agents[a as usize].name.clone()),
            reason,
            announcement,
        };
        self.emit(body);
        self.close(uid);
    }

    pub(super) fn close(&mut self, uid: u64) {
        let slot = self.contacts.slot(&uid);
        if let Some(c) = self.contacts.remove(&uid) {
            let slot = slot.expect("a held contact has a slot");
            self.contact_index.remove(print_of(c.tenant, &c.name), slot);
            // The id is new to the memory: an arrival with a remembered id is rejected.
            self.closed.insert(c.tenant, &c.name, self.clock);
        }
    }

    pub(super) fn close_completed(&mut self, uid: u64, a: u32) {
        self.release(a, uid);
        self.close_with(uid, "completed", Some(a), None, None);
        self.stats.completed += 1;
        self.resume_if_no_live(a);
        self.drain(a);
    }

    pub(super) fn on_abandoned(&mut self, e: &ContactRef) -> Res {
        let uid = self.open_contact(&e.tenant, &e.contact)?;
        let c = &self.contacts[&uid];
        let agent_to_drain = match c.state {
            CState::Waiting => {
                self.dequeue(uid);
                None
            }
            CState::Offered(a) => {
                self.revoke(a, uid, "abandoned");
                Some(a)
            }
            s => {
                return Err(rej(
                    RejectCode::InvalidState,
                    format!(
                        "contact {:?} is {}; only a waiting or offered contact can be abandoned",
                        e.contact,
                        self.state_word(s)
                    ),
                ))
            }
        };
        let c = &self.contacts[&uid];
        let (q, wait) = (c.queue as usize, self.clock - c.arrived);
        self.record_abandon(q, wait);
        self.close_with(uid, "abandoned", None, None, None);
        self.stats.abandoned += 1;
        if let Some(a) = agent_to_drain {
            self.drain(a);
        }
        Ok(())
    }

    pub(super) fn on_accepted(&mut self, e: &ContactAgent) -> Res {
        let (uid, a) = self.offered_to(&e.tenant, &e.contact, &e.agent)?;
        let clock = self.clock;
        let c = self.contacts.get_mut(&uid).expect("open contact");
        c.state = CState::Assigned(a);
        let (t, name, q, ch, arrived) = (c.tenant, c.name.clone(), c.queue, c.channel, c.arrived);
        let agent = &mut self.agents[a as usize];
        if let Some(p) = agent.item_pos(uid) {
            let mut it = agent.items.remove(p);
            it.phase = Phase::Active;
            agent.items.push(it);
        }
        agent.missed = 0;
        agent.last_assigned[ch.index()] = clock;
        if let Some(cust) = self.contacts[&uid].customer.clone() {
            self.last_agents.note(t, cust, a);
        }
        let aname = agent.name.clone();
        self.stats.assigned += 1;
        let tenant = self.tenant_name(t);
        self.emit(Body::ContactAssigned {
            tenant,
            contact: name.clone(),
            queue: self.queues[q as usize].name.clone(),
            channel: ch,
            agent: aname.clone(),
            wait_ms: clock - arrived,
        });
        self.record_answer(q as usize, clock - arrived);
        if ch.is_live() {
            let set_aside: Vec<u64> = self.agents[a as usize]
                .items
                .iter()
                .filter(|i| i.channel.is_deferred() && i.phase == Phase::Active)
                .map(|i| i.contact)
                .collect();
            for d in set_aside {
                let agent = &mut self.agents[a as usize];
                if let Some(p) = agent.item_pos(d) {
                    agent.items[p].phase = Phase::Interrupted;
                }
                let dc = &self.contacts[&d];
                let body = Body::WorkInterrupted {
                    tenant: self.tenant_name(dc.tenant),
                    contact: dc.name.clone(),
                    agent: aname.clone(),
                    by_contact: name.clone(),
                };
                self.emit(body);
            }
        }
        self.refresh(a);
        self.drain(a);
        Ok(())
    }

    pub(super) fn on_rejected(&mut self, e: &OfferRejected) -> Res {
        let (uid, a) = self.offered_to(&e.tenant, &e.contact, &e.agent)?;
        let clock = self.clock;
        self.release(a, uid);
        self.resume_if_no_live(a);
        self.cool_down(uid, a, clock);
        self.route(uid, true);
        self.drain(a);
        Ok(())
    }

    pub(super) fn on_completed(&mut self, e: &ContactCompleted) -> Res {
        let (uid, a) = self.assigned_to(&e.tenant, &e.contact, &e.agent, false)?;
        let q = self.contacts[&uid].queue;
        let wrap = self.queues[q as usize].wrap_up_ms;
        if wrap > 0 {
            let ends_by = self.clock + wrap;
            let c = self.contacts.get_mut(&uid).expect("open contact");
            c.state = CState::WrapUp(a);
            let (t, name) = (c.tenant, c.name.clone());
            let agent = &mut self.agents[a as usize];
            if let Some(p) = agent.item_pos(uid) {
                agent.items[p].phase = Phase::WrapUp;
            }
            let aname = agent.name.clone();
            self.refresh(a);
            self.set_timer(ends_by, Timer::WrapUpLimit { contact: uid });
            let tenant = self.tenant_name(t);
            self.emit(Body::WrapUpStarted {
                tenant,
                contact: name,
                agent: aname,
                ends_by: Some(ends_by),
            });
        } else {
            self.close_completed(uid, a);
        }
        Ok(())
    }

    pub(super) fn on_wrap_up_finished(&mut self, e: &ContactAgent) -> Res {
        let (uid, a) = self.assigned_to(&e.tenant, &e.contact, &e.agent, true)?;
        let c = &self.contacts[&uid];
        let body = Body::WrapUpEnded {
            tenant: self.tenant_name(c.tenant),
            contact: c.name.clone(),
            agent: self.agents[a as usize].name.clone(),
            by: "agent",
        };
        self.emit(body);
        self.close_completed(uid, a);
        Ok(())
    }
}
