//! Wiring: from a validated configuration to a running application — the database, the key
//! ring and the connectors the configuration turns on.

use crate::config::Config;
use saldo_app::auth::AuthSettings;
use saldo_app::clock::Clock;
use saldo_app::ops::{App, OpsError, Settings};
use saldo_app::secrets::Keyring;
use saldo_app::sync::Connectors;
use saldo_connectors::berlin_group::{BerlinGroup, BerlinGroupSettings};
use saldo_connectors::enable_banking::{EnableBanking, EnableBankingSettings};
use saldo_connectors::gocardless::{GoCardless, GoCardlessSettings};
use saldo_connectors::http::Transport;
use saldo_connectors::sandbox::Sandbox;
use saldo_connectors::simplefin::{SimpleFin, SimpleFinSettings};
use saldo_core::secret::Secret;
use saldo_store::Db;
use std::sync::Arc;

/// Names each of saldo's files that other accounts of this machine can read: created by an
/// earlier build, or loosened by hand. saldo creates its own readable by their owner only.
fn warn_of_files_open_to_others(db: &Db, config: &Config) {
    let mut open = db.files_open_to_others();
    let key_file = &config.secret_key_file;
    let mut key_files = vec![key_file.clone()];
    key_files.extend(key_file.parent().filter(|d| !d.as_os_str().is_empty()).map(std::path::Path::to_path_buf));
    open.extend(saldo_store::files::open_to_others(&key_files));
    open.sort();
    open.dedup();
    for (path, mode) in open {
        let fix = if path.is_dir() { "chmod 700" } else { "chmod 600" };
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:03o}"),
            "other accounts of this machine can read this file of saldo's; `{fix}` it"
        );
    }
}

/// Opens the configured database, brings its schema up to date and offers the configured
/// connectors.
pub async fn open_app(config: Config, clock: Clock) -> Result<App, OpsError> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let sealed: Vec<_> = db.sealed_secrets().await?.into_iter().map(|(_, sealed)| sealed).collect();
    let keyring = Arc::new(Keyring::load(config.secret_key.as_ref(), &config.secret_key_file, &sealed)?);
    warn_of_files_open_to_others(&db, &config);
    let mut connectors = Connectors::default();
    if config.sandbox {
        let latency = std::time::Duration::from_millis(config.sandbox_latency_ms);
        connectors.add(Arc::new(Sandbox::new(config.sandbox_seed).with_latency(latency)));
    }
    if config.simplefin {
        let settings = SimpleFinSettings {
            allow_insecure_loopback: config.allow_insecure_loopback,
            timeout: std::time::Duration::from_secs(60),
        };
        connectors.add(Arc::new(SimpleFin::new(settings)));
    }
    // Each request well within the engine's limit for a whole call, which may take several.
    let transport = Transport {
        allow_insecure_loopback: config.allow_insecure_loopback,
        timeout: std::time::Duration::from_secs(20),
    };
    if let Some(eb) = &config.connectors.enable_banking {
        connectors.add(Arc::new(EnableBanking::new(EnableBankingSettings {
            base_url: eb.url.clone(),
            application_id: eb.application_id.clone(),
            private_key: eb.private_key.clone(),
            countries: eb.countries.clone(),
            transport,
        })));
    }
    if let Some(gc) = &config.connectors.gocardless {
        connectors.add(Arc::new(GoCardless::new(GoCardlessSettings {
            base_url: gc.url.clone(),
            secret_id: Secret::new(gc.secret_id.clone()),
            secret_key: gc.secret_key.clone(),
            countries: gc.countries.clone(),
            transport,
        })));
    }
    if !config.connectors.berlin_group.is_empty() {
        let banks = config.connectors.berlin_group.iter().map(crate::connector_config::BerlinGroupBankFile::bank);
        let settings = BerlinGroupSettings { banks: banks.collect(), transport };
        // Approving in the bank's app takes a person a minute or two.
        let polling = (60, std::time::Duration::from_secs(2));
        connectors.add(Arc::new(BerlinGroup::new(settings).with_polling(polling.0, polling.1)));
    }
    let settings = Settings {
        callback_base: config.connectors.callback_base(config.listen),
        public_url: config.connectors.public_url.clone(),
        local_user: config.user.clone(),
        base_currency: config.base_currency,
        sync_lease_seconds: config.sync_lease_seconds,
    };
    let mut app = App::new(db, clock, connectors, keyring, settings);
    let hours = |n: u64| chrono::TimeDelta::hours(i64::try_from(n).unwrap_or(i64::MAX / 3_600_000).min(24 * 36_500));
    app.auth = Arc::new(AuthSettings {
        session_idle: hours(config.session_idle_hours),
        session_lifetime: hours(config.session_lifetime_days.saturating_mul(24)),
        allow_signup: config.allow_signup,
    });
    Ok(app)
}
