//! The engine: applies inputs to the state and makes decisions, following
//! docs/routing.md rule by rule. All time comes from input timestamps; every tie is
//! broken by arrival sequence or agent index, so the same inputs give the same decisions.
//!
//! # The flow of one input
//!
//! 1. [`Engine::apply`] (here) checks the input (malformed, schema version, duplicate id,
//!    clock jump) and rejects it with one `input_rejected` if it fails.
//! 2. `time`: the clock advances to the input's timestamp, firing every timer due on the
//!    way (offer expiry, wrap-up limit, cool-down end, routing step, schedule change,
//!    callback due, maximum wait), each at its own time.
//! 3. `dispatch` (here) hands the input to its handler:
//!    - `contacts`: an arrival finds its queue, needs (class) and priority, meets the
//!      queue's policies (`queue_status`, `policies`, `overflow`), and is routed;
//!    - `routing`: the best eligible agent is offered the contact, or it waits in line
//!      (with `nearest`'s explanation when nobody logged in could serve it); at a
//!      cool-down end the agent takes the line in its own order;
//!    - `offers`: acceptance, rejection and expiry (with its cool-down), completion,
//!      wrap-up and abandonment; each agent freed takes the best waiting contacts
//!      (`drain`), with tenants' guaranteed shares from `fairness`;
//!    - `presence`: log-in, pause, log-out and profile changes, and the offers given back;
//!    - `callbacks`, `transfers`, and `queue_status` (emergencies) for the rest.
//! 4. Every decision is appended by `lookups::emit`, numbered, stamped with the clock
//!    and the input that caused it.
//!
//! `build` makes an engine from a configuration; `lookups` finds contacts, agents and
//! tenants by name and holds the checks inputs share.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::agents::{Agent, Item, Need, Phase, Pool, Presence, Profile};
use crate::channels::{Channel, CHANNEL_COUNT};
use crate::config::{Action, Config, PartnerMode, PriorityRuleCfg, Routing, Strategy};
use crate::error::{CoreError, RejectCode, Rejection};
use crate::events::*;
use crate::hours::{Schedule, Why};
use crate::keyed_slab::KeyedSlab;
use crate::last_agents::LastAgents;
use crate::limits::{bounded, echo_id, is_id_length, Limit, MAX_MESSAGE_BYTES};
use crate::names::Interner;
use crate::pools::AgentPools;
use crate::print_table::{print_of, PrintTable};
use crate::recent::RecentKeys;
use crate::waiting::{contact_key, ContactKey, WaitIndex};

pub use crate::names::Name;

mod build;
mod callbacks;
mod contacts;
mod fairness;
mod lookups;
mod nearest;
mod offers;
mod overflow;
mod policies;
mod presence;
mod queue_status;
mod routing;
mod time;
mod transfers;

const RUNNERS_UP: usize = 3;
/// Expected wait is measured from the answers of this last stretch of time.
const ANSWER_WINDOW_MS: i64 = 900_000;
/// "Recent" service level: the last 30 minutes.
const SL_WINDOW_MS: i64 = 1_800_000;
const DAY_MS: i64 = 86_400_000;

/// What a queue asks of agents from a moment of a contact's wait on: index 0 is the
/// queue's own settings, then one entry per configured step (cumulative).
pub(crate) struct StepState {
    pub at_ms: i64,
    pub skills: Vec<(u32, u8)>,
    pub language: bool,
    pub partner: bool,
}

pub(crate) struct Queue {
    pub steps: Vec<StepState>,
    /// How long a returning customer's contact is kept for their previous agent.
    pub continuity_ms: i64,
    /// Arrivals that find more than this many waiting go to the partner too at once.
    pub overflow_waiting_over: Option<u64>,
    pub partner_overflow: bool,
    pub share_percent: u64,
    pub rules: Vec<PriorityRuleCfg>,
    pub name: Name,
    pub tenant: u32,
    pub channels: [bool; CHANNEL_COUNT],
    pub priority: i64,
    pub strategy: Strategy,
    pub offer_timeout_ms: i64,
    pub wrap_up_ms: i64,
    pub interruptible: bool,
    pub schedule: Option<Schedule>,
    pub outside: Action,
    pub at_closing: Action,
    pub when_full: Action,
    pub announcement: Option<Name>,
    pub ticket_queue: Option<u32>,
    pub max_waiting: Option<u64>,
    pub max_wait_ms: Option<i64>,
    pub ewt_over_ms: Option<i64>,
    pub sl_trigger: bool,
    pub sl_threshold_ms: i64,
    pub sl_target: f64,
    /// Answers and service-level outcomes are recorded only for queues that need them.
    pub track_answers: bool,
    pub track_sl: bool,
    pub callback_attempts: u32,
    pub callback_retry_ms: i64,
    /// Team ids whose agents take this queue's contacts, sorted; empty: any team.
    pub teams: Vec<u32>,
    /// (team, while queue, service level at least) of each borrowing rule.
    pub borrow: Vec<(u32, u32, f64)>,
}

/// Whether a queue takes contacts now (docs/routing.md, 4b).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    #[default]
    Open,
    Closed,
    Rerouted(u32),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Emergency {
    pub reroute: Option<u32>,
    pub announcement: Option<Name>,
}

/// A queue's state that changes as the log is applied.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct QueueRt {
    pub status: Status,
    pub schedule_open: bool,
    pub schedule_holiday: bool,
    pub schedule_closed_date: bool,
    pub emergency: Option<Emergency>,
    /// Times of `contact_assigned` in the answer window.
    pub answers: VecDeque<i64>,
    /// (time, met) service-level outcomes in the last 30 minutes, and how many were met.
    pub sl: VecDeque<(i64, bool)>,
    pub sl_met: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CState {
    Waiting,
    Offered(u32),
    Assigned(u32),
    WrapUp(u32),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Contact {
    pub uid: u64,
    pub tenant: u32,
    pub name: Name,
    pub queue: u32,
    #[serde(skip)]
    pub class: u32,
    pub channel: Channel,
    pub priority: i64,
    /// Priority points from the queue's rules: attributes at arrival, tags as they change.
    pub attr_bonus: i64,
    pub tag_bonus: i64,
    /// The routing step in force (0: the queue's own settings).
    pub step: u32,
    /// Chosen for the partner's steady share: partner agents only until the first step.
    pub share: bool,
    pub language: Option<u32>,
    /// The contact's own skill needs, which steps do not relax.
    pub own_skills: Vec<(u32, u8)>,
    pub arrived: i64,
    /// When the contact entered its current queue (arrival, or a transfer): steps count
    /// from here.
    pub entered: i64,
    /// Bumped by each queue transfer, so the old queue's step timers do nothing.
    pub epoch: u32,
    pub customer: Option<Name>,
    /// Kept for the customer's previous agent until offered or the continuity time ends.
    pub reserved: Option<u32>,
    /// Arrived at a long queue: the partner's agents may take it from the start.
    pub overflowed: bool,
    pub key: ContactKey,
    pub state: CState,
    pub attempt: u32,
    /// In line but offered to no one: its queue is not open, or a callback not yet due.
    #[serde(default)]
    pub parked: bool,
    /// A callback is not offered before this time.
    #[serde(default)]
    pub not_before: i64,
    /// Dials made of a callback, and whether one reached the customer.
    #[serde(default)]
    pub dials: u32,
    #[serde(default)]
    pub reached: bool,
    /// Which of the queue's borrowing rules held when its needs were last worked out.
    #[serde(default)]
    pub borrowed: u32,
    /// (agent, until): agents who declined or missed this contact, not offered it again
    /// before `until`.
    pub cooldowns: Vec<(u32, i64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timer {
    OfferExpiry { contact: u64, attempt: u32 },
    WrapUpLimit { contact: u64 },
    CooldownEnd { contact: u64 },
    ContinuityEnd { contact: u64 },
    StepDue { contact: u64, step: u32, epoch: u32 },
    Schedule { queue: u32 },
    CallbackDue { contact: u64 },
    MaxWait { contact: u64, epoch: u32 },
}

/// Counters for operators; not part of routing.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Stats {
    pub inputs: u64,
    pub decisions: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub late_events: u64,
    pub offers: u64,
    pub assigned: u64,
    pub completed: u64,
    pub abandoned: u64,
    pub expired: u64,
}

pub struct Engine {
    pub(crate) routing: Routing,
    pub(crate) aging_ms: i64,
    pub(crate) tenants: Interner,
    pub(crate) skills: Interner,
    pub(crate) languages: Interner,
    pub(crate) queues: Vec<Queue>,
    pub(crate) queue_ids: FxHashMap<Name, u32>,
    pub(crate) agents: Vec<Agent>,
    /// Agent positions by name (tag 0).
    pub(crate) agent_index: PrintTable,
    pub(crate) contacts: KeyedSlab<Contact>,
    /// Open contacts' slots in `contacts` by id, tagged by tenant.
    pub(crate) contact_index: PrintTable,
    /// Closed contacts remembered for late surveys and refused ids, tagged by tenant.
    pub(crate) closed: RecentKeys,
    /// Input ids applied within the de-duplication window (tag 0).
    pub(crate) seen: RecentKeys,
    pub(crate) timers: BinaryHeap<Reverse<(i64, u64, Timer)>>,
    pub(crate) timer_seq: u64,
    pub(crate) clock: i64,
    pub(crate) next_decision: u64,
    pub(crate) next_contact: u64,
    pub(crate) stats: Stats,
    pub(crate) pools: AgentPools,
    pub(crate) waiting: WaitIndex,
    pub(crate) queue_waiting: Vec<u64>,
    /// Arrivals per queue: the steady partner share is taken by this count.
    pub(crate) queue_arrivals: Vec<u64>,
    /// The agent who last accepted a contact of each customer.
    pub(crate) last_agents: LastAgents,
    /// Waiting contacts kept for one agent (customer continuity), by agent.
    pub(crate) reserved_for: FxHashMap<u32, std::collections::BTreeSet<ContactKey>>,
    pub(crate) teams: Interner,
    pub(crate) qrt: Vec<QueueRt>,
    /// Parked contacts by queue, in line order.
    pub(crate) parked: Vec<std::collections::BTreeSet<ContactKey>>,
    /// Schedules are first evaluated at the first applied input.
    pub(crate) hours_started: bool,
    /// Tenants' guaranteed shares of offers (percent), and the offers in the window.
    pub(crate) fair_share: Vec<u64>,
    pub(crate) fair_offers: VecDeque<(i64, u32)>,
    pub(crate) fair_counts: Vec<u64>,
    /// Empty between inputs: during `apply` it holds the caller's vector.
    out: Vec<Decision>,
    cause: Name,
    /// Classes of contacts without skills of their own, by the fields their needs follow
    /// from (see class_of).
    class_cache: FxHashMap<ClassCacheKey, u32>,
    /// Logged-in (not offline) agents per agent group, by index, and how many in all:
    /// whether anyone logged in could serve a waiting class is a look at its groups, not
    /// at its agents, and a group's first logged-in agent is its set's first.
    logged_in: Vec<std::collections::BTreeSet<u32>>,
    logged_in_total: u64,
    /// Bumped whenever who is logged in, or a logged-in agent's profile, changes: a
    /// class's `nearest` stays valid until then.
    roster: u64,
    nearest_cache: FxHashMap<u32, (u64, Option<Box<Nearest>>)>,
}

/// (queue, step, tenant, channel, language, share, overflowed, borrowed).
type ClassCacheKey = (u32, u32, u32, Channel, Option<u32>, bool, bool, u32);

type Res = Result<(), Rejection>;

fn rej(code: RejectCode, msg: String) -> Rejection {
    Rejection::new(code, msg)
}

impl Engine {
    /// A fresh engine: every configured agent offline, nothing waiting, clock at 0.
    pub fn new(config: &Config) -> Result<Engine, CoreError> {
        Engine::build(
            config,
            Interner::default(),
            Interner::default(),
            Interner::default(),
            Interner::default(),
        )
    }

    pub fn clock(&self) -> i64 {
        self.clock
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn waiting_count(&self) -> u64 {
        self.queue_waiting.iter().sum()
    }

    pub fn open_contacts(&self) -> usize {
        self.contacts.len()
    }

    pub fn offered_count(&self) -> usize {
        self.contacts
            .values()
            .filter(|c| matches!(c.state, CState::Offered(_)))
            .count()
    }

    pub fn agent_count(&self) -> usize {
        self.agents.len()
    }

    pub fn available_agents(&self) -> usize {
        self.agents
            .iter()
            .filter(|a| a.presence == Presence::Available)
            .count()
    }

    pub fn group_count(&self) -> usize {
        self.pools.groups.len()
    }

    pub fn class_count(&self) -> usize {
        self.waiting.classes.len()
    }

    /// Start loading what applying `input` reads first and is least likely to find in the
    /// cache: its id's slot in the de-duplication memory, and the index slots of the
    /// contact and the agent it names. A caller holding a batch calls this for the next
    /// input before applying the current one. It changes no state and no decision.
    pub fn prefetch(&self, input: &Input) {
        self.seen.prefetch(0, input.header().0);
        // The closed-contact memory is as large and as cold: an arrival asks it whether the
        // id was used before, and a contact that ends is written to it (`closing`).
        let (contact, agent, closing) = match input {
            Input::ContactArrived(e) => (Some((&e.tenant, &e.contact)), None, true),
            Input::ContactAbandoned(e) => (Some((&e.tenant, &e.contact)), None, true),
            Input::OfferAccepted(e) | Input::WrapUpFinished(e) => {
                (Some((&e.tenant, &e.contact)), Some(&e.agent), false)
            }
            Input::OfferRejected(e) => (Some((&e.tenant, &e.contact)), Some(&e.agent), false),
            Input::ContactCompleted(e) => (Some((&e.tenant, &e.contact)), Some(&e.agent), true),
            Input::AgentStateChanged(e) => (None, Some(&e.agent), false),
            _ => (None, None, false),
        };
        if let Some((tenant, contact)) = contact {
            if let Some(t) = self.tenants.get(tenant) {
                self.contact_index.prefetch(print_of(t, contact));
                if closing {
                    self.closed.prefetch(t, contact);
                }
            }
        }
        if let Some(agent) = agent {
            self.agent_index.prefetch(print_of(0, agent));
        }
    }

    /// Apply one decoded input, appending its decisions to `out`.
    pub fn apply(&mut self, input: &Input, out: &mut Vec<Decision>) {
        // Decisions are pushed straight onto the caller's vector (lent to the engine for
        // the input) rather than moved there afterwards: a decision is 240 bytes.
        std::mem::swap(&mut self.out, out);
        self.last_agents.settle();
        let (id, ts, v) = input.header();
        self.stats.inputs += 1;
        self.cause = Name::from(id);
        if let Err(msg) = input.validate() {
            // The rejection echoes an over-long id or tenant cut (docs/events.md, Limits).
            self.cause = Name::from(echo_id(id).as_ref());
            let tenant = input.tenant().filter(|t| is_id_length(t));
            let msg = bounded(&msg, MAX_MESSAGE_BYTES).into_owned();
            self.reject(input.tag(), tenant, rej(RejectCode::Malformed, msg));
        } else if v != SCHEMA_VERSION {
            let msg =
                format!("schema version {v} is not supported; this engine speaks {SCHEMA_VERSION}");
            self.reject(
                input.tag(),
                input.tenant(),
                rej(RejectCode::UnsupportedVersion, msg),
            );
        } else {
            // One probe answers whether the id is a duplicate and remembers it if not.
            // Every remembered id is within the window of the current clock (each advance
            // expires older ones), so the answer is the same as asking after time passes.
            // An input too far ahead is rejected before it is remembered, like a malformed
            // one: a wrong clock, not a quiet night. Applying it would fire every timer
            // (and every schedule change) up to that time.
            let jump_limit = self.clock + self.routing.max_clock_jump_days * DAY_MS;
            let too_far = self.hours_started && ts > jump_limit;
            let fresh = self
                .seen
                .insert_if(0, &self.cause, ts.max(self.clock), || !too_far);
            if !fresh {
                self.stats.duplicates += 1;
                let msg = format!("input {id:?} was already applied; a duplicate changes nothing");
                self.reject(
                    input.tag(),
                    input.tenant(),
                    rej(RejectCode::DuplicateEvent, msg),
                );
            } else if too_far {
                let days = (ts - self.clock) / DAY_MS;
                let msg = format!(
                    "input time {ts} is {days} days ahead of the engine's clock {}; the limit is \
                     routing.max_clock_jump_days = {}: check the producer's clock",
                    self.clock, self.routing.max_clock_jump_days
                );
                self.reject(input.tag(), input.tenant(), rej(RejectCode::ClockJump, msg));
            } else {
                self.advance(ts);
                if let Err(r) = self.dispatch(input) {
                    self.reject(input.tag(), input.tenant(), r);
                }
            }
        }
        std::mem::swap(&mut self.out, out);
    }

    /// A payload that could not be decoded: one `input_rejected`, nothing else.
    pub fn reject_malformed(
        &mut self,
        id: Option<&str>,
        kind: Option<&str>,
        message: String,
        limit: Option<Limit>,
        out: &mut Vec<Decision>,
    ) {
        std::mem::swap(&mut self.out, out);
        self.stats.inputs += 1;
        // Echoes of an over-long id or value are cut (limits::echo_id, limits::bounded).
        self.cause = Name::from(echo_id(id.unwrap_or("")).as_ref());
        let kind = kind.filter(|k| INPUT_TAGS.contains(k));
        let message = bounded(&message, MAX_MESSAGE_BYTES).into_owned();
        let mut r = rej(RejectCode::Malformed, message);
        r.limit = limit.map(Limit::name);
        self.reject_owned(kind.map(str::to_string), None, r);
        std::mem::swap(&mut self.out, out);
    }

    fn dispatch(&mut self, input: &Input) -> Res {
        match input {
            Input::ContactArrived(e) => self.on_arrived(e),
            Input::ContactAbandoned(e) => self.on_abandoned(e),
            Input::ContactUpdated(e) => self.on_updated(e),
            Input::OfferAccepted(e) => self.on_accepted(e),
            Input::OfferRejected(e) => self.on_rejected(e),
            Input::ContactCompleted(e) => self.on_completed(e),
            Input::WrapUpFinished(e) => self.on_wrap_up_finished(e),
            Input::ContactTransferred(e) => self.on_transferred(e),
            Input::AgentLoggedIn(e) => self.on_logged_in(e),
            Input::AgentLoggedOut(e) => self.go_offline(&e.agent, None),
            Input::AgentStateChanged(e) => self.on_state_changed(e),
            Input::AgentProfileChanged(e) => self.on_profile_changed(e),
            Input::SurveyAnswered(e) => self.on_survey(e),
            Input::CallbackRequested(e) => self.on_callback_requested(e),
            Input::CallbackResult(e) => self.on_callback_result(e),
            Input::QueueEmergency(e) => self.on_emergency(e),
            Input::ClockTick(_) => Ok(()),
        }
    }
}
