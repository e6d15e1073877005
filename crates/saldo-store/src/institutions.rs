//! Institutions (the catalog) and connections with their consent.

use crate::db::{Db, StoreError};
use crate::sql::{Arg, Row, Tx};
use chrono::{DateTime, Utc};
use saldo_core::ids::{ConnectionId, InstitutionId, UserId};
use saldo_core::institution::{Connection, ConsentRecord, Institution};
use saldo_core::secret::Sealed;

pub(crate) const INSTITUTION_COLUMNS: &str =
    "id, connector, provider_institution_id, name, country, bic, max_history_days, max_consent_days, accesses_per_day, \
     description, logo_url";

pub(crate) fn institution_from_row(row: &Row) -> Result<Institution, StoreError> {
    Ok(Institution {
        id: InstitutionId(row.get(0)?),
        connector: row.get(1)?,
        provider_institution_id: row.get(2)?,
        name: row.get(3)?,
        country: row.get(4)?,
        bic: row.get(5)?,
        max_history_days: row.get::<Option<i64>>(6)?.map(|v| v as u32),
        max_consent_days: row.get::<Option<i64>>(7)?.map(|v| v as u32),
        accesses_per_day: row.get::<Option<i64>>(8)?.map(|v| v as u32),
        description: row.get(9)?,
        logo_url: row.get(10)?,
    })
}

/// How many columns [`CONNECTION_COLUMNS`] names: where the columns selected after them begin.
pub(crate) const CONNECTION_COLUMN_COUNT: usize = 12;
pub(crate) const CONNECTION_COLUMNS: &str = "id, user_id, institution_id, connector, created_at, consent_id, \
     consent_granted_at, consent_valid_until, consent_scope, consent_max_history_days, consent_accesses_per_day, consent_secret";

/// Reads the columns of [`CONNECTION_COLUMNS`] starting at `at`.
pub(crate) fn connection_from_row(row: &Row, at: usize) -> Result<Connection, StoreError> {
    let consent = match row.get::<Option<String>>(at + 5)? {
        Some(id) => Some(ConsentRecord {
            id,
            granted_at: row.get(at + 6)?,
            valid_until: row.get(at + 7)?,
            scope: row
                .get::<Option<String>>(at + 8)?
                .map(|s| s.split(',').filter(|p| !p.is_empty()).map(str::to_string).collect())
                .unwrap_or_default(),
            max_history_days: row.get::<Option<i64>>(at + 9)?.unwrap_or(90) as u32,
            accesses_per_day: row.get::<Option<i64>>(at + 10)?.map(|v| v as u32),
            secret: row.get::<Option<String>>(at + 11)?.map(Sealed),
        }),
        None => None,
    };
    Ok(Connection {
        id: ConnectionId(row.get(at)?),
        user_id: UserId(row.get(at + 1)?),
        institution_id: InstitutionId(row.get(at + 2)?),
        connector: row.get(at + 3)?,
        created_at: row.get(at + 4)?,
        consent,
    })
}

pub(crate) fn consent_args(consent: Option<&ConsentRecord>) -> Vec<Arg> {
    vec![
        Arg::OptText(consent.map(|c| c.id.clone())),
        Arg::OptTime(consent.map(|c| c.granted_at)),
        Arg::OptTime(consent.map(|c| c.valid_until)),
        Arg::OptText(consent.map(|c| c.scope.join(","))),
        Arg::OptInt(consent.map(|c| i64::from(c.max_history_days))),
        Arg::OptInt(consent.and_then(|c| c.accesses_per_day).map(i64::from)),
        Arg::OptText(consent.and_then(|c| c.secret.as_ref()).map(|s| s.0.clone())),
    ]
}

/// Institutions per statement: one round trip for many rows (PostgreSQL paid one per row), well
/// under SQLite's limit of bound parameters.
const INSTITUTIONS_PER_STATEMENT: usize = 500;

async fn upsert_institutions_in(tx: &mut Tx, institutions: &[Institution]) -> Result<(), StoreError> {
    // One statement may not name a row twice (PostgreSQL refuses to update a row twice): the
    // last listing of an institution wins.
    let mut seen = std::collections::HashSet::new();
    let mut unique: Vec<&Institution> = institutions
        .iter()
        .rev()
        .filter(|i| seen.insert((i.connector.as_str(), i.provider_institution_id.as_str())))
        .collect();
    unique.reverse();
    for chunk in unique.chunks(INSTITUTIONS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|row| {
                let first = row * 11;
                let marks: Vec<String> = (1..=11).map(|column| format!("${}", first + column)).collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO institutions (id, connector, provider_institution_id, name, country, bic, \
             max_history_days, max_consent_days, accesses_per_day, description, logo_url) VALUES {} \
             ON CONFLICT (connector, provider_institution_id) DO UPDATE \
             SET name = excluded.name, country = excluded.country, bic = excluded.bic, \
             max_history_days = excluded.max_history_days, max_consent_days = excluded.max_consent_days, \
             accesses_per_day = excluded.accesses_per_day, description = excluded.description, \
             logo_url = excluded.logo_url",
            values.join(", ")
        );
        let args: Vec<Arg> = chunk
            .iter()
            .flat_map(|institution| {
                [
                    Arg::Uuid(institution.id.0),
                    Arg::Text(institution.connector.clone()),
                    Arg::Text(institution.provider_institution_id.clone()),
                    Arg::Text(institution.name.clone()),
                    Arg::OptText(institution.country.clone()),
                    Arg::OptText(institution.bic.clone()),
                    Arg::OptInt(institution.max_history_days.map(i64::from)),
                    Arg::OptInt(institution.max_consent_days.map(i64::from)),
                    Arg::OptInt(institution.accesses_per_day.map(i64::from)),
                    Arg::Text(institution.description.clone()),
                    Arg::OptText(institution.logo_url.clone()),
                ]
            })
            .collect();
        tx.execute(&sql, &args).await?;
    }
    Ok(())
}

impl Db {
    /// Stores an institution or refreshes its details; returns the stored one, whose id is the first
    /// one ever given for this connector and provider id.
    pub async fn upsert_institution(&self, institution: &Institution) -> Result<Institution, StoreError> {
        self.upsert_institutions(std::slice::from_ref(institution)).await?;
        self.institution_by_provider_id(&institution.connector, &institution.provider_institution_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("institution {:?}", institution.name)))
    }

    /// Stores or refreshes institutions in one transaction: thousands of banks are one commit, and
    /// a reader never sees half a refresh.
    pub async fn upsert_institutions(&self, institutions: &[Institution]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        upsert_institutions_in(&mut tx, institutions).await?;
        tx.commit().await
    }

    /// Stores a connector's whole list as just read from its provider, and when, in one
    /// transaction. Institutions the provider no longer lists stay: connections may refer to them.
    pub async fn refresh_catalog(
        &self,
        connector: &str,
        institutions: &[Institution],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        upsert_institutions_in(&mut tx, institutions).await?;
        tx.execute(
            "INSERT INTO catalog_refreshes (connector, refreshed_at) VALUES ($1, $2) \
             ON CONFLICT (connector) DO UPDATE SET refreshed_at = excluded.refreshed_at",
            &[Arg::Text(connector.into()), Arg::Time(at)],
        )
        .await?;
        tx.commit().await
    }

    /// When the connector's list was last read from its provider; `None` if never.
    pub async fn catalog_refreshed_at(&self, connector: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = self
            .fetch_optional(
                "SELECT refreshed_at FROM catalog_refreshes WHERE connector = $1",
                &[Arg::Text(connector.into())],
            )
            .await?;
        row.map(|row| row.get(0)).transpose()
    }

    pub async fn institution_by_provider_id(
        &self,
        connector: &str,
        provider_institution_id: &str,
    ) -> Result<Option<Institution>, StoreError> {
        let sql = format!(
            "SELECT {INSTITUTION_COLUMNS} FROM institutions WHERE connector = $1 AND provider_institution_id = $2"
        );
        let row = self
            .fetch_optional(&sql, &[Arg::Text(connector.into()), Arg::Text(provider_institution_id.into())])
            .await?;
        row.as_ref().map(institution_from_row).transpose()
    }

    pub async fn institution(&self, id: InstitutionId) -> Result<Option<Institution>, StoreError> {
        let sql = format!("SELECT {INSTITUTION_COLUMNS} FROM institutions WHERE id = $1");
        self.fetch_optional(&sql, &[Arg::Uuid(id.0)]).await?.as_ref().map(institution_from_row).transpose()
    }

    /// The catalog, by name; `search` filters by a case-insensitive part of the name or provider id,
    /// a country code, or the start of a BIC.
    pub async fn institutions(&self, search: Option<&str>) -> Result<Vec<Institution>, StoreError> {
        let sql = format!("SELECT {INSTITUTION_COLUMNS} FROM institutions ORDER BY name, id");
        let all: Vec<Institution> =
            self.fetch(&sql, &[]).await?.iter().map(institution_from_row).collect::<Result<_, _>>()?;
        let needle = search.map(str::to_lowercase).unwrap_or_default();
        Ok(all
            .into_iter()
            .filter(|i| {
                needle.is_empty()
                    || i.name.to_lowercase().contains(&needle)
                    || i.provider_institution_id.to_lowercase().contains(&needle)
                    || i.country.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(&needle))
                    || (needle.len() >= 4 && i.bic.as_deref().is_some_and(|b| b.to_lowercase().starts_with(&needle)))
            })
            .collect())
    }

    pub async fn insert_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        insert_connection_in(&mut tx, connection).await?;
        tx.commit().await
    }

    pub async fn connections(&self, user: UserId) -> Result<Vec<Connection>, StoreError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE user_id = $1 ORDER BY created_at, id");
        self.fetch(&sql, &[Arg::Uuid(user.0)]).await?.iter().map(|row| connection_from_row(row, 0)).collect()
    }
}

/// Stores a connection with its consent inside an open transaction.
pub(crate) async fn insert_connection_in(tx: &mut Tx, connection: &Connection) -> Result<(), StoreError> {
    let mut args = vec![
        Arg::Uuid(connection.id.0),
        Arg::Uuid(connection.user_id.0),
        Arg::Uuid(connection.institution_id.0),
        Arg::Text(connection.connector.clone()),
        Arg::Time(connection.created_at),
    ];
    args.extend(consent_args(connection.consent.as_ref()));
    tx.execute(
        &format!(
            "INSERT INTO connections ({CONNECTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ),
        &args,
    )
    .await?;
    Ok(())
}

impl Db {
    /// Every stored secret with its connection, for re-sealing under a new key.
    pub async fn sealed_secrets(&self) -> Result<Vec<(ConnectionId, Sealed)>, StoreError> {
        let rows =
            self.fetch("SELECT id, consent_secret FROM connections WHERE consent_secret IS NOT NULL", &[]).await?;
        rows.iter().map(|row| Ok((ConnectionId(row.get(0)?), Sealed(row.get(1)?)))).collect()
    }

    /// Replaces sealed secrets, all or none: each must still be the one read, so a secret changed
    /// meanwhile (a reconnect) fails the whole change instead of being overwritten.
    pub async fn reseal_secrets(&self, changes: &[(ConnectionId, Sealed, Sealed)]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for (id, old, new) in changes {
            let changed = tx
                .execute(
                    "UPDATE connections SET consent_secret = $3 WHERE id = $1 AND consent_secret = $2",
                    &[Arg::Uuid(id.0), Arg::Text(old.0.clone()), Arg::Text(new.0.clone())],
                )
                .await?;
            if changed != 1 {
                return Err(StoreError::Conflict(format!(
                    "the secret of connection {id} changed while it was being re-sealed; run the rotation again"
                )));
            }
        }
        tx.commit().await?;
        // The old key file goes once this returns: the new seals must survive a power cut first.
        // SQLite's WAL commits under `synchronous=NORMAL` are not, until a checkpoint syncs them.
        self.make_durable().await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_column_count_matches_the_columns() {
        assert_eq!(super::CONNECTION_COLUMNS.split(',').count(), super::CONNECTION_COLUMN_COUNT);
    }
}
