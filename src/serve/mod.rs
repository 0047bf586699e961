//! `cisgate serve`: the index behind the Local Module's HTTP API, so that cash software
//! and self-checkout clusters can use it unchanged.
//!
//! The service answers the LM's v2 endpoints (and the v1 forms), a native streaming bulk
//! endpoint, and `/metrics`. It picks up generations published by `cisgate apply` or
//! `compact` without a restart: each request reads one generation from the [`LiveIndex`](crate::live::LiveIndex),
//! so no request sees two. Sales reach the durable journal before `201`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use cisgate::live::{LiveIndex, LiveOptions};
//! use cisgate::serve::{ServeConfig, Server};
//!
//! let live = Arc::new(LiveIndex::open("index".as_ref(), LiveOptions::default())?);
//! let server = Server::bind(ServeConfig::default(), live).await?;
//! println!("listening on {}", server.local_addr());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

pub mod auth;
mod config;
mod conn;
#[cfg(feature = "distribute")]
pub mod console;
mod error;
#[cfg(feature = "distribute")]
mod follow;
mod gate;
mod lm;
mod metrics;
mod native;
mod nodes;
mod page;
mod refresh;
mod router;
mod server;
mod sold;
mod state;

pub use auth::{BasicUser, Credentials};
pub use config::{DEFAULT_BODY_LIMIT, DEFAULT_LISTEN, MIN_REMOTE_PASSWORD, NodeToken, ServeConfig};
pub use error::{LmError, ServeError, codes};
pub use lm::{MAX_CODES_PER_REQUEST, decode_cis};
pub use server::Server;
