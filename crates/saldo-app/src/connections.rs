//! Connection use cases: the institution catalog, connecting (authorise, discover, choose items),
//! reconnecting, disconnecting, and what the user sees of each connection.

use crate::ops::{Actor, App, Missing, OpsError};
use crate::sync::{call_context, consent_of, with_timeout};
use chrono::{DateTime, Utc};
use saldo_connectors::{AuthAnswer, AuthRequest, AuthStart, Connector, Consent};
use saldo_core::failure::{Colour, Failure};
use saldo_core::ids::{ConnectionId, InstitutionId};
use saldo_core::institution::{Connection, ConsentRecord, Institution};
use saldo_core::item::{diff_items, look_alikes, new_item, Item};
use saldo_core::sync::{Episode, Status, SyncState, Trigger};
use saldo_core::user::User;
use saldo_store::{KeptAccounts, Purpose, StoredAuthorization};
use std::sync::Arc;

pub use crate::tracking::{track, track_as, Selection};

/// How long a connector's list of institutions in the database serves before its provider is
/// asked again: banks join and leave rarely, and the lists run to thousands.
const CATALOG_FRESH_FOR: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// Refreshes, from its provider, each configured connector's institutions that the database has
/// not had fresh in the last day (all of them when `force`). The catalog in the database is shared
/// by every saldo process; a provider that cannot be reached leaves its last list in place.
pub async fn refresh_catalog(ctx: &App, force: bool) -> Result<(), OpsError> {
    let now = ctx.clock.now();
    let call = call_context(ctx, now, Trigger::User);
    for connector in ctx.connectors.all() {
        let refreshed = ctx.db.catalog_refreshed_at(connector.name()).await?;
        if !force && refreshed.is_some_and(|at| at <= now && now - at < CATALOG_FRESH_FOR) {
            continue;
        }
        let listed = match with_timeout(&ctx.engine, connector.institutions(call)).await {
            Ok(listed) => listed,
            Err(failure) => {
                tracing::warn!(connector = connector.name(), code = %failure.code, "cannot list institutions");
                continue;
            }
        };
        let catalog: Vec<Institution> = listed
            .into_iter()
            .map(|info| Institution {
                id: InstitutionId(ctx.new_id()),
                connector: connector.name().into(),
                provider_institution_id: info.id,
                name: info.name,
                country: info.country,
                bic: info.bic,
                max_history_days: Some(info.max_history_days),
                max_consent_days: Some(info.max_consent_days),
                accesses_per_day: info.accesses_per_day,
                description: info.description,
                logo_url: info.logo_url,
            })
            .collect();
        ctx.db.refresh_catalog(connector.name(), &catalog, now).await?;
    }
    Ok(())
}

/// The catalog of institutions reachable through the configured connectors; `search` matches a
/// part of the name or id.
pub async fn institutions(ctx: &App, search: Option<&str>) -> Result<Vec<Institution>, OpsError> {
    refresh_catalog(ctx, false).await?;
    Ok(ctx.db.institutions(search).await?.into_iter().filter(|i| ctx.connectors.get(&i.connector).is_some()).collect())
}

async fn find_institution(ctx: &App, reference: &str) -> Result<Institution, OpsError> {
    let all = institutions(ctx, None).await?;
    let wanted = reference.trim().to_lowercase();
    let mut matches: Vec<Institution> = all
        .iter()
        .filter(|i| {
            i.id.to_string() == wanted
                || i.provider_institution_id.to_lowercase() == wanted
                || i.name.to_lowercase() == wanted
        })
        .cloned()
        .collect();
    // A connector that reaches one institution is named by the connector (`saldo connect simplefin`).
    if matches.is_empty() {
        let by_connector: Vec<&Institution> = all.iter().filter(|i| i.connector == wanted).collect();
        if let [only] = by_connector.as_slice() {
            matches.push((*only).clone());
        }
    }
    match matches.len() {
        1 => Ok(matches.into_iter().next().ok_or_else(|| OpsError::NotFound(reference.into()))?),
        0 => Err(OpsError::Missing(Missing::Institution(reference.to_string()))),
        n => Err(OpsError::Invalid(format!("{n} institutions match {reference:?}; use its id"))),
    }
}

fn connector_for(ctx: &App, connection_connector: &str) -> Result<Arc<dyn Connector>, OpsError> {
    ctx.connectors.get(connection_connector).ok_or_else(|| {
        OpsError::Invalid(format!("the {connection_connector} connector is not configured on this server"))
    })
}

/// Whether the connector's provider counts the user's own accesses (see
/// [`Connector::counts_user_access`]); counted for a connector this server does not offer.
fn counts_user_access(ctx: &App, connector: &str) -> bool {
    ctx.connectors.get(connector).is_none_or(|c| c.counts_user_access())
}

/// An authorisation under way: what the user must do, and what completes it.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    pub connection_id: ConnectionId,
    pub institution: Institution,
    pub request: AuthRequest,
    /// What the user must do; `None` for an authorisation resumed from the database at its callback.
    pub start: Option<AuthStart>,
}

fn failure_error(institution: &Institution, failure: Failure) -> OpsError {
    if failure.code == "access_denied" {
        return OpsError::Invalid(format!("you declined the consent at {}; nothing was connected", institution.name));
    }
    let mut message = failure.kind.connect_message(&institution.name);
    if let Some(first) = message.get(..1) {
        message.replace_range(..1, &first.to_uppercase());
    }
    OpsError::Invalid(format!("{message} ({}: {})", failure.code, failure.detail))
}

async fn begin(
    ctx: &App,
    connection_id: ConnectionId,
    institution: Institution,
) -> Result<PendingAuthorization, OpsError> {
    let base = ctx.settings.callback_base.clone();
    begin_with_callback(ctx, connection_id, institution, &base).await
}

/// Where a provider sends the user back: saldo's `/callback/{connector}` under `base`.
fn callback_url(base: &str, connector: &str) -> String {
    format!("{}/callback/{connector}", base.trim_end_matches('/'))
}

async fn begin_with_callback(
    ctx: &App,
    connection_id: ConnectionId,
    institution: Institution,
    base: &str,
) -> Result<PendingAuthorization, OpsError> {
    let connector = connector_for(ctx, &institution.connector)?;
    let mut request = AuthRequest {
        institution_id: institution.provider_institution_id.clone(),
        user_key: connection_id.to_string(),
        redirect_url: callback_url(base, &institution.connector),
        state: format!("{:032x}", rand::random::<u128>()),
        resume: None,
    };
    let call = call_context(ctx, ctx.clock.now(), Trigger::User);
    let start = with_timeout(&ctx.engine, connector.begin_authorization(&request, call))
        .await
        .map_err(|f| failure_error(&institution, f))?;
    if let AuthStart::Redirect { resume, .. } = &start {
        request.resume = resume.clone();
    }
    Ok(PendingAuthorization { connection_id, institution, request, start: Some(start) })
}

/// Starts connecting an institution (by id, provider id or name).
pub async fn begin_connect(ctx: &App, actor: &Actor, institution: &str) -> Result<PendingAuthorization, OpsError> {
    let ctx = &ctx.acting_for(actor);
    let institution = find_institution(ctx, institution).await?;
    begin(ctx, ConnectionId(ctx.new_id()), institution).await
}

async fn authorize(
    ctx: &App,
    pending: &PendingAuthorization,
    answer: &AuthAnswer,
) -> Result<(Consent, Vec<saldo_connectors::DiscoveredItem>), OpsError> {
    let connector = connector_for(ctx, &pending.institution.connector)?;
    let give_up_at = tokio::time::Instant::now() + APP_APPROVAL_WAIT;
    let consent = loop {
        let call = call_context(ctx, ctx.clock.now(), Trigger::User);
        match with_timeout(&ctx.engine, connector.complete_authorization(&pending.request, answer, call)).await {
            // A person takes longer to answer in their bank's app than a connector polls for.
            Err(failure)
                if failure.code == "sca_pending"
                    && matches!(answer, AuthAnswer::Decoupled { .. })
                    && tokio::time::Instant::now() < give_up_at =>
            {
                tokio::time::sleep(APP_APPROVAL_POLL).await;
            }
            result => break result.map_err(|f| failure_error(&pending.institution, f))?,
        }
    };
    let call = call_context(ctx, ctx.clock.now(), Trigger::User);
    let discovered = with_timeout(&ctx.engine, connector.discover(&consent, call))
        .await
        .map_err(|f| failure_error(&pending.institution, f))?;
    Ok((consent, discovered))
}

/// The consent as stored: its secret sealed for this connection.
fn consent_record(ctx: &App, connection: ConnectionId, consent: &Consent) -> ConsentRecord {
    ConsentRecord {
        id: consent.id.clone(),
        granted_at: consent.granted_at,
        valid_until: consent.valid_until,
        scope: consent.scope.clone(),
        max_history_days: consent.max_history_days,
        accesses_per_day: consent.accesses_per_day,
        secret: consent.secret.as_ref().map(|secret| ctx.keyring.seal(secret, connection.0.as_bytes())),
    }
}

/// Completes a connect: the consent is stored and the discovered items are offered.
pub async fn complete_connect(
    ctx: &App,
    actor: &Actor,
    pending: &PendingAuthorization,
    answer: &AuthAnswer,
) -> Result<(ConnectionId, Vec<Item>), OpsError> {
    let user = &actor.user;
    let ctx = &ctx.acting_for(actor);
    let (consent, discovered) = authorize(ctx, pending, answer).await?;
    let now = ctx.clock.now();
    let connection = Connection {
        id: pending.connection_id,
        user_id: user.id,
        institution_id: pending.institution.id,
        connector: pending.institution.connector.clone(),
        consent: Some(consent_record(ctx, pending.connection_id, &consent)),
        created_at: now,
    };
    let items: Vec<Item> =
        discovered.iter().map(|found| new_item(ctx.new_id(), connection.id, found.identity(), found, now)).collect();
    // The discovery while authorising was an access too, for providers that count the user's.
    let mut state = SyncState::new(now, consent.accesses_per_day);
    state.budget.counts_user_access = counts_user_access(ctx, &pending.institution.connector);
    state.budget.record_access(now.date_naive());
    ctx.db.create_connection(&connection, &state, &items).await?;
    Ok((connection.id, items))
}

pub(crate) async fn own_connection(
    ctx: &App,
    user: &User,
    id: ConnectionId,
) -> Result<(Connection, SyncState), OpsError> {
    let record = ctx
        .db
        .connection_record(id, ctx.clock.now())
        .await?
        .filter(|r| r.connection.user_id == user.id)
        .ok_or_else(|| OpsError::Missing(Missing::Connection(id.to_string())))?;
    Ok((record.connection, record.state))
}

/// Parses a connection id given on the command line or in a URL.
pub fn parse_connection_id(text: &str) -> Result<ConnectionId, OpsError> {
    text.trim().parse::<ConnectionId>().map_err(|_| OpsError::Invalid(format!("invalid connection id {text:?}")))
}

/// What a browser authorisation is for.
#[derive(Debug, Clone, Copy)]
pub enum BrowserTarget<'a> {
    /// Connect an institution (by id, provider id or name), tracking all it has.
    Connect(&'a str),
    /// Connect an institution, and let the person choose what to track once it is authorised.
    ConnectChoosing(&'a str),
    /// Renew an existing connection's consent.
    Reconnect(ConnectionId),
}

/// How long a user has to answer at the provider before the authorisation is forgotten.
const BROWSER_AUTHORIZATION_MINUTES: i64 = 30;

/// How long saldo waits for an approval in the bank's app (banks give up sooner, and say so).
const APP_APPROVAL_WAIT: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// The pause between asking a bank whether its app's approval has come.
const APP_APPROVAL_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// What the user does to authorise an authorisation begun without a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserStep {
    /// Open this page: the provider's, or the sandbox bank's consent page on this server (a path).
    OpenPage(String),
    /// Approve in the bank's own app, as the bank's message says; saldo completes it meanwhile.
    ApproveInBankApp(String),
}

/// An authorisation begun: what the user does, and when the authorisation lapses. Its progress
/// is kept under `state`.
#[derive(Debug, Clone)]
pub struct BegunAuthorization {
    pub connection_id: ConnectionId,
    pub institution: Institution,
    pub step: UserStep,
    pub state: String,
    pub expires_at: DateTime<Utc>,
}

impl BegunAuthorization {
    /// The page to open, when there is one.
    pub fn page(&self) -> Option<&str> {
        match &self.step {
            UserStep::OpenPage(url) => Some(url),
            UserStep::ApproveInBankApp(_) => None,
        }
    }
}

/// Starts an authorisation the user completes away from saldo. One completed in a browser is kept
/// in the database under its `state`, so that whichever process receives the provider's redirect
/// to `base/callback/{connector}` can finish it. One approved in the bank's app is completed by
/// this process in the background; both record their outcome under `state`
/// ([`authorization_status`]).
pub async fn begin_authorization(
    ctx: &App,
    actor: &Actor,
    target: BrowserTarget<'_>,
    base: &str,
) -> Result<BegunAuthorization, OpsError> {
    let user = &actor.user;
    let ctx = &ctx.acting_for(actor);
    let (purpose, connection_id, institution) = match target {
        BrowserTarget::Connect(reference) => {
            (Purpose::Connect, ConnectionId(ctx.new_id()), find_institution(ctx, reference).await?)
        }
        BrowserTarget::ConnectChoosing(reference) => {
            (Purpose::ConnectChoosing, ConnectionId(ctx.new_id()), find_institution(ctx, reference).await?)
        }
        BrowserTarget::Reconnect(id) => {
            let (connection, institution) = own_connection_with_institution(ctx, user, id).await?;
            (Purpose::Reconnect, connection.id, institution)
        }
    };
    let pending = begin_with_callback(ctx, connection_id, institution, base).await?;
    if let Some(AuthStart::Decoupled { reference, instructions }) = &pending.start {
        let answer = AuthAnswer::Decoupled { reference: reference.clone() };
        let step = UserStep::ApproveInBankApp(instructions.clone());
        let stored = remember(ctx, actor, &pending, purpose).await?;
        let state = stored.state.clone();
        let (ctx, actor) = (ctx.clone(), actor.clone());
        let institution = pending.institution.clone();
        tokio::spawn(async move {
            if let Err(error) = complete_in_background(&ctx, &actor, state, answer).await {
                tracing::warn!(institution = %institution.name, %error, "could not record an approval in the bank's app");
            }
        });
        return Ok(BegunAuthorization {
            connection_id: pending.connection_id,
            institution: pending.institution,
            step,
            state: stored.state,
            expires_at: stored.expires_at,
        });
    }
    keep_for_callback(ctx, actor, pending, purpose).await
}

/// Completes an authorisation approved in the bank's app, as the callback completes a redirect's.
async fn complete_in_background(ctx: &App, actor: &Actor, state: String, answer: AuthAnswer) -> Result<(), OpsError> {
    let Some(auth) = ctx.db.take_authorization(&state, ctx.clock.now()).await? else { return Ok(()) };
    let outcome = complete_taken_authorization(ctx, actor, None, answer, state.clone(), auth).await;
    let error = outcome.as_ref().err().map(ToString::to_string);
    ctx.db.finish_authorization(&state, error.as_deref(), ctx.clock.now()).await?;
    Ok(())
}

/// Keeps an authorisation under way in the database under its `state`.
async fn remember(
    ctx: &App,
    actor: &Actor,
    pending: &PendingAuthorization,
    purpose: Purpose,
) -> Result<StoredAuthorization, OpsError> {
    let now = ctx.clock.now();
    let stored = StoredAuthorization {
        state: pending.request.state.clone(),
        purpose,
        user_id: actor.user.id,
        connection_id: pending.connection_id,
        institution_id: pending.institution.id,
        user_key: pending.request.user_key.clone(),
        redirect_url: pending.request.redirect_url.clone(),
        resume: pending.request.resume.clone(),
        created_at: now,
        expires_at: now + chrono::TimeDelta::minutes(BROWSER_AUTHORIZATION_MINUTES),
    };
    ctx.db.save_authorization(&stored).await?;
    Ok(stored)
}

/// Where one of the actor's authorisations has got to, by its `state`.
pub async fn authorization_status(
    ctx: &App,
    actor: &Actor,
    state: &str,
) -> Result<(StoredAuthorization, saldo_store::AuthorizationProgress), OpsError> {
    ctx.db
        .authorization_status(state, ctx.clock.now())
        .await?
        .filter(|(auth, _)| auth.user_id == actor.user.id)
        .ok_or_else(|| OpsError::Missing(Missing::Authorization(state.to_string())))
}

/// Keeps an authorisation that the provider's redirect completes, under its `state`, so that
/// whichever process serves `/callback/{connector}` can finish it.
pub async fn keep_for_callback(
    ctx: &App,
    actor: &Actor,
    pending: PendingAuthorization,
    purpose: Purpose,
) -> Result<BegunAuthorization, OpsError> {
    let ctx = &ctx.acting_for(actor);
    let Some(AuthStart::Redirect { url, .. }) = &pending.start else {
        return Err(OpsError::NotByRedirect { institution: pending.institution.name.clone() });
    };
    let step = UserStep::OpenPage(url.clone());
    let stored = remember(ctx, actor, &pending, purpose).await?;
    Ok(BegunAuthorization {
        connection_id: pending.connection_id,
        institution: pending.institution,
        step,
        state: stored.state,
        expires_at: stored.expires_at,
    })
}

/// The authorisation waiting under `state`, with its institution (for the provider's own page,
/// such as the sandbox bank's consent page).
pub async fn waiting_authorization(ctx: &App, state: &str) -> Result<(StoredAuthorization, Institution), OpsError> {
    let unknown = || OpsError::NotFound("this authorisation is unknown or has expired; start again in saldo".into());
    let auth = ctx.db.authorization(state, ctx.clock.now()).await?.ok_or_else(unknown)?;
    let institution = ctx.db.institution(auth.institution_id).await?.ok_or_else(unknown)?;
    Ok((auth, institution))
}

/// What a browser authorisation did once the provider sent the user back.
#[derive(Debug, Clone)]
pub struct BrowserOutcome {
    pub purpose: Purpose,
    pub connection_id: ConnectionId,
    pub institution: Institution,
    /// The connection's items after the first sync (all tracked after a new connect, none yet
    /// when the person chooses).
    pub items: Vec<Item>,
    /// The first sync; none yet when the person chooses the items first.
    pub sync: Option<crate::sync::SyncOutcome>,
}

/// Finishes a browser authorisation from the provider's redirect to `/callback/{connector}`: the
/// `state` it carries is taken once (a replayed redirect finds nothing), the consent completed, a
/// new connection's items all tracked, and a first sync run at once. It completes for the user
/// who began it (the unguessable `state` is theirs), from the browser at `address`.
pub async fn complete_browser_authorization(
    ctx: &App,
    address: Option<std::net::IpAddr>,
    connector: &str,
    params: Vec<(String, String)>,
) -> Result<BrowserOutcome, OpsError> {
    // GoCardless returns saldo's state as `ref` (its requisition "reference"); the others as `state`.
    let state = ["state", "ref"]
        .iter()
        .find_map(|name| params.iter().find(|(key, _)| key == name))
        .map(|(_, value)| value.clone())
        .ok_or_else(|| OpsError::Invalid("the provider's redirect carries no state".into()))?;
    let auth = ctx.db.take_authorization(&state, ctx.clock.now()).await?.ok_or_else(unknown_authorization)?;
    let user = ctx.db.user_by_id(auth.user_id).await?.ok_or_else(unknown_authorization)?;
    let actor = &Actor { user, address };
    let ctx = &ctx.acting_for(actor);
    // The command line that began it waits for this outcome.
    let answer = AuthAnswer::Callback { params };
    let outcome = complete_taken_authorization(ctx, actor, Some(connector), answer, state.clone(), auth).await;
    let error = outcome.as_ref().err().map(ToString::to_string);
    ctx.db.finish_authorization(&state, error.as_deref(), ctx.clock.now()).await?;
    outcome
}

fn unknown_authorization() -> OpsError {
    OpsError::Invalid("this authorisation is unknown, already used or expired; start again".into())
}

async fn complete_taken_authorization(
    ctx: &App,
    actor: &Actor,
    redirected_to: Option<&str>,
    answer: AuthAnswer,
    state: String,
    auth: StoredAuthorization,
) -> Result<BrowserOutcome, OpsError> {
    let institution = ctx.db.institution(auth.institution_id).await?.ok_or_else(unknown_authorization)?;
    if auth.user_id != actor.user.id || redirected_to.is_some_and(|connector| institution.connector != connector) {
        return Err(unknown_authorization());
    }
    let pending = PendingAuthorization {
        connection_id: auth.connection_id,
        request: AuthRequest {
            institution_id: institution.provider_institution_id.clone(),
            user_key: auth.user_key,
            redirect_url: auth.redirect_url,
            resume: auth.resume,
            state,
        },
        institution,
        start: None,
    };
    let worker = format!("callback-{}", std::process::id());
    match auth.purpose {
        Purpose::Connect => {
            let (id, _) = complete_connect(ctx, actor, &pending, &answer).await?;
            track(ctx, actor, id, &Selection::All).await?;
        }
        Purpose::ConnectChoosing => {
            complete_connect(ctx, actor, &pending, &answer).await?;
        }
        Purpose::Reconnect => {
            complete_reconnect(ctx, actor, &pending, &answer).await?;
        }
    }
    let sync = match auth.purpose {
        Purpose::ConnectChoosing => None,
        _ => Some(crate::sync::sync_now(ctx, actor, pending.connection_id, &worker).await?.outcome),
    };
    Ok(BrowserOutcome {
        purpose: auth.purpose,
        connection_id: pending.connection_id,
        items: ctx.db.items(pending.connection_id).await?,
        institution: pending.institution,
        sync,
    })
}

/// Starts re-authorising an existing connection (after an error, or early to renew the consent).
pub async fn begin_reconnect(
    ctx: &App,
    actor: &Actor,
    connection: ConnectionId,
) -> Result<PendingAuthorization, OpsError> {
    let user = &actor.user;
    let ctx = &ctx.acting_for(actor);
    let (connection, institution) = own_connection_with_institution(ctx, user, connection).await?;
    begin(ctx, connection.id, institution).await
}

/// One of the user's connections with its institution.
async fn own_connection_with_institution(
    ctx: &App,
    user: &User,
    connection: ConnectionId,
) -> Result<(Connection, Institution), OpsError> {
    let (connection, _) = own_connection(ctx, user, connection).await?;
    let institution = ctx
        .db
        .institution(connection.institution_id)
        .await?
        .ok_or_else(|| OpsError::NotFound("the connection's institution".into()))?;
    Ok((connection, institution))
}

/// What a reconnect changed.
#[derive(Debug, Clone, Default)]
pub struct ReconnectSummary {
    /// Tracked accounts found again (under new provider ids or not).
    pub relinked: usize,
    pub new_items: Vec<Item>,
    pub vanished: Vec<Item>,
    /// New items that look like vanished tracked ones (new, old): see [`look_alikes`].
    pub look_alikes: Vec<(Item, Item)>,
}

/// Completes a reconnect: the new consent replaces the old one, accounts are re-linked by their
/// stable identity (history continues in the same saldo account), new items are offered, vanished
/// ones closed, and the state starts afresh with a sync due at once.
pub async fn complete_reconnect(
    ctx: &App,
    actor: &Actor,
    pending: &PendingAuthorization,
    answer: &AuthAnswer,
) -> Result<ReconnectSummary, OpsError> {
    let user = &actor.user;
    let ctx = &ctx.acting_for(actor);
    let (connection, mut state) = own_connection(ctx, user, pending.connection_id).await?;
    let (consent, discovered) = authorize(ctx, pending, answer).await?;
    let now = ctx.clock.now();
    let stored = ctx.db.items(connection.id).await?;
    let diff = diff_items(connection.id, &stored, &discovered, now, || ctx.new_id());
    let summary = ReconnectSummary {
        relinked: stored
            .iter()
            .filter(|s| {
                let found_again = discovered.iter().any(|d| d.identity() == s.identity_key)
                    || diff
                        .items
                        .iter()
                        .any(|i| i.id == s.id && i.identity_key != s.identity_key && i.vanished_at.is_none());
                s.account_id.is_some() && found_again
            })
            .count(),
        new_items: diff.items.iter().filter(|i| diff.new_keys.contains(&i.identity_key)).cloned().collect(),
        vanished: diff.items.iter().filter(|i| i.vanished_at.is_some()).cloned().collect(),
        look_alikes: {
            let mut after: Vec<Item> =
                stored.iter().filter(|s| !diff.items.iter().any(|i| i.id == s.id)).cloned().collect();
            after.extend(diff.items.iter().cloned());
            look_alikes(&after).into_iter().map(|(new, old)| (new.clone(), old.clone())).collect()
        },
    };
    state.reconnected(now, consent.accesses_per_day);
    state.budget.counts_user_access = counts_user_access(ctx, &pending.institution.connector);
    state.budget.record_access(now.date_naive());
    ctx.db
        .replace_consent(
            connection.id,
            &consent_record(ctx, connection.id, &consent),
            &state,
            &diff.items,
            &diff.aliases,
        )
        .await?;
    // The replaced consent is ended at the provider, so that no access outlives its use; the
    // reconnect has succeeded either way.
    if let Some(old) = connection.consent.as_ref().filter(|old| old.id != consent.id) {
        let call = call_context(ctx, now, Trigger::User);
        let ended = match consent_of(ctx, connection.id, old, &pending.institution) {
            Ok(old) => with_timeout(&ctx.engine, connector_for(ctx, &connection.connector)?.revoke(&old, call)).await,
            Err(failure) => Err(failure),
        };
        if let Err(failure) = ended {
            tracing::warn!(connection = %connection.id, code = %failure.code, "ending the replaced consent failed");
        }
    }
    Ok(summary)
}

/// Revokes the consent at the provider and removes the connection with its secrets; its accounts
/// keep their history (closed) unless `delete_history`. A provider that cannot be reached does not
/// stop the disconnect; its failure is returned so the user can be told.
pub async fn disconnect(
    ctx: &App,
    actor: &Actor,
    connection: ConnectionId,
    keep: KeptAccounts,
) -> Result<Option<Failure>, OpsError> {
    let user = &actor.user;
    let ctx = &ctx.acting_for(actor);
    let (connection, _) = own_connection(ctx, user, connection).await?;
    let institution = ctx.db.institution(connection.institution_id).await?;
    let mut revoke_failure = None;
    if let (Some(record), Some(institution), Some(connector)) =
        (connection.consent.as_ref(), institution.as_ref(), ctx.connectors.get(&connection.connector))
    {
        let call = call_context(ctx, ctx.clock.now(), Trigger::User);
        let revoked = match consent_of(ctx, connection.id, record, institution) {
            Ok(consent) => with_timeout(&ctx.engine, connector.revoke(&consent, call)).await,
            Err(failure) => Err(failure),
        };
        if let Err(failure) = revoked {
            tracing::warn!(connection = %connection.id, code = %failure.code, "revoking at the provider failed");
            revoke_failure = Some(failure);
        }
    }
    ctx.db.delete_connection(connection.id, keep, ctx.clock.now()).await?;
    Ok(revoke_failure)
}

/// A connection as the user sees it.
#[derive(Debug, Clone)]
pub struct ConnectionView {
    pub connection: Connection,
    pub institution: Institution,
    pub status: Status,
    pub colour: Colour,
    /// What happened and what to do, in plain language.
    pub message: String,
    pub episode: Option<Episode>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub next_sync_at: Option<DateTime<Utc>>,
    pub consent_expires_at: Option<DateTime<Utc>>,
    pub outage: bool,
}

pub async fn connection_views(ctx: &App, actor: &Actor) -> Result<Vec<ConnectionView>, OpsError> {
    let user = &actor.user;
    let ctx = &ctx.acting_for(actor);
    let now = ctx.clock.now();
    let mut views = Vec::new();
    for record in ctx.db.connection_records(user.id, now).await? {
        let Some(institution) = ctx.db.institution(record.connection.institution_id).await? else { continue };
        let health = ctx.db.institution_health(institution.id).await?;
        let state = &record.state;
        let name = &institution.name;
        let outage = health.is_degraded() && state.episode.as_ref().is_some_and(|e| e.failure.kind.is_temporary());
        let message = match &state.episode {
            _ if outage => format!(
                "{name} has an outage that affects many of its customers, not just your connection. saldo retries for everyone; nothing to do."
            ),
            // After a day, what was said at first ("if this lasts a day…") is history: say since when.
            Some(episode) if episode.escalated && episode.failure.kind.is_temporary() => format!(
                "Since {}, {}. saldo keeps retrying; if it goes on, check {name}'s own app or reconnect.",
                episode.since.format("%Y-%m-%d %H:%M UTC"),
                episode.failure.kind.cause(name)
            ),
            Some(episode) => episode.failure.kind.user_message(name),
            None if state.partial => {
                format!("Updated, but some accounts at {name} could not be read; saldo tries them again at the next update.")
            }
            None if state.last_success_at.is_none() => format!("Waiting for the first update from {name}."),
            None => format!("Up to date with {name}."),
        };
        views.push(ConnectionView {
            consent_expires_at: record.connection.consent.as_ref().map(|c| c.valid_until),
            connection: record.connection,
            institution,
            status: state.status(),
            colour: state.colour(),
            message,
            episode: state.episode.clone(),
            last_success_at: state.last_success_at,
            next_sync_at: state.next_sync_at,
            outage,
        });
    }
    Ok(views)
}

/// A connection's items, after checking it is the user's.
pub async fn items(ctx: &App, actor: &Actor, connection: ConnectionId) -> Result<Vec<Item>, OpsError> {
    let user = &actor.user;
    let ctx = &ctx.acting_for(actor);
    let (connection, _) = own_connection(ctx, user, connection).await?;
    Ok(ctx.db.items(connection.id).await?)
}

/// One of the user's connections, as [`connection_views`] shows it.
pub async fn connection_view(ctx: &App, actor: &Actor, id: ConnectionId) -> Result<ConnectionView, OpsError> {
    own_connection(ctx, &actor.user, id).await?;
    connection_views(ctx, actor)
        .await?
        .into_iter()
        .find(|view| view.connection.id == id)
        .ok_or_else(|| OpsError::Missing(Missing::Connection(id.to_string())))
}

/// The most recent syncs of one of the user's connections, newest first.
pub async fn sync_runs(
    ctx: &App,
    actor: &Actor,
    id: ConnectionId,
    limit: u32,
) -> Result<Vec<saldo_store::SyncRun>, OpsError> {
    own_connection(ctx, &actor.user, id).await?;
    Ok(ctx.db.sync_runs(id, limit).await?)
}
