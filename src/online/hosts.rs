//! Which True API host to ask: ranked by health, failing hosts benched for a while.

use std::sync::Mutex;

use serde::Serialize;

/// What the adapter knows of one host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostStatus {
    /// Base URL (`https://host`).
    pub url: String,
    /// The host's own `avgTimeMs` from its last health check.
    pub avg_time_ms: Option<u64>,
    /// Skipped until this time (Unix ms).
    pub benched_until_ms: Option<i64>,
}

/// The hosts, ranked and benched. Shared by every call; held only for short moments.
#[derive(Debug, Default)]
pub struct HostPool {
    hosts: Mutex<Vec<HostStatus>>,
}

impl HostPool {
    /// A pool of `urls`, unranked and none benched.
    pub fn new(urls: &[String]) -> HostPool {
        let pool = HostPool::default();
        pool.replace(urls);
        pool
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<HostStatus>> {
        // The list is valid after every statement that changes it.
        self.hosts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a new host list (from the CDN); hosts already known keep their marks.
    pub fn replace(&self, urls: &[String]) {
        let mut hosts = self.lock();
        let old = std::mem::take(&mut *hosts);
        for url in urls {
            let url = url.trim_end_matches('/').to_string();
            if hosts.iter().any(|h| h.url == url) {
                continue;
            }
            let known = old.iter().find(|h| h.url == url).cloned();
            hosts.push(known.unwrap_or(HostStatus {
                url,
                avg_time_ms: None,
                benched_until_ms: None,
            }));
        }
    }

    /// Hosts to try now, best first: not benched, fastest health first, unknown speed
    /// last. When every host is benched, the marks are reset and all are tried.
    pub fn ranked(&self, now_ms: i64) -> Vec<String> {
        let mut hosts = self.lock();
        let free = |h: &HostStatus| h.benched_until_ms.is_none_or(|t| t <= now_ms);
        if !hosts.is_empty() && !hosts.iter().any(free) {
            for h in hosts.iter_mut() {
                h.benched_until_ms = None;
            }
        }
        let mut ready: Vec<&HostStatus> = hosts.iter().filter(|h| free(h)).collect();
        // Stable: equally fast hosts keep the CDN's order.
        ready.sort_by_key(|h| h.avg_time_ms.unwrap_or(u64::MAX));
        ready.into_iter().map(|h| h.url.clone()).collect()
    }

    /// Skips `url` until `until_ms`.
    pub fn bench(&self, url: &str, until_ms: i64) {
        if let Some(h) = self.lock().iter_mut().find(|h| h.url == url) {
            h.benched_until_ms = Some(until_ms);
        }
    }

    /// Records a health check's `avgTimeMs`; a healthy answer lifts the bench.
    pub fn healthy(&self, url: &str, avg_time_ms: u64) {
        if let Some(h) = self.lock().iter_mut().find(|h| h.url == url) {
            h.avg_time_ms = Some(avg_time_ms);
            h.benched_until_ms = None;
        }
    }

    /// Every host with its marks.
    pub fn snapshot(&self) -> Vec<HostStatus> {
        self.lock().clone()
    }

    /// Whether no host is known.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ranks_by_health_and_benches() {
        let pool = HostPool::new(&urls(&["https://a", "https://b/", "https://c"]));
        assert_eq!(
            pool.ranked(0),
            urls(&["https://a", "https://b", "https://c"])
        );
        pool.healthy("https://c", 20);
        pool.healthy("https://b", 50);
        assert_eq!(
            pool.ranked(0),
            urls(&["https://c", "https://b", "https://a"])
        );
        pool.bench("https://c", 1000);
        assert_eq!(pool.ranked(999), urls(&["https://b", "https://a"]));
        assert_eq!(
            pool.ranked(1000),
            urls(&["https://c", "https://b", "https://a"])
        );
    }

    #[test]
    fn all_benched_resets_the_marks() {
        let pool = HostPool::new(&urls(&["https://a", "https://b"]));
        pool.bench("https://a", 100);
        pool.bench("https://b", 100);
        assert_eq!(pool.ranked(50), urls(&["https://a", "https://b"]));
        assert!(pool.snapshot().iter().all(|h| h.benched_until_ms.is_none()));
    }

    #[test]
    fn a_new_list_keeps_known_marks() {
        let pool = HostPool::new(&urls(&["https://a", "https://b"]));
        pool.bench("https://a", 100);
        pool.replace(&urls(&["https://a", "https://c"]));
        let snap = pool.snapshot();
        assert_eq!(snap.len(), 2);
        assert_eq!(snap[0].benched_until_ms, Some(100));
        assert_eq!(snap[1].url, "https://c");
    }
}
