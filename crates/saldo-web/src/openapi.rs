//! The API's OpenAPI 3.1 document, generated from the handlers' annotations as the router is
//! built (utoipa-axum), so a route cannot exist without its description. Every operation answers
//! errors in the one error form, and every one but sign-up and sign-in needs a session cookie or
//! a bearer token.

use crate::api::ErrorJson;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, ResponseBuilder};
use utoipa::{Modify, PartialSchema as _, ToSchema as _};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "saldo",
        description = "A household's accounts, connections and net worth. Amounts are decimal strings with their currency; days are YYYY-MM-DD.",
        license(name = "AGPL-3.0-or-later")
    ),
    tags(
        (name = "auth", description = "Signing up, in and out"),
        (name = "users", description = "One's profile, sessions and API tokens; the owner's users"),
        (name = "connections", description = "Institutions, connecting, syncing and disconnecting"),
        (name = "accounts", description = "Accounts, balances, valuations and holdings"),
        (name = "transactions", description = "Transactions, a page at a time"),
        (name = "notifications"),
        (name = "networth"),
        (name = "imports", description = "Statement files"),
        (name = "fx", description = "Exchange rates"),
    )
)]
pub(crate) struct ApiDoc;

/// Applied once every route is in: adds the security schemes, the requirement of one of them on every operation that does not
/// say otherwise, and the error body as every operation's `default` answer.
pub(crate) struct ErrorsAndSecurity;

impl Modify for ErrorsAndSecurity {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                saldo_app::auth::SESSION_COOKIE,
                "The session a sign-in sets (HttpOnly); writes must come from saldo's own origin",
            ))),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token (saldo_…); a read token may only read"))
                    .build(),
            ),
        );
        components.schemas.insert(ErrorJson::name().into_owned(), ErrorJson::schema());
        let error = ResponseBuilder::new()
            .description("An error: what is wrong, for people (message) and programs (code)")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorJson"))))
                    .build(),
            )
            .build();
        let required = vec![
            SecurityRequirement::new("session", Vec::<String>::new()),
            SecurityRequirement::new("token", Vec::<String>::new()),
        ];
        for item in openapi.paths.paths.values_mut() {
            let operations: [&mut Option<Operation>; 5] =
                [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                operation.responses.responses.entry("default".into()).or_insert_with(|| RefOr::T(error.clone()));
                // `security(())` on an operation leaves an empty requirement: no credentials.
                if operation.security.is_none() {
                    operation.security = Some(required.clone());
                }
            }
        }
    }
}
