//! Inputs and decisions on the wire, field for field as `python/ccroute/events.py`.
//!
//! Inputs are maps tagged by `type`. msgspec writes the tag first, so the decoder reads the
//! first key and, when it is `type`, hands the rest of the map straight to the variant's
//! struct: no intermediate tree. A map with the tag elsewhere takes a slower, buffered path.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::channels::Channel;
use crate::error::RejectCode;
use crate::names::Name;

pub const SCHEMA_VERSION: i64 = 1;
/// The last millisecond of the year 9999; later times are malformed.
pub const MAX_TS: i64 = 253_402_300_799_999;

fn v1() -> i64 {
    SCHEMA_VERSION
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SkillRequirement {
    pub skill: String,
    #[serde(default = "one")]
    pub min: i64,
}

fn one() -> i64 {
    1
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContactArrived {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub tenant: String,
    pub contact: String,
    pub queue: String,
    pub channel: Channel,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub skills: Vec<SkillRequirement>,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContactRef {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub tenant: String,
    pub contact: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContactUpdated {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub tenant: String,
    pub contact: String,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// offer_accepted and wrap_up_finished.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContactAgent {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub tenant: String,
    pub contact: String,
    pub agent: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OfferRejected {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub tenant: String,
    pub contact: String,
    pub agent: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContactCompleted {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub tenant: String,
    pub contact: String,
    pub agent: String,
    #[serde(default)]
    pub wrap_up_code: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub resolved: Option<bool>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContactTransferred {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub tenant: String,
    pub contact: String,
    pub agent: String,
    #[serde(default)]
    pub to_queue: Option<String>,
    #[serde(default)]
    pub to_agent: Option<String>,
    #[serde(default)]
    pub handoff: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginState {
    Available,
    Paused,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentLoggedIn {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub agent: String,
    #[serde(default = "available")]
    pub state: LoginState,
    #[serde(default)]
    pub reason: Option<String>,
}

fn available() -> LoginState {
    LoginState::Available
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentRef {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub agent: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestedState {
    Available,
    Paused,
    Offline,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentStateChanged {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub agent: String,
    pub state: RequestedState,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentProfileChanged {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub agent: String,
    #[serde(default)]
    pub skills: Option<BTreeMap<String, i64>>,
    #[serde(default)]
    pub languages: Option<Vec<String>>,
    #[serde(default)]
    pub tenants: Option<Vec<String>>,
    #[serde(default)]
    pub capacity: Option<BTreeMap<Channel, i64>>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SurveyAnswered {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub tenant: String,
    pub contact: String,
    #[serde(default)]
    pub csat: Option<i64>,
    #[serde(default)]
    pub nps: Option<i64>,
    #[serde(default)]
    pub ces: Option<i64>,
    #[serde(default)]
    pub solved: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackOutcome {
    Reached,
    NoAnswer,
    Busy,
}

impl CallbackOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackOutcome::Reached => "reached",
            CallbackOutcome::NoAnswer => "no_answer",
            CallbackOutcome::Busy => "busy",
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CallbackResult {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub tenant: String,
    pub contact: String,
    pub agent: String,
    pub outcome: CallbackOutcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyMode {
    Close,
    Reroute,
    Off,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QueueEmergency {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
    pub tenant: String,
    pub queue: String,
    pub mode: EmergencyMode,
    #[serde(default)]
    pub to_queue: Option<String>,
    #[serde(default)]
    pub announcement: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClockTick {
    pub id: String,
    pub ts: i64,
    #[serde(default = "v1")]
    pub v: i64,
}

/// Every input the engine accepts. Serialized as a map tagged by `type` (tag first).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Input {
    ContactArrived(ContactArrived),
    ContactAbandoned(ContactRef),
    ContactUpdated(ContactUpdated),
    OfferAccepted(ContactAgent),
    OfferRejected(OfferRejected),
    ContactCompleted(ContactCompleted),
    ContactTransferred(ContactTransferred),
    WrapUpFinished(ContactAgent),
    AgentLoggedIn(AgentLoggedIn),
    AgentLoggedOut(AgentRef),
    AgentStateChanged(AgentStateChanged),
    AgentProfileChanged(AgentProfileChanged),
    SurveyAnswered(SurveyAnswered),
    CallbackRequested(ContactRef),
    CallbackResult(CallbackResult),
    QueueEmergency(QueueEmergency),
    ClockTick(ClockTick),
}

pub const INPUT_TAGS: [&str; 17] = [
    "contact_transferred",
    "contact_arrived",
    "contact_abandoned",
    "contact_updated",
    "offer_accepted",
    "offer_rejected",
    "contact_completed",
    "wrap_up_finished",
    "agent_logged_in",
    "agent_logged_out",
    "agent_state_changed",
    "agent_profile_changed",
    "survey_answered",
    "callback_requested",
    "callback_result",
    "queue_emergency",
    "clock_tick",
];

impl Input {
    pub fn tag(&self) -> &'static str {
        match self {
            Input::ContactArrived(_) => "contact_arrived",
            Input::ContactAbandoned(_) => "contact_abandoned",
            Input::ContactUpdated(_) => "contact_updated",
            Input::OfferAccepted(_) => "offer_accepted",
            Input::OfferRejected(_) => "offer_rejected",
            Input::ContactCompleted(_) => "contact_completed",
            Input::ContactTransferred(_) => "contact_transferred",
            Input::WrapUpFinished(_) => "wrap_up_finished",
            Input::AgentLoggedIn(_) => "agent_logged_in",
            Input::AgentLoggedOut(_) => "agent_logged_out",
            Input::AgentStateChanged(_) => "agent_state_changed",
            Input::AgentProfileChanged(_) => "agent_profile_changed",
            Input::SurveyAnswered(_) => "survey_answered",
            Input::CallbackRequested(_) => "callback_requested",
            Input::CallbackResult(_) => "callback_result",
            Input::QueueEmergency(_) => "queue_emergency",
            Input::ClockTick(_) => "clock_tick",
        }
    }

    /// (id, ts, v) common to every input.
    pub fn header(&self) -> (&str, i64, i64) {
        macro_rules! h {
            ($e:expr) => {
                (&$e.id[..], $e.ts, $e.v)
            };
        }
        match self {
            Input::ContactArrived(e) => h!(e),
            Input::ContactAbandoned(e) => h!(e),
            Input::ContactUpdated(e) => h!(e),
            Input::OfferAccepted(e) => h!(e),
            Input::OfferRejected(e) => h!(e),
            Input::ContactCompleted(e) => h!(e),
            Input::ContactTransferred(e) => h!(e),
            Input::WrapUpFinished(e) => h!(e),
            Input::AgentLoggedIn(e) => h!(e),
            Input::AgentLoggedOut(e) => h!(e),
            Input::AgentStateChanged(e) => h!(e),
            Input::AgentProfileChanged(e) => h!(e),
            Input::SurveyAnswered(e) => h!(e),
            Input::CallbackRequested(e) => h!(e),
            Input::CallbackResult(e) => h!(e),
            Input::QueueEmergency(e) => h!(e),
            Input::ClockTick(e) => h!(e),
        }
    }

    /// The tenant named by the input, if it names one.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Input::ContactArrived(e) => Some(&e.tenant),
            Input::ContactAbandoned(e) => Some(&e.tenant),
            Input::ContactUpdated(e) => Some(&e.tenant),
            Input::OfferAccepted(e) => Some(&e.tenant),
            Input::OfferRejected(e) => Some(&e.tenant),
            Input::ContactCompleted(e) => Some(&e.tenant),
            Input::ContactTransferred(e) => Some(&e.tenant),
            Input::WrapUpFinished(e) => Some(&e.tenant),
            Input::SurveyAnswered(e) => Some(&e.tenant),
            Input::CallbackRequested(e) => Some(&e.tenant),
            Input::CallbackResult(e) => Some(&e.tenant),
            Input::QueueEmergency(e) => Some(&e.tenant),
            _ => None,
        }
    }

    /// Value checks the type system does not make (ranges and lengths), mirroring the
    /// `Meta` constraints of the msgspec schema so both sides accept the same inputs.
    pub fn validate(&self) -> Result<(), String> {
        let (id, ts, _) = self.header();
        check_id("id", id)?;
        range(ts, 0, MAX_TS, "ts")?;
        range(self.header().2, 0, 65535, "v")?;
        let prio = |p: i64, path: &str| -> Result<(), String> {
            if !(-1000..=1000).contains(&p) {
                return Err(format!(
                    "Expected `int` between -1000 and 1000 - at `$.{path}`"
                ));
            }
            Ok(())
        };
        match self {
            Input::ContactArrived(e) => {
                check_id("tenant", &e.tenant)?;
                check_id("contact", &e.contact)?;
                check_id("queue", &e.queue)?;
                prio(e.priority, "priority")?;
                for (i, s) in e.skills.iter().enumerate() {
                    check_id(&format!("skills[{i}].skill"), &s.skill)?;
                    range(s.min, 1, 10, &format!("skills[{i}].min"))?;
                }
            }
            Input::ContactAbandoned(e) | Input::CallbackRequested(e) => {
                check_id("tenant", &e.tenant)?;
                check_id("contact", &e.contact)?;
            }
            Input::CallbackResult(e) => {
                check_id("tenant", &e.tenant)?;
                check_id("contact", &e.contact)?;
                check_id("agent", &e.agent)?;
            }
            Input::QueueEmergency(e) => {
                check_id("tenant", &e.tenant)?;
                check_id("queue", &e.queue)?;
                if let Some(q) = &e.to_queue {
                    check_id("to_queue", q)?;
                }
            }
            Input::ContactUpdated(e) => {
                check_id("tenant", &e.tenant)?;
                check_id("contact", &e.contact)?;
                if let Some(p) = e.priority {
                    prio(p, "priority")?;
                }
            }
            Input::OfferAccepted(e) | Input::WrapUpFinished(e) => {
                check_id("tenant", &e.tenant)?;
                check_id("contact", &e.contact)?;
                check_id("agent", &e.agent)?;
            }
            Input::OfferRejected(e) => {
                check_id("tenant", &e.tenant)?;
                check_id("contact", &e.contact)?;
                check_id("agent", &e.agent)?;
            }
            Input::ContactCompleted(e) => {
                check_id("tenant", &e.tenant)?;
                check_id("contact", &e.contact)?;
                check_id("agent", &e.agent)?;
            }
            Input::ContactTransferred(e) => {
                check_id("tenant", &e.tenant)?;
                check_id("contact", &e.contact)?;
                check_id("agent", &e.agent)?;
                for (path, v) in [
                    ("to_queue", &e.to_queue),
                    ("to_agent", &e.to_agent),
                    ("handoff", &e.handoff),
                ] {
                    if let Some(v) = v {
                        check_id(path, v)?;
                    }
                }
            }
            Input::AgentLoggedIn(e) => check_id("agent", &e.agent)?,
            Input::AgentLoggedOut(e) => check_id("agent", &e.agent)?,
            Input::AgentStateChanged(e) => check_id("agent", &e.agent)?,
            Input::AgentProfileChanged(e) => {
                check_id("agent", &e.agent)?;
                if let Some(skills) = &e.skills {
                    for (k, p) in skills {
                        range(*p, 1, 10, &format!("skills.{k}"))?;
                    }
                }
                if let Some(cap) = &e.capacity {
                    for (ch, n) in cap {
                        range(*n, 0, 100, &format!("capacity.{}", ch.as_str()))?;
                    }
                }
            }
            Input::SurveyAnswered(e) => {
                check_id("tenant", &e.tenant)?;
                check_id("contact", &e.contact)?;
                if let Some(x) = e.csat {
                    range(x, 1, 5, "csat")?;
                }
                if let Some(x) = e.nps {
                    range(x, 0, 10, "nps")?;
                }
                if let Some(x) = e.ces {
                    range(x, 1, 7, "ces")?;
                }
            }
            Input::ClockTick(_) => {}
        }
        Ok(())
    }
}

fn check_id(path: &str, s: &str) -> Result<(), String> {
    // A char takes at least one byte: up to 200 bytes there is no need to count chars.
    let n = if s.len() <= 200 {
        s.len()
    } else {
        s.chars().count()
    };
    if n == 0 {
        return Err(format!("Expected `str` of length >= 1 - at `$.{path}`"));
    }
    if n > 200 {
        return Err(format!("Expected `str` of length <= 200 - at `$.{path}`"));
    }
    Ok(())
}

fn range(x: i64, lo: i64, hi: i64, path: &str) -> Result<(), String> {
    if x < lo || x > hi {
        return Err(format!(
            "Expected `int` between {lo} and {hi} - at `$.{path}`, got {x}"
        ));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(InputVisitor)
    }
}

struct InputVisitor;

fn variant<'de, T, A>(map: A) -> Result<T, A::Error>
where
    T: Deserialize<'de>,
    A: MapAccess<'de>,
{
    T::deserialize(de::value::MapAccessDeserializer::new(map))
}

fn from_tag<'de, A: MapAccess<'de>>(tag: &str, map: A) -> Result<Input, A::Error> {
    Ok(match tag {
        "contact_arrived" => Input::ContactArrived(variant(map)?),
        "contact_abandoned" => Input::ContactAbandoned(variant(map)?),
        "contact_updated" => Input::ContactUpdated(variant(map)?),
        "offer_accepted" => Input::OfferAccepted(variant(map)?),
        "offer_rejected" => Input::OfferRejected(variant(map)?),
        "contact_completed" => Input::ContactCompleted(variant(map)?),
        "contact_transferred" => Input::ContactTransferred(variant(map)?),
        "wrap_up_finished" => Input::WrapUpFinished(variant(map)?),
        "agent_logged_in" => Input::AgentLoggedIn(variant(map)?),
        "agent_logged_out" => Input::AgentLoggedOut(variant(map)?),
        "agent_state_changed" => Input::AgentStateChanged(variant(map)?),
        "agent_profile_changed" => Input::AgentProfileChanged(variant(map)?),
        "survey_answered" => Input::SurveyAnswered(variant(map)?),
        "callback_requested" => Input::CallbackRequested(variant(map)?),
        "callback_result" => Input::CallbackResult(variant(map)?),
        "queue_emergency" => Input::QueueEmergency(variant(map)?),
        "clock_tick" => Input::ClockTick(variant(map)?),
        other => {
            return Err(de::Error::custom(format!(
                "Invalid value '{other}' - at `$.type`; expected one of the input types"
            )))
        }
    })
}

impl<'de> Visitor<'de> for InputVisitor {
    type Value = Input;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an input event: a map with a `type` field")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Input, A::Error> {
        let first: Option<std::borrow::Cow<'de, str>> = map.next_key()?;
        let Some(first) = first else {
            return Err(de::Error::custom("Object missing required field `type`"));
        };
        if first == "type" {
            let tag: std::borrow::Cow<'de, str> = map.next_value()?;
            return from_tag(&tag, map);
        }
        // Slow path: the tag is not first. Buffer the map, then decode from the tree.
        let mut obj = serde_json::Map::new();
        let v: serde_json::Value = map.next_value()?;
        obj.insert(first.into_owned(), v);
        while let Some(k) = map.next_key::<String>()? {
            let v: serde_json::Value = map.next_value()?;
            obj.insert(k, v);
        }
        let tag = match obj.remove("type") {
            Some(serde_json::Value::String(s)) => s,
            Some(_) => return Err(de::Error::custom("Expected `str` - at `$.type`")),
            None => return Err(de::Error::custom("Object missing required field `type`")),
        };
        // The buffered entries go through the same tag dispatch as the fast path.
        let rest = de::value::MapDeserializer::<_, serde_json::Error>::new(obj.into_iter());
        from_tag(&tag, rest).map_err(de::Error::custom)
    }
}

/// Only the `id` and `type` of a payload that failed to decode, for the rejection.
#[derive(Deserialize, Default)]
pub struct Salvage {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(flatten)]
    _rest: BTreeMap<String, IgnoredAny>,
}

// ----------------------------------------------------------------------------- decisions

/// `d<N>`: decision ids come from one engine-wide counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecisionId(pub u64);

impl Serialize for DecisionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 24];
        buf[0] = b'd';
        let mut n = self.0;
        let mut digits = [0u8; 20];
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            buf[1 + i] = digits[len - 1 - i];
        }
        // Only ASCII digits were written.
        s.serialize_str(std::str::from_utf8(&buf[..1 + len]).unwrap_or("d"))
    }
}

/// `<contact>#<attempt>`, written out only when the decision is encoded: most offers are
/// encoded once, and building the string up front cost an allocation per offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferId {
    pub contact: Name,
    pub attempt: u32,
}

impl std::fmt::Display for OfferId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.contact, self.attempt)
    }
}

impl Serialize for OfferId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.contact.as_bytes();
        let mut buf = [0u8; 96];
        if c.len() + 11 > buf.len() {
            return s.serialize_str(&self.to_string());
        }
        buf[..c.len()].copy_from_slice(c);
        buf[c.len()] = b'#';
        let mut digits = [0u8; 10];
        let mut n = self.attempt;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let start = c.len() + 1;
        for i in 0..len {
            buf[start + i] = digits[len - 1 - i];
        }
        // A str followed by '#' and ASCII digits is still UTF-8.
        s.serialize_str(std::str::from_utf8(&buf[..start + len]).unwrap_or_default())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    pub agent: Name,
    pub score: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OfferReason {
    pub strategy: &'static str,
    pub score: i64,
    pub considered: u64,
    pub runners_up: Vec<Candidate>,
}

/// Why a contact waits with nobody able to serve it (`contact_queued.nearest`): the
/// logged-in agent who misses the fewest of its needs, and what that agent misses.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Nearest {
    /// None when nobody is logged in.
    pub agent: Option<Name>,
    /// `kind:value` entries (`language:sv`, `skill:billing>=5`, ...), at most
    /// [`NEAREST_MISSING_MAX`].
    pub missing: Vec<String>,
}

/// The most `missing` entries a `nearest` lists: a decision stays small whatever the
/// contact asks for.
pub const NEAREST_MISSING_MAX: usize = 8;

/// A decision field added in a revision and left out of the encoding when absent: old
/// consumers never meet it, and a decision without it keeps its bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Omitted<T>(pub Option<T>);

impl<T: Serialize> Serialize for Omitted<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(v) => v.serialize(s),
            None => s.serialize_none(),
        }
    }
}

// Whether a field is written, chosen by its type at compile time ("autoref
// specialization"): `(&FieldRef(f)).omit()` finds `OmitIfAbsent` for an `Omitted` field and
// falls back to `NeverOmit` (one reference further) for every other type, so the check
// costs nothing for the fields that are always written.
struct FieldRef<'a, T>(&'a T);

trait OmitIfAbsent {
    fn omit(&self) -> bool;
}

impl<T> OmitIfAbsent for FieldRef<'_, Omitted<T>> {
    fn omit(&self) -> bool {
        self.0 .0.is_none()
    }
}

trait NeverOmit {
    fn omit(&self) -> bool {
        false
    }
}

impl<T> NeverOmit for &FieldRef<'_, T> {}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Head {
    pub id: DecisionId,
    pub ts: i64,
    pub cause: Name,
}

/// Every decision the engine makes. Serialized as a map tagged by `type`, with the
/// header fields (`id`, `ts`, `cause`) first.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub head: Head,
    pub body: Body,
}

macro_rules! count {
    () => { 0usize };
    ($head:ident $($tail:ident)*) => { 1usize + count!($($tail)*) };
}

macro_rules! decisions {
    ($( $variant:ident = $tag:literal { $($field:ident : $ty:ty),* $(,)? } )*) => {
        /// The body of a decision: its type and the fields of that type.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Body {
            $( $variant { $($field: $ty),* } ),*
        }

        impl Body {
            pub fn tag(&self) -> &'static str {
                match self { $( Body::$variant { .. } => $tag ),* }
            }

            fn field_count(&self) -> usize {
                match self {
                    $( Body::$variant { $($field),* } => {
                        count!($($field)*) $( - (&FieldRef($field)).omit() as usize )*
                    } ),*
                }
            }

            fn write_fields<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
                match self {
                    $( Body::$variant { $($field),* } => {
                        $( if !(&FieldRef($field)).omit() {
                            m.serialize_entry(stringify!($field), $field)?;
                        } )*
                    } ),*
                }
                Ok(())
            }
        }
    };
}

decisions! {
    OfferMade = "offer_made" {
        tenant: Name,
        contact: Name,
        queue: Name,
        channel: Channel,
        agent: Name,
        offer: OfferId,
        attempt: u32,
        expires_at: i64,
        reason: OfferReason,
    }
    OfferExpired = "offer_expired" {
        tenant: Name,
        contact: Name,
        agent: Name,
        offer: OfferId,
        missed_in_row: u32,
    }
    OfferRevoked = "offer_revoked" {
        tenant: Name,
        contact: Name,
        agent: Name,
        offer: OfferId,
        reason: &'static str,
    }
    ContactQueued = "contact_queued" {
        tenant: Name,
        contact: Name,
        queue: Name,
        channel: Channel,
        priority: i64,
        waiting: u64,
        requeued: bool,
        nearest: Omitted<Box<Nearest>>,
    }
    ContactAssigned = "contact_assigned" {
        tenant: Name,
        contact: Name,
        queue: Name,
        channel: Channel,
        agent: Name,
        wait_ms: i64,
    }
    WrapUpStarted = "wrap_up_started" {
        tenant: Name,
        contact: Name,
        agent: Name,
        ends_by: Option<i64>,
    }
    WrapUpEnded = "wrap_up_ended" {
        tenant: Name,
        contact: Name,
        agent: Name,
        by: &'static str,
    }
    ContactClosed = "contact_closed" {
        tenant: Name,
        contact: Name,
        queue: Name,
        channel: Channel,
        outcome: &'static str,
        agent: Option<Name>,
        reason: Option<&'static str>,
        announcement: Option<Name>,
    }
    AgentStateSet = "agent_state_set" {
        agent: Name,
        state: &'static str,
        reason: Option<Name>,
        by: &'static str,
    }
    WorkInterrupted = "work_interrupted" {
        tenant: Name,
        contact: Name,
        agent: Name,
        by_contact: Name,
    }
    ContactHandedOver = "contact_handed_over" {
        tenant: Name,
        contact: Name,
        from_agent: Name,
        queue: Name,
        to_agent: Option<Name>,
        handoff: Option<String>,
    }
    ContactStepReached = "contact_step_reached" {
        tenant: Name,
        contact: Name,
        queue: Name,
        step: u32,
        partner: bool,
        reason: &'static str,
    }
    WorkResumed = "work_resumed" {
        tenant: Name,
        contact: Name,
        agent: Name,
    }
    QueueStatus = "queue_status" {
        tenant: Name,
        queue: Name,
        open: bool,
        reason: &'static str,
        to_queue: Option<Name>,
    }
    ContactMoved = "contact_moved" {
        tenant: Name,
        contact: Name,
        from_queue: Name,
        queue: Name,
        channel: Channel,
        reason: &'static str,
    }
    CallbackScheduled = "callback_scheduled" {
        tenant: Name,
        contact: Name,
        queue: Name,
        reason: &'static str,
        attempt: u32,
        not_before: i64,
    }
    CallbackAttempted = "callback_attempted" {
        tenant: Name,
        contact: Name,
        agent: Name,
        attempt: u32,
        outcome: &'static str,
    }
    InputRejected = "input_rejected" {
        event_type: Option<String>,
        code: RejectCode,
        message: String,
        tenant: Option<Name>,
        limit: Omitted<&'static str>,
    }
}

impl Serialize for Decision {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4 + self.body.field_count()))?;
        m.serialize_entry("type", self.body.tag())?;
        m.serialize_entry("id", &self.head.id)?;
        m.serialize_entry("ts", &self.head.ts)?;
        m.serialize_entry("cause", &self.head.cause)?;
        self.body.write_fields(&mut m)?;
        m.end()
    }
}
