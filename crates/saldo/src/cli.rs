//! The `saldo` command line: argument definitions and one handler per subcommand. Handlers call
//! `ops` on the configured database and print for humans or, with `--json`, the `api` forms.

use crate::config::{env_from_process, Config, Flags, LogFormat};
use anyhow::Context as _;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use saldo_app::clock::Clock;
use saldo_app::ops::{Actor, App, OpsError};
use saldo_core::account::AccountKind;
use saldo_core::money::Currency;
use std::path::PathBuf;

/// saldo: one current picture of your net worth, from your banks, brokers, pension funds and lenders.
///
/// With no configuration saldo keeps its data in an SQLite file in the platform data directory
/// (~/.local/share/saldo/saldo.db on Linux). Settings come from flags, SALDO_* environment
/// variables and an optional TOML file (~/.config/saldo/saldo.toml, or --config).
#[derive(Debug, Parser)]
#[command(name = "saldo", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// TOML config file [env: SALDO_CONFIG]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Database: sqlite://PATH, a file path (SQLite) or postgres://… [env: SALDO_DATABASE_URL]
    #[arg(long = "db", global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Directory for saldo's data; the default database lives here [env: SALDO_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format on stderr: human or json [env: SALDO_LOG_FORMAT]
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or saldo=debug [env: SALDO_LOG] (default: info for serve, warn otherwise)
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// The user a command acts for, by e-mail [env: SALDO_USER] (default: the install's owner)
    #[arg(long, global = true, value_name = "EMAIL")]
    pub user: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the web app, JSON API, health probes) and the sync scheduler until SIGTERM or Ctrl-C
    Serve {
        /// Address and port to listen on [env: SALDO_LISTEN] [default: 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Create or update the database schema, then exit (every command also does this on start)
    Migrate,
    /// Show net worth (tracked assets − tracked liabilities) in the base currency
    Networth(NetworthArgs),
    /// Manage accounts: manual assets and liabilities
    #[command(subcommand)]
    Account(AccountCommand),
    /// Record what a manual account is worth on a day
    #[command(subcommand)]
    Valuation(ValuationCommand),
    /// Exchange rates used to convert other currencies into the base currency
    #[command(subcommand)]
    Fx(FxCommand),
    /// Import statement files (OFX/QFX/QBO, CAMT.052/053/054, MT940/MT942, bank CSV) into accounts
    ///
    /// Each file lands whole or not at all, in the account its statements identify (IBAN, account
    /// number and currency), created when new. A file that ends before it closes (a broken
    /// download) is refused unless --accept-truncated. Importing a file again, or an overlapping one, adds
    /// nothing; transactions a sync already brought are recognised by date and amount. A CSV
    /// file's layout is detected and remembered for the account it went into.
    Import(crate::cli_import::ImportArgs),
    /// The install's users: add household members, list them, remove one; show or change the
    /// current user's settings
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens of the current user, for scripts and other apps
    #[command(subcommand)]
    Token(crate::cli_users::TokenCommand),
    /// List the institutions you can connect through the configured connectors (the sandbox bank's
    /// included unless turned off)
    Institutions {
        /// Only those whose name or id contains this, in this country (FI), or whose BIC starts
        /// with it
        search: Option<String>,
        /// Read every connector's list from its provider now (it is otherwise kept a day)
        #[arg(long)]
        refresh: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Connect an institution: authorise read-only access, then track its items
    Connect {
        /// Institution id, provider id (e.g. sandbox-bank, FI:Nordea) or name; or a connector with one
        /// institution (simplefin)
        institution: String,
        /// Approve the sandbox bank's consent page without asking
        #[arg(long)]
        yes: bool,
        /// The setup token from the SimpleFIN Bridge; `-` reads it from standard input (a token
        /// on the command line is visible to other users of this machine)
        #[arg(long)]
        setup_token: Option<String>,
        /// For a bank that authorises in the browser: print the address and return instead of
        /// waiting for `saldo serve` to receive the bank's answer
        #[arg(long)]
        no_wait: bool,
        /// Track none of the discovered items yet (choose later with `saldo track`)
        #[arg(long)]
        no_track: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List connections with their status, what is wrong and what to do
    Connections {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List the items a connection discovered
    Items {
        connection: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Track items of a connection: they get accounts that count in net worth
    Track {
        connection: String,
        /// Item ids, provider ids or names
        items: Vec<String>,
        /// Track every item not tracked yet
        #[arg(long, conflicts_with = "items")]
        all: bool,
        /// Track the one item named as this account, of an item that vanished (a bank that gave
        /// it a new id): its history continues there
        #[arg(long = "as", value_name = "ACCOUNT", conflicts_with = "all")]
        as_account: Option<String>,
    },
    /// Re-authorise a connection (after an error, or early to renew its consent); history is kept
    Reconnect {
        connection: String,
        /// Approve the sandbox bank's consent page without asking
        #[arg(long)]
        yes: bool,
        /// A new setup token (SimpleFIN); `-` reads it from standard input
        #[arg(long)]
        setup_token: Option<String>,
        /// For a bank that authorises in the browser: print the address and return instead of
        /// waiting for `saldo serve` to receive the bank's answer
        #[arg(long)]
        no_wait: bool,
    },
    /// Revoke a connection's consent and remove it; its accounts keep their history, closed: they
    /// count in net worth up to today and not after
    Disconnect {
        connection: String,
        /// Delete the accounts and their history too
        #[arg(long, conflicts_with = "keep_as_manual")]
        delete_history: bool,
        /// Keep the accounts as manual ones at their last balance, to be valued by hand (for money
        /// that is still there)
        #[arg(long)]
        keep_as_manual: bool,
    },
    /// List accounts (same as `saldo account list`)
    Accounts {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List an account's transactions
    Transactions {
        /// Account id or exact name
        #[arg(long)]
        account: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List an account's positions (an investment account's holdings), as last observed
    Holdings {
        /// Account id or exact name
        account: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show notifications, newest first
    Notifications {
        /// Only unread ones
        #[arg(long)]
        unread: bool,
        /// Mark them all read after showing them
        #[arg(long)]
        mark_read: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Run the syncs that are due once, or one connection's now, and print what happened
    Sync {
        /// Sync this connection now (user-triggered)
        #[arg(long)]
        connection: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Run only sync workers (no HTTP), e.g. several processes on one PostgreSQL database
    Worker,
    /// Run the real engine against the sandbox bank on a virtual clock and report what happened
    ///
    /// Writes to a fresh temporary SQLite database unless --db names one (use a dedicated, empty
    /// database: the simulation creates its own users).
    Simulate {
        /// Connections to simulate
        #[arg(long, default_value_t = 100)]
        connections: u32,
        /// Simulated days
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Seed of the sandbox bank, the users and the jitter
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Connections per simulated user
        #[arg(long, default_value_t = 4)]
        per_user: u32,
        /// Virtual minutes between scheduler passes
        #[arg(long, default_value_t = 15)]
        tick_minutes: u32,
        /// Provider calls at once within a pass (writes are batched either way); 1 repeats exactly for a seed
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Percent of users who import their accounts' statements before they track them at the bank
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=100))]
        importers: u32,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Inspect the configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage the master key that encrypts stored secrets (access URLs, tokens)
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Debug, Args)]
pub struct NetworthArgs {
    /// Day of the figure, YYYY-MM-DD [default: today]
    #[arg(long, value_parser = parse_date_arg)]
    pub(crate) date: Option<NaiveDate>,
    /// Report in this currency instead of the user's base currency
    #[arg(long, value_parser = parse_currency_arg)]
    pub(crate) currency: Option<Currency>,
    /// Also show the value of every day
    #[arg(long)]
    pub(crate) history: bool,
    /// First day of the history [default: the first recorded balance]
    #[arg(long, value_parser = parse_date_arg, requires = "history")]
    pub(crate) from: Option<NaiveDate>,
    /// Last day of the history [default: --date]
    #[arg(long, value_parser = parse_date_arg, requires = "history")]
    pub(crate) to: Option<NaiveDate>,
    /// Print JSON
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create a manual asset or liability
    Add {
        /// Name, e.g. "Flat in Lyon"
        #[arg(long)]
        name: String,
        /// cash, savings, brokerage, fund, pension, crypto, real_estate, vehicle, other_asset (assets);
        /// credit_card, loan, mortgage, other_liability (liabilities)
        #[arg(long, value_parser = parse_kind_arg)]
        kind: AccountKind,
        /// ISO-4217 currency code, e.g. EUR
        #[arg(long, value_parser = parse_currency_arg)]
        currency: Currency,
        /// A first valuation: what it is worth, or for a liability what is owed
        #[arg(long, allow_hyphen_values = true)]
        value: Option<String>,
        /// Day of the first valuation [default: today]
        #[arg(long, value_parser = parse_date_arg, requires = "value")]
        date: Option<NaiveDate>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List accounts with their latest balance
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Rename an account, change its kind within its class, or track/untrack it
    Edit {
        /// Account id or exact name
        account: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_parser = parse_kind_arg)]
        kind: Option<AccountKind>,
        /// Count it in net worth
        #[arg(long, conflicts_with = "untrack")]
        track: bool,
        /// Leave it out of net worth (its history stays)
        #[arg(long)]
        untrack: bool,
    },
    /// Delete an account and its whole history (asks first); a bank item that fed it is offered
    /// again, to be tracked anew with its history
    Delete {
        /// Account id or exact name
        account: String,
        /// Delete without asking
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ValuationCommand {
    /// Set the value of a manual account on a day; a second one on the same day replaces the first
    #[command(visible_alias = "add")]
    Set {
        /// Account id or exact name
        account: String,
        /// What it is worth, or for a liability what is owed, e.g. 250000 or 1234.56
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// Day of the valuation [default: today]
        #[arg(long, value_parser = parse_date_arg)]
        date: Option<NaiveDate>,
    },
    /// List an account's balance history
    List {
        /// Account id or exact name
        account: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Delete the valuation of a day
    Delete {
        /// Account id or exact name
        account: String,
        /// Day of the valuation to delete
        #[arg(long, value_parser = parse_date_arg)]
        date: NaiveDate,
    },
}

#[derive(Debug, Subcommand)]
pub enum FxCommand {
    /// Load ECB euro reference rates (eurofxref-hist.csv, eurofxref.csv or the eurofxref XML files)
    Import {
        /// Files to load; each is written whole or not at all
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show which currencies and days have rates
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user who signs in with EMAIL and the password read from stdin. The install's first
    /// user is its owner (an install used before anyone signed in is claimed, keeping its data)
    Add {
        email: String,
        /// Make this user the owner (claims an install whose owner has no password yet)
        #[arg(long)]
        owner: bool,
        /// Read the password from stdin (its first line)
        #[arg(long)]
        password_stdin: bool,
        /// The name shown on the pages
        #[arg(long)]
        name: Option<String>,
        /// Net worth's currency for this user (default: base_currency of the configuration)
        #[arg(long, value_parser = parse_currency_arg)]
        base_currency: Option<Currency>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List the install's users
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove a user and everything that is theirs (the owner cannot be removed)
    Remove {
        id: String,
        /// Remove without asking
        #[arg(long)]
        yes: bool,
    },
    /// Show the current user
    Show,
    /// Change the currency net worth is reported in
    SetBaseCurrency {
        #[arg(value_parser = parse_currency_arg)]
        currency: Currency,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration with each value's source; secrets are redacted
    Check,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every stored secret under a new master key. With the key file, a new key
    /// replaces it; with SALDO_SECRET_KEY, the new key is read from SALDO_NEW_SECRET_KEY. Restart
    /// `saldo serve` afterwards when the key came from the environment.
    Rotate,
    /// Print a fresh random master key (64 hex digits) for SALDO_SECRET_KEY
    NewKey,
}

fn parse_date_arg(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| "expected a date as YYYY-MM-DD".to_string())
}

pub(crate) fn parse_currency_arg(text: &str) -> Result<Currency, String> {
    Currency::parse(text).map_err(|err| err.to_string())
}

fn parse_kind_arg(text: &str) -> Result<AccountKind, String> {
    text.parse::<AccountKind>().map_err(|err| err.to_string())
}

/// Writes a line to stdout. A closed pipe (`saldo … | head`) ends the process quietly, as a Unix
/// tool should, instead of panicking the way `println!` does.
pub(crate) fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(err) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {err}");
        std::process::exit(1);
    }
}

/// `println!` that survives a closed pipe; see [`write_out`].
macro_rules! outln {
    () => {
        $crate::cli::write_out(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// A failure as one line for the terminal: a use case's typed error says what is wrong, and the
/// command line adds where to look or which flag to use.
pub fn render_error(err: &anyhow::Error) -> String {
    use saldo_app::ops::{Missing, RangeError};
    let Some(ops) = err.chain().find_map(|cause| cause.downcast_ref::<OpsError>()) else {
        return format!("{err:#}");
    };
    let hinted = match ops {
        OpsError::MissingRate(missing) => format!("{missing}: import ECB reference rates with `saldo fx import FILE`"),
        OpsError::Missing(missing @ Missing::Account(_)) => format!("{missing}; `saldo account list` shows them"),
        OpsError::Missing(missing @ Missing::Institution(_)) => format!("{missing}; `saldo institutions` lists them"),
        OpsError::Missing(missing @ Missing::Connection(_)) => format!("{missing}; `saldo connections` lists them"),
        OpsError::Missing(missing @ Missing::Authorization(_)) => format!("{missing}; start again"),
        OpsError::Missing(missing @ Missing::Item { connection, .. }) => {
            format!("{missing}; `saldo items {connection}` lists them")
        }
        OpsError::Range(RangeError::WithoutHistory) => "--from and --to need --history".into(),
        OpsError::Range(RangeError::FromAfterTo { from, to }) => format!("--from {from} is after --to {to}"),
        OpsError::NotByRedirect { .. } => format!("{ops}; use `saldo connect` in a terminal"),
        _ => return format!("{err:#}"),
    };
    // What the CLI said around the use case's error (a file name, say) stays in front of it.
    let outer: Vec<String> =
        err.chain().take_while(|cause| cause.downcast_ref::<OpsError>().is_none()).map(|c| c.to_string()).collect();
    outer.into_iter().chain([hinted]).collect::<Vec<_>>().join(": ")
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        _ => None,
    };
    let flags = Flags {
        config: cli.global.config,
        database_url: cli.global.database_url,
        data_dir: cli.global.data_dir,
        listen,
        log_format: cli.global.log_format,
        log_level: cli.global.log_level,
        user: cli.global.user,
    };
    let config = Config::load(&flags, env_from_process())?;
    let default_level = if matches!(cli.command, Command::Serve { .. }) { "info" } else { "warn" };
    init_logging(&config, default_level);

    if let Command::Config(ConfigCommand::Check) = cli.command {
        outln!("{}", config.render().trim_end());
        return Ok(());
    }
    if let Command::Secrets(SecretsCommand::NewKey) = cli.command {
        outln!("{}", saldo_app::secrets::new_key_hex());
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // `simulate` writes into a scratch database unless `--db` names one on its command line.
    if let Command::Simulate { connections, days, seed, per_user, tick_minutes, concurrency, importers, json } =
        cli.command
    {
        let options = saldo_app::simulate::SimulateOptions {
            connections,
            days,
            seed,
            connections_per_user: per_user,
            tick: chrono::TimeDelta::minutes(i64::from(tick_minutes.max(1))),
            concurrency,
            importers,
        };
        return runtime.block_on(crate::cli_sync::simulate(config, flags.database_url.is_some(), options, json));
    }
    // A dry run reads files only: it needs no database, so it opens none (unless it is to preview
    // what a named account already holds).
    if let Command::Import(args) = &cli.command {
        if args.dry_run && args.account.is_none() {
            return runtime.block_on(crate::cli_import::import(None, args));
        }
    }
    runtime.block_on(dispatch(config, cli.command))
}

fn init_logging(config: &Config, default_level: &str) {
    let filter = config.log_level.clone().unwrap_or_else(|| format!("{default_level},sqlx=warn"));
    // The config already validated the filter; fall back to the default rather than fail here.
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    // Colours only for a terminal: escape codes in a log file or journal are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match config.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn dispatch(config: Config, command: Command) -> anyhow::Result<()> {
    // A test or demo may move a running server's time through a file (see README).
    let clock = config.clock_file.clone().map_or(Clock::System, Clock::from_file);
    let ctx = crate::wiring::open_app(config.clone(), clock).await?;
    // A command meeting another process's write (an import, the server's sync) waits its turn
    // and says so; a server answers its clients 503 instead of keeping them waiting.
    if !matches!(command, Command::Serve { .. } | Command::Worker) {
        ctx.db
            .wait_for_other_writers(|| eprintln!("waiting for another saldo process that is writing to the database…"))
            .await?;
    }
    let result = match command {
        Command::Serve { .. } => serve(&ctx, &config).await,
        Command::Migrate => {
            outln!("database {} is up to date", config.database_url);
            Ok(())
        }
        Command::Networth(args) => crate::cli_accounts::networth(&ctx, args).await,
        Command::Account(command) => crate::cli_accounts::account(&ctx, command).await,
        Command::Valuation(command) => crate::cli_accounts::valuation(&ctx, command).await,
        Command::Fx(command) => crate::cli_import::fx(&ctx, command).await,
        Command::Import(args) => {
            let actor = Actor::local(ctx.local_user().await?);
            crate::cli_import::import(Some((&ctx, &actor)), &args).await
        }
        Command::User(command) => crate::cli_users::user(&ctx, command).await,
        Command::Token(command) => crate::cli_users::token(&ctx, command).await,
        Command::Config(ConfigCommand::Check) => Ok(()),
        Command::Institutions { search, refresh, json } => {
            crate::cli_sync::institutions(&ctx, search, refresh, json).await
        }
        Command::Connect { institution, yes, setup_token, no_wait, no_track, json } => {
            let how = crate::cli_sync::Authorize { yes, setup_token, no_wait };
            crate::cli_sync::connect(&ctx, &institution, &how, no_track, json).await
        }
        Command::Connections { json } => crate::cli_sync::connections(&ctx, json).await,
        Command::Items { connection, json } => crate::cli_sync::items(&ctx, &connection, json).await,
        Command::Track { connection, items, all, as_account } => {
            crate::cli_sync::track(&ctx, &connection, items, all, as_account).await
        }
        Command::Reconnect { connection, yes, setup_token, no_wait } => {
            let how = crate::cli_sync::Authorize { yes, setup_token, no_wait };
            crate::cli_sync::reconnect(&ctx, &connection, &how).await
        }
        Command::Secrets(SecretsCommand::Rotate) => {
            let rotation = saldo_app::secrets::rotate(&ctx, &ctx.keyring, config.new_secret_key.as_ref()).await?;
            outln!(
                "re-encrypted {} secret(s) under key {}; the key is in {}",
                rotation.resealed,
                rotation.new_key_id,
                rotation.key_location
            );
            Ok(())
        }
        Command::Secrets(SecretsCommand::NewKey) => Ok(()),
        Command::Disconnect { connection, delete_history, keep_as_manual } => {
            let keep = match (delete_history, keep_as_manual) {
                (true, _) => saldo_store::KeptAccounts::None,
                (false, true) => saldo_store::KeptAccounts::Manual,
                (false, false) => saldo_store::KeptAccounts::Closed,
            };
            crate::cli_sync::disconnect(&ctx, &connection, keep).await
        }
        Command::Accounts { json } => crate::cli_accounts::account(&ctx, AccountCommand::List { json }).await,
        Command::Transactions { account, json } => crate::cli_sync::transactions(&ctx, &account, json).await,
        Command::Holdings { account, json } => crate::cli_accounts::holdings(&ctx, &account, json).await,
        Command::Notifications { unread, mark_read, json } => {
            crate::cli_sync::notifications(&ctx, unread, mark_read, json).await
        }
        Command::Sync { connection, json } => crate::cli_sync::sync(&ctx, connection, json).await,
        Command::Worker => crate::cli_sync::worker(&ctx, shutdown_signal()).await,
        Command::Simulate { .. } => Ok(()),
    };
    ctx.db.close().await;
    result
}

async fn serve(ctx: &App, config: &Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    let shutdown = shutdown_signal();
    if let Some(code) = saldo_app::auth::issue_setup_code(ctx).await? {
        // The one secret saldo logs, on purpose: whoever can read the server's log may claim it.
        tracing::warn!(
            setup_code = %code,
            "nobody can sign in yet: claim this install as its owner by signing up with setup code {code} \
             (or run `saldo user add EMAIL --owner --password-stdin` on this machine)"
        );
    }
    tracing::info!(%address, database = %config.database_url, "saldo listening on http://{address}");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler_ctx = ctx.clone();
    let scheduler = tokio::spawn(async move {
        let mut stopped = stopped;
        saldo_app::worker::work(&scheduler_ctx, &saldo_app::worker::worker_id(), async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
        .await
    });
    let edge = saldo_web::EdgeSettings {
        public_url: config.connectors.public_url.clone(),
        client_timeout: std::time::Duration::from_secs(config.http_timeout_seconds),
    };
    saldo_web::serve(ctx.clone(), listener, edge, shutdown).await?;
    let _ = stop.send(true);
    if let Err(err) = scheduler.await {
        tracing::error!(error = %err, "the scheduler stopped abnormally");
    }
    tracing::info!("saldo stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    // Registered now, not when first awaited: a signal that comes right after "listening" must
    // stop the server cleanly, not kill it.
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    let mut terminate = signal(SignalKind::terminate()).ok();
    async move {
        let interrupted = async {
            match interrupt.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        let terminated = async {
            match terminate.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = interrupted => tracing::info!("Ctrl-C received, shutting down"),
            _ = terminated => tracing::info!("SIGTERM received, shutting down"),
        }
    }
}

pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
