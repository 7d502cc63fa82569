//! Lookups by name and the decisions' common parts: ids to positions, the checks inputs
//! share, and emitting decisions and rejections.

use super::*;

impl Engine {
    pub(super) fn emit(&mut self, body: Body) {
        let head = Head {
            id: DecisionId(self.next_decision),
            ts: self.clock,
            cause: self.cause.clone(),
        };
        self.next_decision += 1;
        self.stats.decisions += 1;
        self.out.push(Decision { head, body });
    }

    pub(super) fn reject(&mut self, tag: &str, tenant: Option<&str>, r: Rejection) {
        let tenant = r.tenant.clone().or_else(|| tenant.map(Name::from));
        self.reject_owned(Some(tag.to_string()), tenant, r);
    }

    pub(super) fn reject_owned(&mut self, tag: Option<String>, tenant: Option<Name>, r: Rejection) {
        self.stats.rejected += 1;
        self.emit(Body::InputRejected {
            event_type: tag,
            code: r.code,
            message: r.message,
            tenant,
            limit: Omitted(r.limit),
        });
    }

    pub(super) fn tenant_name(&self, t: u32) -> Name {
        self.tenants.name(t).clone()
    }

    pub(super) fn tenant_id(&self, name: &str) -> Result<u32, Rejection> {
        self.tenants.get(name).ok_or_else(|| {
            rej(
                RejectCode::UnknownTenant,
                format!("unknown tenant {name:?}"),
            )
        })
    }

    /// The position of the agent called `name`.
    pub(crate) fn agent_named(&self, name: &str) -> Option<u32> {
        self.agent_index
            .get(print_of(0, name), |a| self.agents[a as usize].name == name)
    }

    /// The uid of tenant `t`'s open contact `name`.
    pub(super) fn open_uid(&self, t: u32, name: &str) -> Option<u64> {
        let held = |slot| self.contacts.at(slot).expect("indexed slots hold contacts");
        let slot = self.contact_index.get(print_of(t, name), |slot| {
            let c = held(slot);
            c.tenant == t && c.name == name
        })?;
        Some(held(slot).uid)
    }

    /// Add an open contact, indexed by its tenant and id.
    pub(crate) fn add_contact(&mut self, c: Contact) {
        let (uid, print) = (c.uid, print_of(c.tenant, &c.name));
        self.contacts.insert(uid, c);
        let slot = self.contacts.slot(&uid).expect("just inserted");
        self.contact_index.add(print, slot);
    }

    pub(super) fn agent_id(&self, name: &str) -> Result<u32, Rejection> {
        self.agent_named(name)
            .ok_or_else(|| rej(RejectCode::UnknownAgent, format!("unknown agent {name:?}")))
    }

    /// An open contact of the tenant. A contact of an unconfigured tenant is simply unknown:
    /// the answer reveals nothing about which tenants exist.
    pub(super) fn open_contact(&self, tenant: &str, contact: &str) -> Result<u64, Rejection> {
        match self.find_contact(tenant, contact) {
            Found::Open(uid) => Ok(uid),
            Found::Closed => Err(closed_rejection(tenant, contact)),
            Found::Unknown => Err(unknown_contact(tenant, contact)),
        }
    }

    pub(super) fn find_contact(&self, tenant: &str, contact: &str) -> Found {
        let Some(t) = self.tenants.get(tenant) else {
            return Found::Unknown;
        };
        if let Some(uid) = self.open_uid(t, contact) {
            Found::Open(uid)
        } else if self.closed.contains(t, contact) {
            Found::Closed
        } else {
            Found::Unknown
        }
    }

    /// Checks in the order docs/routing.md lists them: contact known, agent known, then
    /// the contact's state (a closed contact is in the wrong state).
    pub(super) fn contact_and_agent(
        &self,
        tenant: &str,
        contact: &str,
        agent: &str,
    ) -> Result<(u64, u32), Rejection> {
        let found = self.find_contact(tenant, contact);
        if found == Found::Unknown {
            return Err(unknown_contact(tenant, contact));
        }
        let a = self.agent_id(agent)?;
        match found {
            Found::Open(uid) => Ok((uid, a)),
            _ => Err(closed_rejection(tenant, contact)),
        }
    }

    pub(super) fn state_word(&self, s: CState) -> String {
        match s {
            CState::Waiting => "waiting in queue".into(),
            CState::Offered(a) => format!("offered to agent {:?}", &*self.agents[a as usize].name),
            CState::Assigned(a) => {
                format!("assigned to agent {:?}", &*self.agents[a as usize].name)
            }
            CState::WrapUp(a) => {
                format!("in wrap-up with agent {:?}", &*self.agents[a as usize].name)
            }
        }
    }

    /// Common checks of inputs an agent sends about an offer.
    pub(super) fn offered_to(
        &self,
        tenant: &str,
        contact: &str,
        agent: &str,
    ) -> Result<(u64, u32), Rejection> {
        let (uid, a) = self.contact_and_agent(tenant, contact, agent)?;
        match self.contacts[&uid].state {
            CState::Offered(x) if x == a => Ok((uid, a)),
            CState::Offered(x) => Err(rej(
                RejectCode::WrongAgent,
                format!(
                    "contact {contact:?} is offered to agent {:?}, not {agent:?}",
                    &*self.agents[x as usize].name
                ),
            )),
            s => Err(rej(
                RejectCode::InvalidState,
                format!("contact {contact:?} is {}, not offered", self.state_word(s)),
            )),
        }
    }

    pub(super) fn assigned_to(
        &self,
        tenant: &str,
        contact: &str,
        agent: &str,
        wrap: bool,
    ) -> Result<(u64, u32), Rejection> {
        let (uid, a) = self.contact_and_agent(tenant, contact, agent)?;
        let s = self.contacts[&uid].state;
        let holder = match (s, wrap) {
            (CState::Assigned(x), false) | (CState::WrapUp(x), true) => x,
            _ => {
                let want = if wrap { "in wrap-up" } else { "assigned" };
                return Err(rej(
                    RejectCode::InvalidState,
                    format!("contact {contact:?} is {}, not {want}", self.state_word(s)),
                ));
            }
        };
        if holder != a {
            return Err(rej(
                RejectCode::WrongAgent,
                format!(
                    "contact {contact:?} is with agent {:?}, not {agent:?}",
                    &*self.agents[holder as usize].name
                ),
            ));
        }
        Ok((uid, a))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    Open(u64),
    Closed,
    Unknown,
}

pub(super) fn unknown_contact(tenant: &str, contact: &str) -> Rejection {
    rej(
        RejectCode::UnknownContact,
        format!("tenant {tenant:?} has no contact {contact:?}"),
    )
}

pub(super) fn closed_rejection(tenant: &str, contact: &str) -> Rejection {
    rej(
        RejectCode::InvalidState,
        format!("contact {contact:?} of tenant {tenant:?} is already closed"),
    )
}
