//! The install's users: claiming a new install, signing up, the owner adding and removing
//! household members, a user's own profile and password.

use crate::auth::{self, Authenticated, Client, NewSession};
use crate::ops::{Actor, App, OpsError};
use saldo_core::ids::UserId;
use saldo_core::money::Currency;
use saldo_core::user::{check_password, normalize_email, Role, User};
use saldo_store::{StoreError, UserChange};

/// Who is to be added.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
    /// Net worth's currency; the configured default when not given.
    pub base_currency: Option<Currency>,
}

fn conflict(err: StoreError) -> OpsError {
    match err {
        StoreError::Conflict(message) => OpsError::Conflict(message),
        other => OpsError::Store(other),
    }
}

fn display_name(name: Option<&str>) -> Result<Option<String>, OpsError> {
    match name.map(str::trim) {
        Some(name) if name.chars().count() > 100 => {
            Err(OpsError::Invalid("a display name has at most 100 characters".into()))
        }
        Some("") | None => Ok(None),
        Some(name) => Ok(Some(name.to_string())),
    }
}

/// Creates a user. An owner is created by giving the install's implicit owner (of an install
/// from before sign-in, or one the command line used before anyone signed in) its e-mail and
/// password; when the owner has a password already, there is one and this is a `Conflict`.
async fn create(ctx: &App, new: &NewUser, role: Role) -> Result<User, OpsError> {
    let email = normalize_email(&new.email).map_err(|err| OpsError::Invalid(err.to_string()))?;
    check_password(&new.password).map_err(|err| OpsError::Invalid(err.to_string()))?;
    let display_name = display_name(new.display_name.as_deref())?;
    let hash = auth::hash_password(&new.password).await?;
    if role == Role::Owner {
        if let Some(owner) = ctx.db.owner().await? {
            if ctx.db.password_hash(owner.id).await?.is_some() {
                return Err(OpsError::Conflict(format!(
                    "the install has an owner already ({})",
                    owner.email.as_deref().unwrap_or(&owner.name)
                )));
            }
            let change = UserChange {
                email: Some(email),
                display_name,
                base_currency: new.base_currency,
                password_hash: Some(hash),
            };
            ctx.db.change_user(owner.id, &change).await.map_err(conflict)?;
            return ctx.db.user_by_id(owner.id).await?.ok_or_else(|| OpsError::NotFound("the owner".into()));
        }
    }
    let user = User {
        id: UserId(ctx.new_id()),
        name: email.clone(),
        email: Some(email),
        display_name,
        role,
        base_currency: new.base_currency.unwrap_or(ctx.settings.base_currency),
        created_at: ctx.clock.now(),
    };
    ctx.db.add_user(&user, Some(&hash)).await.map_err(conflict)?;
    Ok(user)
}

/// A sign-up from the web. On an install nobody can sign in to yet, it claims the install as its
/// owner and must give the setup code the server logged; afterwards it makes a member, and only
/// when the operator allows sign-up. Signs the new user in.
pub async fn sign_up(
    ctx: &App,
    new: &NewUser,
    setup_code: Option<&str>,
    client: &Client,
) -> Result<(User, NewSession), OpsError> {
    let now = ctx.clock.now();
    let role = if ctx.db.any_password().await? {
        if !ctx.auth.allow_signup {
            return Err(OpsError::Forbidden("sign-up is closed on this server: ask its owner to add you".into()));
        }
        Role::Member
    } else {
        ctx.sign_in_limits.admit(client.address, None, now)?;
        let given = setup_code.unwrap_or_default();
        if !ctx.setup_code.matches(given) {
            ctx.sign_in_limits.record(client.address, None, false, now);
            let message = if given.is_empty() {
                "this install has no owner yet: give the setup code that `saldo serve` logged at start"
            } else {
                "wrong setup code: use the one `saldo serve` logged at its latest start"
            };
            return Err(OpsError::Forbidden(message.into()));
        }
        Role::Owner
    };
    let user = create(ctx, new, role).await?;
    if role == Role::Owner {
        ctx.setup_code.clear();
    }
    let session = auth::begin_session(ctx, user.id, client).await?;
    Ok((user, session))
}

/// Adds a user at the server's own command line, which has the database and needs no
/// password. The install's first user, and one added with `owner`, is its owner.
pub async fn add_user_locally(ctx: &App, new: &NewUser, owner: bool) -> Result<User, OpsError> {
    let claimed_owner = match ctx.db.owner().await? {
        Some(owner) => ctx.db.password_hash(owner.id).await?.is_some(),
        None => false,
    };
    let role = if owner || !claimed_owner && ctx.db.users().await?.iter().all(|u| u.email.is_none()) {
        Role::Owner
    } else {
        Role::Member
    };
    let user = create(ctx, new, role).await?;
    if role == Role::Owner {
        ctx.setup_code.clear();
    }
    Ok(user)
}

fn require_owner(actor: &Actor) -> Result<(), OpsError> {
    if actor.user.role == Role::Owner {
        Ok(())
    } else {
        Err(OpsError::Forbidden("only the install's owner manages its users".into()))
    }
}

/// The owner adds a household member.
pub async fn add_user(ctx: &App, actor: &Actor, new: &NewUser) -> Result<User, OpsError> {
    require_owner(actor)?;
    create(ctx, new, Role::Member).await
}

/// Every user of the install, oldest first (the owner's view).
pub async fn users(ctx: &App, actor: &Actor) -> Result<Vec<User>, OpsError> {
    require_owner(actor)?;
    Ok(ctx.db.users().await?)
}

/// The owner removes a member and everything that is theirs.
pub async fn delete_user(ctx: &App, actor: &Actor, id: &str) -> Result<(), OpsError> {
    require_owner(actor)?;
    let id = UserId(auth::parse_id(id, "user")?);
    if id == actor.user.id {
        return Err(OpsError::Invalid("the owner cannot remove themselves".into()));
    }
    if !ctx.db.delete_user(id).await? {
        return Err(OpsError::NotFound(format!("no user with id {id}")));
    }
    Ok(())
}

/// What a user changes about themselves; `None` keeps it.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub display_name: Option<String>,
    pub base_currency: Option<Currency>,
    /// A new password, with the current one to prove it is them.
    pub password: Option<(String, String)>,
}

/// Changes the signed-in user's profile. A new password ends their other sessions.
pub async fn change_profile(ctx: &App, auth: &Authenticated, change: &ProfileChange) -> Result<User, OpsError> {
    let user = &auth.actor.user;
    let mut stored = UserChange {
        display_name: display_name(change.display_name.as_deref())?,
        base_currency: change.base_currency,
        ..UserChange::default()
    };
    if let Some((current, new)) = &change.password {
        check_password(new).map_err(|err| OpsError::Invalid(err.to_string()))?;
        let email = user.email.clone().unwrap_or_default();
        // The current password is checked as a sign-in is, limits included.
        auth::sign_in_check(ctx, user.id, &email, current, auth.actor.address).await?;
        stored.password_hash = Some(auth::hash_password(new).await?);
    }
    ctx.db.change_user(user.id, &stored).await.map_err(conflict)?;
    if stored.password_hash.is_some() {
        ctx.db.delete_sessions(user.id, auth.session()).await?;
    }
    ctx.db.user_by_id(user.id).await?.ok_or_else(|| OpsError::NotFound(format!("no user with id {}", user.id)))
}
