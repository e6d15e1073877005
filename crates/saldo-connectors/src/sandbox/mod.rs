//! The sandbox bank: fake institutions that behave like real ones, deterministic for a seed, built
//! into saldo so that it can be tried, tested and simulated without any provider.
//!
//! Each institution has one named behaviour (see [`Behaviour`]). The sandbox keeps no state that
//! matters across processes: a consent's id carries the institution, the user's key and the grant
//! time, and every account's history is a pure function of those (see [`ledger`]). Account ids are
//! minted per consent, as Enable Banking does, so a reconnect yields new ids for the same accounts
//! and saldo must re-link them by IBAN.

mod consent_page;
pub mod ledger;

pub use consent_page::consent_page;

use crate::{
    AuthAnswer, AuthMethod, AuthRequest, AuthStart, CallContext, Connector, Consent, DiscoveredItem, InstitutionInfo,
    ItemData,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Timelike, Utc};
use ledger::{day_number, mix, text_key, Ledger};
use saldo_core::account::AccountKind;
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use saldo_core::money::{Currency, Money};
use std::collections::HashMap;
use std::sync::Mutex;

/// What a sandbox institution does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Behaviour {
    /// Always works.
    Healthy,
    /// Unavailable every night 01:00–03:00 UTC and for half a day every ten days.
    Maintenance,
    /// Three calls in ten time out or lose the connection; gives no transaction ids.
    FlakyNetwork,
    /// Allows four accesses a day, PSD2 style; the fifth is refused until midnight.
    RateLimited,
    /// Grants consents of seven days only.
    ShortConsent,
    /// Some days into a consent it demands strong authentication again.
    ActionRequired,
    /// Every fifth period of four days its answers no longer parse (an interface change).
    InterfaceChange,
    /// Blocks automated access.
    Blocking,
    /// One account of two fails while the other works.
    PartialFailure,
    /// A second account appears and disappears every ten days.
    ChangingAccounts,
    /// A brokerage account whose holdings move daily.
    Broker,
    /// An amortising mortgage and loan and a credit card.
    Lender,
}

struct SandboxInstitution {
    id: &'static str,
    name: &'static str,
    behaviour: Behaviour,
    description: &'static str,
}

/// The sandbox connector's name.
pub const CONNECTOR_NAME: &str = "sandbox";

const INSTITUTIONS: [SandboxInstitution; 12] = [
    SandboxInstitution {
        id: "sandbox-bank",
        name: "Sandbox Bank",
        behaviour: Behaviour::Healthy,
        description: "healthy: always works",
    },
    SandboxInstitution {
        id: "sandbox-maintenance",
        name: "Sandbox Maintenance Bank",
        behaviour: Behaviour::Maintenance,
        description: "maintenance windows: nightly and half a day every ten days",
    },
    SandboxInstitution {
        id: "sandbox-flaky",
        name: "Sandbox Flaky Bank",
        behaviour: Behaviour::FlakyNetwork,
        description: "flaky network: timeouts and resets; no transaction ids",
    },
    SandboxInstitution {
        id: "sandbox-quota",
        name: "Sandbox Quota Bank",
        behaviour: Behaviour::RateLimited,
        description: "rate limited: 4 accesses a day",
    },
    SandboxInstitution {
        id: "sandbox-short-consent",
        name: "Sandbox Short Consent Bank",
        behaviour: Behaviour::ShortConsent,
        description: "consents expire after 7 days",
    },
    SandboxInstitution {
        id: "sandbox-sca",
        name: "Sandbox SCA Bank",
        behaviour: Behaviour::ActionRequired,
        description: "asks for strong authentication again after some days",
    },
    SandboxInstitution {
        id: "sandbox-changing-api",
        name: "Sandbox Changing API Bank",
        behaviour: Behaviour::InterfaceChange,
        description: "interface changes: unreadable answers for days; no transaction ids",
    },
    SandboxInstitution {
        id: "sandbox-blocking",
        name: "Sandbox Blocking Bank",
        behaviour: Behaviour::Blocking,
        description: "blocks automated access",
    },
    SandboxInstitution {
        id: "sandbox-partial",
        name: "Sandbox Partial Bank",
        behaviour: Behaviour::PartialFailure,
        description: "partial failure: one account of two fails",
    },
    SandboxInstitution {
        id: "sandbox-changing-accounts",
        name: "Sandbox Changing Accounts Bank",
        behaviour: Behaviour::ChangingAccounts,
        description: "accounts appear and disappear",
    },
    SandboxInstitution {
        id: "sandbox-broker",
        name: "Sandbox Broker",
        behaviour: Behaviour::Broker,
        description: "brokerage with holdings whose prices move",
    },
    SandboxInstitution {
        id: "sandbox-lender",
        name: "Sandbox Lender",
        behaviour: Behaviour::Lender,
        description: "amortising mortgage and loan, credit card",
    },
];

/// The accounts a user has at an institution: (slot, kind, name).
fn account_slots(behaviour: Behaviour) -> &'static [(u32, AccountKind, &'static str)] {
    match behaviour {
        Behaviour::Healthy => &[
            (0, AccountKind::Cash, "Everyday account"),
            (1, AccountKind::Savings, "Savings account"),
            (2, AccountKind::CreditCard, "Visa card"),
        ],
        Behaviour::Maintenance | Behaviour::PartialFailure => {
            &[(0, AccountKind::Cash, "Current account"), (1, AccountKind::Savings, "Savings account")]
        }
        Behaviour::ChangingAccounts => {
            &[(0, AccountKind::Cash, "Current account"), (1, AccountKind::Savings, "Holiday pot")]
        }
        Behaviour::Broker => &[(0, AccountKind::Brokerage, "Stock account"), (1, AccountKind::Cash, "Broker cash")],
        Behaviour::Lender => &[
            (0, AccountKind::Mortgage, "Home mortgage"),
            (1, AccountKind::Loan, "Car loan"),
            (2, AccountKind::CreditCard, "Mastercard"),
        ],
        _ => &[(0, AccountKind::Cash, "Current account")],
    }
}

/// The built-in sandbox connector.
pub struct Sandbox {
    seed: u64,
    /// Accesses per consent and day, for the rate-limited institution.
    accesses: Mutex<HashMap<(String, NaiveDate), u32>>,
    /// Per account: the last day a balance was computed and the sum booked up to it, so that a
    /// balance costs the days since, not the account's whole life.
    balances: Mutex<HashMap<u64, (i64, i64)>>,
    /// How long each data call takes, to mimic a slow provider.
    latency: std::time::Duration,
    /// Per institution: a gate every data call passes through, so a test can hold one institution's
    /// calls (a provider that hangs) for as long as it likes and release them.
    gates: HashMap<&'static str, std::sync::Arc<tokio::sync::Semaphore>>,
}

impl Sandbox {
    pub fn new(seed: u64) -> Sandbox {
        Sandbox {
            seed,
            accesses: Mutex::new(HashMap::new()),
            balances: Mutex::new(HashMap::new()),
            latency: std::time::Duration::ZERO,
            gates: HashMap::new(),
        }
    }

    /// Makes every discover and fetch of `institution` wait for a permit of `gate` (and give it
    /// back at once): with no permits the institution hangs until permits are added.
    pub fn with_gate(mut self, institution: &str, gate: std::sync::Arc<tokio::sync::Semaphore>) -> Sandbox {
        if let Some(known) = INSTITUTIONS.iter().find(|i| i.id == institution) {
            self.gates.insert(known.id, gate);
        }
        self
    }

    /// Makes every discover and fetch take `latency` (slow providers, tests of workers mid-sync).
    pub fn with_latency(mut self, latency: std::time::Duration) -> Sandbox {
        self.latency = latency;
        self
    }

    async fn wait(&self, institution: &str) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if let Some(gate) = self.gates.get(institution) {
            // A closed semaphore lets everything through: the gate is gone.
            let _passed = gate.acquire().await;
        }
    }

    fn institution(&self, id: &str) -> Result<&'static SandboxInstitution, Failure> {
        INSTITUTIONS.iter().find(|i| i.id == id).ok_or_else(|| {
            Failure::new(FailureKind::Unsupported, "unknown_institution", format!("no sandbox institution {id:?}"))
        })
    }

    fn info(institution: &SandboxInstitution) -> InstitutionInfo {
        InstitutionInfo {
            id: institution.id.into(),
            name: institution.name.into(),
            country: Some("SE".into()),
            bic: Some("SANDSESS".into()),
            auth_method: AuthMethod::Redirect,
            max_history_days: 90,
            max_consent_days: if institution.behaviour == Behaviour::ShortConsent { 7 } else { 180 },
            accesses_per_day: match institution.behaviour {
                Behaviour::RateLimited | Behaviour::Healthy | Behaviour::Lender => Some(4),
                _ => None,
            },
            description: institution.description.into(),
            logo_url: None,
        }
    }

    /// The ledger of a user's account in a slot: the same for every consent of that user.
    pub fn ledger(&self, institution_id: &str, user_key: &str, slot: u32) -> Option<Ledger> {
        let institution = self.institution(institution_id).ok()?;
        let (_, kind, _) = account_slots(institution.behaviour).iter().find(|(s, _, _)| *s == slot)?;
        Some(Ledger {
            key: mix(&[self.seed, text_key(institution_id), text_key(user_key), u64::from(slot)]),
            kind: *kind,
            currency: Currency::EUR,
            with_ids: !matches!(institution.behaviour, Behaviour::FlakyNetwork | Behaviour::InterfaceChange),
        })
    }

    /// The slots of the accounts that exist on `day`.
    pub fn slots_on(&self, institution_id: &str, user_key: &str, day: i64) -> Vec<u32> {
        let Ok(institution) = self.institution(institution_id) else {
            return Vec::new();
        };
        account_slots(institution.behaviour)
            .iter()
            .filter(|(slot, _, _)| {
                institution.behaviour != Behaviour::ChangingAccounts
                    || *slot == 0
                    || self
                        .ledger(institution_id, user_key, *slot)
                        .is_some_and(|l| ((day - l.open_day()) / 10) % 2 == 0)
            })
            .map(|(slot, _, _)| *slot)
            .collect()
    }

    fn item_id(consent: &Consent, slot: u32) -> String {
        format!("{}-{:012x}", consent.institution_id, mix(&[text_key(&consent.id), u64::from(slot)]) >> 16)
    }

    fn iban(&self, institution_id: &str, user_key: &str, slot: u32) -> String {
        let number =
            mix(&[self.seed, text_key(institution_id), text_key(user_key), u64::from(slot), 9]) % 100_000_000_000_000;
        format!("SE{:02}9999{number:014}", number % 97)
    }

    /// The user key and grant time a consent id carries: `sbx:<institution>:<user key>:<micros>`.
    fn parse_consent(consent: &Consent) -> Result<(String, String), Failure> {
        let mut parts = consent.id.splitn(4, ':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("sbx"), Some(institution), Some(user_key), Some(_)) => {
                Ok((institution.to_string(), user_key.to_string()))
            }
            _ => Err(Failure::new(FailureKind::Revoked, "consent_unknown", "the sandbox does not know this consent")),
        }
    }

    /// The failure the institution's behaviour produces for a call now, if any.
    fn behaviour_failure(
        &self,
        institution: &SandboxInstitution,
        consent: &Consent,
        ctx: CallContext,
    ) -> Option<Failure> {
        let now = ctx.now;
        let day = day_number(now.date_naive());
        if now >= consent.valid_until {
            return Some(Failure::new(FailureKind::Expired, "CONSENT_EXPIRED", "the consent has expired"));
        }
        match institution.behaviour {
            Behaviour::Maintenance => {
                let nightly = (1..3).contains(&now.hour());
                let long = day % 10 == 4 && (8..20).contains(&now.hour());
                (nightly || long).then(|| {
                    Failure::new(
                        FailureKind::Temporary(TemporaryCause::Maintenance),
                        "503",
                        "service unavailable: scheduled maintenance",
                    )
                })
            }
            Behaviour::FlakyNetwork => {
                let roll = mix(&[self.seed, text_key(&consent.id), now.timestamp() as u64 / 60]) % 10;
                match roll {
                    0 | 1 => Some(Failure::new(
                        FailureKind::Temporary(TemporaryCause::Timeout),
                        "timeout",
                        "no answer within 30 s",
                    )),
                    2 => Some(Failure::new(
                        FailureKind::Temporary(TemporaryCause::Network),
                        "connection_reset",
                        "connection reset by peer",
                    )),
                    _ => None,
                }
            }
            Behaviour::ActionRequired => {
                let after = TimeDelta::days(5 + (mix(&[text_key(&consent.id)]) % 5) as i64);
                (now - consent.granted_at >= after).then(|| {
                    Failure::new(FailureKind::ActionRequired, "SCA_REQUIRED", "strong customer authentication required")
                })
            }
            Behaviour::InterfaceChange => ((day / 4) % 5 == 4).then(|| {
                Failure::new(
                    FailureKind::Temporary(TemporaryCause::Unknown),
                    "unparseable",
                    "unexpected payload: missing field `amount`",
                )
            }),
            // Its bot detection lets the user in but blocks unattended access.
            Behaviour::Blocking if !ctx.user_present => {
                Some(Failure::new(FailureKind::Unsupported, "403", "automated access is blocked by the institution"))
            }
            _ => None,
        }
    }

    /// Counts an access for the rate-limited institution; the fifth of a day is refused.
    fn spend_access(
        &self,
        institution: &SandboxInstitution,
        consent: &Consent,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        if institution.behaviour != Behaviour::RateLimited {
            return Ok(());
        }
        let mut accesses = self.accesses.lock().unwrap_or_else(|p| p.into_inner());
        let used = accesses.entry((consent.id.clone(), now.date_naive())).or_insert(0);
        if *used >= 4 {
            let reset = crate::http::next_midnight(now);
            return Err(Failure::new(
                FailureKind::Temporary(TemporaryCause::RateLimited),
                "429",
                "daily access limit reached",
            )
            .retry_at(reset));
        }
        *used += 1;
        Ok(())
    }

    fn checked(&self, consent: &Consent, ctx: CallContext) -> Result<(&'static SandboxInstitution, String), Failure> {
        let (institution_id, user_key) = Self::parse_consent(consent)?;
        let institution = self.institution(&institution_id)?;
        if let Some(failure) = self.behaviour_failure(institution, consent, ctx) {
            return Err(failure);
        }
        Ok((institution, user_key))
    }
}

#[async_trait]
impl Connector for Sandbox {
    fn name(&self) -> &'static str {
        CONNECTOR_NAME
    }

    async fn institutions(&self, _ctx: CallContext) -> Result<Vec<InstitutionInfo>, Failure> {
        Ok(INSTITUTIONS.iter().map(Sandbox::info).collect())
    }

    async fn begin_authorization(&self, request: &AuthRequest, _ctx: CallContext) -> Result<AuthStart, Failure> {
        let institution = self.institution(&request.institution_id)?;
        Ok(AuthStart::Redirect {
            url: format!("/sandbox/consent?institution={}&state={}", institution.id, request.state),
            resume: None,
        })
    }

    async fn complete_authorization(
        &self,
        request: &AuthRequest,
        answer: &AuthAnswer,
        ctx: CallContext,
    ) -> Result<Consent, Failure> {
        let institution = self.institution(&request.institution_id)?;
        let params = answer.redirect_params("the sandbox")?;
        let param = |name: &str| params.get(name);
        if param("state") != Some(request.state.as_str()) {
            return Err(Failure::new(
                FailureKind::InvalidCredentials,
                "state_mismatch",
                "the answer does not belong to this authorisation",
            ));
        }
        if let Some(error) = param("error") {
            return Err(Failure::new(FailureKind::InvalidCredentials, error, "the user declined at the bank"));
        }
        if param("code") != Some("approved") {
            return Err(Failure::new(
                FailureKind::InvalidCredentials,
                "no_code",
                "the bank returned no authorisation code",
            ));
        }
        let info = Sandbox::info(institution);
        Ok(Consent {
            id: format!("sbx:{}:{}:{}", institution.id, request.user_key, ctx.now.timestamp_micros()),
            institution_id: institution.id.into(),
            granted_at: ctx.now,
            valid_until: ctx.now + TimeDelta::days(i64::from(info.max_consent_days)),
            scope: vec!["accounts".into(), "balances".into(), "transactions".into(), "holdings".into()],
            max_history_days: info.max_history_days,
            accesses_per_day: info.accesses_per_day,
            secret: None,
        })
    }

    async fn discover(&self, consent: &Consent, ctx: CallContext) -> Result<Vec<DiscoveredItem>, Failure> {
        self.wait(&consent.institution_id).await;
        let (institution, user_key) = self.checked(consent, ctx)?;
        self.spend_access(institution, consent, ctx.now)?;
        let today = day_number(ctx.now.date_naive());
        let mut items = Vec::new();
        for slot in self.slots_on(institution.id, &user_key, today) {
            let Some(ledger) = self.ledger(institution.id, &user_key, slot) else {
                continue;
            };
            let (_, kind, name) = account_slots(institution.behaviour)[slot as usize];
            let iban = self.iban(institution.id, &user_key, slot);
            let is_card = kind == AccountKind::CreditCard;
            items.push(DiscoveredItem {
                provider_item_id: Sandbox::item_id(consent, slot),
                kind,
                name: name.into(),
                account_number: None,
                masked_number: is_card.then(|| format!("**** {}", &iban[iban.len() - 4..])),
                owner_name: None,
                iban: (!is_card).then_some(iban),
                currency: ledger.currency,
                current_value: Some(Money::new(self.balance(&ledger, today), ledger.currency)),
            });
        }
        Ok(items)
    }

    async fn fetch(
        &self,
        consent: &Consent,
        provider_item_id: &str,
        since: NaiveDate,
        ctx: CallContext,
    ) -> Result<ItemData, Failure> {
        self.wait(&consent.institution_id).await;
        let (institution, user_key) = self.checked(consent, ctx)?;
        let today = day_number(ctx.now.date_naive());
        let slot = self
            .slots_on(institution.id, &user_key, today)
            .into_iter()
            .find(|slot| Sandbox::item_id(consent, *slot) == provider_item_id)
            .ok_or_else(|| {
                Failure::new(FailureKind::Revoked, "ACCOUNT_NOT_FOUND", "the account is no longer reachable")
            })?;
        if institution.behaviour == Behaviour::PartialFailure && slot == 1 {
            return Err(Failure::new(
                FailureKind::Temporary(TemporaryCause::ProviderDown),
                "500",
                "account temporarily unavailable",
            ));
        }
        let ledger = self.ledger(institution.id, &user_key, slot).ok_or_else(|| {
            Failure::new(FailureKind::Temporary(TemporaryCause::Unknown), "no_ledger", "unknown account")
        })?;
        let earliest = today - i64::from(consent.max_history_days);
        let from = day_number(since).max(earliest);
        let holdings = ledger.holdings(today);
        let cash = self.balance(&ledger, today);
        let balance = cash + holdings.iter().map(|h| h.market_value.minor).sum::<i64>();
        Ok(ItemData {
            balance: Some(Money::new(balance, ledger.currency)),
            holdings,
            transactions: ledger.visible(from, today),
        })
    }

    async fn revoke(&self, consent: &Consent, _ctx: CallContext) -> Result<(), Failure> {
        Self::parse_consent(consent).map(|_| ())
    }
}

impl Sandbox {
    /// Ground truth for checks and simulations: the identities (IBAN or masked number) of a user's
    /// accounts at an institution, by slot.
    pub fn account_identities(
        &self,
        institution_id: &str,
        user_key: &str,
    ) -> Vec<(u32, Option<String>, Option<String>)> {
        let Ok(institution) = self.institution(institution_id) else { return Vec::new() };
        account_slots(institution.behaviour)
            .iter()
            .map(|(slot, kind, _)| {
                let iban = self.iban(institution_id, user_key, *slot);
                if *kind == AccountKind::CreditCard {
                    (*slot, None, Some(format!("**** {}", &iban[iban.len() - 4..])))
                } else {
                    (*slot, Some(iban), None)
                }
            })
            .collect()
    }

    /// Ground truth: what the bank booked on an account with a booking date in `from..=to`.
    pub fn booked_between(
        &self,
        institution_id: &str,
        user_key: &str,
        slot: u32,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<crate::FetchedTransaction> {
        let Some(ledger) = self.ledger(institution_id, user_key, slot) else { return Vec::new() };
        ledger
            .visible(day_number(from), day_number(to))
            .into_iter()
            .filter(|t| t.status == saldo_core::transaction::TransactionStatus::Booked)
            .collect()
    }

    /// The booked balance of an account at the end of `day`.
    fn balance(&self, ledger: &Ledger, day: i64) -> i64 {
        let mut memo = self.balances.lock().unwrap_or_else(|p| p.into_inner());
        let (from, sum) = match memo.get(&ledger.key) {
            Some(&(known_day, sum)) if known_day <= day => (known_day, sum),
            _ => (ledger.open_day() - 1, 0),
        };
        let sum = sum + ledger.booked_sum(from, day);
        memo.insert(ledger.key, (day, sum));
        ledger.opening_balance() + sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ctx(now: DateTime<Utc>) -> CallContext {
        CallContext::unattended(now)
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
    }

    async fn connect(sandbox: &Sandbox, institution: &str, user: &str, now: DateTime<Utc>) -> Consent {
        let request = AuthRequest {
            institution_id: institution.into(),
            user_key: user.into(),
            redirect_url: "http://127.0.0.1/callback/sandbox".into(),
            state: "s1".into(),
            resume: None,
        };
        let start = sandbox.begin_authorization(&request, ctx(now)).await.unwrap();
        assert!(matches!(start, AuthStart::Redirect { ref url, .. } if url.contains("state=s1")));
        let answer =
            AuthAnswer::Callback { params: vec![("state".into(), "s1".into()), ("code".into(), "approved".into())] };
        sandbox.complete_authorization(&request, &answer, ctx(now)).await.unwrap()
    }

    #[tokio::test]
    async fn a_declined_or_forged_answer_gives_no_consent() {
        let sandbox = Sandbox::new(1);
        let request = AuthRequest {
            institution_id: "sandbox-bank".into(),
            user_key: "u".into(),
            redirect_url: String::new(),
            state: "s1".into(),
            resume: None,
        };
        let declined = AuthAnswer::Callback {
            params: vec![("state".into(), "s1".into()), ("error".into(), "access_denied".into())],
        };
        let err = sandbox.complete_authorization(&request, &declined, ctx(t0())).await.unwrap_err();
        assert_eq!(err.kind, FailureKind::InvalidCredentials);
        let forged =
            AuthAnswer::Callback { params: vec![("state".into(), "other".into()), ("code".into(), "approved".into())] };
        assert_eq!(
            sandbox.complete_authorization(&request, &forged, ctx(t0())).await.unwrap_err().code,
            "state_mismatch"
        );
    }

    #[tokio::test]
    async fn reconnecting_mints_new_ids_for_the_same_accounts() {
        let sandbox = Sandbox::new(1);
        let first = connect(&sandbox, "sandbox-bank", "conn-1", t0()).await;
        let second = connect(&sandbox, "sandbox-bank", "conn-1", t0() + TimeDelta::days(1)).await;
        let a = sandbox.discover(&first, ctx(t0())).await.unwrap();
        let b = sandbox.discover(&second, ctx(t0() + TimeDelta::days(1))).await.unwrap();
        assert_eq!(a.len(), 3);
        assert_ne!(a[0].provider_item_id, b[0].provider_item_id);
        assert_eq!(a[0].iban, b[0].iban);
        assert_eq!(a[2].masked_number, b[2].masked_number);
        let other_user = connect(&sandbox, "sandbox-bank", "conn-2", t0()).await;
        assert_ne!(sandbox.discover(&other_user, ctx(t0())).await.unwrap()[0].iban, a[0].iban);
    }

    #[tokio::test]
    async fn fetch_returns_balance_and_transactions_since_a_day() {
        let sandbox = Sandbox::new(1);
        let consent = connect(&sandbox, "sandbox-broker", "c", t0()).await;
        let items = sandbox.discover(&consent, ctx(t0())).await.unwrap();
        let stock = &items[0];
        assert_eq!(stock.kind, AccountKind::Brokerage);
        let data = sandbox
            .fetch(&consent, &stock.provider_item_id, t0().date_naive() - TimeDelta::days(60), ctx(t0()))
            .await
            .unwrap();
        assert_eq!(data.holdings.len(), 3);
        assert!(data.balance.is_some());
        let overlap = sandbox
            .fetch(&consent, &stock.provider_item_id, t0().date_naive() - TimeDelta::days(30), ctx(t0()))
            .await
            .unwrap();
        assert!(overlap.transactions.iter().all(|t| data.transactions.contains(t)), "windows agree");
    }

    #[tokio::test]
    async fn each_behaviour_fails_the_way_it_says() {
        let sandbox = Sandbox::new(1);
        let night = Utc.with_ymd_and_hms(2026, 3, 2, 1, 30, 0).unwrap();
        let maintenance = connect(&sandbox, "sandbox-maintenance", "c", t0()).await;
        let kind = sandbox.discover(&maintenance, ctx(night + TimeDelta::days(1))).await.unwrap_err().kind;
        assert_eq!(kind, FailureKind::Temporary(TemporaryCause::Maintenance));

        let short = connect(&sandbox, "sandbox-short-consent", "c", t0()).await;
        assert!(sandbox.discover(&short, ctx(t0() + TimeDelta::days(6))).await.is_ok());
        assert_eq!(
            sandbox.discover(&short, ctx(t0() + TimeDelta::days(7))).await.unwrap_err().kind,
            FailureKind::Expired
        );

        let sca = connect(&sandbox, "sandbox-sca", "c", t0()).await;
        assert!(sandbox.discover(&sca, ctx(t0() + TimeDelta::days(1))).await.is_ok());
        assert_eq!(
            sandbox.discover(&sca, ctx(t0() + TimeDelta::days(10))).await.unwrap_err().kind,
            FailureKind::ActionRequired
        );

        let blocking = connect(&sandbox, "sandbox-blocking", "c", t0()).await;
        assert_eq!(sandbox.discover(&blocking, ctx(t0())).await.unwrap_err().kind, FailureKind::Unsupported);
        let present = CallContext { now: t0(), user_present: true, psu_ip_address: None };
        assert!(sandbox.discover(&blocking, present).await.is_ok(), "the user gets in");

        let quota = connect(&sandbox, "sandbox-quota", "c", t0()).await;
        for _ in 0..4 {
            sandbox.discover(&quota, ctx(t0())).await.unwrap();
        }
        let limited = sandbox.discover(&quota, ctx(t0())).await.unwrap_err();
        assert_eq!(limited.kind, FailureKind::Temporary(TemporaryCause::RateLimited));
        assert_eq!(limited.retry_at, Some(Utc.with_ymd_and_hms(2026, 3, 3, 0, 0, 0).unwrap()));

        let partial = connect(&sandbox, "sandbox-partial", "c", t0()).await;
        let items = sandbox.discover(&partial, ctx(t0())).await.unwrap();
        assert!(sandbox.fetch(&partial, &items[0].provider_item_id, t0().date_naive(), ctx(t0())).await.is_ok());
        let failed =
            sandbox.fetch(&partial, &items[1].provider_item_id, t0().date_naive(), ctx(t0())).await.unwrap_err();
        assert!(failed.kind.is_temporary());

        let flaky = connect(&sandbox, "sandbox-flaky", "c", t0()).await;
        let mut kinds = std::collections::HashSet::new();
        for minute in 0..200 {
            if let Err(failure) = sandbox.discover(&flaky, ctx(t0() + TimeDelta::minutes(minute))).await {
                kinds.insert(failure.kind);
            }
        }
        assert_eq!(kinds.len(), 2, "timeouts and resets: {kinds:?}");

        let changing = connect(&sandbox, "sandbox-changing-api", "c", t0()).await;
        let broken =
            (0..30).filter_map(|d| futures_lite(sandbox.discover(&changing, ctx(t0() + TimeDelta::days(d))))).count();
        assert!(broken >= 4, "some days answer unreadably");
    }

    #[tokio::test]
    async fn accounts_appear_and_disappear() {
        let sandbox = Sandbox::new(1);
        let consent = connect(&sandbox, "sandbox-changing-accounts", "c", t0()).await;
        let counts: std::collections::BTreeSet<usize> = futures_counts(&sandbox, &consent).await;
        assert_eq!(counts, [1, 2].into_iter().collect());
    }

    async fn futures_counts(sandbox: &Sandbox, consent: &Consent) -> std::collections::BTreeSet<usize> {
        let mut counts = std::collections::BTreeSet::new();
        for d in 0..40 {
            counts.insert(sandbox.discover(consent, ctx(t0() + TimeDelta::days(d))).await.unwrap().len());
        }
        counts
    }

    /// Polls a sandbox future, which never waits, to completion; `Some` when it failed.
    fn futures_lite<T>(future: impl std::future::Future<Output = Result<T, Failure>>) -> Option<Failure> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut future = std::pin::pin!(future);
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(result) => result.err(),
            std::task::Poll::Pending => None,
        }
    }
}
