//! One connection's sync state machine and the scheduling policy behind it.
//!
//! The engine asks [`SyncState::start`] before calling the provider, then reports the outcome with
//! [`SyncState::succeed`] or [`SyncState::fail`]; each transition returns the [`SyncEvent`]s the user
//! must hear about. Everything here is pure: time comes in as `now`, randomness as a `jitter` number
//! the caller draws from a seeded generator.
//!
//! Rules kept here:
//! - a connection syncs every `interval` (6 h by default), less often when the institution's daily
//!   budget of unattended accesses demands it, and one access a day stays free for the user;
//! - temporary failures are retried with exponential backoff and jitter, or at the provider's own
//!   reset time, and never spend the budget of scheduled syncs;
//! - failures that need the user stop automatic retries until a reconnect;
//! - an episode is announced once: a permanent failure at once, a temporary one only when it has
//!   lasted `escalate_after` (and not while its institution has an outage the user was told about);
//!   recovery is announced only for an episode that was announced.

use crate::failure::{Colour, Failure, FailureKind};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// How syncs are scheduled and retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPolicy {
    /// Time between scheduled syncs when the budget allows.
    pub interval: TimeDelta,
    /// Up to this much is added to each scheduled time so that connections spread out.
    pub jitter: TimeDelta,
    /// First retry delay after a temporary failure; doubles per attempt.
    pub backoff_base: TimeDelta,
    /// Longest retry delay.
    pub backoff_max: TimeDelta,
    /// A temporary failure lasting this long is escalated to the user.
    pub escalate_after: TimeDelta,
    /// Accesses per day kept free for user-triggered syncs.
    pub reserved_user_slots: u32,
    /// How long a worker may hold a connection before its claim lapses.
    pub lease: TimeDelta,
}

impl Default for SyncPolicy {
    fn default() -> SyncPolicy {
        SyncPolicy {
            interval: TimeDelta::hours(6),
            jitter: TimeDelta::minutes(30),
            backoff_base: TimeDelta::minutes(5),
            backoff_max: TimeDelta::hours(6),
            escalate_after: TimeDelta::hours(24),
            reserved_user_slots: 1,
            lease: TimeDelta::minutes(10),
        }
    }
}

/// Who asked for a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The scheduler, or an automatic retry: unattended.
    Scheduled,
    /// The user, present: a forced sync or the first sync after connecting.
    User,
}

/// The institution's daily budget of accesses (PSD2: 4 unattended a day), counted per UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// `None` when the provider sets no limit.
    pub per_day: Option<u32>,
    pub day: NaiveDate,
    pub used: u32,
    /// Whether the provider counts the accesses the user asks for too. PSD2 limits only access
    /// without the user (RTS Art. 36(5)); a provider that follows it (told by the PSU headers)
    /// leaves a user's sync out of the count, and so does the budget. One that counts every call
    /// does not. The connector says which (not stored: it is the provider's rule, not the
    /// connection's); counted unless told otherwise.
    pub counts_user_access: bool,
}

impl Budget {
    pub fn new(per_day: Option<u32>, today: NaiveDate) -> Budget {
        Budget { per_day, day: today, used: 0, counts_user_access: true }
    }

    fn used_on(&self, day: NaiveDate) -> u32 {
        if day == self.day {
            self.used
        } else {
            0
        }
    }

    /// Accesses a day that scheduled syncs may use: all but the reserved ones, at least one.
    pub fn scheduled_per_day(&self, policy: &SyncPolicy) -> Option<u32> {
        self.per_day.map(|n| if n > policy.reserved_user_slots { n - policy.reserved_user_slots } else { n })
    }

    fn allows(&self, trigger: Trigger, day: NaiveDate, policy: &SyncPolicy) -> bool {
        let limit = match trigger {
            Trigger::Scheduled => self.scheduled_per_day(policy),
            Trigger::User if !self.counts_user_access => None,
            Trigger::User => self.per_day,
        };
        limit.is_none_or(|limit| self.used_on(day) < limit)
    }

    /// Counts an access the user made outside a sync (the discovery while they authorise), where
    /// the provider counts it.
    pub fn record_access(&mut self, day: NaiveDate) {
        if self.counts_user_access {
            self.spend(day);
        }
    }

    /// Spends an access of `trigger`'s, where the provider counts it.
    fn spend_for(&mut self, trigger: Trigger, day: NaiveDate) {
        if trigger == Trigger::Scheduled || self.counts_user_access {
            self.spend(day);
        }
    }

    fn spend(&mut self, day: NaiveDate) {
        if day != self.day {
            self.day = day;
            self.used = 0;
        }
        self.used += 1;
    }
}

/// The start of the next UTC day.
fn next_day(now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    tomorrow.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// `jitter` reduced into `0..=max`.
fn spread(jitter: u64, max: TimeDelta) -> TimeDelta {
    let max_ms = max.num_milliseconds().max(0) as u64;
    TimeDelta::milliseconds((jitter % (max_ms + 1)) as i64)
}

/// One continuous stretch of failures of the same class (see [`episode_class`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    /// The latest failure's kind, code and detail.
    pub failure: Failure,
    pub since: DateTime<Utc>,
    pub attempts: u32,
    /// The user has been told about it.
    pub announced: bool,
    pub escalated: bool,
}

/// Failures of one class form one episode: all temporary causes together (a flaky network alternates
/// between timeouts and resets), every other kind on its own.
pub fn episode_class(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Temporary(_) => "temporary",
        other => other.as_str(),
    }
}

/// What the user sees of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Syncing,
    /// Orange: saldo retries by itself.
    TemporaryError,
    /// Red: needs the user.
    PermanentError,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Syncing => "syncing",
            Status::TemporaryError => "temporary_error",
            Status::PermanentError => "permanent_error",
        }
    }
}

/// Why a sync may not start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    AlreadyRunning,
    /// Only a reconnect (or the user forcing a sync) clears this.
    NeedsUser(FailureKind),
    /// The day's budget is used; the next access is possible from `until`.
    BudgetUsed {
        until: DateTime<Utc>,
    },
}

/// Something the user should hear about once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// A failure that only the user can clear began.
    ReconnectNeeded { kind: FailureKind },
    /// A temporary failure has lasted the escalation period.
    Escalated { kind: FailureKind, since: DateTime<Utc> },
    /// Syncing works again after an episode the user was told about.
    Recovered { kind: FailureKind, since: DateTime<Utc> },
}

/// A connection's sync state, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    pub running: bool,
    pub episode: Option<Episode>,
    /// The last sync succeeded for some items only.
    pub partial: bool,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// When the next automatic sync is due; `None` while the connection needs the user.
    pub next_sync_at: Option<DateTime<Utc>>,
    pub budget: Budget,
}

impl SyncState {
    /// A new connection: its first sync is due at once.
    pub fn new(now: DateTime<Utc>, per_day: Option<u32>) -> SyncState {
        SyncState {
            running: false,
            episode: None,
            partial: false,
            last_attempt_at: None,
            last_success_at: None,
            next_sync_at: Some(now),
            budget: Budget::new(per_day, now.date_naive()),
        }
    }

    pub fn status(&self) -> Status {
        match (&self.episode, self.running) {
            (_, true) => Status::Syncing,
            (Some(episode), false) if episode.failure.kind.needs_user() => Status::PermanentError,
            (Some(_), false) => Status::TemporaryError,
            (None, false) => Status::Ok,
        }
    }

    pub fn colour(&self) -> Colour {
        match &self.episode {
            Some(episode) => episode.failure.kind.colour(),
            None if self.partial => Colour::Orange,
            None => Colour::Green,
        }
    }

    /// Whether the scheduler should sync it now.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        !self.running && self.next_sync_at.is_some_and(|at| at <= now)
    }

    /// Checks whether a sync may start, without changing anything.
    pub fn may_start(&self, now: DateTime<Utc>, trigger: Trigger, policy: &SyncPolicy) -> Result<(), Refusal> {
        if self.running {
            return Err(Refusal::AlreadyRunning);
        }
        if trigger == Trigger::Scheduled {
            if let Some(episode) = self.episode.as_ref().filter(|e| e.failure.kind.needs_user()) {
                return Err(Refusal::NeedsUser(episode.failure.kind));
            }
        }
        if !self.budget.allows(trigger, now.date_naive(), policy) {
            return Err(Refusal::BudgetUsed { until: next_day(now) });
        }
        Ok(())
    }

    /// Marks a sync as running and spends one access of the day's budget.
    pub fn start(&mut self, now: DateTime<Utc>, trigger: Trigger, policy: &SyncPolicy) -> Result<(), Refusal> {
        if let Err(refusal) = self.may_start(now, trigger, policy) {
            if let Refusal::BudgetUsed { until } = refusal {
                // Come back when the budget allows instead of asking again and again.
                if trigger == Trigger::Scheduled {
                    self.next_sync_at = Some(until);
                }
            }
            return Err(refusal);
        }
        self.running = true;
        self.last_attempt_at = Some(now);
        self.budget.spend_for(trigger, now.date_naive());
        Ok(())
    }

    /// The time between scheduled syncs: the policy's interval, stretched to fit the budget.
    pub fn effective_interval(&self, policy: &SyncPolicy) -> TimeDelta {
        match self.budget.scheduled_per_day(policy) {
            Some(n) if n > 0 => policy.interval.max(TimeDelta::days(1) / n as i32),
            Some(_) => TimeDelta::days(1),
            None => policy.interval,
        }
    }

    /// The earliest time a scheduled sync fits the budget, at or after `at`.
    fn within_budget(&self, at: DateTime<Utc>, policy: &SyncPolicy, jitter: u64) -> DateTime<Utc> {
        if self.budget.allows(Trigger::Scheduled, at.date_naive(), policy) {
            at
        } else {
            next_day(at) + spread(jitter, policy.jitter)
        }
    }

    /// The sync worked (for every item, or with `partial` for some only).
    pub fn succeed(&mut self, now: DateTime<Utc>, policy: &SyncPolicy, partial: bool, jitter: u64) -> Vec<SyncEvent> {
        let mut events = Vec::new();
        if let Some(episode) = self.episode.take() {
            if episode.announced {
                events.push(SyncEvent::Recovered { kind: episode.failure.kind, since: episode.since });
            }
        }
        self.running = false;
        self.partial = partial;
        self.last_success_at = Some(now);
        let next = now + self.effective_interval(policy) + spread(jitter, policy.jitter);
        self.next_sync_at = Some(self.within_budget(next, policy, jitter));
        events
    }

    /// The sync failed. `outage_until` is set when the institution is degraded: the connection then
    /// waits for the institution's next probe instead of its own backoff.
    pub fn fail(
        &mut self,
        now: DateTime<Utc>,
        failure: &Failure,
        policy: &SyncPolicy,
        jitter: u64,
        outage_until: Option<DateTime<Utc>>,
    ) -> Vec<SyncEvent> {
        let mut events = Vec::new();
        self.running = false;
        let same_episode =
            self.episode.as_ref().is_some_and(|e| episode_class(e.failure.kind) == episode_class(failure.kind));
        if same_episode {
            if let Some(episode) = self.episode.as_mut() {
                episode.attempts += 1;
                episode.failure = failure.clone();
            }
        } else {
            self.episode =
                Some(Episode { failure: failure.clone(), since: now, attempts: 1, announced: false, escalated: false });
        }
        let kind = failure.kind;
        self.next_sync_at = if kind.needs_user() {
            if let Some(episode) = self.episode.as_mut().filter(|e| !e.announced) {
                episode.announced = true;
                events.push(SyncEvent::ReconnectNeeded { kind });
            }
            None
        } else {
            let attempts = self.episode.as_ref().map_or(1, |e| e.attempts);
            Some(self.retry_time(now, failure, attempts, policy, jitter, outage_until))
        };
        events.extend(self.check_escalation(now, policy, outage_until.is_some()));
        events
    }

    fn retry_time(
        &self,
        now: DateTime<Utc>,
        failure: &Failure,
        attempts: u32,
        policy: &SyncPolicy,
        jitter: u64,
        outage_until: Option<DateTime<Utc>>,
    ) -> DateTime<Utc> {
        // Spread retries over a few minutes so that connections which failed together do not return
        // together.
        let small = spread(jitter, TimeDelta::minutes(5));
        let at = if let Some(until) = outage_until {
            until + small
        } else if let Some(retry_at) = failure.retry_at {
            retry_at.max(now) + small
        } else if failure.kind == FailureKind::Config {
            // Only the operator can fix it; keep checking at the normal pace.
            now + self.effective_interval(policy) + spread(jitter, policy.jitter)
        } else {
            let doublings = attempts.saturating_sub(1).min(20);
            let delay = policy.backoff_base.checked_mul(1 << doublings).unwrap_or(policy.backoff_max);
            let delay = delay.min(policy.backoff_max);
            // Full jitter over the upper half of the delay.
            now + delay / 2 + spread(jitter, delay / 2)
        };
        self.within_budget(at, policy, jitter)
    }

    /// Escalates a temporary failure that has lasted the escalation period, once per episode. Not
    /// while the institution has an outage: the user already heard about that.
    pub fn check_escalation(&mut self, now: DateTime<Utc>, policy: &SyncPolicy, in_outage: bool) -> Vec<SyncEvent> {
        match self.episode.as_mut() {
            Some(episode)
                if !episode.failure.kind.needs_user()
                    && !episode.escalated
                    && !in_outage
                    && now - episode.since >= policy.escalate_after =>
            {
                episode.escalated = true;
                episode.announced = true;
                vec![SyncEvent::Escalated { kind: episode.failure.kind, since: episode.since }]
            }
            _ => Vec::new(),
        }
    }

    /// The user reconnected (a new consent): whatever was wrong is over and a sync is due at once.
    pub fn reconnected(&mut self, now: DateTime<Utc>, per_day: Option<u32>) -> Vec<SyncEvent> {
        let mut events = Vec::new();
        if let Some(episode) = self.episode.take() {
            if episode.announced && !episode.failure.kind.needs_user() {
                events.push(SyncEvent::Recovered { kind: episode.failure.kind, since: episode.since });
            }
        }
        self.partial = false;
        self.running = false;
        self.next_sync_at = Some(now);
        self.budget.per_day = per_day;
        events
    }

    /// The worker holding the sync vanished (its lease lapsed): nothing it did was committed, so the
    /// sync is due again at once.
    pub fn abandon(&mut self, now: DateTime<Utc>) {
        self.running = false;
        if self.episode.as_ref().is_none_or(|e| !e.failure.kind.needs_user()) {
            self.next_sync_at = Some(self.next_sync_at.map_or(now, |at| at.min(now)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::TemporaryCause;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap()
    }

    fn hours(n: i64) -> TimeDelta {
        TimeDelta::hours(n)
    }

    fn temporary(cause: TemporaryCause) -> Failure {
        Failure::new(FailureKind::Temporary(cause), "503", "unavailable")
    }

    fn policy() -> SyncPolicy {
        SyncPolicy::default()
    }

    fn started(per_day: Option<u32>) -> SyncState {
        let mut state = SyncState::new(t0(), per_day);
        state.start(t0(), Trigger::User, &policy()).unwrap();
        state
    }

    #[test]
    fn a_new_connection_is_due_at_once_and_green() {
        let state = SyncState::new(t0(), Some(4));
        assert!(state.is_due(t0()));
        assert_eq!(state.status(), Status::Ok);
        assert_eq!(state.colour(), Colour::Green);
    }

    #[test]
    fn start_marks_syncing_and_refuses_a_second_sync() {
        let mut state = started(None);
        assert_eq!(state.status(), Status::Syncing);
        assert!(!state.is_due(t0() + hours(100)));
        assert_eq!(state.start(t0(), Trigger::User, &policy()), Err(Refusal::AlreadyRunning));
    }

    #[test]
    fn success_schedules_the_next_sync_after_the_interval_with_jitter() {
        let mut state = started(None);
        assert!(state.succeed(t0(), &policy(), false, 0).is_empty());
        assert_eq!(state.next_sync_at, Some(t0() + hours(6)));
        assert_eq!(state.last_success_at, Some(t0()));
        assert_eq!(state.status(), Status::Ok);
        let mut jittered = started(None);
        jittered.succeed(t0(), &policy(), false, 10 * 60 * 1000);
        assert_eq!(jittered.next_sync_at, Some(t0() + hours(6) + TimeDelta::minutes(10)));
    }

    #[test]
    fn a_small_budget_stretches_the_interval_and_keeps_a_slot_for_the_user() {
        // 4 a day, one kept for the user: every 8 hours.
        let mut state = SyncState::new(t0(), Some(4));
        assert_eq!(state.effective_interval(&policy()), hours(8));
        let mut now = t0();
        for _ in 0..3 {
            state.start(now, Trigger::Scheduled, &policy()).unwrap();
            state.succeed(now, &policy(), false, 0);
            now += TimeDelta::minutes(1);
        }
        // The fourth scheduled sync of the day is refused and moved to tomorrow…
        let refused = state.start(now, Trigger::Scheduled, &policy());
        assert_eq!(refused, Err(Refusal::BudgetUsed { until: next_day(now) }));
        assert_eq!(state.next_sync_at, Some(next_day(now)));
        // …but the user may still sync once.
        state.start(now, Trigger::User, &policy()).unwrap();
        state.succeed(now, &policy(), false, 0);
        assert!(matches!(state.start(now, Trigger::User, &policy()), Err(Refusal::BudgetUsed { .. })));
        // A new day brings a new budget.
        assert!(state.start(next_day(now), Trigger::Scheduled, &policy()).is_ok());
        assert_eq!(SyncState::new(t0(), Some(1)).effective_interval(&policy()), hours(24));
    }

    #[test]
    fn where_the_provider_counts_only_unattended_access_the_user_s_syncs_are_free() {
        let mut state = SyncState::new(t0(), Some(4));
        state.budget.counts_user_access = false;
        state.budget.record_access(t0().date_naive());
        let mut now = t0();
        for _ in 0..5 {
            state.start(now, Trigger::User, &policy()).unwrap();
            state.succeed(now, &policy(), false, 0);
            now += TimeDelta::minutes(1);
        }
        assert_eq!(state.budget.used, 0, "neither the discovery nor the user's syncs were counted");
        // The scheduled syncs still have their three slots.
        for _ in 0..3 {
            state.start(now, Trigger::Scheduled, &policy()).unwrap();
            state.succeed(now, &policy(), false, 0);
        }
        assert!(matches!(state.start(now, Trigger::Scheduled, &policy()), Err(Refusal::BudgetUsed { .. })));
        assert!(state.start(now, Trigger::User, &policy()).is_ok());
    }

    #[test]
    fn success_late_in_the_day_with_no_budget_left_waits_for_tomorrow() {
        // 5 a day: 4 scheduled, every 6 hours; all 4 used early in the day.
        let early = Utc.with_ymd_and_hms(2026, 3, 2, 0, 30, 0).unwrap();
        let mut state = SyncState::new(early, Some(5));
        for minute in 0..4 {
            let now = early + TimeDelta::minutes(minute);
            state.start(now, Trigger::Scheduled, &policy()).unwrap();
            state.succeed(now, &policy(), false, 0);
        }
        assert_eq!(state.next_sync_at, Some(next_day(early)));
        // With budget left the next sync is simply one interval later.
        let mut fresh = SyncState::new(early, Some(5));
        fresh.start(early, Trigger::Scheduled, &policy()).unwrap();
        fresh.succeed(early, &policy(), false, 0);
        assert_eq!(fresh.next_sync_at, Some(early + hours(6)));
    }

    #[test]
    fn temporary_failures_back_off_exponentially_and_stay_orange() {
        let mut state = started(None);
        let failure = temporary(TemporaryCause::ProviderDown);
        assert!(state.fail(t0(), &failure, &policy(), 0, None).is_empty(), "temporary failures are not announced");
        assert_eq!(state.status(), Status::TemporaryError);
        assert_eq!(state.colour(), Colour::Orange);
        // Attempt 1: 5 min, upper half: 2.5 min + jitter 0.
        assert_eq!(state.next_sync_at, Some(t0() + TimeDelta::seconds(150)));
        let mut delays = Vec::new();
        for _ in 0..8 {
            let now = state.next_sync_at.unwrap();
            state.start(now, Trigger::Scheduled, &policy()).unwrap();
            state.fail(now, &failure, &policy(), 0, None);
            delays.push((state.next_sync_at.unwrap() - now).num_minutes());
        }
        // With no jitter each delay is half the backoff: 10, 20, 40 … minutes, capped at 6 h.
        assert_eq!(delays, vec![5, 10, 20, 40, 80, 160, 180, 180]);
        // Jitter adds up to the other half.
        let mut jittered = started(None);
        jittered.fail(t0(), &failure, &policy(), 150_000, None);
        assert_eq!(jittered.next_sync_at, Some(t0() + TimeDelta::minutes(5)));
        let episode = state.episode.as_ref().unwrap();
        assert_eq!((episode.attempts, episode.since), (9, t0()));
    }

    #[test]
    fn the_providers_reset_time_wins_over_backoff() {
        let mut state = started(None);
        let reset = t0() + hours(3);
        let failure = temporary(TemporaryCause::RateLimited).retry_at(reset);
        state.fail(t0(), &failure, &policy(), 0, None);
        assert_eq!(state.next_sync_at, Some(reset));
    }

    #[test]
    fn retries_never_spend_the_scheduled_budget() {
        let mut state = SyncState::new(t0(), Some(4));
        let failure = temporary(TemporaryCause::Timeout);
        let mut now = t0();
        for _ in 0..3 {
            state.start(now, Trigger::Scheduled, &policy()).unwrap();
            state.fail(now, &failure, &policy(), 0, None);
            now = state.next_sync_at.unwrap();
        }
        // Three accesses used; the fourth is the user's, so the retry waits for tomorrow.
        assert_eq!(state.next_sync_at.unwrap().date_naive(), t0().date_naive().succ_opt().unwrap());
    }

    #[test]
    fn a_failure_that_needs_the_user_stops_retries_and_is_announced_once() {
        for kind in [
            FailureKind::ActionRequired,
            FailureKind::Expired,
            FailureKind::InvalidCredentials,
            FailureKind::Revoked,
            FailureKind::Unsupported,
        ] {
            let mut state = started(None);
            let failure = Failure::new(kind, "X", "x");
            assert_eq!(state.fail(t0(), &failure, &policy(), 0, None), vec![SyncEvent::ReconnectNeeded { kind }]);
            assert_eq!(state.status(), Status::PermanentError);
            assert_eq!(state.colour(), Colour::Red);
            assert_eq!(state.next_sync_at, None, "{kind}: no automatic retry");
            assert!(!state.is_due(t0() + TimeDelta::days(30)));
            assert_eq!(state.may_start(t0(), Trigger::Scheduled, &policy()), Err(Refusal::NeedsUser(kind)));
            // The user may still force a sync; failing again the same way is not news.
            state.start(t0() + hours(1), Trigger::User, &policy()).unwrap();
            assert!(state.fail(t0() + hours(1), &failure, &policy(), 0, None).is_empty());
            // Not escalated either: the user already knows.
            assert!(state.check_escalation(t0() + TimeDelta::days(3), &policy(), false).is_empty());
        }
    }

    #[test]
    fn a_temporary_failure_lasting_a_day_is_escalated_once_and_its_recovery_announced() {
        let mut state = started(None);
        let failure = temporary(TemporaryCause::Unknown);
        state.fail(t0(), &failure, &policy(), 0, None);
        assert!(state.check_escalation(t0() + hours(23), &policy(), false).is_empty());
        let escalated = state.check_escalation(t0() + hours(24), &policy(), false);
        assert_eq!(escalated, vec![SyncEvent::Escalated { kind: failure.kind, since: t0() }]);
        assert!(state.check_escalation(t0() + hours(48), &policy(), false).is_empty(), "once per episode");
        state.start(t0() + hours(30), Trigger::Scheduled, &policy()).unwrap();
        assert!(state.fail(t0() + hours(30), &failure, &policy(), 0, None).is_empty());
        state.start(t0() + hours(31), Trigger::Scheduled, &policy()).unwrap();
        let recovered = state.succeed(t0() + hours(31), &policy(), false, 0);
        assert_eq!(recovered, vec![SyncEvent::Recovered { kind: failure.kind, since: t0() }]);
        assert_eq!(state.colour(), Colour::Green);
    }

    #[test]
    fn escalation_also_happens_on_a_failed_attempt() {
        let mut state = started(None);
        let failure = temporary(TemporaryCause::Network);
        state.fail(t0(), &failure, &policy(), 0, None);
        state.start(t0() + hours(25), Trigger::Scheduled, &policy()).unwrap();
        let events = state.fail(t0() + hours(25), &failure, &policy(), 0, None);
        assert!(matches!(events.as_slice(), [SyncEvent::Escalated { .. }]));
    }

    #[test]
    fn a_quiet_recovery_is_not_announced() {
        let mut state = started(None);
        state.fail(t0(), &temporary(TemporaryCause::Timeout), &policy(), 0, None);
        state.start(t0() + hours(1), Trigger::Scheduled, &policy()).unwrap();
        assert!(state.succeed(t0() + hours(1), &policy(), false, 0).is_empty());
    }

    #[test]
    fn alternating_temporary_causes_are_one_episode() {
        let mut state = started(None);
        state.fail(t0(), &temporary(TemporaryCause::Timeout), &policy(), 0, None);
        state.start(t0() + hours(1), Trigger::Scheduled, &policy()).unwrap();
        state.fail(t0() + hours(1), &temporary(TemporaryCause::Network), &policy(), 0, None);
        let episode = state.episode.as_ref().unwrap();
        assert_eq!((episode.since, episode.attempts), (t0(), 2));
        assert_eq!(episode.failure.kind, FailureKind::Temporary(TemporaryCause::Network));
        // A permanent failure starts a new episode and is announced.
        state.start(t0() + hours(2), Trigger::Scheduled, &policy()).unwrap();
        let events = state.fail(t0() + hours(2), &Failure::new(FailureKind::Expired, "EX", ""), &policy(), 0, None);
        assert_eq!(events, vec![SyncEvent::ReconnectNeeded { kind: FailureKind::Expired }]);
        assert_eq!(state.episode.as_ref().unwrap().since, t0() + hours(2));
    }

    #[test]
    fn during_an_outage_connections_wait_for_the_institution_and_are_not_escalated() {
        let mut state = started(None);
        let probe = t0() + hours(2);
        state.fail(t0(), &temporary(TemporaryCause::ProviderDown), &policy(), 0, Some(probe));
        assert_eq!(state.next_sync_at, Some(probe));
        state.start(t0() + hours(30), Trigger::Scheduled, &policy()).unwrap();
        let events = state.fail(t0() + hours(30), &temporary(TemporaryCause::ProviderDown), &policy(), 0, Some(probe));
        assert!(events.is_empty());
        assert!(state.check_escalation(t0() + hours(30), &policy(), true).is_empty());
    }

    #[test]
    fn config_errors_are_the_operators_and_retried_at_the_normal_pace() {
        let mut state = started(None);
        let events = state.fail(t0(), &Failure::new(FailureKind::Config, "401", "bad key"), &policy(), 0, None);
        assert!(events.is_empty());
        assert_eq!(state.colour(), Colour::Orange);
        assert_eq!(state.next_sync_at, Some(t0() + hours(6)));
    }

    #[test]
    fn partial_success_is_orange_until_a_full_success() {
        let mut state = started(None);
        state.succeed(t0(), &policy(), true, 0);
        assert_eq!((state.status(), state.colour()), (Status::Ok, Colour::Orange));
        state.start(t0() + hours(6), Trigger::Scheduled, &policy()).unwrap();
        state.succeed(t0() + hours(6), &policy(), false, 0);
        assert_eq!(state.colour(), Colour::Green);
    }

    #[test]
    fn reconnecting_clears_a_permanent_failure_and_syncs_at_once() {
        let mut state = started(Some(4));
        state.fail(t0(), &Failure::new(FailureKind::Expired, "EX", ""), &policy(), 0, None);
        let events = state.reconnected(t0() + hours(50), Some(4));
        assert!(events.is_empty(), "the reconnect itself is the user's answer");
        assert_eq!(state.status(), Status::Ok);
        assert!(state.is_due(t0() + hours(50)));
    }

    #[test]
    fn an_abandoned_sync_is_due_again_at_once() {
        let mut state = started(None);
        state.next_sync_at = Some(t0() + hours(6));
        state.abandon(t0() + TimeDelta::minutes(11));
        assert!(state.is_due(t0() + TimeDelta::minutes(11)));
        assert_eq!(state.status(), Status::Ok);
    }
}
