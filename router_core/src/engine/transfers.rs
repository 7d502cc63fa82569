//! Transfers: to another queue, to a named agent, or handed off out of routing.

use super::*;

impl Engine {
    pub(super) fn on_transferred(&mut self, e: &ContactTransferred) -> Res {
        let (uid, a) = self.assigned_to(&e.tenant, &e.contact, &e.agent, false)?;
        let targets = [
            e.to_queue.is_some(),
            e.to_agent.is_some(),
            e.handoff.is_some(),
        ];
        if targets.iter().filter(|t| **t).count() != 1 {
            return Err(rej(
                RejectCode::InvalidTarget,
                "a transfer names exactly one of to_queue, to_agent, handoff".into(),
            ));
        }
        let (t, channel) = (self.contacts[&uid].tenant, self.contacts[&uid].channel);
        // Check the target before anything changes.
        let to_queue = (e.to_queue.as_deref())
            .map(|qn| self.queue_for(t, &e.tenant, qn, channel))
            .transpose()?;
        let mut to_agent = None;
        if let Some(bn) = &e.to_agent {
            let b = self.agent_id(bn)?;
            if b == a {
                return Err(rej(
                    RejectCode::InvalidTarget,
                    format!("contact {:?} is already with agent {bn:?}", e.contact),
                ));
            }
            let agent = &self.agents[b as usize];
            if !agent.profile.serves_tenant(t) || !self.pools.can_take(b, channel) {
                return Err(rej(
                    RejectCode::AgentUnavailable,
                    format!(
                        "agent {bn:?} cannot take this {} contact now",
                        channel.as_str()
                    ),
                ));
            }
            to_agent = Some(b);
        }
        self.release(a, uid);
        let c = self.contacts.get_mut(&uid).expect("open contact");
        c.state = CState::Waiting;
        let name = c.name.clone();
        let q = to_queue.unwrap_or(c.queue);
        let body = Body::ContactHandedOver {
            tenant: self.tenant_name(t),
            contact: name.clone(),
            from_agent: self.agents[a as usize].name.clone(),
            queue: self.queues[q as usize].name.clone(),
            to_agent: to_agent.map(|b| self.agents[b as usize].name.clone()),
            handoff: e.handoff.clone(),
        };
        self.emit(body);
        self.resume_if_no_live(a);
        if let Some(q) = to_queue {
            self.enter_queue(uid, q);
            self.line_up(uid, true);
        } else if let Some(b) = to_agent {
            let reason = OfferReason {
                strategy: "transfer",
                score: 0,
                considered: 1,
                runners_up: Vec::new(),
            };
            self.offer(uid, b, reason);
        } else {
            self.close_with(uid, "handed_off", Some(a), None, None);
        }
        self.drain(a);
        Ok(())
    }
}
