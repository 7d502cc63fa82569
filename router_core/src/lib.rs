//! ccroute's routing core: skills matching, queue priority and the contact/agent state
//! machine, free of Python so `cargo test` and `cargo bench` run on it alone.
//!
//! The rules are those of `docs/routing.md`. [`Engine`] applies inputs and returns
//! decisions; [`codec`] moves them as MessagePack or JSON bytes.

pub mod agents;
pub mod calendar;
pub mod channels;
pub mod codec;
pub mod config;
pub mod engine;
pub mod error;
pub mod events;
pub mod hours;
pub mod keyed_slab;
pub mod last_agents;
pub mod limits;
pub mod names;
pub mod ordered_keys;
pub mod pools;
pub mod print_table;
pub mod recent;
pub mod snapshot;
pub mod waiting;
pub mod workload;

pub use config::Config;
pub use engine::Engine;
pub use error::{CoreError, RejectCode};
pub use events::{Decision, Input};
