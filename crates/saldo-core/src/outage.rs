//! Outage detection: when many connections of one institution fail the same temporary way at once,
//! the institution is degraded. Its connections then back off together, probing at a growing
//! interval, and tell their users "the provider has an outage" instead of blaming each connection.

use crate::failure::{FailureKind, TemporaryCause};
use chrono::{DateTime, TimeDelta, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutagePolicy {
    /// Sync outcomes older than this do not count.
    pub window: TimeDelta,
    /// Distinct failing connections needed to call an outage.
    pub min_connections: u32,
    /// Share of the window's syncs that must have failed, in percent.
    pub min_failure_percent: u32,
    /// First probe delay; doubles per failed probe.
    pub probe_base: TimeDelta,
    pub probe_max: TimeDelta,
    /// Users hear of an outage only once it has lasted this long: a short blip (a nightly
    /// maintenance) is handled quietly.
    pub announce_after: TimeDelta,
}

impl Default for OutagePolicy {
    fn default() -> OutagePolicy {
        OutagePolicy {
            window: TimeDelta::minutes(30),
            min_connections: 3,
            min_failure_percent: 60,
            probe_base: TimeDelta::minutes(15),
            probe_max: TimeDelta::hours(2),
            announce_after: TimeDelta::hours(3),
        }
    }
}

/// Whether a failure says something about the institution rather than one connection. Rate limits
/// are per connection; everything else temporary can be the institution's.
pub fn counts_toward_outage(kind: FailureKind) -> bool {
    matches!(kind, FailureKind::Temporary(cause) if cause != TemporaryCause::RateLimited)
}

/// Recent sync outcomes of one institution's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowStats {
    pub succeeded: u32,
    /// Failures that count toward an outage.
    pub failed: u32,
    /// Distinct connections among `failed`.
    pub failing_connections: u32,
}

/// An institution's health, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstitutionHealth {
    pub degraded_since: Option<DateTime<Utc>>,
    /// During an outage: when its connections may try again.
    pub next_probe_at: Option<DateTime<Utc>>,
    pub probes: u32,
    /// Users were told about this outage.
    pub announced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutageEvent {
    Began { at: DateTime<Utc> },
    Ended { since: DateTime<Utc>, at: DateTime<Utc> },
}

impl InstitutionHealth {
    pub fn is_degraded(&self) -> bool {
        self.degraded_since.is_some()
    }

    /// Re-assesses the institution after a sync outcome. An outage is announced once it has lasted
    /// `announce_after`; its end only if its start was announced.
    pub fn assess(&mut self, stats: WindowStats, now: DateTime<Utc>, policy: &OutagePolicy) -> Option<OutageEvent> {
        let total = stats.succeeded + stats.failed;
        let failing = total > 0
            && stats.failing_connections >= policy.min_connections
            && stats.failed * 100 >= policy.min_failure_percent * total;
        match (self.degraded_since, failing) {
            (None, true) => {
                self.degraded_since = Some(now);
                self.probes = 0;
                self.announced = false;
                self.next_probe_at = Some(now + policy.probe_base);
                self.announce_if_due(now, policy)
            }
            (Some(since), false) if stats.succeeded > 0 => {
                let announced = self.announced;
                *self = InstitutionHealth::default();
                announced.then_some(OutageEvent::Ended { since, at: now })
            }
            (Some(_), _) => {
                // Still down: the probe that just failed pushes the next one further out.
                if self.next_probe_at.is_none_or(|at| at <= now) {
                    self.probes += 1;
                    let delay = policy.probe_base.checked_mul(1 << self.probes.min(16)).unwrap_or(policy.probe_max);
                    self.next_probe_at = Some(now + delay.min(policy.probe_max));
                }
                self.announce_if_due(now, policy)
            }
            (None, false) => None,
        }
    }

    fn announce_if_due(&mut self, now: DateTime<Utc>, policy: &OutagePolicy) -> Option<OutageEvent> {
        let since = self.degraded_since?;
        if self.announced || now - since < policy.announce_after {
            return None;
        }
        self.announced = true;
        Some(OutageEvent::Began { at: since })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap()
    }

    fn stats(succeeded: u32, failed: u32, failing_connections: u32) -> WindowStats {
        WindowStats { succeeded, failed, failing_connections }
    }

    #[test]
    fn many_connections_failing_together_is_an_outage() {
        let policy = OutagePolicy::default();
        let mut health = InstitutionHealth::default();
        assert_eq!(health.assess(stats(5, 2, 2), t0(), &policy), None, "two failing connections are not an outage");
        assert_eq!(health.assess(stats(5, 4, 4), t0(), &policy), None, "most syncs still work");
        assert_eq!(health.assess(stats(1, 4, 4), t0(), &policy), None, "degraded at once, announced later");
        assert!(health.is_degraded());
        assert_eq!(health.next_probe_at, Some(t0() + TimeDelta::minutes(15)));
        let later = t0() + TimeDelta::hours(3);
        assert_eq!(health.assess(stats(1, 5, 5), later, &policy), Some(OutageEvent::Began { at: t0() }));
        assert_eq!(health.assess(stats(1, 5, 5), later + TimeDelta::hours(1), &policy), None, "announced once");
    }

    #[test]
    fn failed_probes_back_off_and_a_success_ends_the_outage() {
        let policy = OutagePolicy::default();
        let mut health = InstitutionHealth::default();
        health.assess(stats(0, 3, 3), t0(), &policy);
        let probe = health.next_probe_at.unwrap();
        health.assess(stats(0, 4, 3), probe, &policy);
        assert_eq!(health.next_probe_at, Some(probe + TimeDelta::minutes(30)));
        let mut gaps = Vec::new();
        for _ in 0..6 {
            let at = health.next_probe_at.unwrap();
            health.assess(stats(0, 4, 3), at, &policy);
            gaps.push((health.next_probe_at.unwrap() - at).num_minutes());
        }
        assert_eq!(gaps, vec![60, 120, 120, 120, 120, 120], "probes back off up to two hours");
        let end = t0() + TimeDelta::hours(30);
        assert_eq!(health.assess(stats(2, 1, 1), end, &policy), Some(OutageEvent::Ended { since: t0(), at: end }));
        assert_eq!(health, InstitutionHealth::default());
    }

    #[test]
    fn a_short_outage_is_handled_quietly() {
        let policy = OutagePolicy::default();
        let mut health = InstitutionHealth::default();
        assert_eq!(health.assess(stats(0, 3, 3), t0(), &policy), None);
        let end = t0() + TimeDelta::hours(2);
        assert_eq!(health.assess(stats(3, 0, 0), end, &policy), None, "neither start nor end is news");
        assert!(!health.is_degraded());
    }

    #[test]
    fn rate_limits_do_not_count() {
        assert!(!counts_toward_outage(FailureKind::Temporary(TemporaryCause::RateLimited)));
        assert!(counts_toward_outage(FailureKind::Temporary(TemporaryCause::Maintenance)));
        assert!(!counts_toward_outage(FailureKind::Expired));
    }
}
