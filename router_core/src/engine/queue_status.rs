//! Queue status (docs/routing.md, 4b): service hours, holidays, emergencies, and what a
//! closing or an opening does to the contacts in line.

use super::*;

impl Engine {
    /// The starting state of every schedule, at the first input ever applied: no decision.
    pub(super) fn start_hours(&mut self, ts: i64) {
        self.hours_started = true;
        for q in 0..self.queues.len() {
            let Some(s) = &self.queues[q].schedule else {
                continue;
            };
            let answer = s.open_at(ts);
            let next = s.next_change(ts);
            self.set_schedule_answer(q, answer);
            if self.qrt[q].emergency.is_none() {
                self.qrt[q].status = if answer.0 {
                    Status::Open
                } else {
                    Status::Closed
                };
            }
            if let Some(n) = next {
                self.set_timer(n, Timer::Schedule { queue: q as u32 });
            }
        }
    }

    pub(super) fn set_schedule_answer(&mut self, q: usize, (open, why): (bool, Why)) {
        let rt = &mut self.qrt[q];
        rt.schedule_open = open;
        rt.schedule_holiday = why == Why::Holiday;
        rt.schedule_closed_date = why == Why::ClosedDate;
    }

    pub(crate) fn is_open(&self, q: u32) -> bool {
        self.qrt[q as usize].status == Status::Open
    }

    /// The status the emergency and the schedule give, and the rule that decided it.
    pub(super) fn status_of(&self, q: usize) -> (Status, &'static str) {
        let rt = &self.qrt[q];
        if let Some(e) = &rt.emergency {
            let st = match e.reroute {
                Some(t) => Status::Rerouted(t),
                None => Status::Closed,
            };
            return (st, "emergency");
        }
        if self.queues[q].schedule.is_none() {
            return (Status::Open, "no_schedule");
        }
        let why = if rt.schedule_holiday {
            "holiday"
        } else if rt.schedule_closed_date {
            "closed_date"
        } else {
            "schedule"
        };
        let st = if rt.schedule_open {
            Status::Open
        } else {
            Status::Closed
        };
        (st, why)
    }

    /// Re-evaluate a queue's status; on a change, say so and apply it.
    pub(super) fn update_status(&mut self, q: usize) {
        let (new, why) = self.status_of(q);
        let old = self.qrt[q].status;
        if new == old {
            return;
        }
        self.qrt[q].status = new;
        let to_queue = match new {
            Status::Rerouted(t) => Some(self.queues[t as usize].name.clone()),
            _ => None,
        };
        let body = Body::QueueStatus {
            tenant: self.tenant_name(self.queues[q].tenant),
            queue: self.queues[q].name.clone(),
            open: new == Status::Open,
            reason: why,
            to_queue,
        };
        self.emit(body);
        match (old, new) {
            (_, Status::Open) => self.on_opening(q),
            (Status::Open, _) => self.on_closing(q),
            (_, Status::Rerouted(_)) => self.move_all(q),
            _ => {}
        }
    }

    /// Contacts waiting in queue `q` (parked or not), in line order.
    pub(super) fn line_of(&self, q: usize) -> Vec<u64> {
        let mut v: Vec<(ContactKey, u64)> = self
            .contacts
            .values()
            .filter(|c| c.queue as usize == q && c.state == CState::Waiting)
            .map(|c| (c.key, c.uid))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, uid)| uid).collect()
    }

    pub(super) fn policy_reason(&self, q: usize, otherwise: &'static str) -> &'static str {
        if self.qrt[q].emergency.is_some() {
            "emergency"
        } else {
            otherwise
        }
    }

    /// The queue a rerouted queue sends this contact to, if it takes the channel.
    pub(super) fn reroute_target(&self, q: usize, ch: Channel) -> Option<u32> {
        match self.qrt[q].status {
            Status::Rerouted(t) if self.queues[t as usize].channels[ch.index()] => Some(t),
            _ => None,
        }
    }

    pub(super) fn on_closing(&mut self, q: usize) {
        for uid in self.line_of(q) {
            // An earlier contact's action may not touch this one, but check: it must
            // still be waiting here.
            let Some(c) = self.contacts.get(&uid) else {
                continue;
            };
            if c.state == CState::Waiting && c.queue as usize == q {
                self.apply_closing(uid, true);
            }
        }
        let mut offered: Vec<(ContactKey, u64, u32)> = self
            .contacts
            .values()
            .filter(|c| c.queue as usize == q && c.channel == Channel::Callback)
            .filter_map(|c| match c.state {
                CState::Offered(a) => Some((c.key, c.uid, a)),
                _ => None,
            })
            .collect();
        offered.sort_unstable();
        let mut agents: Vec<u32> = Vec::new();
        for (_, uid, a) in offered {
            self.revoke(a, uid, "queue_closed");
            let c = self.contacts.get_mut(&uid).expect("offered contact exists");
            c.parked = true;
            self.enqueue(uid);
            agents.push(a);
        }
        agents.sort_unstable();
        agents.dedup();
        for a in agents {
            self.drain(a);
        }
    }

    /// What a closing does to one contact of a queue that is not open (routing.md 4b): a
    /// reroute moves it, a callback is parked, anything else follows `at_closing`. Used at
    /// the closing itself (`in_line`: the contact waits in line) and when an offer fails
    /// after it. Returns false, changing nothing, when the contact stays as it is
    /// (`serve`, or already parked with no reroute).
    pub(super) fn apply_closing(&mut self, uid: u64, in_line: bool) -> bool {
        let c = &self.contacts[&uid];
        let (q, ch, parked) = (c.queue as usize, c.channel, c.parked);
        let target = self.reroute_target(q, ch);
        let action = if ch == Channel::Callback {
            Action::Keep
        } else {
            self.queues[q].at_closing
        };
        if target.is_none() && (parked || action == Action::Serve) {
            return false;
        }
        if in_line {
            self.dequeue(uid);
        }
        match target {
            Some(t) => self.move_to(uid, t, ch, "emergency"),
            None => {
                let reason = self.policy_reason(q, "at_closing");
                self.apply_action(uid, action, reason, false);
            }
        }
        true
    }

    /// From closed to rerouted: the waiting contacts the target takes go there.
    pub(super) fn move_all(&mut self, q: usize) {
        for uid in self.line_of(q) {
            let ch = self.contacts[&uid].channel;
            if let Some(t) = self.reroute_target(q, ch) {
                self.dequeue(uid);
                self.move_to(uid, t, ch, "emergency");
            }
        }
    }

    pub(super) fn on_opening(&mut self, q: usize) {
        let keys: Vec<ContactKey> = self.parked[q].iter().copied().collect();
        let clock = self.clock;
        for key in keys {
            let uid = key.2;
            if self
                .contacts
                .get(&uid)
                .is_some_and(|c| c.parked && c.not_before <= clock)
            {
                self.unpark(uid);
            }
        }
    }

    pub(super) fn unpark(&mut self, uid: u64) {
        self.dequeue(uid);
        self.contacts.get_mut(&uid).expect("contact exists").parked = false;
        self.enqueue(uid);
        self.route_waiting(uid);
    }

    pub(super) fn on_emergency(&mut self, e: &QueueEmergency) -> Res {
        let t = self.tenant_id(&e.tenant)?;
        let q = *self
            .queue_ids
            .get(e.queue.as_str())
            .ok_or_else(|| rej(RejectCode::UnknownQueue, format!("no queue {:?}", e.queue)))?;
        if self.queues[q as usize].tenant != t {
            return Err(rej(
                RejectCode::TenantMismatch,
                format!(
                    "queue {:?} is not a queue of tenant {:?}",
                    e.queue, e.tenant
                ),
            ));
        }
        let target = match (e.mode, &e.to_queue) {
            (EmergencyMode::Reroute, None) => {
                return Err(rej(
                    RejectCode::InvalidTarget,
                    "a reroute names to_queue".into(),
                ))
            }
            (EmergencyMode::Reroute, Some(tq)) if *tq == e.queue => {
                return Err(rej(
                    RejectCode::InvalidTarget,
                    format!("queue {tq:?} cannot be rerouted to itself"),
                ))
            }
            (EmergencyMode::Reroute, Some(tq)) => {
                let tq_id = *self
                    .queue_ids
                    .get(tq.as_str())
                    .ok_or_else(|| rej(RejectCode::UnknownQueue, format!("no queue {tq:?}")))?;
                if self.queues[tq_id as usize].tenant != t {
                    return Err(rej(
                        RejectCode::TenantMismatch,
                        format!("queue {tq:?} is not a queue of tenant {:?}", e.tenant),
                    ));
                }
                Some(tq_id)
            }
            (_, Some(_)) => {
                return Err(rej(
                    RejectCode::InvalidTarget,
                    "only a reroute names to_queue".into(),
                ))
            }
            (_, None) => None,
        };
        // The reason reported is the rule that applies now, even between schedule timers.
        if let Some(s) = &self.queues[q as usize].schedule {
            let answer = s.open_at(self.clock);
            self.set_schedule_answer(q as usize, answer);
        }
        self.qrt[q as usize].emergency = match e.mode {
            EmergencyMode::Off => None,
            _ => Some(Emergency {
                reroute: target,
                announcement: e.announcement.as_deref().map(Name::from),
            }),
        };
        self.update_status(q as usize);
        Ok(())
    }
}
