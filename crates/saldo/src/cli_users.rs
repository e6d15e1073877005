//! `saldo user` and `saldo token`: the install's users and API tokens, from the server's own
//! machine, which has the database and so needs no password.

use crate::cli::{outln, print_json, UserCommand};
use anyhow::Context as _;
use saldo_app::auth::{self, Scope};
use saldo_app::ops::{Actor, App};
use saldo_app::users::{self, NewUser};
use saldo_web::people::{TokenJson, UserJson};
use std::io::Read as _;

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Make an API token for the current user (--user): printed once, stored only as its hash.
    /// Send it as `Authorization: Bearer TOKEN`
    Create {
        /// What the token is for (a script's name, say)
        name: String,
        /// read (every write is refused with 403) or read_write
        #[arg(long, default_value = "read_write")]
        scope: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List the current user's tokens with their last use
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Revoke one of the current user's tokens
    Revoke { id: String },
}

/// Reads a password from standard input: its first line, without the line ending.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin().take(64 * 1024).read_to_string(&mut input).context("cannot read the password from stdin")?;
    let password = input.lines().next().unwrap_or_default().to_string();
    anyhow::ensure!(
        !password.is_empty(),
        "no password on stdin: pipe it in, e.g. `saldo user add … --password-stdin < file`"
    );
    Ok(password)
}

pub(crate) async fn user(ctx: &App, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { email, owner, password_stdin, name, base_currency, json } => {
            anyhow::ensure!(password_stdin, "give the new user's password on stdin with --password-stdin (a password on the command line is visible to other users of this machine)");
            let new = NewUser { email, password: password_from_stdin()?, display_name: name, base_currency };
            let user = users::add_user_locally(ctx, &new, owner).await?;
            if json {
                return print_json(&UserJson::new(&user));
            }
            outln!("added {} ({}) as {}", user.email.as_deref().unwrap_or(&user.name), user.id, user.role);
        }
        UserCommand::List { json } => {
            let all = ctx.db.users().await?;
            if json {
                return print_json(&all.iter().map(UserJson::new).collect::<Vec<_>>());
            }
            for user in all {
                let email = user.email.as_deref().unwrap_or("(no e-mail: not claimed yet)");
                outln!(
                    "{}  {:<7}  {email}  {}",
                    user.id,
                    user.role.as_str(),
                    user.display_name.as_deref().unwrap_or("")
                );
            }
        }
        UserCommand::Remove { id, yes } => {
            anyhow::ensure!(yes, "removing a user deletes their accounts and history: add --yes to go ahead");
            let owner = Actor::local(ctx.local_user().await?);
            users::delete_user(ctx, &owner, &id).await?;
            outln!("removed user {id}");
        }
        UserCommand::Show => {
            let user = ctx.local_user().await?;
            outln!(
                "user {} ({}), {}, base currency {}",
                user.email.as_deref().unwrap_or(&user.name),
                user.id,
                user.role,
                user.base_currency
            )
        }
        UserCommand::SetBaseCurrency { currency } => {
            let actor = Actor::local(ctx.local_user().await?);
            saldo_app::networth::set_base_currency(ctx, &actor, currency).await?;
            outln!("base currency of {} is now {currency}", actor.user.shown_name());
        }
    }
    Ok(())
}

pub(crate) async fn token(ctx: &App, command: TokenCommand) -> anyhow::Result<()> {
    let actor = Actor::local(ctx.local_user().await?);
    match command {
        TokenCommand::Create { name, scope, json } => {
            let scope = Scope::parse(&scope)
                .with_context(|| format!("invalid --scope {scope:?}: expected read or read_write"))?;
            let made = auth::create_token(ctx, &actor, &name, scope).await?;
            if json {
                return print_json(&TokenJson::new(&made.stored, Some(made.token)));
            }
            outln!("{}", made.token);
            eprintln!(
                "token {} ({}, {}): shown this once; keep it somewhere safe",
                made.stored.id,
                name,
                scope.as_str()
            );
        }
        TokenCommand::List { json } => {
            let tokens = auth::tokens(ctx, &actor).await?;
            if json {
                return print_json(&tokens.iter().map(|t| TokenJson::new(t, None)).collect::<Vec<_>>());
            }
            for token in tokens {
                let used = token.last_used_at.map_or("never used".to_string(), |t| format!("last used {t}"));
                outln!("{}  {:<10}  {}  {used}", token.id, token.scope, token.name);
            }
        }
        TokenCommand::Revoke { id } => {
            auth::revoke_token(ctx, &actor, &id).await?;
            outln!("revoked token {id}");
        }
    }
    Ok(())
}
