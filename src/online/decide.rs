//! The decision: CRPT's denial order for online answers, the offline rules for offline ones,
//! both in one vocabulary.

use serde::Serialize;

use crate::check::{CheckOptions, Reason, Status, Verdict};

/// Why a sale is denied. Online reasons come in CRPT's order; the first is the one to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Denial {
    /// `valid: false` online, or a code the parser cannot read offline.
    InvalidCode,
    /// `found: false`: the code is unknown to GIS MT.
    NotFound,
    /// `utilised: false`: the code was never applied to a product.
    NotUtilised,
    /// `verified: false`: the crypto tail does not check.
    NotVerified,
    /// `isBlocked` online, or the КИ is on the offline blocked list.
    Blocked,
    /// `sold` online, or sold at this point of sale offline.
    Sold,
    /// `realizable: false`: not in circulation (not introduced, withdrawn…).
    NotRealizable,
    /// The product's `expireDate` has passed.
    Expired,
    /// The GTIN is blocked (offline list).
    BlockedGtin,
    /// The GTIN is grey: only an online answer may allow it.
    GreyGtin,
    /// The batch is a blocked medicine series (offline list).
    BlockedSeries,
    /// The price is below the minimum (`smp` online, the min-price list offline).
    BelowMinPrice,
    /// The price is above the max retail price (`mrp`).
    AboveMaxPrice,
    /// Neither path could check: the offline index refused (data too old, damaged).
    OfflineUnavailable,
}

impl Denial {
    fn from_offline(reason: Reason) -> Denial {
        match reason {
            Reason::Cis => Denial::Blocked,
            Reason::Gtin => Denial::BlockedGtin,
            Reason::GreyGtin => Denial::GreyGtin,
            Reason::Series => Denial::BlockedSeries,
            Reason::BelowMinPrice => Denial::BelowMinPrice,
            Reason::AboveMaxPrice => Denial::AboveMaxPrice,
            Reason::Sold => Denial::Sold,
        }
    }
}

/// The denials an offline verdict stands for (empty: allowed).
pub fn offline_denials(verdict: &Verdict) -> Vec<Denial> {
    match verdict.status {
        Status::Invalid => vec![Denial::InvalidCode],
        _ => verdict
            .reasons
            .iter()
            .map(|r| Denial::from_offline(*r))
            .collect(),
    }
}

/// Reads one `codes[]` entry of a `codes/check` answer and lists every denial that applies,
/// in CRPT's order (empty: allowed). `now_ms` is compared with `expireDate`.
///
/// The flags every answer carries (`valid`, `found`, `utilised`, `verified`, `realizable`)
/// must be present: an entry without them is malformed and the code is checked offline,
/// rather than allowed by default. `isBlocked` and `sold` are absent when false.
pub fn online_denials(
    entry: &serde_json::Value,
    options: &CheckOptions,
    now_ms: i64,
) -> Result<Vec<Denial>, String> {
    let flag = |name: &str| -> Result<Option<bool>, String> {
        match entry.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(format!("\"{name}\" is {other}, not a boolean")),
        }
    };
    let required = |name: &str| -> Result<bool, String> {
        flag(name)?.ok_or_else(|| format!("the answer has no \"{name}\" flag"))
    };
    if !entry.is_object() {
        return Err(format!("a codes[] entry is {entry}, not an object"));
    }
    let mut denials = Vec::new();
    // `valid: false` makes the other flags meaningless; they may be missing then.
    if !required("valid")? {
        return Ok(vec![Denial::InvalidCode]);
    }
    if !required("found")? {
        return Ok(vec![Denial::NotFound]);
    }
    let checks = [
        (!required("utilised")?, Denial::NotUtilised),
        (!required("verified")?, Denial::NotVerified),
        (flag("isBlocked")?.unwrap_or(false), Denial::Blocked),
        (flag("sold")?.unwrap_or(false), Denial::Sold),
        (!required("realizable")?, Denial::NotRealizable),
    ];
    denials.extend(checks.iter().filter(|(hit, _)| *hit).map(|(_, d)| *d));
    if let Some(expiry) = entry.get("expireDate").and_then(|v| v.as_str()) {
        match parse_expiry(expiry) {
            Some(at) if at < now_ms => denials.push(Denial::Expired),
            Some(_) => {}
            None => return Err(format!("\"expireDate\" {expiry:?} is not a date")),
        }
    }
    if let Some(price) = options.price_kopecks {
        let kopecks = |name: &str| entry.get(name).and_then(|v| v.as_u64()).filter(|&p| p > 0);
        if kopecks("smp").is_some_and(|min| price < min) {
            denials.push(Denial::BelowMinPrice);
        }
        if kopecks("mrp").is_some_and(|max| price > max) {
            denials.push(Denial::AboveMaxPrice);
        }
    }
    Ok(denials)
}

/// `expireDate` as Unix ms. A bare date expires at the end of that day, and a time without
/// an offset is Moscow time (UTC+3), as GIS MT writes them.
fn parse_expiry(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Some(ms) = crate::time::parse_timestamp(t) {
        return Some(ms);
    }
    if t.len() == 10 {
        return crate::time::parse_timestamp(&format!("{t}T23:59:59.999+03:00"));
    }
    crate::time::parse_timestamp(&format!("{t}+03:00"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> serde_json::Value {
        json!({"cis": "x", "valid": true, "found": true, "utilised": true, "verified": true,
               "realizable": true, "isBlocked": false, "sold": false,
               "expireDate": "2030-01-01T00:00:00.000Z", "mrp": 20000, "smp": 10000})
    }

    fn with(field: &str, value: serde_json::Value) -> serde_json::Value {
        let mut e = good();
        e[field] = value;
        e
    }

    const NOW: i64 = 1_795_428_000_000; // 2026-11-23

    #[test]
    fn every_rule_in_crpt_order() {
        let none = CheckOptions::default();
        assert_eq!(online_denials(&good(), &none, NOW), Ok(vec![]));
        for (field, value, denial) in [
            ("valid", json!(false), Denial::InvalidCode),
            ("found", json!(false), Denial::NotFound),
            ("utilised", json!(false), Denial::NotUtilised),
            ("verified", json!(false), Denial::NotVerified),
            ("isBlocked", json!(true), Denial::Blocked),
            ("sold", json!(true), Denial::Sold),
            ("realizable", json!(false), Denial::NotRealizable),
            ("expireDate", json!("2026-11-22"), Denial::Expired),
        ] {
            assert_eq!(
                online_denials(&with(field, value), &none, NOW),
                Ok(vec![denial]),
                "{field}"
            );
        }
        let mut many = with("sold", json!(true));
        many["isBlocked"] = json!(true);
        many["utilised"] = json!(false);
        assert_eq!(
            online_denials(&many, &none, NOW),
            Ok(vec![Denial::NotUtilised, Denial::Blocked, Denial::Sold])
        );
    }

    #[test]
    fn prices() {
        let at = |kopecks| CheckOptions {
            price_kopecks: Some(kopecks),
        };
        assert_eq!(online_denials(&good(), &at(15000), NOW), Ok(vec![]));
        assert_eq!(
            online_denials(&good(), &at(9999), NOW),
            Ok(vec![Denial::BelowMinPrice])
        );
        assert_eq!(
            online_denials(&good(), &at(20001), NOW),
            Ok(vec![Denial::AboveMaxPrice])
        );
    }

    #[test]
    fn malformed_entries_are_not_allowed_by_default() {
        let none = CheckOptions::default();
        let mut missing = good();
        missing.as_object_mut().unwrap().remove("verified");
        assert!(online_denials(&missing, &none, NOW).is_err());
        assert!(online_denials(&with("isBlocked", json!("no")), &none, NOW).is_err());
        assert!(online_denials(&with("expireDate", json!("soon")), &none, NOW).is_err());
        assert!(online_denials(&json!([1]), &none, NOW).is_err());
        // Absent isBlocked / sold mean false.
        let mut bare = good();
        bare.as_object_mut().unwrap().remove("isBlocked");
        bare.as_object_mut().unwrap().remove("sold");
        assert_eq!(online_denials(&bare, &none, NOW), Ok(vec![]));
    }

    #[test]
    fn expiry_forms() {
        let end_of_day_msk = crate::time::parse_timestamp("2026-11-23T20:59:59.999Z");
        assert_eq!(parse_expiry("2026-11-23"), end_of_day_msk);
        assert_eq!(
            parse_expiry("2026-11-23T10:00:00"),
            crate::time::parse_timestamp("2026-11-23T07:00:00Z")
        );
    }
}
