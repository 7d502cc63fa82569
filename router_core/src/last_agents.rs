//! Customer continuity's memory: for each tenant's customer, the agent who last accepted
//! one of their contacts (docs/routing.md, "Customer continuity").
//!
//! It is written on every acceptance of a contact that names its customer, whether or not
//! a queue keeps contacts for that agent now: the memory is what the log says, whatever
//! the configuration later asks of it.
//!
//! Customers are many, and an acceptance seldom follows the same customer's previous one
//! closely, so each write lands on a cold part of a large table. (Measured at 10,000
//! agents: leaving out the direct write into a hash map per tenant made the core between
//! a few per cent and a sixth faster, depending on the run.) The write is therefore made
//! in two steps:
//! - [`LastAgents::note`] works out the key's print and starts loading its slot;
//! - the write itself is made at the next [`LastAgents::settle`] (the engine calls it at
//!   the start of each input), by when the slot has arrived.
//!
//! Until then the noted acceptance is held aside, and [`LastAgents::get`] sees it.
//!
//! The table holds prints and positions only (see [`PrintTable`]). The customers' names,
//! which tell apart keys whose prints collide, are kept in an array in the order they
//! were first noted; growing the table never reads them.

use crate::names::Name;
use crate::print_table::{print_of, PrintTable};

struct Entry {
    customer: Name,
    tenant: u32,
    agent: u32,
}

/// An acceptance not yet written to the table.
struct Noted {
    print: u32,
    entry: Entry,
}

#[derive(Default)]
pub struct LastAgents {
    table: PrintTable,
    entries: Vec<Entry>,
    noted: Option<Noted>,
}

impl LastAgents {
    fn is(&self, position: u32, tenant: u32, customer: &str) -> bool {
        let e = &self.entries[position as usize];
        e.tenant == tenant && e.customer == customer
    }

    /// The agent who last accepted a contact of `customer` of `tenant`.
    pub fn get(&self, tenant: u32, customer: &str) -> Option<u32> {
        if let Some(n) = &self.noted {
            if n.entry.tenant == tenant && n.entry.customer == customer {
                return Some(n.entry.agent);
            }
        }
        let pos = self
            .table
            .get(print_of(tenant, customer), |p| self.is(p, tenant, customer))?;
        Some(self.entries[pos as usize].agent)
    }

    /// `agent` accepted a contact of `customer` of `tenant`: from now on it is their last
    /// agent. Written to the table at the next [`LastAgents::settle`].
    pub fn note(&mut self, tenant: u32, customer: Name, agent: u32) {
        self.settle();
        let print = print_of(tenant, &customer);
        self.table.prefetch(print);
        self.noted = Some(Noted {
            print,
            entry: Entry {
                customer,
                tenant,
                agent,
            },
        });
    }

    /// Write the noted acceptance, if any, to the table.
    pub fn settle(&mut self) {
        let Some(Noted { print, entry }) = self.noted.take() else {
            return;
        };
        let (tenant, customer) = (entry.tenant, &entry.customer);
        match self.table.find(print, |p| self.is(p, tenant, customer)) {
            Ok(slot) => {
                let pos = self.table.position(slot);
                self.entries[pos as usize].agent = entry.agent;
            }
            Err(empty) => {
                let pos = u32::try_from(self.entries.len())
                    .expect("fewer than 2^32 customers remembered");
                self.entries.push(entry);
                self.table.fill(empty, print, pos);
            }
        }
    }

    /// Every (tenant, customer, agent), in the order the customers were first noted.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Name, u32)> {
        // The noted acceptance overrides its customer's entry, or is a new one.
        let noted = self.noted.as_ref().map(|n| &n.entry);
        let noted_is_new = noted.is_some_and(|n| {
            self.table
                .get(print_of(n.tenant, &n.customer), |p| {
                    self.is(p, n.tenant, &n.customer)
                })
                .is_none()
        });
        self.entries
            .iter()
            .map(move |e| match noted {
                Some(n) if n.tenant == e.tenant && n.customer == e.customer => n,
                _ => e,
            })
            .chain(noted.filter(|_| noted_is_new))
            .map(|e| (e.tenant, &e.customer, e.agent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Whatever the order of notes, settles and reads, the memory answers as a plain map
    /// written at once would.
    #[test]
    fn agrees_with_a_map_written_at_once() {
        let mut memory = LastAgents::default();
        let mut plain: HashMap<(u32, String), u32> = HashMap::new();
        let mut state = 11u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        for step in 0..20_000u32 {
            let tenant = next(3) as u32;
            let customer = format!("cust{}", next(2_000));
            match next(3) {
                0 => {
                    memory.note(tenant, Name::from(customer.as_str()), step);
                    plain.insert((tenant, customer), step);
                }
                1 => memory.settle(),
                _ => assert_eq!(
                    memory.get(tenant, &customer),
                    plain.get(&(tenant, customer.clone())).copied(),
                    "{customer} of tenant {tenant} at step {step}"
                ),
            }
            if step % 1_000 == 0 {
                let mut all: Vec<(u32, String, u32)> = memory
                    .iter()
                    .map(|(t, c, a)| (t, c.to_string(), a))
                    .collect();
                all.sort();
                let mut want: Vec<(u32, String, u32)> = plain
                    .iter()
                    .map(|((t, c), a)| (*t, c.clone(), *a))
                    .collect();
                want.sort();
                assert_eq!(all, want, "at step {step}");
            }
        }
    }
}
