//! Agent presence and profiles: logging in and out, pausing, profile changes, and the
//! offers an agent who leaves gives back.

use super::*;

impl Engine {
    pub(super) fn make_profile(
        &mut self,
        skills: &[(&str, i64)],
        languages: &[&str],
        tenants: &[&str],
        capacity: &[(Channel, i64)],
    ) -> Profile {
        let mut sk: Vec<(u32, u8)> = skills
            .iter()
            .map(|(k, v)| (self.skills.intern(k), (*v).clamp(0, 255) as u8))
            .collect();
        sk.sort_unstable();
        sk.dedup_by_key(|s| s.0);
        let mut langs: Vec<u32> = languages.iter().map(|l| self.languages.intern(l)).collect();
        langs.sort_unstable();
        langs.dedup();
        let tenants = if tenants.contains(&"*") {
            None
        } else {
            // A tenant the configuration does not know cannot have contacts: drop it.
            let mut t: Vec<u32> = tenants.iter().filter_map(|t| self.tenants.get(t)).collect();
            t.sort_unstable();
            t.dedup();
            Some(t)
        };
        let mut cap = [0u16; CHANNEL_COUNT];
        for (ch, n) in capacity {
            cap[ch.index()] = (*n).clamp(0, u16::MAX as i64) as u16;
        }
        Profile {
            skills: sk,
            languages: langs,
            tenants,
            capacity: cap,
            partner: false,
            team: 0,
        }
    }

    pub(crate) fn add_agent(&mut self, agent: Agent) -> u32 {
        let idx = self.agents.len() as u32;
        self.agent_index.add(print_of(0, &agent.name), idx);
        self.agents.push(agent);
        self.regroup(idx);
        idx
    }

    /// Put the agent in the index group of its (possibly new) profile.
    pub(crate) fn regroup(&mut self, a: u32) {
        let profile = self.agents[a as usize].profile.clone();
        let (g, created) = self.pools.group_for(&profile);
        if created {
            self.waiting.add_group(g, &profile);
        }
        let old = self.pools.group_of.get(a as usize).copied();
        self.pools.place(a, g);
        if self.agents[a as usize].presence != Presence::Offline {
            self.note_login(old.filter(|o| *o != u32::MAX), a, false);
            self.note_login(Some(g), a, true);
        }
        self.refresh(a);
    }

    pub(super) fn refresh(&mut self, a: u32) {
        self.pools.refresh(a, &self.agents[a as usize]);
    }

    /// Remove a contact's item from its agent; the agent may become idle.
    pub(super) fn release(&mut self, a: u32, uid: u64) {
        let clock = self.clock;
        let agent = &mut self.agents[a as usize];
        agent.remove_item(uid);
        if agent.presence == Presence::Available && agent.items.is_empty() {
            agent.idle_since = clock;
        }
        self.refresh(a);
    }

    pub(super) fn set_presence(
        &mut self,
        a: u32,
        p: Presence,
        reason: Option<Name>,
        by: &'static str,
    ) {
        let clock = self.clock;
        let agent = &mut self.agents[a as usize];
        let was = agent.presence;
        agent.presence = p;
        agent.reason = reason.clone();
        if p == Presence::Available && was != Presence::Available {
            agent.idle_since = clock;
        }
        let name = agent.name.clone();
        let g = self.pools.group_of[a as usize];
        match (was == Presence::Offline, p == Presence::Offline) {
            (true, false) => self.note_login(Some(g), a, true),
            (false, true) => self.note_login(Some(g), a, false),
            _ => {}
        }
        self.refresh(a);
        self.emit(Body::AgentStateSet {
            agent: name,
            state: p.as_str(),
            reason,
            by,
        });
    }

    /// Withdraw every open offer of an agent, then route each of those contacts.
    pub(super) fn revoke_offers(&mut self, a: u32, reason: &'static str) {
        let offered: Vec<u64> = self.agents[a as usize]
            .items
            .iter()
            .filter(|i| i.phase == Phase::Offered)
            .map(|i| i.contact)
            .collect();
        for uid in offered {
            self.revoke(a, uid, reason);
            self.route(uid, true);
        }
    }

    pub(super) fn revoke(&mut self, a: u32, uid: u64, reason: &'static str) {
        self.release(a, uid);
        let c = self.contacts.get_mut(&uid).expect("offered contact exists");
        c.state = CState::Waiting;
        let (t, name, attempt) = (c.tenant, c.name.clone(), c.attempt);
        let body = Body::OfferRevoked {
            tenant: self.tenant_name(t),
            contact: name.clone(),
            agent: self.agents[a as usize].name.clone(),
            offer: OfferId {
                contact: name.clone(),
                attempt,
            },
            reason,
        };
        self.emit(body);
        self.resume_if_no_live(a);
    }

    /// With no live item left in the agent's hands, interrupted deferred work comes back.
    pub(super) fn resume_if_no_live(&mut self, a: u32) {
        if self.agents[a as usize].holds_live() {
            return;
        }
        let resumed: Vec<u64> = self.agents[a as usize]
            .items
            .iter()
            .filter(|i| i.phase == Phase::Interrupted)
            .map(|i| i.contact)
            .collect();
        if resumed.is_empty() {
            return;
        }
        for r in resumed {
            let agent = &mut self.agents[a as usize];
            if let Some(p) = agent.item_pos(r) {
                agent.items[p].phase = Phase::Active;
            }
            let c = &self.contacts[&r];
            let body = Body::WorkResumed {
                tenant: self.tenant_name(c.tenant),
                contact: c.name.clone(),
                agent: self.agents[a as usize].name.clone(),
            };
            self.emit(body);
        }
        self.refresh(a);
    }

    pub(super) fn on_logged_in(&mut self, e: &AgentLoggedIn) -> Res {
        let a = self.agent_id(&e.agent)?;
        let agent = &self.agents[a as usize];
        if agent.presence != Presence::Offline {
            return Err(rej(
                RejectCode::InvalidState,
                format!(
                    "agent {:?} is already logged in ({})",
                    e.agent,
                    agent.presence.as_str()
                ),
            ));
        }
        self.agents[a as usize].missed = 0;
        let (p, reason) = match e.state {
            LoginState::Available => (Presence::Available, e.reason.as_deref().map(Name::from)),
            LoginState::Paused => (Presence::Paused, e.reason.as_deref().map(Name::from)),
        };
        self.set_presence(a, p, reason, "agent");
        self.drain(a);
        Ok(())
    }

    pub(super) fn go_offline(&mut self, agent: &str, reason: Option<&str>) -> Res {
        let a = self.agent_id(agent)?;
        let ag = &self.agents[a as usize];
        if ag.presence == Presence::Offline {
            return Err(rej(
                RejectCode::InvalidState,
                format!("agent {agent:?} is not logged in"),
            ));
        }
        let busy = ag
            .items
            .iter()
            .filter(|i| i.phase != Phase::Offered)
            .count();
        if busy > 0 {
            return Err(rej(
                RejectCode::AgentHasWork,
                format!("agent {agent:?} has {busy} contact(s) in progress; complete them before going offline"),
            ));
        }
        self.set_presence(a, Presence::Offline, reason.map(Name::from), "agent");
        self.revoke_offers(a, "agent_offline");
        Ok(())
    }

    pub(super) fn on_state_changed(&mut self, e: &AgentStateChanged) -> Res {
        let p = match e.state {
            RequestedState::Offline => return self.go_offline(&e.agent, e.reason.as_deref()),
            RequestedState::Available => Presence::Available,
            RequestedState::Paused => Presence::Paused,
        };
        let a = self.agent_id(&e.agent)?;
        let ag = &self.agents[a as usize];
        if ag.presence == Presence::Offline {
            return Err(rej(
                RejectCode::InvalidState,
                format!("agent {:?} is not logged in; log in first", e.agent),
            ));
        }
        let reason: Option<Name> = e.reason.as_deref().map(Name::from);
        if ag.presence == p && ag.reason == reason {
            return Ok(());
        }
        self.set_presence(a, p, reason, "agent");
        if p == Presence::Paused {
            self.revoke_offers(a, "agent_paused");
        } else {
            self.agents[a as usize].missed = 0;
            self.drain(a);
        }
        Ok(())
    }

    pub(super) fn on_profile_changed(&mut self, e: &AgentProfileChanged) -> Res {
        let a = match self.agent_named(&e.agent) {
            Some(a) => a,
            None => {
                if self.agents.len() as i64 >= self.routing.max_agents {
                    return Err(too_many_agents(&e.agent, self.routing.max_agents));
                }
                let p = self.make_profile(&[], &[], &["*"], &[]);
                self.add_agent(Agent::new(Name::from(e.agent.as_str()), p))
            }
        };
        let old = self.agents[a as usize].profile.clone();
        let skills: Vec<(String, i64)> = match &e.skills {
            Some(s) => s.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            None => old
                .skills
                .iter()
                .map(|(s, p)| (self.skills.name(*s).to_string(), *p as i64))
                .collect(),
        };
        let langs: Vec<String> = match &e.languages {
            Some(l) => l.clone(),
            None => old
                .languages
                .iter()
                .map(|l| self.languages.name(*l).to_string())
                .collect(),
        };
        let tenants: Vec<String> = match (&e.tenants, &old.tenants) {
            (Some(t), _) => t.clone(),
            (None, None) => vec!["*".to_string()],
            (None, Some(t)) => t
                .iter()
                .map(|t| self.tenants.name(*t).to_string())
                .collect(),
        };
        let cap: Vec<(Channel, i64)> = match &e.capacity {
            Some(c) => c.iter().map(|(ch, n)| (*ch, *n)).collect(),
            None => Channel::ALL
                .iter()
                .map(|ch| (*ch, old.capacity[ch.index()] as i64))
                .collect(),
        };
        let profile = self.make_profile(
            &skills
                .iter()
                .map(|(k, v)| (k.as_str(), *v))
                .collect::<Vec<_>>(),
            &langs.iter().map(String::as_str).collect::<Vec<_>>(),
            &tenants.iter().map(String::as_str).collect::<Vec<_>>(),
            &cap,
        );
        self.agents[a as usize].profile = Profile {
            partner: old.partner,
            team: old.team,
            ..profile
        };
        self.regroup(a);
        self.drain(a);
        Ok(())
    }
}

/// `agent_profile_changed` for a new agent when the engine holds `routing.max_agents`.
fn too_many_agents(agent: &str, max: i64) -> Rejection {
    rej(
        RejectCode::TooManyAgents,
        format!(
            "agent {agent:?} is not created: the engine holds routing.max_agents = {max} agents"
        ),
    )
    .over("max_agents")
}
