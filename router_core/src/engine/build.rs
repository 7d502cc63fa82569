//! Building an engine from a configuration: queues, their steps and references, agents.

use super::*;

impl Engine {
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
            closed: RecentKeys::with_limit(config.routing.closed_contact_max),
            seen: RecentKeys::with_limit(config.routing.dedupe_max_ids),
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
            logged_in: Vec::new(),
            logged_in_total: 0,
            roster: 0,
            nearest_cache: FxHashMap::default(),
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
}
