//! Interned names: tenants, skills and languages become small integers inside the core.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHasher};

/// A name that carries its hash, computed once. Tables of many names (the de-duplication
/// memory holds every input id of the window) then grow and probe without reading the
/// string again; equal hashes still compare the strings, so a collision is harmless.
#[derive(Clone, Debug)]
pub struct HashedName {
    hash: u64,
    pub name: Arc<str>,
}

impl HashedName {
    pub fn new(name: Arc<str>) -> HashedName {
        let mut h = FxHasher::default();
        name.hash(&mut h);
        HashedName {
            hash: h.finish(),
            name,
        }
    }
}

impl Hash for HashedName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialEq for HashedName {
    fn eq(&self, other: &HashedName) -> bool {
        self.hash == other.hash && self.name == other.name
    }
}

impl Eq for HashedName {}

#[derive(Default, Clone)]
pub struct Interner {
    names: Vec<Arc<str>>,
    ids: FxHashMap<Arc<str>, u32>,
}

impl Interner {
    pub fn from_names(names: Vec<Arc<str>>) -> Interner {
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
        let n: Arc<str> = Arc::from(name);
        self.names.push(n.clone());
        self.ids.insert(n, id);
        id
    }

    pub fn name(&self, id: u32) -> &Arc<str> {
        &self.names[id as usize]
    }

    pub fn names(&self) -> &[Arc<str>] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}
