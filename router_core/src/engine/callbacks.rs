//! Callbacks: a contact turned into a callback, dialled, retried or given up.

use super::*;

impl Engine {
    /// The contact becomes a callback keeping its place in line.
    pub(super) fn make_callback(&mut self, uid: u64, reason: &'static str) {
        let clock = self.clock;
        let c = self.contacts.get_mut(&uid).expect("contact exists");
        c.channel = Channel::Callback;
        c.not_before = clock;
        c.state = CState::Waiting;
        let (t, name, q, dials) = (c.tenant, c.name.clone(), c.queue, c.dials);
        let class = self.class_of(uid);
        self.contacts.get_mut(&uid).expect("contact exists").class = class;
        let body = Body::CallbackScheduled {
            tenant: self.tenant_name(t),
            contact: name,
            queue: self.queues[q as usize].name.clone(),
            reason,
            attempt: dials,
            not_before: clock,
        };
        self.emit(body);
        self.line_up(uid, false);
    }

    pub(super) fn on_callback_requested(&mut self, e: &ContactRef) -> Res {
        let uid = self.open_contact(&e.tenant, &e.contact)?;
        let c = &self.contacts[&uid];
        if c.channel == Channel::Callback {
            return Err(rej(
                RejectCode::InvalidState,
                format!("contact {:?} is already a callback", e.contact),
            ));
        }
        let revoke_from = match c.state {
            CState::Waiting => None,
            CState::Offered(a) => Some(a),
            s => {
                return Err(rej(
                    RejectCode::InvalidState,
                    format!(
                    "contact {:?} is {}; only a waiting or offered contact can ask for a callback",
                    e.contact,
                    self.state_word(s)
                ),
                ))
            }
        };
        let q = &self.queues[c.queue as usize];
        if !q.channels[Channel::Callback.index()] {
            return Err(rej(
                RejectCode::ChannelNotServed,
                format!(
                    "queue {:?} does not take callbacks; add \"callback\" to its channels",
                    &*q.name
                ),
            ));
        }
        match revoke_from {
            Some(a) => self.revoke(a, uid, "callback_requested"),
            None => self.dequeue(uid),
        }
        self.make_callback(uid, "requested");
        if let Some(a) = revoke_from {
            self.drain(a);
        }
        Ok(())
    }

    pub(super) fn on_callback_result(&mut self, e: &CallbackResult) -> Res {
        let (uid, _) = self.contact_and_agent(&e.tenant, &e.contact, &e.agent)?;
        let c = &self.contacts[&uid];
        if c.channel != Channel::Callback || c.reached || !matches!(c.state, CState::Assigned(_)) {
            let why = if c.channel != Channel::Callback {
                "not a callback".to_string()
            } else if c.reached {
                "a callback already reached".to_string()
            } else {
                self.state_word(c.state)
            };
            return Err(rej(
                RejectCode::InvalidState,
                format!(
                    "contact {:?} is {why}; there is no dial to report",
                    e.contact
                ),
            ));
        }
        let (uid, a) = self.assigned_to(&e.tenant, &e.contact, &e.agent, false)?;
        let c = self.contacts.get_mut(&uid).expect("open contact");
        if c.channel != Channel::Callback || c.reached {
            let why = if c.reached {
                "already reached"
            } else {
                "not a callback"
            };
            return Err(rej(
                RejectCode::InvalidState,
                format!(
                    "contact {:?} is {why}; there is no dial to report",
                    e.contact
                ),
            ));
        }
        c.dials += 1;
        let (t, name, q, attempt) = (c.tenant, c.name.clone(), c.queue, c.dials);
        let body = Body::CallbackAttempted {
            tenant: self.tenant_name(t),
            contact: name.clone(),
            agent: self.agents[a as usize].name.clone(),
            attempt,
            outcome: e.outcome.as_str(),
        };
        self.emit(body);
        if e.outcome == CallbackOutcome::Reached {
            self.contacts.get_mut(&uid).expect("open contact").reached = true;
            return Ok(());
        }
        self.release(a, uid);
        self.resume_if_no_live(a);
        let queue = &self.queues[q as usize];
        if attempt < queue.callback_attempts {
            let not_before = self.clock + queue.callback_retry_ms;
            let qname = queue.name.clone();
            let c = self.contacts.get_mut(&uid).expect("open contact");
            c.state = CState::Waiting;
            c.not_before = not_before;
            let body = Body::CallbackScheduled {
                tenant: self.tenant_name(t),
                contact: name,
                queue: qname,
                reason: e.outcome.as_str(),
                attempt,
                not_before,
            };
            self.emit(body);
            self.set_timer(not_before, Timer::CallbackDue { contact: uid });
            self.line_up(uid, false);
        } else {
            self.close_with(uid, "callback_unreached", Some(a), None, None);
        }
        self.drain(a);
        Ok(())
    }
}
