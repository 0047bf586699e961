//! The online-first check through the C ABI: True API within the budget, then the index.
//! Built with the `online` feature; without it every call answers
//! `CISGATE_ERR_UNSUPPORTED` (the header is the same either way).

use std::ffi::c_char;

use super::{cisgate_error, cisgate_index, cisgate_verdict, guard};

/// Answered by True API.
pub const CISGATE_ANSWERED_ONLINE: i32 = 0;
/// Answered by the offline index (`online_failure` says why online did not).
pub const CISGATE_ANSWERED_OFFLINE: i32 = 1;

/// An online-first checker over an open index; safe to share across threads. Free it with
/// `cisgate_online_free` before closing its index.
pub struct cisgate_online {
    #[cfg(feature = "online")]
    checker: cisgate::online::OnlineChecker,
}

/// The answer of an online-first check. Caller-owned; every field is written.
#[repr(C)]
pub struct cisgate_online_verdict {
    /// The decision: `CISGATE_STATUS_ALLOWED` or `CISGATE_STATUS_BLOCKED` (denied, by either
    /// path), `CISGATE_STATUS_REFUSED` when offline data was too old; the reasons, КИ and
    /// GTIN of the offline check when the index answered.
    pub verdict: cisgate_verdict,
    /// `CISGATE_ANSWERED_ONLINE` or `CISGATE_ANSWERED_OFFLINE`.
    pub answered_by: i32,
    /// The receipt marker: `[M+]` (confirmed online), `[M]` (sold without online
    /// confirmation), or empty when denied; NUL-terminated.
    pub marker: [c_char; 8],
    /// The value of fiscal tag 1265, NUL-terminated.
    pub tag_1265: [c_char; 256],
    /// Why online did not decide (`timeout`, `no_hosts`, ...), empty when it did.
    pub online_failure: [c_char; 32],
    /// The denial to show (CRPT's order: `invalid_code`, `not_found`, ...), empty when
    /// allowed.
    pub denial: [c_char; 40],
    /// Milliseconds the call took.
    pub elapsed_ms: f64,
}

#[cfg(feature = "online")]
mod imp {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::{
        CISGATE_ERR_CONFIG, CISGATE_STATUS_ALLOWED, CISGATE_STATUS_BLOCKED, CISGATE_STATUS_REFUSED,
        fill, index_ref, out_mut, price, refused, text, write_verdict,
    };
    use cisgate::online::{AnsweredBy, Denial, OnlineChecker, OnlineConfig, SaleDecision};

    pub(super) fn new(
        index: *const cisgate_index,
        config: *const u8,
        config_len: usize,
        out: *mut *mut cisgate_online,
    ) -> Result<(), crate::Failure> {
        let out = out_mut(out, "out")?;
        *out = std::ptr::null_mut();
        let index = index_ref(index)?;
        let config = text(config, config_len, "config", 1 << 20)?;
        let config_error = |e: cisgate::online::OnlineError| (CISGATE_ERR_CONFIG, e.to_string());
        let parsed = if config.trim_start().starts_with('{') {
            OnlineConfig::from_json(config, Path::new("(configuration text)"))
        } else {
            OnlineConfig::from_file(Path::new(config))
        }
        .map_err(config_error)?;
        let checker = OnlineChecker::builder(parsed, Arc::clone(&index.live))
            .build()
            .map_err(config_error)?;
        *out = Box::into_raw(Box::new(cisgate_online { checker }));
        Ok(())
    }

    pub(super) fn check(
        online: *const cisgate_online,
        code: *const u8,
        code_len: usize,
        price_kopecks: i64,
        out: *mut cisgate_online_verdict,
    ) -> Result<(), crate::Failure> {
        // SAFETY: `online` is null or a live handle from `cisgate_online_new`.
        let online = unsafe { online.as_ref() }
            .ok_or_else(|| crate::argument("the online handle is null"))?;
        let out = out_mut(out, "out")?;
        refused(&mut out.verdict);
        let input = text(code, code_len, "code", crate::CISGATE_MAX_CODE_LEN)?;
        let v = online.checker.check(input, &price(price_kopecks)?);
        match &v.offline {
            Some(offline) => write_verdict(&mut out.verdict, offline),
            None => {
                if let Ok(parsed) = cisgate::code::parse(input)
                    && let Some(code) = parsed.single()
                {
                    fill(&mut out.verdict.ki, &code.ki);
                    fill(&mut out.verdict.gtin, &code.gtin);
                }
            }
        }
        out.verdict.status = match (v.decision, v.denials.first()) {
            (SaleDecision::Allowed, _) => CISGATE_STATUS_ALLOWED,
            (SaleDecision::Denied, Some(Denial::OfflineUnavailable)) => CISGATE_STATUS_REFUSED,
            (SaleDecision::Denied, _) => CISGATE_STATUS_BLOCKED,
        };
        out.answered_by = match v.answered_by {
            AnsweredBy::Online => CISGATE_ANSWERED_ONLINE,
            AnsweredBy::Offline => CISGATE_ANSWERED_OFFLINE,
        };
        fill(&mut out.marker, v.marker.map_or("", |m| m.as_str()));
        fill(&mut out.tag_1265, &v.tag_1265);
        let name = |value: serde_json::Value| value.as_str().unwrap_or_default().to_string();
        let failure = v
            .online_failure
            .as_ref()
            .and_then(|f| serde_json::to_value(f.kind).ok())
            .map(name)
            .unwrap_or_default();
        fill(&mut out.online_failure, &failure);
        let denial = v
            .denials
            .first()
            .and_then(|d| serde_json::to_value(d).ok())
            .map(name)
            .unwrap_or_default();
        fill(&mut out.denial, &denial);
        out.elapsed_ms = v.elapsed_ms;
        Ok(())
    }
}

#[cfg(not(feature = "online"))]
mod imp {
    use super::*;

    fn unsupported() -> Result<(), crate::Failure> {
        Err((
            crate::CISGATE_ERR_UNSUPPORTED,
            "this library was built without the online adapter (feature \"online\")".into(),
        ))
    }

    pub(super) fn new(
        _: *const cisgate_index,
        _: *const u8,
        _: usize,
        out: *mut *mut cisgate_online,
    ) -> Result<(), crate::Failure> {
        // SAFETY: `out` is null or writable.
        if let Some(out) = unsafe { out.as_mut() } {
            *out = std::ptr::null_mut();
        }
        unsupported()
    }

    pub(super) fn check(
        _: *const cisgate_online,
        _: *const u8,
        _: usize,
        _: i64,
        _: *mut cisgate_online_verdict,
    ) -> Result<(), crate::Failure> {
        unsupported()
    }
}

/// Starts an online-first checker over `index`. `config` (`config_len` bytes) is either a
/// JSON configuration (starting with `{`) or the path of a configuration file (see
/// data/online/example.json). The checker starts without waiting for the network.
#[unsafe(no_mangle)]
pub extern "C" fn cisgate_online_new(
    index: *const cisgate_index,
    config: *const u8,
    config_len: usize,
    out: *mut *mut cisgate_online,
    err: *mut cisgate_error,
) -> i32 {
    guard(err, || imp::new(index, config, config_len, out))
}

/// Frees an online checker (null is ignored); requests still in flight are abandoned.
#[unsafe(no_mangle)]
pub extern "C" fn cisgate_online_free(online: *mut cisgate_online) {
    if !online.is_null() {
        // SAFETY: `online` came from `cisgate_online_new` and is freed once.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            drop(unsafe { Box::from_raw(online) })
        }));
    }
}

/// Checks one code online first (True API within the configured budget, 1.5 s by
/// default), then offline. Always fills `*out` with a decision; returns an error only for
/// bad arguments.
#[unsafe(no_mangle)]
pub extern "C" fn cisgate_online_check(
    online: *const cisgate_online,
    code: *const u8,
    code_len: usize,
    price_kopecks: i64,
    out: *mut cisgate_online_verdict,
    err: *mut cisgate_error,
) -> i32 {
    guard(err, || {
        imp::check(online, code, code_len, price_kopecks, out)
    })
}
