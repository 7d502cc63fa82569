//! The engine configuration as the core reads it. Python (`ccroute.config`) validates the
//! TOML and names file and key in its errors; here we only read the validated shape and
//! ignore fields the core does not use (names, time zones, service-level targets).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::calendar::Calendar;
use crate::channels::Channel;
use crate::error::CoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    LongestIdle,
    BestProficiency,
    MostSpareCapacity,
    RoundRobin,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest_idle",
            Strategy::BestProficiency => "best_proficiency",
            Strategy::MostSpareCapacity => "most_spare_capacity",
            Strategy::RoundRobin => "round_robin",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct Routing {
    pub strategy: Strategy,
    pub offer_timeout_seconds: i64,
    pub max_missed_offers: u32,
    pub aging_seconds_per_point: i64,
    pub decline_cooldown_seconds: i64,
    pub dedupe_window_hours: i64,
    pub closed_contact_retention_hours: i64,
    /// The most input ids the de-duplication memory holds (oldest forgotten first).
    pub dedupe_max_ids: u64,
    /// The most closed contacts remembered (oldest forgotten first).
    pub closed_contact_max: u64,
    pub fair_share_window_seconds: i64,
    pub max_clock_jump_days: i64,
    /// Most agents the engine holds; `agent_profile_changed` creates no agent past it.
    pub max_agents: i64,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            strategy: Strategy::LongestIdle,
            offer_timeout_seconds: 20,
            max_missed_offers: 2,
            aging_seconds_per_point: 60,
            decline_cooldown_seconds: 30,
            dedupe_window_hours: 24,
            closed_contact_retention_hours: 168,
            dedupe_max_ids: 1_000_000,
            closed_contact_max: 1_000_000,
            fair_share_window_seconds: 3600,
            max_clock_jump_days: 31,
            max_agents: crate::limits::DEFAULT_MAX_AGENTS,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct TenantCfg {
    pub id: String,
    #[serde(default = "helsinki")]
    pub timezone: String,
    #[serde(default)]
    pub holidays: Calendar,
    #[serde(default)]
    pub fair_share_percent: u64,
}

fn helsinki() -> String {
    "Europe/Helsinki".to_string()
}

/// What a policy does with a contact (docs/routing.md, 4b). `keep` and `serve` are only
/// valid where the configuration allows them (validated in Python).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    #[default]
    Close,
    Callback,
    Ticket,
    Partner,
    Keep,
    Serve,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct HolidayCfg {
    pub date: String,
    #[serde(default)]
    pub hours: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct HoursCfg {
    pub mon: Vec<String>,
    pub tue: Vec<String>,
    pub wed: Vec<String>,
    pub thu: Vec<String>,
    pub fri: Vec<String>,
    pub sat: Vec<String>,
    pub sun: Vec<String>,
    pub calendar: Option<Calendar>,
    pub holidays: Vec<HolidayCfg>,
    pub closed: Vec<String>,
    pub outside: Action,
    #[serde(default = "serve")]
    pub at_closing: Action,
}

fn serve() -> Action {
    Action::Serve
}

#[derive(Clone, Debug, Deserialize)]
pub struct BorrowCfg {
    pub team: String,
    pub while_queue: String,
    pub service_level_at_least: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ServiceLevelCfg {
    pub threshold_seconds: i64,
    pub target_percent: f64,
}

impl Default for ServiceLevelCfg {
    fn default() -> Self {
        ServiceLevelCfg {
            threshold_seconds: 20,
            target_percent: 80.0,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct StepCfg {
    pub after_seconds: i64,
    #[serde(default)]
    pub skills: Option<BTreeMap<String, u8>>,
    #[serde(default)]
    pub language: Option<bool>,
    #[serde(default)]
    pub partner: Option<bool>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PriorityRuleCfg {
    #[serde(default)]
    pub attribute: Option<String>,
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    pub add: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerMode {
    #[default]
    Always,
    Overflow,
}

#[derive(Clone, Debug, Deserialize)]
pub struct QueueCfg {
    pub id: String,
    pub tenant: String,
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub strategy: Option<Strategy>,
    #[serde(default)]
    pub offer_timeout_seconds: Option<i64>,
    #[serde(default)]
    pub wrap_up_seconds: i64,
    #[serde(default)]
    pub interruptible: bool,
    #[serde(default)]
    pub steps: Vec<StepCfg>,
    #[serde(default)]
    pub continuity_seconds: i64,
    #[serde(default)]
    pub overflow_when_waiting_over: Option<u64>,
    #[serde(default)]
    pub partner: PartnerMode,
    #[serde(default)]
    pub partner_share_percent: u64,
    #[serde(default)]
    pub priority_rules: Vec<PriorityRuleCfg>,
    #[serde(default)]
    pub service_level: ServiceLevelCfg,
    #[serde(default)]
    pub hours: Option<HoursCfg>,
    #[serde(default)]
    pub announcement: Option<String>,
    #[serde(default)]
    pub ticket_queue: Option<String>,
    #[serde(default)]
    pub max_waiting: Option<u64>,
    #[serde(default)]
    pub max_wait_seconds: Option<i64>,
    #[serde(default)]
    pub when_full: Action,
    #[serde(default)]
    pub overflow_when_expected_wait_over: Option<i64>,
    #[serde(default)]
    pub overflow_when_service_level_under: bool,
    #[serde(default = "three")]
    pub callback_attempts: u32,
    #[serde(default = "ten_minutes")]
    pub callback_retry_seconds: i64,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub borrow: Vec<BorrowCfg>,
}

fn three() -> u32 {
    3
}

fn ten_minutes() -> i64 {
    600
}

#[derive(Clone, Debug, Deserialize)]
pub struct AgentCfg {
    pub id: String,
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default = "all_tenants")]
    pub tenants: Vec<String>,
    #[serde(default)]
    pub capacity: BTreeMap<Channel, u16>,
    /// The outsourcing partner this agent works for; `None` for the provider's own staff.
    #[serde(default)]
    pub partner: Option<String>,
    /// The agent's team: queues with `teams` take only those teams (and borrowed ones).
    #[serde(default)]
    pub team: String,
}

fn all_tenants() -> Vec<String> {
    vec!["*".to_string()]
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub routing: Routing,
    #[serde(default)]
    pub tenants: Vec<TenantCfg>,
    #[serde(default)]
    pub queues: Vec<QueueCfg>,
    #[serde(default)]
    pub agents: Vec<AgentCfg>,
}

impl Config {
    /// Read the MessagePack form written by `ccroute.config.encode_config`.
    pub fn from_msgpack(bytes: &[u8]) -> Result<Config, CoreError> {
        crate::limits::scan_msgpack(bytes, &crate::limits::Limits::STATE)
            .map_err(|v| CoreError::Config(v.message))?;
        let cfg: Config =
            rmp_serde::from_slice(bytes).map_err(|e| CoreError::Config(e.to_string()))?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Read a JSON configuration (used by Rust tests and benches).
    pub fn from_json(text: &str) -> Result<Config, CoreError> {
        crate::limits::scan_json(text.as_bytes(), &crate::limits::Limits::STATE)
            .map_err(|v| CoreError::Config(v.message))?;
        let cfg: Config =
            serde_json::from_str(text).map_err(|e| CoreError::Config(e.to_string()))?;
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), CoreError> {
        if self.agents.len() as i64 > self.routing.max_agents {
            return Err(CoreError::Config(format!(
                "{} agents are configured; routing.max_agents is {}",
                self.agents.len(),
                self.routing.max_agents
            )));
        }
        for q in &self.queues {
            if !self.tenants.iter().any(|t| t.id == q.tenant) {
                return Err(CoreError::Config(format!(
                    "queue {:?} names unknown tenant {:?}",
                    q.id, q.tenant
                )));
            }
        }
        Ok(())
    }
}
