//! The online check first, the offline index within the budget.
//!
//! [`OnlineChecker`] asks True API `codes/check` for each scanned code, on the fastest
//! healthy host, retrying and switching hosts inside one time budget (1.5 s by default);
//! when the budget runs out or no host answers, the [`LiveIndex`](crate::live::LiveIndex) answers. Every call returns
//! an [`OnlineVerdict`] saying which path answered and why online did not, the decision in
//! one vocabulary ([`Denial`]), the receipt marker and the fiscal tag 1265 value.
//!
//! After online checks have failed without a break for two hours (configurable), the
//! adapter stops spending the budget: scans are answered offline at once, while a
//! background probe asks the hosts' health checks and switches back when one answers.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use cisgate::live::{LiveIndex, LiveOptions};
//! use cisgate::online::{OnlineChecker, OnlineConfig};
//!
//! let offline = Arc::new(LiveIndex::open("index".as_ref(), LiveOptions::default())?);
//! let config = OnlineConfig::from_file("online.json".as_ref())?;
//! let checker = OnlineChecker::builder(config, offline).build()?;
//! let verdict = checker.check("0104600439931256215abcdEFGH1234\u{1d}93dGVz", &Default::default());
//! println!("{:?} by {:?}, tag 1265: {}", verdict.decision, verdict.answered_by, verdict.tag_1265);
//! # Ok(()) }
//! ```

mod answer;
mod api;
mod checker;
mod config;
pub mod decide;
mod error;
mod hosts;

pub use answer::{
    AnsweredBy, Attempt, FailureKind, OnlineAnswer, OnlineFailure, OnlineVerdict, ReceiptMarker,
    SaleDecision,
};
pub use checker::{OnlineChecker, OnlineCheckerBuilder};
pub use error::OnlineError;

pub use api::{AttemptError, CheckResponse, TrueApiClient};
pub use config::{Clock, ManualClock, OnlineConfig, SystemClock};
pub use decide::Denial;
pub use hosts::{HostPool, HostStatus};
