//! What the connector remembers between calls about each account, in memory: the daily success
//! budgets GoCardless reports per account and scope, the company's per-endpoint API budget, the
//! run of consecutive failures that leads to suspension, and the account details of the day.
//!
//! Only successful account calls spend the daily budget (4 per account and scope), but failures
//! count toward suspension: after [`FAILURES_BEFORE_CHECK`] in a row the connector looks at the
//! account's status before calling again, and stops for [`ERROR_PAUSE_HOURS`] when it is `ERROR`.

use super::api::Details;
use super::errors::Window;
use chrono::{DateTime, NaiveDate, Utc};
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use std::collections::{HashMap, HashSet};

/// Consecutive failed calls of one account after which its status is checked first.
pub(crate) const FAILURES_BEFORE_CHECK: u32 = 2;
/// How long an account in `ERROR` is left alone.
pub(crate) const ERROR_PAUSE_HOURS: i64 = 6;

/// The account-data scopes with a daily budget each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    Details,
    Balances,
    Transactions,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Details => "details",
            Scope::Balances => "balances",
            Scope::Transactions => "transactions",
        }
    }
}

/// What is left of a window, and when it refills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Budget {
    remaining: u32,
    reset_at: DateTime<Utc>,
}

impl Budget {
    fn from_window(window: Window, now: DateTime<Utc>) -> Option<Budget> {
        let remaining = window.remaining?;
        // A reset in the past or absent is no reason to block: refill at once then.
        let reset_at = crate::http::retry_after(now, window.reset.unwrap_or(0));
        let reset_at = if window.reset.is_some_and(|s| s > 0) { reset_at } else { now };
        Some(Budget { remaining, reset_at })
    }

    fn exhausted(&self, now: DateTime<Utc>) -> bool {
        self.remaining == 0 && self.reset_at > now
    }
}

#[derive(Default)]
pub(crate) struct Limits {
    accounts: HashMap<(String, Scope), Budget>,
    api: HashMap<&'static str, Budget>,
    failures: HashMap<String, u32>,
    paused: HashMap<String, DateTime<Utc>>,
    /// The last details read per account, with the UTC day they were read.
    details: HashMap<String, (NaiveDate, Details)>,
    /// Accounts whose details name no currency saldo can read.
    no_currency: HashSet<String>,
}

fn rate_limited(code: &str, detail: String, at: DateTime<Utc>) -> Failure {
    Failure::new(FailureKind::Temporary(TemporaryCause::RateLimited), code, detail).retry_at(at)
}

impl Limits {
    /// Refuses locally, without a request, when the account's budget for the scope is used.
    pub fn check_account(&self, account: &str, scope: Scope, now: DateTime<Utc>) -> Result<(), Failure> {
        match self.accounts.get(&(account.to_string(), scope)) {
            Some(budget) if budget.exhausted(now) => Err(rate_limited(
                "account_daily_limit",
                format!(
                    "the daily {} calls GoCardless allows for this account are used; saldo asks again after {}",
                    scope.as_str(),
                    budget.reset_at.format("%Y-%m-%d %H:%M UTC")
                ),
                budget.reset_at,
            )),
            _ => Ok(()),
        }
    }

    /// Refuses locally when the company's API budget for this group of endpoints is used.
    pub fn check_api(&self, group: &'static str, now: DateTime<Utc>) -> Result<(), Failure> {
        match self.api.get(group) {
            Some(budget) if budget.exhausted(now) => Err(rate_limited(
                "api_rate_limit",
                format!(
                    "GoCardless's request limit for {group} is used; saldo asks again after {}",
                    budget.reset_at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
                budget.reset_at,
            )),
            _ => Ok(()),
        }
    }

    pub fn record_account(&mut self, account: &str, scope: Scope, window: Window, now: DateTime<Utc>) {
        if let Some(budget) = Budget::from_window(window, now) {
            self.accounts.insert((account.to_string(), scope), budget);
        }
    }

    pub fn record_api(&mut self, group: &'static str, window: Window, now: DateTime<Utc>) {
        if let Some(budget) = Budget::from_window(window, now) {
            self.api.insert(group, budget);
        }
    }

    pub fn failures(&self, account: &str) -> u32 {
        self.failures.get(account).copied().unwrap_or(0)
    }

    pub fn failed(&mut self, account: &str) {
        *self.failures.entry(account.to_string()).or_default() += 1;
    }

    pub fn succeeded(&mut self, account: &str) {
        self.failures.remove(account);
        self.paused.remove(account);
    }

    pub fn pause(&mut self, account: &str, until: DateTime<Utc>) {
        self.paused.insert(account.to_string(), until);
    }

    pub fn paused_until(&self, account: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.paused.get(account).copied().filter(|until| *until > now)
    }

    /// The details read today, if any.
    pub fn details_of_today(&self, account: &str, today: NaiveDate) -> Option<Details> {
        self.details.get(account).filter(|(day, _)| *day == today).map(|(_, d)| d.clone())
    }

    /// The last details read, whatever the day.
    pub fn last_details(&self, account: &str) -> Option<Details> {
        self.details.get(account).map(|(_, d)| d.clone())
    }

    pub fn keep_details(&mut self, account: &str, today: NaiveDate, details: Details) {
        self.details.insert(account.to_string(), (today, details));
    }

    pub fn set_no_currency(&mut self, account: &str, missing: bool) {
        if missing {
            self.no_currency.insert(account.to_string());
        } else {
            self.no_currency.remove(account);
        }
    }

    pub fn has_no_currency(&self, account: &str) -> bool {
        self.no_currency.contains(account)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    #[test]
    fn a_used_budget_refuses_until_its_reset_and_only_then() {
        let now = Utc.with_ymd_and_hms(2021, 11, 22, 12, 0, 0).unwrap();
        let mut limits = Limits::default();
        limits.record_account(
            "a",
            Scope::Balances,
            Window { limit: Some(4), remaining: Some(1), reset: Some(600) },
            now,
        );
        assert!(limits.check_account("a", Scope::Balances, now).is_ok());
        limits.record_account(
            "a",
            Scope::Balances,
            Window { limit: Some(4), remaining: Some(0), reset: Some(7200) },
            now,
        );
        let refused = limits.check_account("a", Scope::Balances, now).unwrap_err();
        assert_eq!(refused.retry_at, Some(now + TimeDelta::seconds(7200)));
        assert!(limits.check_account("a", Scope::Transactions, now).is_ok(), "scopes are separate");
        assert!(limits.check_account("a", Scope::Balances, now + TimeDelta::seconds(7200)).is_ok());
        // A negative reset (GoCardless has sent them) does not block.
        limits.record_account("b", Scope::Details, Window { limit: Some(4), remaining: Some(0), reset: Some(-5) }, now);
        assert!(limits.check_account("b", Scope::Details, now).is_ok());
    }

    #[test]
    fn failures_count_until_a_success() {
        let mut limits = Limits::default();
        limits.failed("a");
        limits.failed("a");
        assert_eq!(limits.failures("a"), 2);
        limits.succeeded("a");
        assert_eq!(limits.failures("a"), 0);
    }
}
