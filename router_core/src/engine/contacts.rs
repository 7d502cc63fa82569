//! Contacts entering: arrival, updates, survey answers, and the needs (class) that follow
//! from a contact's queue and routing step.

use super::lookups::Found;
use super::*;

impl Engine {
    /// The queue a contact of tenant `t` on `channel` may enter (arrival or transfer).
    pub(super) fn queue_for(
        &self,
        t: u32,
        tenant: &str,
        queue: &str,
        channel: Channel,
    ) -> Result<u32, Rejection> {
        let q = *self
            .queue_ids
            .get(queue)
            .ok_or_else(|| rej(RejectCode::UnknownQueue, format!("no queue {queue:?}")))?;
        let qd = &self.queues[q as usize];
        if qd.tenant != t {
            return Err(rej(
                RejectCode::TenantMismatch,
                format!("queue {queue:?} is not a queue of tenant {tenant:?}"),
            ));
        }
        if !qd.channels[channel.index()] {
            let takes: Vec<&str> = Channel::ALL
                .iter()
                .filter(|c| qd.channels[c.index()])
                .map(|c| c.as_str())
                .collect();
            return Err(rej(
                RejectCode::ChannelNotServed,
                format!(
                    "queue {queue:?} does not take {}; it takes {}",
                    channel.as_str(),
                    takes.join(", ")
                ),
            ));
        }
        Ok(q)
    }

    pub(super) fn on_arrived(&mut self, e: &ContactArrived) -> Res {
        let t = self.tenant_id(&e.tenant)?;
        let q = self.queue_for(t, &e.tenant, &e.queue, e.channel)?;
        let queue = &self.queues[q as usize];
        if self.open_uid(t, &e.contact).is_some() || self.closed.contains(t, &e.contact) {
            return Err(rej(
                RejectCode::ContactExists,
                format!(
                    "tenant {:?} already has a contact {:?}",
                    e.tenant, e.contact
                ),
            ));
        }
        let qprio = queue.priority;
        let attr_bonus: i64 = queue
            .rules
            .iter()
            .filter(|r| match &r.attribute {
                Some(k) => e
                    .attributes
                    .get(k)
                    .is_some_and(|v| r.equals.as_ref().is_none_or(|x| x == v)),
                None => false,
            })
            .map(|r| r.add)
            .sum();
        let tag_bonus = tag_bonus(&queue.rules, &e.tags);
        let n = self.queue_arrivals[q as usize];
        let p = queue.share_percent;
        let share = queue.partner_overflow && (n + 1) * p / 100 > n * p / 100;
        let next_step_at = queue.steps.get(1).map(|s| s.at_ms);
        let continuity_ms = queue.continuity_ms;
        let max_wait = queue.max_wait_ms;
        let partner_overflow = queue.partner_overflow;
        let open = self.is_open(q);
        let full = open
            && queue
                .max_waiting
                .is_some_and(|n| self.queue_waiting[q as usize] >= n);
        let trigger = if open && !full && partner_overflow && !share {
            self.overflow_trigger(q as usize)
        } else {
            None
        };
        let overflowed = trigger.is_some();
        let borrowed = self.borrow_mask(q);
        let customer: Option<Name> = e.customer.as_deref().map(Name::from);
        // A returning customer is kept for the agent who helped them last, for a while.
        let reserved = match (&customer, continuity_ms > 0) {
            (Some(cust), true) => self.last_agents.get(t, cust),
            _ => None,
        };
        self.queue_arrivals[q as usize] += 1;
        let mut own_skills: Vec<(u32, u8)> = Vec::with_capacity(e.skills.len());
        for s in &e.skills {
            let id = self.skills.intern(&s.skill);
            let min = s.min as u8;
            match own_skills.iter_mut().find(|x| x.0 == id) {
                Some(x) => x.1 = x.1.max(min),
                None => own_skills.push((id, min)),
            }
        }
        own_skills.sort_unstable();
        let language = e.language.as_deref().map(|l| self.languages.intern(l));
        let uid = self.next_contact;
        self.next_contact += 1;
        let name: Name = Name::from(e.contact.as_str());
        let eff = e.priority + attr_bonus + tag_bonus;
        let key = contact_key(eff + qprio, self.clock, uid, self.aging_ms);
        self.add_contact(Contact {
            uid,
            tenant: t,
            name,
            queue: q,
            class: 0,
            channel: e.channel,
            priority: e.priority,
            attr_bonus,
            tag_bonus,
            step: 0,
            share,
            language,
            own_skills,
            arrived: self.clock,
            entered: self.clock,
            epoch: 0,
            customer: customer.clone(),
            reserved,
            overflowed,
            key,
            state: CState::Waiting,
            attempt: 0,
            parked: false,
            not_before: 0,
            dials: 0,
            reached: false,
            borrowed,
            cooldowns: Vec::new(),
        });
        let class = self.class_of(uid);
        if let Some(c) = self.contacts.get_mut(&uid) {
            c.class = class;
        }
        if let Some(at) = next_step_at {
            let due = self.clock + at;
            self.set_timer(
                due,
                Timer::StepDue {
                    contact: uid,
                    step: 1,
                    epoch: 0,
                },
            );
        }
        if reserved.is_some() {
            let due = self.clock + continuity_ms;
            self.set_timer(due, Timer::ContinuityEnd { contact: uid });
        }
        if let Some(mw) = max_wait {
            let due = self.clock + mw;
            self.set_timer(
                due,
                Timer::MaxWait {
                    contact: uid,
                    epoch: 0,
                },
            );
        }
        if !open {
            let ch = e.channel;
            if let Some(target) = self.reroute_target(q as usize, ch) {
                self.move_to(uid, target, ch, "emergency");
            } else {
                let reason = self.policy_reason(q as usize, "outside_hours");
                let action = self.queues[q as usize].outside;
                self.apply_action(uid, action, reason, true);
            }
            return Ok(());
        }
        if full {
            let action = self.queues[q as usize].when_full;
            self.apply_action(uid, action, "queue_full", true);
            return Ok(());
        }
        if let Some(reason) = trigger {
            let body = Body::ContactStepReached {
                tenant: self.tenant_name(t),
                contact: self.contacts[&uid].name.clone(),
                queue: self.queues[q as usize].name.clone(),
                step: 0,
                partner: true,
                reason,
            };
            self.emit(body);
        }
        self.route(uid, false);
        Ok(())
    }

    /// What the contact needs now: its queue's step in force, plus its own needs.
    pub(super) fn need_of(&self, c: &Contact) -> Need {
        let q = &self.queues[c.queue as usize];
        let st = &q.steps[c.step as usize];
        let mut skills = st.skills.clone();
        for &(id, min) in &c.own_skills {
            match skills.iter_mut().find(|x| x.0 == id) {
                Some(x) => x.1 = x.1.max(min),
                None => skills.push((id, min)),
            }
        }
        skills.sort_unstable();
        let pool = if !q.partner_overflow {
            Pool::Any
        } else if c.share && c.step == 0 {
            Pool::Partner
        } else if st.partner || c.share || c.overflowed {
            Pool::Any
        } else {
            Pool::Own
        };
        let teams = if q.teams.is_empty() {
            Vec::new()
        } else {
            let mut v = q.teams.clone();
            for (i, (team, _, _)) in q.borrow.iter().enumerate() {
                if c.borrowed & (1 << i) != 0 {
                    v.push(*team);
                }
            }
            v.sort_unstable();
            v.dedup();
            v
        };
        Need {
            tenant: c.tenant,
            channel: c.channel,
            language: if st.language { c.language } else { None },
            skills,
            pool,
            teams,
        }
    }

    pub(super) fn class_of(&mut self, uid: u64) -> u32 {
        let c = &self.contacts[&uid];
        // Most contacts bring no skills of their own; their needs then follow from a few
        // small fields (everything need_of reads), and looking those up spares building
        // and hashing a Need for every arrival.
        let key = c.own_skills.is_empty().then_some((
            c.queue,
            c.step,
            c.tenant,
            c.channel,
            c.language,
            c.share,
            c.overflowed,
            c.borrowed,
        ));
        if let Some(class) = key.and_then(|k| self.class_cache.get(&k)) {
            return *class;
        }
        let need = self.need_of(c);
        let class = self
            .waiting
            .class_for(&need, self.pools.groups.iter().map(|g| &g.profile));
        if let Some(k) = key {
            self.class_cache.insert(k, class);
        }
        class
    }

    /// The contact reached its queue's next routing step: move it to the class of its
    /// relaxed needs, say so, and offer it if someone is eligible now.
    pub(super) fn reach_step(&mut self, uid: u64, step: u32) {
        let q = self.contacts[&uid].queue;
        let borrowed = self.borrow_mask(q);
        let c = self.contacts.get_mut(&uid).expect("contact exists");
        c.step = step;
        c.borrowed = borrowed;
        let (state, q, t, name) = (c.state, c.queue, c.tenant, c.name.clone());
        let new_class = self.class_of(uid);
        if state == CState::Waiting {
            self.dequeue(uid);
        }
        if let Some(c) = self.contacts.get_mut(&uid) {
            c.class = new_class;
        }
        if state == CState::Waiting {
            self.enqueue(uid);
        }
        let queue = &self.queues[q as usize];
        let partner = queue.partner_overflow && queue.steps[step as usize].partner;
        let next_at = queue.steps.get(step as usize + 1).map(|s| s.at_ms);
        let body = Body::ContactStepReached {
            tenant: self.tenant_name(t),
            contact: name,
            queue: queue.name.clone(),
            step,
            partner,
            reason: "step",
        };
        self.emit(body);
        if let Some(at) = next_at {
            let (entered, epoch) = (self.contacts[&uid].entered, self.contacts[&uid].epoch);
            let next = Timer::StepDue {
                contact: uid,
                step: step + 1,
                epoch,
            };
            self.set_timer(entered + at, next);
        }
        if state == CState::Waiting {
            self.route_waiting(uid);
        }
    }

    pub(super) fn on_updated(&mut self, e: &ContactUpdated) -> Res {
        let uid = self.open_contact(&e.tenant, &e.contact)?;
        let aging = self.aging_ms;
        let c = self.contacts.get_mut(&uid).expect("open contact");
        let queue = &self.queues[c.queue as usize];
        if let Some(p) = e.priority {
            c.priority = p;
        }
        if let Some(tags) = &e.tags {
            c.tag_bonus = tag_bonus(&queue.rules, tags);
        }
        let eff = c.priority + c.attr_bonus + c.tag_bonus + queue.priority;
        let new = contact_key(eff, c.arrived, c.uid, aging);
        if c.state == CState::Waiting && new != c.key {
            self.dequeue(uid);
            self.contacts.get_mut(&uid).expect("open contact").key = new;
            self.enqueue(uid);
        } else {
            c.key = new;
        }
        Ok(())
    }

    pub(super) fn on_survey(&mut self, e: &SurveyAnswered) -> Res {
        if self.find_contact(&e.tenant, &e.contact) != Found::Unknown {
            Ok(())
        } else {
            Err(rej(
                RejectCode::UnknownContact,
                format!("tenant {:?} has no contact {:?}", e.tenant, e.contact),
            ))
        }
    }
}

pub(super) fn tag_bonus(rules: &[PriorityRuleCfg], tags: &[String]) -> i64 {
    rules
        .iter()
        .filter(|r| r.tag.as_ref().is_some_and(|t| tags.contains(t)))
        .map(|r| r.add)
        .sum()
}
