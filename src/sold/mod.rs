//! One sold list per store: embedded nodes (tills and kiosks that hold the index in
//! process) share the store's `serve` as their sold authority, as every till shares the
//! Local Module.
//!
//! - A node's sale or return goes to the authority first and is durable there before the
//!   node answers ([`crate::live::LiveIndex::register`], [`SaleMode::Shared`]).
//! - Every node follows the store's sold feed and keeps a replica in its own journal, so
//!   checks stay in process and allocation-free ([`StoreFollower`]); a sale at one till is
//!   refused at the others within a second while the network is up.
//! - With the authority unreachable a node sells on its own journal and queues the sale
//!   ([`SaleMode::Offline`]); the queue is forwarded when the authority is back. A sale's
//!   time is its identity, so a retry after a lost answer is recognised, never doubled.
//! - A code sold at two tills during a partition keeps both sales: the store's journal has
//!   the first, the second is reported as a conflict (status page, metrics); a return
//!   un-sells it everywhere.
//!
//! The wire format is in [`wire`]; the store's side is `serve`'s (feature `serve`).

mod apply;
pub(crate) mod client;
mod follow;
pub(crate) mod queue;
pub mod wire;

pub use crate::live::{Registered, SaleMode};
pub use apply::Conflict;
#[cfg(feature = "serve")]
pub(crate) use apply::register;
pub use client::{ClientError, SoldAuthority};
pub use follow::{FollowState, StoreFollower, sync_now};
