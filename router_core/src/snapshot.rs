//! Snapshots: the whole engine state as versioned, canonical MessagePack. Indexes are not
//! stored; they are rebuilt on restore, and no decision depends on how they were built
//! (ties are broken by arrival sequence and agent index only).

use std::cell::Cell;
use std::cmp::Reverse;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::agents::{Agent, Need};
use crate::config::Config;
use crate::engine::{Contact, Engine, QueueRt, Stats, Timer};
use crate::error::CoreError;
use crate::names::{Interner, Name};
use crate::recent::FrozenKeys;

// 2: routing steps, transfers; 3: customer continuity; 4: service hours, callbacks,
// recent figures, teams, fair shares.
const SNAPSHOT_VERSION: u32 = 4;

#[derive(Serialize, Deserialize)]
struct ContactSnap {
    contact: Contact,
    need: Need,
}

#[derive(Deserialize)]
struct Snap {
    version: u32,
    clock: i64,
    next_decision: u64,
    next_contact: u64,
    timer_seq: u64,
    tenants: Vec<Name>,
    skills: Vec<Name>,
    languages: Vec<Name>,
    teams: Vec<Name>,
    agents: Vec<Agent>,
    contacts: Vec<ContactSnap>,
    closed: Vec<(i64, u32, Name)>,
    seen: Vec<(i64, Name)>,
    timers: Vec<(i64, u64, Timer)>,
    queue_arrivals: Vec<u64>,
    last_agent: Vec<(u32, Name, u32)>,
    stats: Stats,
    queues: Vec<QueueRt>,
    hours_started: bool,
    fair_offers: Vec<(i64, u32)>,
    /// The needs of every waiting class, in class order. Classes are made as needs are
    /// first seen and never dropped; restoring them all (not only those of the open
    /// contacts) gives the restored engine the same classes, numbered the same, so its
    /// `class_count` (`stats()["contact_classes"]`) equals the original's. Absent in older
    /// snapshots: then only the open contacts' classes come back.
    #[serde(default)]
    classes: Vec<Need>,
}

/// The same fields as [`Snap`], in the same order, so the bytes are the same; the two
/// large memories are written straight from a frozen view, never copied into a `Vec`.
#[derive(Serialize)]
struct SnapOut<'a> {
    version: u32,
    clock: i64,
    next_decision: u64,
    next_contact: u64,
    timer_seq: u64,
    tenants: &'a [Name],
    skills: &'a [Name],
    languages: &'a [Name],
    teams: &'a [Name],
    agents: &'a [Agent],
    contacts: &'a [ContactSnap],
    closed: Seq<'a, (i64, u32, &'a str)>,
    seen: Seq<'a, (i64, &'a str)>,
    timers: &'a [(i64, u64, Timer)],
    queue_arrivals: &'a [u64],
    last_agent: &'a [(u32, Name, u32)],
    stats: &'a Stats,
    queues: &'a [QueueRt],
    hours_started: bool,
    fair_offers: &'a [(i64, u32)],
    classes: &'a [Need],
}

/// How a snapshot's encoding shares the machine with the routing it runs beside: after
/// `busy` of work it rests for `rest`, until [`Pace::hurry`] (a stop that waits for it).
///
/// A busy service's state encodes in a few hundred milliseconds of one core; on a small
/// machine the router, the broker and the encoder then compete for the cores, and offers
/// wait. Resting between slices spreads the same work over a longer time. The wall clock
/// read here decides only when the encoder rests, never a byte of the snapshot.
#[derive(Debug)]
pub struct Pace {
    busy: Duration,
    rest: Duration,
    hurry: AtomicBool,
    /// Wakes a rest in progress when told to hurry.
    resting: Mutex<()>,
    wake: Condvar,
}

impl Pace {
    /// Work `busy`, rest `rest`, and again; a zero `rest` never rests.
    pub fn new(busy: Duration, rest: Duration) -> Pace {
        Pace {
            busy,
            rest,
            hurry: AtomicBool::new(false),
            resting: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// No rests: as fast as the machine allows.
    pub fn full() -> Pace {
        Pace::new(Duration::ZERO, Duration::ZERO)
    }

    /// From now on, no more rests (callable from any thread while the encoding runs).
    pub fn hurry(&self) {
        let _guard = self.resting.lock();
        self.hurry.store(true, Ordering::SeqCst);
        self.wake.notify_all();
    }

    fn hurried(&self) -> bool {
        self.hurry.load(Ordering::SeqCst)
    }

    /// Rest for `rest`, or less if told to hurry meanwhile.
    fn rest(&self) {
        let Ok(guard) = self.resting.lock() else {
            return;
        };
        // The flag is read under the lock that `hurry` takes: no wake-up is missed.
        let _ = self
            .wake
            .wait_timeout_while(guard, self.rest, |_| !self.hurried());
    }
}

/// Counts the work done since the last rest and rests when it is due.
struct Pacer<'a> {
    pace: &'a Pace,
    since: Cell<Instant>,
}

impl Pacer<'_> {
    /// Elements written between two looks at the clock (a few tens of microseconds).
    const EVERY: usize = 2048;

    fn tick(&self) {
        let pace = self.pace;
        if pace.rest.is_zero() || pace.hurried() {
            return;
        }
        if self.since.get().elapsed() >= pace.busy {
            pace.rest();
            self.since.set(Instant::now());
        }
    }
}

/// A sequence written from an iterator of known length (serde takes it by `&self`),
/// resting as its [`Pacer`] says: the two large memories are where the time goes.
struct Seq<'a, T>(
    std::cell::RefCell<Option<Box<dyn Iterator<Item = T> + 'a>>>,
    usize,
    &'a Pacer<'a>,
);

impl<'a, T> Seq<'a, T> {
    fn new(len: usize, it: impl Iterator<Item = T> + 'a, pacer: &'a Pacer<'a>) -> Self {
        Seq(std::cell::RefCell::new(Some(Box::new(it))), len, pacer)
    }
}

impl<T: Serialize> Serialize for Seq<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let it = self.0.borrow_mut().take();
        let mut seq = s.serialize_seq(Some(self.1))?;
        for (i, item) in it.into_iter().flatten().enumerate() {
            if i % Pacer::EVERY == 0 {
                self.2.tick();
            }
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

/// The engine's state at one moment, taken quickly (the open contacts, agents and timers
/// are copied; the de-duplication and closed-contact memories, the bulk of a busy
/// engine's state, are shared copy-on-write) and written out later, on any thread, by
/// [`SnapshotJob::encode`]: the engine need not wait while a large snapshot is encoded.
pub struct SnapshotJob {
    version: u32,
    clock: i64,
    next_decision: u64,
    next_contact: u64,
    timer_seq: u64,
    tenants: Vec<Name>,
    skills: Vec<Name>,
    languages: Vec<Name>,
    teams: Vec<Name>,
    agents: Vec<Agent>,
    contacts: Vec<ContactSnap>,
    closed: FrozenKeys,
    seen: FrozenKeys,
    timers: Vec<(i64, u64, Timer)>,
    queue_arrivals: Vec<u64>,
    last_agent: Vec<(u32, Name, u32)>,
    stats: Stats,
    queues: Vec<QueueRt>,
    hours_started: bool,
    fair_offers: Vec<(i64, u32)>,
    classes: Vec<Need>,
}

impl SnapshotJob {
    /// The snapshot's bytes: exactly what [`Engine::snapshot`] would have returned at the
    /// moment the job was taken.
    pub fn encode(self) -> Vec<u8> {
        self.encode_paced(&Pace::full())
    }

    /// The same bytes as [`SnapshotJob::encode`], written at the given [`Pace`].
    pub fn encode_paced(self, pace: &Pace) -> Vec<u8> {
        self.encode_paced_into(pace, Vec::new())
    }

    /// The same bytes written into `buf` (emptied first) when it has room for the
    /// encoding's estimate, else into a new buffer. A service that snapshots every 20 s
    /// passes the last snapshot's buffer: the same memory each time, instead of a new
    /// block of tens of megabytes that an allocator keeping freed memory may place beside
    /// the last one rather than in it.
    pub fn encode_paced_into(mut self, pace: &Pace, mut buf: Vec<u8>) -> Vec<u8> {
        let pacer = Pacer {
            pace,
            since: Cell::new(Instant::now()),
        };
        // Sorting is part of the canonical form; it is done here, off the engine's time.
        self.contacts.sort_by_key(|c| c.contact.uid);
        self.timers.sort();
        self.last_agent.sort();
        let out = SnapOut {
            version: self.version,
            clock: self.clock,
            next_decision: self.next_decision,
            next_contact: self.next_contact,
            timer_seq: self.timer_seq,
            tenants: &self.tenants,
            skills: &self.skills,
            languages: &self.languages,
            teams: &self.teams,
            agents: &self.agents,
            contacts: &self.contacts,
            closed: Seq::new(self.closed.len(), self.closed.iter(), &pacer),
            seen: Seq::new(
                self.seen.len(),
                self.seen.iter().map(|(t, _, id)| (t, id)),
                &pacer,
            ),
            timers: &self.timers,
            queue_arrivals: &self.queue_arrivals,
            last_agent: &self.last_agent,
            stats: &self.stats,
            queues: &self.queues,
            hours_started: self.hours_started,
            fair_offers: &self.fair_offers,
            classes: &self.classes,
        };
        // Room for the two memories up front (an entry is a time, a tag and a short
        // id): growing a buffer of tens of megabytes by doubling copies it several times.
        let hint = 48 * (self.closed.len() + self.seen.len()) + (1 << 20);
        buf.clear();
        if buf.capacity() < hint {
            // Not `reserve`: that would copy the old block's whole capacity over. A quarter
            // more than the estimate, so that the next snapshots, a little larger, fit in
            // it too (pages never written cost address space only).
            buf = Vec::with_capacity(hint + hint / 4);
        }
        rmp_serde::encode::write_named(&mut buf, &out).expect("engine state always serializes");
        buf
    }
}

impl Engine {
    /// The engine state as bytes; `Engine::restore` with the same configuration continues
    /// exactly where this left off.
    pub fn snapshot(&self) -> Vec<u8> {
        self.snapshot_job().encode()
    }

    /// The state to snapshot, taken now and encoded later ([`SnapshotJob::encode`]).
    pub fn snapshot_job(&self) -> SnapshotJob {
        let contacts: Vec<ContactSnap> = self
            .contacts
            .values()
            .map(|c| ContactSnap {
                contact: c.clone(),
                need: self.waiting.classes[c.class as usize].need.clone(),
            })
            .collect();
        SnapshotJob {
            version: SNAPSHOT_VERSION,
            clock: self.clock,
            next_decision: self.next_decision,
            next_contact: self.next_contact,
            timer_seq: self.timer_seq,
            tenants: self.tenants.names().to_vec(),
            skills: self.skills.names().to_vec(),
            languages: self.languages.names().to_vec(),
            teams: self.teams.names().to_vec(),
            agents: self.agents.clone(),
            contacts,
            closed: self.closed.frozen(),
            seen: self.seen.frozen(),
            timers: self.timers.iter().map(|Reverse(t)| *t).collect(),
            queue_arrivals: self.queue_arrivals.clone(),
            last_agent: self
                .last_agents
                .iter()
                .map(|(t, c, a)| (t, c.clone(), a))
                .collect(),
            stats: self.stats.clone(),
            queues: self.qrt.clone(),
            hours_started: self.hours_started,
            fair_offers: self.fair_offers.iter().copied().collect(),
            classes: self
                .waiting
                .classes
                .iter()
                .map(|c| c.need.clone())
                .collect(),
        }
    }

    /// Rebuild an engine from its configuration and a snapshot.
    pub fn restore(config: &Config, bytes: &[u8]) -> Result<Engine, CoreError> {
        // A flat scan first: damaged or hostile bytes must not recurse the decoder into a
        // stack overflow.
        crate::limits::scan_msgpack(bytes, &crate::limits::Limits::STATE)
            .map_err(|v| CoreError::Snapshot(v.message))?;
        let snap: Snap =
            rmp_serde::from_slice(bytes).map_err(|e| CoreError::Snapshot(e.to_string()))?;
        if snap.version != SNAPSHOT_VERSION {
            return Err(CoreError::Snapshot(format!(
                "snapshot version {} cannot be read by this engine (version {SNAPSHOT_VERSION})",
                snap.version
            )));
        }
        let mut e = Engine::build(
            &Config {
                agents: Vec::new(),
                ..config.clone()
            },
            Interner::from_names(snap.tenants),
            Interner::from_names(snap.skills),
            Interner::from_names(snap.languages),
            Interner::from_names(snap.teams),
        )?;
        for agent in snap.agents {
            e.add_agent(agent);
        }
        // Agents added to the configuration after the snapshot join offline.
        let fresh = Engine::new(config)?;
        for a in fresh.agents {
            if e.agent_named(&a.name).is_none() {
                let skills: Vec<(u32, u8)> = a
                    .profile
                    .skills
                    .iter()
                    .map(|(s, p)| (e.skills.intern(fresh.skills.name(*s)), *p))
                    .collect();
                let languages = a
                    .profile
                    .languages
                    .iter()
                    .map(|l| e.languages.intern(fresh.languages.name(*l)))
                    .collect();
                let mut agent = a.clone();
                agent.profile.skills = skills;
                agent.profile.skills.sort_unstable();
                agent.profile.languages = languages;
                agent.profile.team = e.teams.intern(fresh.teams.name(a.profile.team));
                agent.profile.languages.sort_unstable();
                e.add_agent(agent);
            }
        }
        if snap.queues.len() != e.qrt.len() {
            return Err(CoreError::Snapshot(
                "the configuration's queues differ from the snapshot's".into(),
            ));
        }
        // Queue state first: whether a restored contact is parked depends on nothing else.
        e.qrt = snap.queues;
        e.hours_started = snap.hours_started;
        for (t, tenant) in snap.fair_offers {
            if let Some(n) = e.fair_counts.get_mut(tenant as usize) {
                *n += 1;
                e.fair_offers.push_back((t, tenant));
            }
        }
        for need in &snap.classes {
            e.waiting
                .class_for(need, e.pools.groups.iter().map(|g| &g.profile));
        }
        for cs in snap.contacts {
            let mut c = cs.contact;
            let class = e
                .waiting
                .class_for(&cs.need, e.pools.groups.iter().map(|g| &g.profile));
            c.class = class;
            if (c.queue as usize) >= e.queues.len() || (c.tenant as usize) >= e.tenants.len() {
                return Err(CoreError::Snapshot(
                    "a contact refers to a queue the configuration lacks".into(),
                ));
            }
            let (waiting, uid) = (c.state == crate::engine::CState::Waiting, c.uid);
            e.add_contact(c);
            if waiting {
                e.enqueue(uid);
            }
        }
        for (t, tenant, name) in snap.closed {
            e.closed.insert(tenant, &name, t);
        }
        for (t, id) in snap.seen {
            e.seen.insert(0, &id, t);
        }
        for t in snap.timers {
            e.timers.push(Reverse(t));
        }
        e.clock = snap.clock;
        e.next_decision = snap.next_decision;
        e.next_contact = snap.next_contact;
        e.timer_seq = snap.timer_seq;
        e.stats = snap.stats;
        for (t, cust, a) in snap.last_agent {
            if (t as usize) < e.tenants.len() {
                e.last_agents.note(t, cust, a);
            }
        }
        e.last_agents.settle();
        for (i, n) in snap.queue_arrivals.into_iter().enumerate() {
            if let Some(slot) = e.queue_arrivals.get_mut(i) {
                *slot = n;
            }
        }
        Ok(e)
    }
}
