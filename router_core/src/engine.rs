//! The engine: applies inputs to the state and makes decisions, following
//! docs/routing.md rule by rule. All time comes from input timestamps; every tie is
//! broken by arrival sequence or agent index, so the same inputs give the same decisions.

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
use crate::names::Interner;
use crate::pools::AgentPools;
use crate::print_table::{print_of, PrintTable};
use crate::recent::RecentKeys;
use crate::waiting::{contact_key, ContactKey, WaitIndex};

pub use crate::names::Name;

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

    pub(crate) fn build(
        config: &Config,
        mut tenants: Interner,
        mut skills: Interner,
        languages: Interner,
        mut teams: Interner,
    ) -> Result<Engine, CoreError> {
        let r = &config.routing;
        for t in &config.tenants {
            tenants.intern(&t.id);
        }
        teams.intern("");
        let mut queues = Vec::new();
        let mut queue_ids = FxHashMap::default();
        for q in &config.queues {
            let tenant = tenants
                .get(&q.tenant)
                .ok_or_else(|| CoreError::Config(format!("queue {:?}: unknown tenant", q.id)))?;
            let mut channels = [false; CHANNEL_COUNT];
            for ch in &q.channels {
                channels[ch.index()] = true;
            }
            let mut qs: Vec<(u32, u8)> = q
                .skills
                .iter()
                .map(|(k, v)| (skills.intern(k), *v))
                .collect();
            qs.sort_unstable();
            let name: Name = Name::from(q.id.as_str());
            if queue_ids
                .insert(name.clone(), queues.len() as u32)
                .is_some()
            {
                return Err(CoreError::Config(format!(
                    "queue {:?} is defined twice",
                    q.id
                )));
            }
            let mut steps = vec![StepState {
                at_ms: 0,
                skills: qs.clone(),
                language: true,
                partner: false,
            }];
            for st in &q.steps {
                let prev = steps.last().expect("step 0 exists");
                let skills = match &st.skills {
                    Some(m) => {
                        let mut v: Vec<(u32, u8)> =
                            m.iter().map(|(k, v)| (skills.intern(k), *v)).collect();
                        v.sort_unstable();
                        v
                    }
                    None => prev.skills.clone(),
                };
                let next = StepState {
                    at_ms: st.after_seconds * 1000,
                    skills,
                    language: st.language.unwrap_or(prev.language),
                    partner: st.partner.unwrap_or(prev.partner),
                };
                steps.push(next);
            }
            queues.push(Queue {
                steps,
                continuity_ms: q.continuity_seconds * 1000,
                overflow_waiting_over: q.overflow_when_waiting_over,
                partner_overflow: q.partner == PartnerMode::Overflow,
                share_percent: q.partner_share_percent.min(100),
                rules: q.priority_rules.clone(),
                name,
                tenant,
                channels,
                priority: q.priority,
                strategy: q.strategy.unwrap_or(r.strategy),
                offer_timeout_ms: q.offer_timeout_seconds.unwrap_or(r.offer_timeout_seconds) * 1000,
                wrap_up_ms: q.wrap_up_seconds * 1000,
                interruptible: q.interruptible,
                schedule: match &q.hours {
                    Some(h) => {
                        let t = config
                            .tenants
                            .iter()
                            .find(|t| t.id == q.tenant)
                            .expect("checked tenant");
                        Some(
                            Schedule::new(h, &t.timezone, t.holidays)
                                .map_err(|e| CoreError::Config(format!("queue {:?}: {e}", q.id)))?,
                        )
                    }
                    None => None,
                },
                outside: q.hours.as_ref().map_or(Action::Close, |h| h.outside),
                at_closing: q.hours.as_ref().map_or(Action::Serve, |h| h.at_closing),
                when_full: q.when_full,
                announcement: q.announcement.as_deref().map(Name::from),
                ticket_queue: None,
                max_waiting: q.max_waiting,
                max_wait_ms: q.max_wait_seconds.map(|s| s * 1000),
                ewt_over_ms: q.overflow_when_expected_wait_over.map(|s| s * 1000),
                sl_trigger: q.overflow_when_service_level_under,
                sl_threshold_ms: q.service_level.threshold_seconds * 1000,
                sl_target: q.service_level.target_percent,
                track_answers: q.overflow_when_expected_wait_over.is_some(),
                track_sl: q.overflow_when_service_level_under,
                callback_attempts: q.callback_attempts.max(1),
                callback_retry_ms: q.callback_retry_seconds * 1000,
                teams: {
                    let mut v: Vec<u32> = q.teams.iter().map(|t| teams.intern(t)).collect();
                    v.sort_unstable();
                    v.dedup();
                    v
                },
                borrow: Vec::new(),
            });
        }
        // References between queues, once every queue has its number.
        for (i, q) in config.queues.iter().enumerate() {
            let find = |name: &str| {
                queue_ids.get(name).copied().ok_or_else(|| {
                    CoreError::Config(format!("queue {:?} names unknown queue {name:?}", q.id))
                })
            };
            if let Some(t) = &q.ticket_queue {
                queues[i].ticket_queue = Some(find(t)?);
            }
            for b in q.borrow.iter().take(32) {
                let w = find(&b.while_queue)?;
                queues[i]
                    .borrow
                    .push((teams.intern(&b.team), w, b.service_level_at_least));
                queues[w as usize].track_sl = true;
            }
        }
        for a in &config.agents {
            teams.intern(&a.team);
        }
        let fair_share: Vec<u64> = (0..tenants.len())
            .map(|t| {
                config
                    .tenants
                    .iter()
                    .find(|c| c.id.as_str() == &**tenants.name(t as u32))
                    .map_or(0, |c| c.fair_share_percent.min(100))
            })
            .collect();
        let n_queues = queues.len();
        let mut e = Engine {
            routing: r.clone(),
            aging_ms: r.aging_seconds_per_point * 1000,
            tenants,
            skills,
            languages,
            queues,
            queue_ids,
            agents: Vec::new(),
            agent_index: PrintTable::default(),
            // About one open contact per agent at full occupancy: room for that from the
            // start, so that a busy first hour does not copy every open contact as the
            // slab grows.
            contacts: KeyedSlab::with_capacity(config.agents.len()),
            contact_index: PrintTable::default(),
            closed: RecentKeys::new(),
            seen: RecentKeys::new(),
            timers: BinaryHeap::new(),
            timer_seq: 0,
            clock: 0,
            next_decision: 1,
            next_contact: 1,
            stats: Stats::default(),
            pools: AgentPools::new(),
            waiting: WaitIndex::default(),
            queue_waiting: vec![0; n_queues],
            queue_arrivals: vec![0; n_queues],
            last_agents: LastAgents::default(),
            reserved_for: FxHashMap::default(),
            teams,
            qrt: vec![QueueRt::default(); n_queues],
            parked: vec![Default::default(); n_queues],
            hours_started: false,
            fair_counts: vec![0; fair_share.len()],
            fair_share,
            fair_offers: VecDeque::new(),
            out: Vec::new(),
            cause: Name::from(""),
            class_cache: FxHashMap::default(),
        };
        for a in &config.agents {
            if e.agent_named(&a.id).is_some() {
                return Err(CoreError::Config(format!(
                    "agent {:?} is defined twice",
                    a.id
                )));
            }
            let skills = a
                .skills
                .iter()
                .map(|(k, v)| (k.as_str(), *v as i64))
                .collect::<Vec<_>>();
            let mut profile = e.make_profile(
                &skills,
                &a.languages.iter().map(String::as_str).collect::<Vec<_>>(),
                &a.tenants.iter().map(String::as_str).collect::<Vec<_>>(),
                &a.capacity
                    .iter()
                    .map(|(c, n)| (*c, *n as i64))
                    .collect::<Vec<_>>(),
            );
            profile.partner = a.partner.is_some();
            profile.team = e.teams.get(&a.team).unwrap_or(0);
            e.add_agent(Agent::new(Name::from(a.id.as_str()), profile));
        }
        Ok(e)
    }

    // ------------------------------------------------------------------ public surface

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
            self.reject(input.tag(), input.tenant(), rej(RejectCode::Malformed, msg));
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
        out: &mut Vec<Decision>,
    ) {
        std::mem::swap(&mut self.out, out);
        self.stats.inputs += 1;
        self.cause = Name::from(id.unwrap_or(""));
        let kind = kind.filter(|k| INPUT_TAGS.contains(k));
        self.reject_owned(
            kind.map(str::to_string),
            None,
            rej(RejectCode::Malformed, message),
        );
        std::mem::swap(&mut self.out, out);
    }

    // ------------------------------------------------------------------ time

    fn advance(&mut self, ts: i64) {
        if !self.hours_started {
            self.start_hours(ts.max(self.clock));
        }
        if ts > self.clock {
            while let Some(Reverse((due, _, _))) = self.timers.peek() {
                if *due > ts {
                    break;
                }
                let Some(Reverse((due, _, timer))) = self.timers.pop() else {
                    break;
                };
                if due > self.clock {
                    self.clock = due;
                }
                self.fire(timer);
            }
            self.clock = ts;
            self.expire_memory();
        } else if ts < self.clock {
            self.stats.late_events += 1;
        }
    }

    fn expire_memory(&mut self) {
        self.seen
            .expire(self.clock - self.routing.dedupe_window_hours * 3_600_000);
        self.closed
            .expire(self.clock - self.routing.closed_contact_retention_hours * 3_600_000);
    }

    fn set_timer(&mut self, due: i64, timer: Timer) {
        self.timer_seq += 1;
        self.timers.push(Reverse((due, self.timer_seq, timer)));
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::OfferExpiry { contact, attempt } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if let CState::Offered(a) = c.state {
                    if c.attempt == attempt {
                        self.expire_offer(contact, a);
                    }
                }
            }
            Timer::WrapUpLimit { contact } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if let CState::WrapUp(a) = c.state {
                    let (tenant, cname) = (self.tenant_name(c.tenant), c.name.clone());
                    let agent = self.agents[a as usize].name.clone();
                    self.emit(Body::WrapUpEnded {
                        tenant,
                        contact: cname,
                        agent,
                        by: "timeout",
                    });
                    self.close_completed(contact, a);
                }
            }
            Timer::StepDue {
                contact,
                step,
                epoch,
            } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if c.epoch == epoch && matches!(c.state, CState::Waiting | CState::Offered(_)) {
                    self.reach_step(contact, step);
                }
            }
            Timer::ContinuityEnd { contact } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if c.reserved.is_some() {
                    if c.state == CState::Waiting {
                        self.dequeue(contact);
                        self.contacts.get_mut(&contact).expect("open").reserved = None;
                        self.enqueue(contact);
                        self.route_waiting(contact);
                    } else {
                        self.contacts.get_mut(&contact).expect("open").reserved = None;
                    }
                }
            }
            Timer::CooldownEnd { contact } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if c.state == CState::Waiting {
                    self.route_waiting(contact);
                }
            }
            Timer::Schedule { queue } => {
                let q = queue as usize;
                let Some(s) = &self.queues[q].schedule else {
                    return;
                };
                let clock = self.clock;
                let answer = s.open_at(clock);
                let next = s.next_change(clock);
                self.set_schedule_answer(q, answer);
                self.update_status(q);
                if let Some(n) = next {
                    self.set_timer(n, Timer::Schedule { queue });
                }
            }
            Timer::CallbackDue { contact } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if c.parked
                    && c.channel == Channel::Callback
                    && c.not_before <= self.clock
                    && self.is_open(c.queue)
                {
                    self.unpark(contact);
                }
            }
            Timer::MaxWait { contact, epoch } => {
                let Some(c) = self.contacts.get(&contact) else {
                    return;
                };
                if c.epoch == epoch
                    && c.state == CState::Waiting
                    && !c.parked
                    && c.channel != Channel::Callback
                {
                    let action = self.queues[c.queue as usize].when_full;
                    self.dequeue(contact);
                    self.apply_action(contact, action, "max_wait", false);
                }
            }
        }
    }

    // ------------------------------------------------------------------ service hours

    /// The starting state of every schedule, at the first input ever applied: no decision.
    fn start_hours(&mut self, ts: i64) {
        self.hours_started = true;
        for q in 0..self.queues.len() {
            let Some(s) = &self.queues[q].schedule else {
                continue;
            };
            let answer = s.open_at(ts);
            let next = s.next_change(ts);
            self.set_schedule_answer(q, answer);
            if self.qrt[q].emergency.is_none() {
                self.qrt[q].status = if answer.0 {
                    Status::Open
                } else {
                    Status::Closed
                };
            }
            if let Some(n) = next {
                self.set_timer(n, Timer::Schedule { queue: q as u32 });
            }
        }
    }

    fn set_schedule_answer(&mut self, q: usize, (open, why): (bool, Why)) {
        let rt = &mut self.qrt[q];
        rt.schedule_open = open;
        rt.schedule_holiday = why == Why::Holiday;
        rt.schedule_closed_date = why == Why::ClosedDate;
    }

    pub(crate) fn is_open(&self, q: u32) -> bool {
        self.qrt[q as usize].status == Status::Open
    }

    /// The status the emergency and the schedule give, and the rule that decided it.
    fn status_of(&self, q: usize) -> (Status, &'static str) {
        let rt = &self.qrt[q];
        if let Some(e) = &rt.emergency {
            let st = match e.reroute {
                Some(t) => Status::Rerouted(t),
                None => Status::Closed,
            };
            return (st, "emergency");
        }
        if self.queues[q].schedule.is_none() {
            return (Status::Open, "no_schedule");
        }
        let why = if rt.schedule_holiday {
            "holiday"
        } else if rt.schedule_closed_date {
            "closed_date"
        } else {
            "schedule"
        };
        let st = if rt.schedule_open {
            Status::Open
        } else {
            Status::Closed
        };
        (st, why)
    }

    /// Re-evaluate a queue's status; on a change, say so and apply it.
    fn update_status(&mut self, q: usize) {
        let (new, why) = self.status_of(q);
        let old = self.qrt[q].status;
        if new == old {
            return;
        }
        self.qrt[q].status = new;
        let to_queue = match new {
            Status::Rerouted(t) => Some(self.queues[t as usize].name.clone()),
            _ => None,
        };
        let body = Body::QueueStatus {
            tenant: self.tenant_name(self.queues[q].tenant),
            queue: self.queues[q].name.clone(),
            open: new == Status::Open,
            reason: why,
            to_queue,
        };
        self.emit(body);
        match (old, new) {
            (_, Status::Open) => self.on_opening(q),
            (Status::Open, _) => self.on_closing(q),
            (_, Status::Rerouted(_)) => self.move_all(q),
            _ => {}
        }
    }

    /// Contacts waiting in queue `q` (parked or not), in line order.
    fn line_of(&self, q: usize) -> Vec<u64> {
        let mut v: Vec<(ContactKey, u64)> = self
            .contacts
            .values()
            .filter(|c| c.queue as usize == q && c.state == CState::Waiting)
            .map(|c| (c.key, c.uid))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, uid)| uid).collect()
    }

    fn policy_reason(&self, q: usize, otherwise: &'static str) -> &'static str {
        if self.qrt[q].emergency.is_some() {
            "emergency"
        } else {
            otherwise
        }
    }

    /// The queue a rerouted queue sends this contact to, if it takes the channel.
    fn reroute_target(&self, q: usize, ch: Channel) -> Option<u32> {
        match self.qrt[q].status {
            Status::Rerouted(t) if self.queues[t as usize].channels[ch.index()] => Some(t),
            _ => None,
        }
    }

    fn on_closing(&mut self, q: usize) {
        for uid in self.line_of(q) {
            // An earlier contact's action may not touch this one, but check: it must
            // still be waiting here.
            let Some(c) = self.contacts.get(&uid) else {
                continue;
            };
            if c.state == CState::Waiting && c.queue as usize == q {
                self.apply_closing(uid, true);
            }
        }
        let mut offered: Vec<(ContactKey, u64, u32)> = self
            .contacts
            .values()
            .filter(|c| c.queue as usize == q && c.channel == Channel::Callback)
            .filter_map(|c| match c.state {
                CState::Offered(a) => Some((c.key, c.uid, a)),
                _ => None,
            })
            .collect();
        offered.sort_unstable();
        let mut agents: Vec<u32> = Vec::new();
        for (_, uid, a) in offered {
            self.revoke(a, uid, "queue_closed");
            let c = self.contacts.get_mut(&uid).expect("offered contact exists");
            c.parked = true;
            self.enqueue(uid);
            agents.push(a);
        }
        agents.sort_unstable();
        agents.dedup();
        for a in agents {
            self.drain(a);
        }
    }

    /// What a closing does to one contact of a queue that is not open (routing.md 4b): a
    /// reroute moves it, a callback is parked, anything else follows `at_closing`. Used at
    /// the closing itself (`in_line`: the contact waits in line) and when an offer fails
    /// after it. Returns false, changing nothing, when the contact stays as it is
    /// (`serve`, or already parked with no reroute).
    fn apply_closing(&mut self, uid: u64, in_line: bool) -> bool {
        let c = &self.contacts[&uid];
        let (q, ch, parked) = (c.queue as usize, c.channel, c.parked);
        let target = self.reroute_target(q, ch);
        let action = if ch == Channel::Callback {
            Action::Keep
        } else {
            self.queues[q].at_closing
        };
        if target.is_none() && (parked || action == Action::Serve) {
            return false;
        }
        if in_line {
            self.dequeue(uid);
        }
        match target {
            Some(t) => self.move_to(uid, t, ch, "emergency"),
            None => {
                let reason = self.policy_reason(q, "at_closing");
                self.apply_action(uid, action, reason, false);
            }
        }
        true
    }

    /// From closed to rerouted: the waiting contacts the target takes go there.
    fn move_all(&mut self, q: usize) {
        for uid in self.line_of(q) {
            let ch = self.contacts[&uid].channel;
            if let Some(t) = self.reroute_target(q, ch) {
                self.dequeue(uid);
                self.move_to(uid, t, ch, "emergency");
            }
        }
    }

    fn on_opening(&mut self, q: usize) {
        let keys: Vec<ContactKey> = self.parked[q].iter().copied().collect();
        let clock = self.clock;
        for key in keys {
            let uid = key.2;
            if self
                .contacts
                .get(&uid)
                .is_some_and(|c| c.parked && c.not_before <= clock)
            {
                self.unpark(uid);
            }
        }
    }

    fn unpark(&mut self, uid: u64) {
        self.dequeue(uid);
        self.contacts.get_mut(&uid).expect("contact exists").parked = false;
        self.enqueue(uid);
        self.route_waiting(uid);
    }

    /// Put a contact that is in no agent's hands and not in line back in line: parked if
    /// its queue is not open or it is a callback not yet due; otherwise offered if someone
    /// is eligible. `entered`: it has just entered the queue (move or transfer).
    fn line_up(&mut self, uid: u64, entered: bool) {
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

    fn announcement_for(&self, q: usize) -> Option<Name> {
        self.qrt[q]
            .emergency
            .as_ref()
            .and_then(|e| e.announcement.clone())
            .or_else(|| self.queues[q].announcement.clone())
    }

    /// A policy's action on a contact that is in no agent's hands and not in line.
    fn apply_action(&mut self, uid: u64, action: Action, reason: &'static str, arrival: bool) {
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
    fn make_kept(&mut self, uid: u64, arrival: bool) {
        let c = self.contacts.get_mut(&uid).expect("contact exists");
        c.parked = true;
        c.state = CState::Waiting;
        if arrival {
            self.wait(uid, false);
        } else {
            self.enqueue(uid);
        }
    }

    /// The contact becomes a callback keeping its place in line.
    fn make_callback(&mut self, uid: u64, reason: &'static str) {
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

    /// A policy moves the contact (in no agent's hands, not in line) to another queue.
    fn move_to(&mut self, uid: u64, target: u32, channel: Channel, reason: &'static str) {
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
    fn enter_queue(&mut self, uid: u64, q: u32) {
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

    // ------------------------------------------------------------------ recent figures

    fn prune_windows(&mut self, q: usize) {
        let clock = self.clock;
        let rt = &mut self.qrt[q];
        while rt
            .answers
            .front()
            .is_some_and(|t| *t <= clock - ANSWER_WINDOW_MS)
        {
            rt.answers.pop_front();
        }
        while let Some(&(t, met)) = rt.sl.front() {
            if t > clock - SL_WINDOW_MS {
                break;
            }
            rt.sl.pop_front();
            if met {
                rt.sl_met -= 1;
            }
        }
    }

    fn record_answer(&mut self, q: usize, wait_ms: i64) {
        let clock = self.clock;
        let (track_a, track_sl, thr) = {
            let queue = &self.queues[q];
            (queue.track_answers, queue.track_sl, queue.sl_threshold_ms)
        };
        if !(track_a || track_sl) {
            return;
        }
        self.prune_windows(q);
        let rt = &mut self.qrt[q];
        if track_a {
            rt.answers.push_back(clock);
        }
        if track_sl {
            let met = wait_ms <= thr;
            rt.sl.push_back((clock, met));
            if met {
                rt.sl_met += 1;
            }
        }
    }

    fn record_abandon(&mut self, q: usize, wait_ms: i64) {
        let queue = &self.queues[q];
        if !queue.track_sl || wait_ms <= queue.sl_threshold_ms {
            return;
        }
        let clock = self.clock;
        self.prune_windows(q);
        self.qrt[q].sl.push_back((clock, false));
    }

    /// Expected wait in ms of an arrival now (`None`: unbounded).
    fn expected_wait(&mut self, q: usize) -> Option<i64> {
        self.prune_windows(q);
        let w = self.queue_waiting[q] as i64;
        let r = self.qrt[q].answers.len() as i64;
        if w == 0 {
            Some(0)
        } else if r == 0 {
            None
        } else {
            Some((w + 1) * ANSWER_WINDOW_MS / r)
        }
    }

    /// The recent service level as (met, counted).
    fn recent_sl(&mut self, q: usize) -> (u64, u64) {
        self.prune_windows(q);
        let rt = &self.qrt[q];
        (rt.sl_met, rt.sl.len() as u64)
    }

    fn borrow_mask(&mut self, q: u32) -> u32 {
        let rules = self.queues[q as usize].borrow.clone();
        let mut mask = 0u32;
        for (i, (_, w, at_least)) in rules.into_iter().enumerate() {
            let (met, count) = self.recent_sl(w as usize);
            if count == 0 || met as f64 * 100.0 >= at_least * count as f64 {
                mask |= 1 << i;
            }
        }
        mask
    }

    /// The overflow trigger an arrival meets, if any (docs/routing.md, 4b).
    fn overflow_trigger(&mut self, q: usize) -> Option<&'static str> {
        let queue = &self.queues[q];
        let (over, ewt, sl, target) = (
            queue.overflow_waiting_over,
            queue.ewt_over_ms,
            queue.sl_trigger,
            queue.sl_target,
        );
        if over.is_some_and(|n| self.queue_waiting[q] > n) {
            return Some("long_line");
        }
        if let Some(limit) = ewt {
            if self.expected_wait(q).is_none_or(|w| w > limit) {
                return Some("expected_wait");
            }
        }
        if sl {
            let (met, count) = self.recent_sl(q);
            if count > 0 && (met as f64) * 100.0 < target * count as f64 {
                return Some("service_level");
            }
        }
        None
    }

    fn record_offer(&mut self, tenant: u32) {
        if self.fair_share.iter().all(|s| *s == 0) {
            return;
        }
        self.prune_fair();
        self.fair_offers.push_back((self.clock, tenant));
        self.fair_counts[tenant as usize] += 1;
    }

    fn prune_fair(&mut self) {
        let from = self.clock - self.routing.fair_share_window_seconds * 1000;
        while let Some(&(t, tenant)) = self.fair_offers.front() {
            if t > from {
                break;
            }
            self.fair_offers.pop_front();
            self.fair_counts[tenant as usize] -= 1;
        }
    }

    // ------------------------------------------------------------------ decisions

    fn emit(&mut self, body: Body) {
        let head = Head {
            id: DecisionId(self.next_decision),
            ts: self.clock,
            cause: self.cause.clone(),
        };
        self.next_decision += 1;
        self.stats.decisions += 1;
        self.out.push(Decision { head, body });
    }

    fn reject(&mut self, tag: &str, tenant: Option<&str>, r: Rejection) {
        let tenant = r.tenant.clone().or_else(|| tenant.map(Name::from));
        self.reject_owned(Some(tag.to_string()), tenant, r);
    }

    fn reject_owned(&mut self, tag: Option<String>, tenant: Option<Name>, r: Rejection) {
        self.stats.rejected += 1;
        self.emit(Body::InputRejected {
            event_type: tag,
            code: r.code,
            message: r.message,
            tenant,
        });
    }

    fn tenant_name(&self, t: u32) -> Name {
        self.tenants.name(t).clone()
    }

    // ------------------------------------------------------------------ lookups

    fn tenant_id(&self, name: &str) -> Result<u32, Rejection> {
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
    fn open_uid(&self, t: u32, name: &str) -> Option<u64> {
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

    fn agent_id(&self, name: &str) -> Result<u32, Rejection> {
        self.agent_named(name)
            .ok_or_else(|| rej(RejectCode::UnknownAgent, format!("unknown agent {name:?}")))
    }

    /// An open contact of the tenant. A contact of an unconfigured tenant is simply unknown:
    /// the answer reveals nothing about which tenants exist.
    fn open_contact(&self, tenant: &str, contact: &str) -> Result<u64, Rejection> {
        match self.find_contact(tenant, contact) {
            Found::Open(uid) => Ok(uid),
            Found::Closed => Err(closed_rejection(tenant, contact)),
            Found::Unknown => Err(unknown_contact(tenant, contact)),
        }
    }

    fn find_contact(&self, tenant: &str, contact: &str) -> Found {
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
    fn contact_and_agent(
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

    fn state_word(&self, s: CState) -> String {
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

    // ------------------------------------------------------------------ agents & profiles

    fn make_profile(
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
        self.pools.place(a, g);
        self.refresh(a);
    }

    fn refresh(&mut self, a: u32) {
        self.pools.refresh(a, &self.agents[a as usize]);
    }

    /// Remove a contact's item from its agent; the agent may become idle.
    fn release(&mut self, a: u32, uid: u64) {
        let clock = self.clock;
        let agent = &mut self.agents[a as usize];
        agent.remove_item(uid);
        if agent.presence == Presence::Available && agent.items.is_empty() {
            agent.idle_since = clock;
        }
        self.refresh(a);
    }

    fn set_presence(&mut self, a: u32, p: Presence, reason: Option<Name>, by: &'static str) {
        let clock = self.clock;
        let agent = &mut self.agents[a as usize];
        let was = agent.presence;
        agent.presence = p;
        agent.reason = reason.clone();
        if p == Presence::Available && was != Presence::Available {
            agent.idle_since = clock;
        }
        let name = agent.name.clone();
        self.refresh(a);
        self.emit(Body::AgentStateSet {
            agent: name,
            state: p.as_str(),
            reason,
            by,
        });
    }

    /// Withdraw every open offer of an agent, then route each of those contacts.
    fn revoke_offers(&mut self, a: u32, reason: &'static str) {
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

    fn revoke(&mut self, a: u32, uid: u64, reason: &'static str) {
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

    // ------------------------------------------------------------------ routing

    fn cooling_agents(&self, c: &Contact) -> Vec<u32> {
        c.cooldowns
            .iter()
            .filter(|(_, until)| *until > self.clock)
            .map(|(a, _)| *a)
            .collect()
    }

    /// The eligible agents for a waiting contact, best first (at most RUNNERS_UP + 1).
    fn candidates(&mut self, uid: u64) -> (Vec<crate::pools::Ranked>, u64, Strategy) {
        let c = &self.contacts[&uid];
        let q = &self.queues[c.queue as usize];
        let class = &self.waiting.classes[c.class as usize];
        self.pools
            .keep_ordering(&class.groups, c.channel, q.strategy);
        let excluded = self.cooling_agents(c);
        let need = &class.need;
        let (ranked, considered) = self.pools.best(
            &class.groups,
            c.channel,
            q.strategy,
            |p| p.proficiency_sum(need),
            &excluded,
            self.clock,
            RUNNERS_UP + 1,
        );
        (ranked, considered, q.strategy)
    }

    /// Route a contact that is in no agent's hands and not in the waiting index: offer it
    /// to the best eligible agent, or let it wait.
    fn route(&mut self, uid: u64, requeued: bool) {
        let c = &self.contacts[&uid];
        let q = c.queue;
        // An offer failed after closing: the contact is handled as at closing.
        if requeued && !self.is_open(q) && !c.overflowed && self.apply_closing(uid, false) {
            return;
        }
        if let Some(a) = self.contacts[&uid].reserved {
            if self.can_offer(a, uid) {
                self.offer(uid, a, Self::continuity_reason());
            } else {
                self.wait(uid, requeued);
            }
            return;
        }
        let (ranked, considered, strategy) = self.candidates(uid);
        if let Some(best) = ranked.first() {
            let reason = OfferReason {
                strategy: strategy.as_str(),
                score: best.score,
                considered,
                runners_up: ranked[1..].iter().map(|r| self.candidate(r)).collect(),
            };
            let a = best.agent;
            self.offer(uid, a, reason);
        } else {
            self.wait(uid, requeued);
        }
    }

    fn wait(&mut self, uid: u64, requeued: bool) {
        {
            let c = self.contacts.get_mut(&uid).expect("routed contact exists");
            c.state = CState::Waiting;
            let (q, t) = (c.queue, c.tenant);
            let (name, channel, priority) = (
                c.name.clone(),
                c.channel,
                c.priority + c.attr_bonus + c.tag_bonus,
            );
            self.enqueue(uid);
            let body = Body::ContactQueued {
                tenant: self.tenant_name(t),
                contact: name,
                queue: self.queues[q as usize].name.clone(),
                channel,
                priority,
                waiting: self.queue_waiting[q as usize],
                requeued,
            };
            self.emit(body);
        }
    }

    /// Put a waiting contact in line: the shared index, or its reserved agent's set.
    pub(crate) fn enqueue(&mut self, uid: u64) {
        let c = &self.contacts[&uid];
        let (k, key, q, reserved) = (c.class, c.key, c.queue, c.reserved);
        if c.parked {
            self.parked[q as usize].insert(key);
        } else {
            match reserved {
                Some(a) => {
                    self.reserved_for.entry(a).or_default().insert(key);
                }
                None => self.waiting.insert(k, key),
            }
        }
        self.queue_waiting[q as usize] += 1;
    }

    /// Take a waiting contact out of line (before it is offered, moved or closed).
    fn dequeue(&mut self, uid: u64) {
        let c = &self.contacts[&uid];
        let (k, key, q, reserved) = (c.class, c.key, c.queue, c.reserved);
        if c.parked {
            self.parked[q as usize].remove(&key);
        } else {
            match reserved {
                Some(a) => {
                    if let Some(set) = self.reserved_for.get_mut(&a) {
                        set.remove(&key);
                        if set.is_empty() {
                            self.reserved_for.remove(&a);
                        }
                    }
                }
                None => self.waiting.remove(k, key),
            }
        }
        self.queue_waiting[q as usize] -= 1;
    }

    /// Could agent `a` be offered this contact now (blending, capacity, needs, cool-down)?
    fn can_offer(&self, a: u32, uid: u64) -> bool {
        let c = &self.contacts[&uid];
        self.pools.can_take(a, c.channel)
            && self.agents[a as usize]
                .profile
                .matches(&self.waiting.classes[c.class as usize].need)
            && !self.is_cooling(uid, a)
    }

    /// Agent `a` declined or missed contact `uid` and is not offered it again yet.
    #[inline]
    fn is_cooling(&self, uid: u64, a: u32) -> bool {
        self.contacts[&uid]
            .cooldowns
            .iter()
            .any(|&(x, until)| x == a && until > self.clock)
    }

    fn candidate(&self, r: &crate::pools::Ranked) -> Candidate {
        Candidate {
            agent: self.agents[r.agent as usize].name.clone(),
            score: r.score,
        }
    }

    fn continuity_reason() -> OfferReason {
        OfferReason {
            strategy: "continuity",
            score: 0,
            considered: 1,
            runners_up: Vec::new(),
        }
    }

    /// A waiting contact whose cool-down ended: offer it if an agent is eligible now.
    fn route_waiting(&mut self, uid: u64) {
        let clock = self.clock;
        if let Some(c) = self.contacts.get_mut(&uid) {
            c.cooldowns.retain(|(_, until)| *until > clock);
            if c.parked {
                return;
            }
        }
        if let Some(a) = self.contacts[&uid].reserved {
            // Kept for one agent: a step may have made that agent eligible just now.
            if self.can_offer(a, uid) {
                self.dequeue(uid);
                self.route(uid, true);
            }
            return;
        }
        let (ranked, _, _) = self.candidates(uid);
        if ranked.is_empty() {
            return;
        }
        self.dequeue(uid);
        self.route(uid, true);
    }

    fn offer(&mut self, uid: u64, a: u32, reason: OfferReason) {
        let clock = self.clock;
        let c = self.contacts.get_mut(&uid).expect("offered contact exists");
        c.reserved = None; // the previous agent had their chance (or the time ran out)
        c.attempt += 1;
        c.state = CState::Offered(a);
        let (t, name, q, ch, attempt) = (c.tenant, c.name.clone(), c.queue, c.channel, c.attempt);
        let queue = &self.queues[q as usize];
        let (qname, timeout, interruptible) = (
            queue.name.clone(),
            queue.offer_timeout_ms,
            queue.interruptible,
        );
        self.agents[a as usize].add_item(Item {
            contact: uid,
            channel: ch,
            phase: Phase::Offered,
            interruptible,
        });
        self.refresh(a);
        let expires_at = clock + timeout;
        self.set_timer(
            expires_at,
            Timer::OfferExpiry {
                contact: uid,
                attempt,
            },
        );
        self.stats.offers += 1;
        self.record_offer(t);
        let body = Body::OfferMade {
            tenant: self.tenant_name(t),
            contact: name.clone(),
            queue: qname,
            channel: ch,
            agent: self.agents[a as usize].name.clone(),
            offer: OfferId {
                contact: name.clone(),
                attempt,
            },
            attempt,
            expires_at,
            reason,
        };
        self.emit(body);
    }

    /// Offer the agent the best waiting contacts it is eligible for, until none is left or
    /// it can take no more.
    fn drain(&mut self, a: u32) {
        loop {
            if self.agents[a as usize].presence != Presence::Available {
                return;
            }
            let takeable = self.pools.takeable(a);
            if !takeable.iter().any(|t| *t) {
                return;
            }
            let g = self.pools.group_of[a as usize];
            let mut best = self
                .waiting
                .best_for(g, takeable, None, |uid| self.is_cooling(uid, a));
            if let Some((_, k)) = best {
                if self.fair_share.iter().any(|s| *s > 0) {
                    let x = self.waiting.classes[k as usize].need.tenant;
                    if let Some(fair) = self.fair_pick(a, g, takeable, x) {
                        best = Some(fair);
                    }
                }
            }
            // Contacts kept for this agent (returning customers) compete by the same order.
            let mine = self.reserved_for.get(&a).and_then(|set| {
                set.iter().copied().find(|key| {
                    let c = &self.contacts[&key.2];
                    takeable[c.channel.index()]
                        && self.agents[a as usize]
                            .profile
                            .matches(&self.waiting.classes[c.class as usize].need)
                })
            });
            if let Some(key) = mine {
                if best.is_none_or(|(b, _)| key < b) {
                    self.dequeue(key.2);
                    self.offer(key.2, a, Self::continuity_reason());
                    continue;
                }
            }
            let Some((key, _)) = best else { return };
            let uid = key.2;
            self.dequeue(uid);
            let (ranked, considered, strategy) = self.candidates(uid);
            let own = match ranked.iter().find(|r| r.agent == a) {
                Some(r) => r.score,
                None => {
                    let c = &self.contacts[&uid];
                    let need = &self.waiting.classes[c.class as usize].need;
                    let ps = self.agents[a as usize].profile.proficiency_sum(need);
                    self.pools
                        .rank_of(a, c.channel, strategy, ps, self.clock)
                        .map(|r| r.1)
                        .unwrap_or(0)
                }
            };
            let reason = OfferReason {
                strategy: strategy.as_str(),
                score: own,
                considered,
                runners_up: ranked
                    .iter()
                    .filter(|r| r.agent != a)
                    .take(RUNNERS_UP)
                    .map(|r| self.candidate(r))
                    .collect(),
            };
            self.offer(uid, a, reason);
        }
    }

    /// A tenant below its guaranteed share of recent offers, with a contact this agent
    /// can take: its best such contact (docs/routing.md, 4b, fairness).
    fn fair_pick(
        &mut self,
        a: u32,
        g: u32,
        takeable: [bool; CHANNEL_COUNT],
        best_tenant: u32,
    ) -> Option<(ContactKey, u32)> {
        self.prune_fair();
        let total = self.fair_offers.len() as u64;
        for t in 0..self.fair_share.len() as u32 {
            let share = self.fair_share[t as usize];
            if t == best_tenant
                || share == 0
                || !self.agents[a as usize].profile.serves_tenant(t)
                || self.fair_counts[t as usize] * 100 >= share * total
            {
                continue;
            }
            let found = self
                .waiting
                .best_for(g, takeable, Some(t), |uid| self.is_cooling(uid, a));
            if found.is_some() {
                return found;
            }
        }
        None
    }

    fn expire_offer(&mut self, uid: u64, a: u32) {
        self.stats.expired += 1;
        let clock = self.clock;
        let agent = &mut self.agents[a as usize];
        agent.missed += 1;
        let missed = agent.missed;
        let aname = agent.name.clone();
        let c = &self.contacts[&uid];
        let body = Body::OfferExpired {
            tenant: self.tenant_name(c.tenant),
            contact: c.name.clone(),
            agent: aname,
            offer: OfferId {
                contact: c.name.clone(),
                attempt: c.attempt,
            },
            missed_in_row: missed,
        };
        self.emit(body);
        self.release(a, uid);
        self.resume_if_no_live(a);
        self.cool_down(uid, a, clock);
        if missed >= self.routing.max_missed_offers
            && self.agents[a as usize].presence == Presence::Available
        {
            self.set_presence(
                a,
                Presence::NotResponding,
                Some(Name::from("missed_offers")),
                "engine",
            );
            self.revoke_offers(a, "agent_not_responding");
        }
        self.route(uid, true);
        self.drain(a);
    }

    fn cool_down(&mut self, uid: u64, a: u32, clock: i64) {
        let cd = self.routing.decline_cooldown_seconds * 1000;
        let c = self.contacts.get_mut(&uid).expect("contact exists");
        c.state = CState::Waiting;
        if cd > 0 {
            c.cooldowns.retain(|(x, until)| *x != a && *until > clock);
            c.cooldowns.push((a, clock + cd));
            self.set_timer(clock + cd, Timer::CooldownEnd { contact: uid });
        }
    }

    /// Say how the contact ended (`contact_closed`), then close it.
    fn close_with(
        &mut self,
        uid: u64,
        outcome: &'static str,
        agent: Option<u32>,
        reason: Option<&'static str>,
        announcement: Option<Name>,
    ) {
        let c = &self.contacts[&uid];
        let body = Body::ContactClosed {
            tenant: self.tenant_name(c.tenant),
            contact: c.name.clone(),
            queue: self.queues[c.queue as usize].name.clone(),
            channel: c.channel,
            outcome,
            agent: agent.map(|a| self.agents[a as usize].name.clone()),
            reason,
            announcement,
        };
        self.emit(body);
        self.close(uid);
    }

    fn close(&mut self, uid: u64) {
        let slot = self.contacts.slot(&uid);
        if let Some(c) = self.contacts.remove(&uid) {
            let slot = slot.expect("a held contact has a slot");
            self.contact_index.remove(print_of(c.tenant, &c.name), slot);
            // The id is new to the memory: an arrival with a remembered id is rejected.
            self.closed.insert(c.tenant, &c.name, self.clock);
        }
    }

    fn close_completed(&mut self, uid: u64, a: u32) {
        self.release(a, uid);
        self.close_with(uid, "completed", Some(a), None, None);
        self.stats.completed += 1;
        self.resume_if_no_live(a);
        self.drain(a);
    }

    /// With no live item left in the agent's hands, interrupted deferred work comes back.
    fn resume_if_no_live(&mut self, a: u32) {
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

    // ------------------------------------------------------------------ inputs

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

    /// The queue a contact of tenant `t` on `channel` may enter (arrival or transfer).
    fn queue_for(
        &self,
        t: u32,
        tenant: &str,
        queue: &str,
        channel: Channel,
    ) -> Result<u32, Rejection> {
        let q = *self
            .queue_ids
            .get(queue)
            .ok_or_else(|| rej(RejectCode::UnknownQueue, format!("no queue {queue:?}")))?;
        let qd = &self.queues[q as usize];
        if qd.tenant != t {
            return Err(rej(
                RejectCode::TenantMismatch,
                format!("queue {queue:?} is not a queue of tenant {tenant:?}"),
            ));
        }
        if !qd.channels[channel.index()] {
            let takes: Vec<&str> = Channel::ALL
                .iter()
                .filter(|c| qd.channels[c.index()])
                .map(|c| c.as_str())
                .collect();
            return Err(rej(
                RejectCode::ChannelNotServed,
                format!(
                    "queue {queue:?} does not take {}; it takes {}",
                    channel.as_str(),
                    takes.join(", ")
                ),
            ));
        }
        Ok(q)
    }

    fn on_arrived(&mut self, e: &ContactArrived) -> Res {
        let t = self.tenant_id(&e.tenant)?;
        let q = self.queue_for(t, &e.tenant, &e.queue, e.channel)?;
        let queue = &self.queues[q as usize];
        if self.open_uid(t, &e.contact).is_some() || self.closed.contains(t, &e.contact) {
            return Err(rej(
                RejectCode::ContactExists,
                format!(
                    "tenant {:?} already has a contact {:?}",
                    e.tenant, e.contact
                ),
            ));
        }
        let qprio = queue.priority;
        let attr_bonus: i64 = queue
            .rules
            .iter()
            .filter(|r| match &r.attribute {
                Some(k) => e
                    .attributes
                    .get(k)
                    .is_some_and(|v| r.equals.as_ref().is_none_or(|x| x == v)),
                None => false,
            })
            .map(|r| r.add)
            .sum();
        let tag_bonus = tag_bonus(&queue.rules, &e.tags);
        let n = self.queue_arrivals[q as usize];
        let p = queue.share_percent;
        let share = queue.partner_overflow && (n + 1) * p / 100 > n * p / 100;
        let next_step_at = queue.steps.get(1).map(|s| s.at_ms);
        let continuity_ms = queue.continuity_ms;
        let max_wait = queue.max_wait_ms;
        let partner_overflow = queue.partner_overflow;
        let open = self.is_open(q);
        let full = open
            && queue
                .max_waiting
                .is_some_and(|n| self.queue_waiting[q as usize] >= n);
        let trigger = if open && !full && partner_overflow && !share {
            self.overflow_trigger(q as usize)
        } else {
            None
        };
        let overflowed = trigger.is_some();
        let borrowed = self.borrow_mask(q);
        let customer: Option<Name> = e.customer.as_deref().map(Name::from);
        // A returning customer is kept for the agent who helped them last, for a while.
        let reserved = match (&customer, continuity_ms > 0) {
            (Some(cust), true) => self.last_agents.get(t, cust),
            _ => None,
        };
        self.queue_arrivals[q as usize] += 1;
        let mut own_skills: Vec<(u32, u8)> = Vec::with_capacity(e.skills.len());
        for s in &e.skills {
            let id = self.skills.intern(&s.skill);
            let min = s.min as u8;
            match own_skills.iter_mut().find(|x| x.0 == id) {
                Some(x) => x.1 = x.1.max(min),
                None => own_skills.push((id, min)),
            }
        }
        own_skills.sort_unstable();
        let language = e.language.as_deref().map(|l| self.languages.intern(l));
        let uid = self.next_contact;
        self.next_contact += 1;
        let name: Name = Name::from(e.contact.as_str());
        let eff = e.priority + attr_bonus + tag_bonus;
        let key = contact_key(eff + qprio, self.clock, uid, self.aging_ms);
        self.add_contact(Contact {
            uid,
            tenant: t,
            name,
            queue: q,
            class: 0,
            channel: e.channel,
            priority: e.priority,
            attr_bonus,
            tag_bonus,
            step: 0,
            share,
            language,
            own_skills,
            arrived: self.clock,
            entered: self.clock,
            epoch: 0,
            customer: customer.clone(),
            reserved,
            overflowed,
            key,
            state: CState::Waiting,
            attempt: 0,
            parked: false,
            not_before: 0,
            dials: 0,
            reached: false,
            borrowed,
            cooldowns: Vec::new(),
        });
        let class = self.class_of(uid);
        if let Some(c) = self.contacts.get_mut(&uid) {
            c.class = class;
        }
        if let Some(at) = next_step_at {
            let due = self.clock + at;
            self.set_timer(
                due,
                Timer::StepDue {
                    contact: uid,
                    step: 1,
                    epoch: 0,
                },
            );
        }
        if reserved.is_some() {
            let due = self.clock + continuity_ms;
            self.set_timer(due, Timer::ContinuityEnd { contact: uid });
        }
        if let Some(mw) = max_wait {
            let due = self.clock + mw;
            self.set_timer(
                due,
                Timer::MaxWait {
                    contact: uid,
                    epoch: 0,
                },
            );
        }
        if !open {
            let ch = e.channel;
            if let Some(target) = self.reroute_target(q as usize, ch) {
                self.move_to(uid, target, ch, "emergency");
            } else {
                let reason = self.policy_reason(q as usize, "outside_hours");
                let action = self.queues[q as usize].outside;
                self.apply_action(uid, action, reason, true);
            }
            return Ok(());
        }
        if full {
            let action = self.queues[q as usize].when_full;
            self.apply_action(uid, action, "queue_full", true);
            return Ok(());
        }
        if let Some(reason) = trigger {
            let body = Body::ContactStepReached {
                tenant: self.tenant_name(t),
                contact: self.contacts[&uid].name.clone(),
                queue: self.queues[q as usize].name.clone(),
                step: 0,
                partner: true,
                reason,
            };
            self.emit(body);
        }
        self.route(uid, false);
        Ok(())
    }

    /// What the contact needs now: its queue's step in force, plus its own needs.
    fn need_of(&self, c: &Contact) -> Need {
        let q = &self.queues[c.queue as usize];
        let st = &q.steps[c.step as usize];
        let mut skills = st.skills.clone();
        for &(id, min) in &c.own_skills {
            match skills.iter_mut().find(|x| x.0 == id) {
                Some(x) => x.1 = x.1.max(min),
                None => skills.push((id, min)),
            }
        }
        skills.sort_unstable();
        let pool = if !q.partner_overflow {
            Pool::Any
        } else if c.share && c.step == 0 {
            Pool::Partner
        } else if st.partner || c.share || c.overflowed {
            Pool::Any
        } else {
            Pool::Own
        };
        let teams = if q.teams.is_empty() {
            Vec::new()
        } else {
            let mut v = q.teams.clone();
            for (i, (team, _, _)) in q.borrow.iter().enumerate() {
                if c.borrowed & (1 << i) != 0 {
                    v.push(*team);
                }
            }
            v.sort_unstable();
            v.dedup();
            v
        };
        Need {
            tenant: c.tenant,
            channel: c.channel,
            language: if st.language { c.language } else { None },
            skills,
            pool,
            teams,
        }
    }

    fn class_of(&mut self, uid: u64) -> u32 {
        let c = &self.contacts[&uid];
        // Most contacts bring no skills of their own; their needs then follow from a few
        // small fields (everything need_of reads), and looking those up spares building
        // and hashing a Need for every arrival.
        let key = c.own_skills.is_empty().then_some((
            c.queue,
            c.step,
            c.tenant,
            c.channel,
            c.language,
            c.share,
            c.overflowed,
            c.borrowed,
        ));
        if let Some(class) = key.and_then(|k| self.class_cache.get(&k)) {
            return *class;
        }
        let need = self.need_of(c);
        let class = self
            .waiting
            .class_for(&need, self.pools.groups.iter().map(|g| &g.profile));
        if let Some(k) = key {
            self.class_cache.insert(k, class);
        }
        class
    }

    /// The contact reached its queue's next routing step: move it to the class of its
    /// relaxed needs, say so, and offer it if someone is eligible now.
    fn reach_step(&mut self, uid: u64, step: u32) {
        let q = self.contacts[&uid].queue;
        let borrowed = self.borrow_mask(q);
        let c = self.contacts.get_mut(&uid).expect("contact exists");
        c.step = step;
        c.borrowed = borrowed;
        let (state, q, t, name) = (c.state, c.queue, c.tenant, c.name.clone());
        let new_class = self.class_of(uid);
        if state == CState::Waiting {
            self.dequeue(uid);
        }
        if let Some(c) = self.contacts.get_mut(&uid) {
            c.class = new_class;
        }
        if state == CState::Waiting {
            self.enqueue(uid);
        }
        let queue = &self.queues[q as usize];
        let partner = queue.partner_overflow && queue.steps[step as usize].partner;
        let next_at = queue.steps.get(step as usize + 1).map(|s| s.at_ms);
        let body = Body::ContactStepReached {
            tenant: self.tenant_name(t),
            contact: name,
            queue: queue.name.clone(),
            step,
            partner,
            reason: "step",
        };
        self.emit(body);
        if let Some(at) = next_at {
            let (entered, epoch) = (self.contacts[&uid].entered, self.contacts[&uid].epoch);
            let next = Timer::StepDue {
                contact: uid,
                step: step + 1,
                epoch,
            };
            self.set_timer(entered + at, next);
        }
        if state == CState::Waiting {
            self.route_waiting(uid);
        }
    }

    fn on_abandoned(&mut self, e: &ContactRef) -> Res {
        let uid = self.open_contact(&e.tenant, &e.contact)?;
        let c = &self.contacts[&uid];
        let agent_to_drain = match c.state {
            CState::Waiting => {
                self.dequeue(uid);
                None
            }
            CState::Offered(a) => {
                self.revoke(a, uid, "abandoned");
                Some(a)
            }
            s => {
                return Err(rej(
                    RejectCode::InvalidState,
                    format!(
                        "contact {:?} is {}; only a waiting or offered contact can be abandoned",
                        e.contact,
                        self.state_word(s)
                    ),
                ))
            }
        };
        let c = &self.contacts[&uid];
        let (q, wait) = (c.queue as usize, self.clock - c.arrived);
        self.record_abandon(q, wait);
        self.close_with(uid, "abandoned", None, None, None);
        self.stats.abandoned += 1;
        if let Some(a) = agent_to_drain {
            self.drain(a);
        }
        Ok(())
    }

    fn on_updated(&mut self, e: &ContactUpdated) -> Res {
        let uid = self.open_contact(&e.tenant, &e.contact)?;
        let aging = self.aging_ms;
        let c = self.contacts.get_mut(&uid).expect("open contact");
        let queue = &self.queues[c.queue as usize];
        if let Some(p) = e.priority {
            c.priority = p;
        }
        if let Some(tags) = &e.tags {
            c.tag_bonus = tag_bonus(&queue.rules, tags);
        }
        let eff = c.priority + c.attr_bonus + c.tag_bonus + queue.priority;
        let new = contact_key(eff, c.arrived, c.uid, aging);
        if c.state == CState::Waiting && new != c.key {
            self.dequeue(uid);
            self.contacts.get_mut(&uid).expect("open contact").key = new;
            self.enqueue(uid);
        } else {
            c.key = new;
        }
        Ok(())
    }

    /// Common checks of inputs an agent sends about an offer.
    fn offered_to(
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

    fn on_accepted(&mut self, e: &ContactAgent) -> Res {
        let (uid, a) = self.offered_to(&e.tenant, &e.contact, &e.agent)?;
        let clock = self.clock;
        let c = self.contacts.get_mut(&uid).expect("open contact");
        c.state = CState::Assigned(a);
        let (t, name, q, ch, arrived) = (c.tenant, c.name.clone(), c.queue, c.channel, c.arrived);
        let agent = &mut self.agents[a as usize];
        if let Some(p) = agent.item_pos(uid) {
            let mut it = agent.items.remove(p);
            it.phase = Phase::Active;
            agent.items.push(it);
        }
        agent.missed = 0;
        agent.last_assigned[ch.index()] = clock;
        if let Some(cust) = self.contacts[&uid].customer.clone() {
            self.last_agents.note(t, cust, a);
        }
        let aname = agent.name.clone();
        self.stats.assigned += 1;
        let tenant = self.tenant_name(t);
        self.emit(Body::ContactAssigned {
            tenant,
            contact: name.clone(),
            queue: self.queues[q as usize].name.clone(),
            channel: ch,
            agent: aname.clone(),
            wait_ms: clock - arrived,
        });
        self.record_answer(q as usize, clock - arrived);
        if ch.is_live() {
            let set_aside: Vec<u64> = self.agents[a as usize]
                .items
                .iter()
                .filter(|i| i.channel.is_deferred() && i.phase == Phase::Active)
                .map(|i| i.contact)
                .collect();
            for d in set_aside {
                let agent = &mut self.agents[a as usize];
                if let Some(p) = agent.item_pos(d) {
                    agent.items[p].phase = Phase::Interrupted;
                }
                let dc = &self.contacts[&d];
                let body = Body::WorkInterrupted {
                    tenant: self.tenant_name(dc.tenant),
                    contact: dc.name.clone(),
                    agent: aname.clone(),
                    by_contact: name.clone(),
                };
                self.emit(body);
            }
        }
        self.refresh(a);
        self.drain(a);
        Ok(())
    }

    fn on_rejected(&mut self, e: &OfferRejected) -> Res {
        let (uid, a) = self.offered_to(&e.tenant, &e.contact, &e.agent)?;
        let clock = self.clock;
        self.release(a, uid);
        self.resume_if_no_live(a);
        self.cool_down(uid, a, clock);
        self.route(uid, true);
        self.drain(a);
        Ok(())
    }

    fn assigned_to(
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

    fn on_completed(&mut self, e: &ContactCompleted) -> Res {
        let (uid, a) = self.assigned_to(&e.tenant, &e.contact, &e.agent, false)?;
        let q = self.contacts[&uid].queue;
        let wrap = self.queues[q as usize].wrap_up_ms;
        if wrap > 0 {
            let ends_by = self.clock + wrap;
            let c = self.contacts.get_mut(&uid).expect("open contact");
            c.state = CState::WrapUp(a);
            let (t, name) = (c.tenant, c.name.clone());
            let agent = &mut self.agents[a as usize];
            if let Some(p) = agent.item_pos(uid) {
                agent.items[p].phase = Phase::WrapUp;
            }
            let aname = agent.name.clone();
            self.refresh(a);
            self.set_timer(ends_by, Timer::WrapUpLimit { contact: uid });
            let tenant = self.tenant_name(t);
            self.emit(Body::WrapUpStarted {
                tenant,
                contact: name,
                agent: aname,
                ends_by: Some(ends_by),
            });
        } else {
            self.close_completed(uid, a);
        }
        Ok(())
    }

    fn on_transferred(&mut self, e: &ContactTransferred) -> Res {
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

    fn on_wrap_up_finished(&mut self, e: &ContactAgent) -> Res {
        let (uid, a) = self.assigned_to(&e.tenant, &e.contact, &e.agent, true)?;
        let c = &self.contacts[&uid];
        let body = Body::WrapUpEnded {
            tenant: self.tenant_name(c.tenant),
            contact: c.name.clone(),
            agent: self.agents[a as usize].name.clone(),
            by: "agent",
        };
        self.emit(body);
        self.close_completed(uid, a);
        Ok(())
    }

    fn on_logged_in(&mut self, e: &AgentLoggedIn) -> Res {
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

    fn go_offline(&mut self, agent: &str, reason: Option<&str>) -> Res {
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

    fn on_state_changed(&mut self, e: &AgentStateChanged) -> Res {
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

    fn on_profile_changed(&mut self, e: &AgentProfileChanged) -> Res {
        let a = match self.agent_named(&e.agent) {
            Some(a) => a,
            None => {
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

    fn on_callback_requested(&mut self, e: &ContactRef) -> Res {
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

    fn on_callback_result(&mut self, e: &CallbackResult) -> Res {
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

    fn on_emergency(&mut self, e: &QueueEmergency) -> Res {
        let t = self.tenant_id(&e.tenant)?;
        let q = *self
            .queue_ids
            .get(e.queue.as_str())
            .ok_or_else(|| rej(RejectCode::UnknownQueue, format!("no queue {:?}", e.queue)))?;
        if self.queues[q as usize].tenant != t {
            return Err(rej(
                RejectCode::TenantMismatch,
                format!(
                    "queue {:?} is not a queue of tenant {:?}",
                    e.queue, e.tenant
                ),
            ));
        }
        let target = match (e.mode, &e.to_queue) {
            (EmergencyMode::Reroute, None) => {
                return Err(rej(
                    RejectCode::InvalidTarget,
                    "a reroute names to_queue".into(),
                ))
            }
            (EmergencyMode::Reroute, Some(tq)) if *tq == e.queue => {
                return Err(rej(
                    RejectCode::InvalidTarget,
                    format!("queue {tq:?} cannot be rerouted to itself"),
                ))
            }
            (EmergencyMode::Reroute, Some(tq)) => {
                let tq_id = *self
                    .queue_ids
                    .get(tq.as_str())
                    .ok_or_else(|| rej(RejectCode::UnknownQueue, format!("no queue {tq:?}")))?;
                if self.queues[tq_id as usize].tenant != t {
                    return Err(rej(
                        RejectCode::TenantMismatch,
                        format!("queue {tq:?} is not a queue of tenant {:?}", e.tenant),
                    ));
                }
                Some(tq_id)
            }
            (_, Some(_)) => {
                return Err(rej(
                    RejectCode::InvalidTarget,
                    "only a reroute names to_queue".into(),
                ))
            }
            (_, None) => None,
        };
        // The reason reported is the rule that applies now, even between schedule timers.
        if let Some(s) = &self.queues[q as usize].schedule {
            let answer = s.open_at(self.clock);
            self.set_schedule_answer(q as usize, answer);
        }
        self.qrt[q as usize].emergency = match e.mode {
            EmergencyMode::Off => None,
            _ => Some(Emergency {
                reroute: target,
                announcement: e.announcement.as_deref().map(Name::from),
            }),
        };
        self.update_status(q as usize);
        Ok(())
    }

    fn on_survey(&mut self, e: &SurveyAnswered) -> Res {
        if self.find_contact(&e.tenant, &e.contact) != Found::Unknown {
            Ok(())
        } else {
            Err(rej(
                RejectCode::UnknownContact,
                format!("tenant {:?} has no contact {:?}", e.tenant, e.contact),
            ))
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Found {
    Open(u64),
    Closed,
    Unknown,
}

fn unknown_contact(tenant: &str, contact: &str) -> Rejection {
    rej(
        RejectCode::UnknownContact,
        format!("tenant {tenant:?} has no contact {contact:?}"),
    )
}

fn closed_rejection(tenant: &str, contact: &str) -> Rejection {
    rej(
        RejectCode::InvalidState,
        format!("contact {contact:?} of tenant {tenant:?} is already closed"),
    )
}

fn tag_bonus(rules: &[PriorityRuleCfg], tags: &[String]) -> i64 {
    rules
        .iter()
        .filter(|r| r.tag.as_ref().is_some_and(|t| tags.contains(t)))
        .map(|r| r.add)
        .sum()
}
