//! Queue policies' actions on a contact in no agent's hands: close, keep, callback, ticket,
//! partner, or a move to another queue (docs/routing.md, 4b).

use super::*;

impl Engine {
    /// Put a contact that is in no agent's hands and not in line back in line: parked if
    /// its queue is not open or it is a callback not yet due; otherwise offered if someone
    /// is eligible. `entered`: it has just entered the queue (move or transfer).
    pub(super) fn line_up(&mut self, uid: u64, entered: bool) {
        let clock = self.clock;
        let c = &self.contacts[&uid];
        let park =
            !self.is_open(c.queue) || (c.channel == Channel::Callback && c.not_before > clock);
        let c = self.contacts.get_mut(&uid).expect("contact exists");
        c.parked = park;
        c.state = CState::Waiting;
        if park {
            if entered {
                self.wait(uid, true);
            } else {
                self.enqueue(uid);
            }
        } else if entered {
            self.route(uid, true);
        } else {
            self.enqueue(uid);
            self.route_waiting(uid);
        }
    }

    pub(super) fn announcement_for(&self, q: usize) -> Option<Name> {
        self.qrt[q]
            .emergency
            .as_ref()
            .and_then(|e| e.announcement.clone())
            .or_else(|| self.queues[q].announcement.clone())
    }

    /// A policy's action on a contact that is in no agent's hands and not in line.
    pub(super) fn apply_action(
        &mut self,
        uid: u64,
        action: Action,
        reason: &'static str,
        arrival: bool,
    ) {
        let q = self.contacts[&uid].queue as usize;
        match action {
            Action::Close => {
                let announcement = self.announcement_for(q);
                self.close_with(uid, "closed", None, Some(reason), announcement);
            }
            Action::Callback => self.make_callback(uid, reason),
            Action::Ticket => match self.queues[q].ticket_queue {
                Some(t) => self.move_to(uid, t, Channel::Email, reason),
                None => self.make_kept(uid, arrival),
            },
            Action::Partner => {
                let c = self.contacts.get_mut(&uid).expect("contact exists");
                c.overflowed = true;
                c.parked = false;
                let (t, name, step) = (c.tenant, c.name.clone(), c.step);
                let class = self.class_of(uid);
                self.contacts.get_mut(&uid).expect("contact exists").class = class;
                let body = Body::ContactStepReached {
                    tenant: self.tenant_name(t),
                    contact: name,
                    queue: self.queues[q].name.clone(),
                    step,
                    partner: true,
                    reason,
                };
                self.emit(body);
                let c = &self.contacts[&uid];
                if c.channel == Channel::Callback && !self.is_open(c.queue) {
                    // Never dialled outside hours, partner or not.
                    self.make_kept(uid, arrival);
                } else if arrival {
                    self.route(uid, false);
                } else {
                    self.contacts.get_mut(&uid).expect("contact exists").state = CState::Waiting;
                    self.enqueue(uid);
                    self.route_waiting(uid);
                }
            }
            Action::Keep | Action::Serve => self.make_kept(uid, arrival),
        }
    }

    /// Parked until the queue opens; an arrival is told it is in line.
    pub(super) fn make_kept(&mut self, uid: u64, arrival: bool) {
        let c = self.contacts.get_mut(&uid).expect("contact exists");
        c.parked = true;
        c.state = CState::Waiting;
        if arrival {
            self.wait(uid, false);
        } else {
            self.enqueue(uid);
        }
    }

    /// A policy moves the contact (in no agent's hands, not in line) to another queue.
    pub(super) fn move_to(
        &mut self,
        uid: u64,
        target: u32,
        channel: Channel,
        reason: &'static str,
    ) {
        let c = self.contacts.get_mut(&uid).expect("contact exists");
        let (t, name, from) = (c.tenant, c.name.clone(), c.queue);
        c.channel = channel;
        let body = Body::ContactMoved {
            tenant: self.tenant_name(t),
            contact: name,
            from_queue: self.queues[from as usize].name.clone(),
            queue: self.queues[target as usize].name.clone(),
            channel,
            reason,
        };
        self.emit(body);
        self.enter_queue(uid, target);
        self.line_up(uid, true);
    }

    /// The contact enters queue `q` (a move or a queue transfer): step 0, steps and caps
    /// counted from now, cool-downs and the partner marks dropped, its place by arrival.
    pub(super) fn enter_queue(&mut self, uid: u64, q: u32) {
        let clock = self.clock;
        let aging = self.aging_ms;
        let borrowed = self.borrow_mask(q);
        let queue = &self.queues[q as usize];
        let (qprio, first_step, max_wait) = (
            queue.priority,
            queue.steps.get(1).map(|s| s.at_ms),
            queue.max_wait_ms,
        );
        let c = self.contacts.get_mut(&uid).expect("open contact");
        c.queue = q;
        c.step = 0;
        c.share = false;
        c.overflowed = false;
        c.parked = false;
        c.borrowed = borrowed;
        c.epoch += 1;
        c.entered = clock;
        c.cooldowns.clear();
        let eff = c.priority + c.attr_bonus + c.tag_bonus + qprio;
        c.key = contact_key(eff, c.arrived, c.uid, aging);
        let epoch = c.epoch;
        let class = self.class_of(uid);
        self.contacts.get_mut(&uid).expect("open contact").class = class;
        if let Some(at) = first_step {
            self.set_timer(
                clock + at,
                Timer::StepDue {
                    contact: uid,
                    step: 1,
                    epoch,
                },
            );
        }
        if let Some(mw) = max_wait {
            self.set_timer(
                clock + mw,
                Timer::MaxWait {
                    contact: uid,
                    epoch,
                },
            );
        }
    }
}
