//! Agents: presence, the items they hold, and the capacity and blending rules that say
//! which channels an agent can take right now (docs/routing.md, section 2).

use serde::{Deserialize, Serialize};

use crate::channels::{Channel, CHANNEL_COUNT};
use crate::names::Name;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Presence {
    Offline,
    Available,
    Paused,
    NotResponding,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Offline => "offline",
            Presence::Available => "available",
            Presence::Paused => "paused",
            Presence::NotResponding => "not_responding",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    Offered,
    Active,
    Interrupted,
    WrapUp,
}

/// One contact in an agent's hands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub contact: u64,
    pub channel: Channel,
    pub phase: Phase,
    /// The contact's queue lets deferred work be set aside for live work.
    pub interruptible: bool,
}

/// What an agent can do, independent of what they are doing: agents with equal profiles
/// share one index group.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Profile {
    /// (skill id, proficiency), sorted by skill id.
    pub skills: Vec<(u32, u8)>,
    /// Language ids, sorted.
    pub languages: Vec<u32>,
    /// Tenant ids, sorted; `None` serves every tenant.
    pub tenants: Option<Vec<u32>>,
    pub capacity: [u16; CHANNEL_COUNT],
    /// Works for an outsourcing partner rather than the provider.
    #[serde(default)]
    pub partner: bool,
    /// The agent's team (an interned name; the empty name for none).
    #[serde(default)]
    pub team: u32,
}

/// Whose agents may take a contact: the provider's own, the partner's, or anyone's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Pool {
    Any,
    Own,
    Partner,
}

impl Profile {
    pub fn proficiency(&self, skill: u32) -> u8 {
        match self.skills.binary_search_by_key(&skill, |s| s.0) {
            Ok(i) => self.skills[i].1,
            Err(_) => 0,
        }
    }

    pub fn serves_tenant(&self, tenant: u32) -> bool {
        match &self.tenants {
            None => true,
            Some(t) => t.binary_search(&tenant).is_ok(),
        }
    }

    pub fn speaks(&self, language: Option<u32>) -> bool {
        match language {
            None => true,
            Some(l) => self.languages.binary_search(&l).is_ok(),
        }
    }

    /// The contact's needs, apart from live state: tenant, language, skills, and any
    /// capacity at all on the channel.
    pub fn matches(&self, need: &Need) -> bool {
        self.capacity[need.channel.index()] > 0
            && match need.pool {
                Pool::Any => true,
                Pool::Own => !self.partner,
                Pool::Partner => self.partner,
            }
            && (need.teams.is_empty() || need.teams.binary_search(&self.team).is_ok())
            && self.serves_tenant(need.tenant)
            && self.speaks(need.language)
            && need
                .skills
                .iter()
                .all(|&(s, min)| self.proficiency(s) >= min)
    }

    /// Sum of proficiency over the required skills: the `best_proficiency` score.
    pub fn proficiency_sum(&self, need: &Need) -> i64 {
        need.skills
            .iter()
            .map(|&(s, _)| self.proficiency(s) as i64)
            .sum()
    }
}

/// What a contact needs from an agent. Contacts with equal needs share one waiting class.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Need {
    pub tenant: u32,
    pub channel: Channel,
    pub language: Option<u32>,
    /// (skill id, minimum), sorted by skill id.
    pub skills: Vec<(u32, u8)>,
    pub pool: Pool,
    /// Team ids whose agents may take it, sorted; empty: any team.
    #[serde(default)]
    pub teams: Vec<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Agent {
    pub name: Name,
    pub profile: Profile,
    pub presence: Presence,
    pub reason: Option<Name>,
    /// In the order offered; an accepted item moves to the end, so active items are in
    /// order of acceptance.
    pub items: Vec<Item>,
    pub load: [u16; CHANNEL_COUNT],
    pub idle_since: i64,
    /// Time of the last acceptance per channel; `i64::MIN` for never.
    pub last_assigned: [i64; CHANNEL_COUNT],
    pub missed: u32,
}

impl Agent {
    pub fn new(name: Name, profile: Profile) -> Agent {
        Agent {
            name,
            profile,
            presence: Presence::Offline,
            reason: None,
            items: Vec::new(),
            load: [0; CHANNEL_COUNT],
            idle_since: 0,
            last_assigned: [i64::MIN; CHANNEL_COUNT],
            missed: 0,
        }
    }

    /// The blending rules: can this agent be offered work on `ch` now?
    pub fn can_take(&self, ch: Channel) -> bool {
        if self.presence != Presence::Available {
            return false;
        }
        if self.load[ch.index()] >= self.profile.capacity[ch.index()] {
            return false;
        }
        for it in &self.items {
            // A call occupies the agent completely: no work beside a call, and a call
            // only for an agent with no live work (a chat) in hand.
            if it.channel.is_phone() || (ch.is_phone() && it.channel.is_live()) {
                return false;
            }
            if ch.is_live() {
                if it.channel.is_deferred()
                    && !(it.interruptible && matches!(it.phase, Phase::Active | Phase::Interrupted))
                {
                    return false;
                }
            } else if it.channel.is_live() {
                return false;
            }
        }
        true
    }

    pub fn takeable(&self) -> [bool; CHANNEL_COUNT] {
        let mut out = [false; CHANNEL_COUNT];
        for ch in Channel::ALL {
            out[ch.index()] = self.profile.capacity[ch.index()] > 0 && self.can_take(ch);
        }
        out
    }

    pub fn item_pos(&self, contact: u64) -> Option<usize> {
        self.items.iter().position(|i| i.contact == contact)
    }

    pub fn holds_live(&self) -> bool {
        self.items.iter().any(|i| i.channel.is_live())
    }

    pub fn add_item(&mut self, item: Item) {
        self.load[item.channel.index()] += 1;
        self.items.push(item);
    }

    pub fn remove_item(&mut self, contact: u64) -> Option<Item> {
        let pos = self.item_pos(contact)?;
        let it = self.items.remove(pos);
        self.load[it.channel.index()] -= 1;
        Some(it)
    }
}
