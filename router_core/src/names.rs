//! Names, and interned names: tenants, skills and languages become small integers inside
//! the core.

use smol_str::SmolStr;

use rustc_hash::FxHashMap;

/// An id or name as the core keeps it (agent, contact, queue, tenant, customer, reason).
///
/// Names of up to 23 bytes, nearly all of them, are held inline; longer ones share one
/// reference-counted copy. Copying an inline name touches no other memory: a name goes into
/// several decisions per input, and an `Arc<str>` clone there was an atomic increment,
/// which orders every memory access around it, on a line that was often cold (an agent's
/// name is read only when that agent acts). A key of a map compares against its own bytes
/// for the same reason.
pub type Name = SmolStr;

#[derive(Default, Clone)]
pub struct Interner {
    names: Vec<Name>,
    ids: FxHashMap<Name, u32>,
}

impl Interner {
    pub fn from_names(names: Vec<Name>) -> Interner {
        let ids = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        Interner { names, ids }
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        let n: Name = Name::from(name);
        self.names.push(n.clone());
        self.ids.insert(n, id);
        id
    }

    pub fn name(&self, id: u32) -> &Name {
        &self.names[id as usize]
    }

    pub fn names(&self) -> &[Name] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}
