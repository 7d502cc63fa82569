//! Errors as plain enums. The binding turns them into Python exceptions at the boundary;
//! rejections of inputs never become exceptions, they become `input_rejected` decisions.

use std::fmt;

use serde::Serialize;

use crate::names::Name;

/// Why an input was not applied. Mirrors `RejectCode` in `python/ccroute/events.py`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    Malformed,
    UnsupportedVersion,
    DuplicateEvent,
    UnknownTenant,
    UnknownQueue,
    TenantMismatch,
    ChannelNotServed,
    UnknownContact,
    ContactExists,
    UnknownAgent,
    WrongAgent,
    InvalidState,
    AgentHasWork,
    InvalidTarget,
    AgentUnavailable,
    ClockJump,
    TooManyAgents,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    pub code: RejectCode,
    pub message: String,
    pub tenant: Option<Name>,
    /// The documented limit the input went over (`max_depth`, `max_agents`, ...), if any.
    pub limit: Option<&'static str>,
}

impl Rejection {
    pub fn new(code: RejectCode, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
            tenant: None,
            limit: None,
        }
    }

    /// The rejection names the limit the input went over.
    pub fn over(mut self, limit: &'static str) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// Failures of building or restoring an engine (not of applying inputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// The configuration bytes do not decode or refer to something undefined.
    Config(String),
    /// The snapshot bytes do not decode or were written by another schema version.
    Snapshot(String),
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::Config(m) => write!(f, "configuration: {m}"),
            CoreError::Snapshot(m) => write!(f, "snapshot: {m}"),
        }
    }
}

impl std::error::Error for CoreError {}
