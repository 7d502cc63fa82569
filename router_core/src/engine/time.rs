//! Time: the clock advances only with input timestamps, firing the timers due on the way.

use super::*;

impl Engine {
    pub(super) fn advance(&mut self, ts: i64) {
        if !self.hours_started {
            self.start_hours(ts.max(self.clock));
        }
        if ts > self.clock {
            while let Some(Reverse((due, _, _))) = self.timers.peek() {
                if *due > ts {
                    break;
                }
                let Some(Reverse((due, _, timer))) = self.timers.pop() else {
                    break;
                };
                if due > self.clock {
                    self.clock = due;
                }
                self.fire(timer);
            }
            self.clock = ts;
            self.expire_memory();
        } else if ts < self.clock {
            self.stats.late_events += 1;
        }
    }

    pub(super) fn expire_memory(&mut self) {
        self.seen
            .expire(self.clock - self.routing.dedupe_window_hours * 3_600_000);
        self.closed
            .expire(self.clock - self.routing.closed_contact_retention_hours * 3_600_000);
    }

    pub(super) fn set_timer(&mut self, due: i64, timer: Timer) {
        self.timer_seq += 1;
        self.timers.push(Reverse((due, self.timer_seq, timer)));
    }

    pub(super) fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::OfferExpiry { contact, attempt } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if let CState::Offered(a) = c.state {
                    if c.attempt == attempt {
                        self.expire_offer(contact, a);
                    }
                }
            }
            Timer::WrapUpLimit { contact } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if let CState::WrapUp(a) = c.state {
                    let (tenant, cname) = (self.tenant_name(c.tenant), c.name.clone());
                    let agent = self.agents[a as usize].name.clone();
                    self.emit(Body::WrapUpEnded {
                        tenant,
                        contact: cname,
                        agent,
                        by: "timeout",
                    });
                    self.close_completed(contact, a);
                }
            }
            Timer::StepDue {
                contact,
                step,
                epoch,
            } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if c.epoch == epoch && matches!(c.state, CState::Waiting | CState::Offered(_)) {
                    self.reach_step(contact, step);
                }
            }
            Timer::ContinuityEnd { contact } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if c.reserved.is_some() {
                    if c.state == CState::Waiting {
                        self.dequeue(contact);
                        self.contacts.get_mut(&contact).expect("open").reserved = None;
                        self.enqueue(contact);
                        self.route_waiting(contact);
                    } else {
                        self.contacts.get_mut(&contact).expect("open").reserved = None;
                    }
                }
            }
            Timer::CooldownEnd { contact } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if c.state == CState::Waiting {
                    self.cooled(contact);
                }
            }
            Timer::Schedule { queue } => {
                let q = queue as usize;
                let Some(s) = &self.queues[q].schedule else {
                    return;
                };
                let clock = self.clock;
                let answer = s.open_at(clock);
                let next = s.next_change(clock);
                self.set_schedule_answer(q, answer);
                self.update_status(q);
                if let Some(n) = next {
                    self.set_timer(n, Timer::Schedule { queue });
                }
            }
            Timer::CallbackDue { contact } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if c.parked
                    && c.channel == Channel::Callback
                    && c.not_before <= self.clock
                    && self.is_open(c.queue)
                {
                    self.unpark(contact);
                }
            }
            Timer::MaxWait { contact, epoch } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if c.epoch == epoch
                    && c.state == CState::Waiting
                    && !c.parked
                    && c.channel != Channel::Callback
                {
                    let action = self.queues[c.queue as usize].when_full;
                    self.dequeue(contact);
                    self.apply_action(contact, action, "max_wait", false);
                }
            }
        }
    }
}
