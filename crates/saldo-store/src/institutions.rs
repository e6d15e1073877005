//! Institutions (the catalog) and connections with their consent.

use crate::db::{Db, StoreError};
use crate::sql::{Arg, Row, Tx};
use saldo_core::ids::{ConnectionId, InstitutionId, UserId};
use saldo_core::institution::{Connection, ConsentRecord, Institution};

pub(crate) const INSTITUTION_COLUMNS: &str =
    "id, connector, provider_institution_id, name, country, bic, max_history_days, max_consent_days, accesses_per_day, description";

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
    })
}

pub(crate) const CONNECTION_COLUMNS: &str = "id, user_id, institution_id, connector, created_at, consent_id, \
     consent_granted_at, consent_valid_until, consent_scope, consent_max_history_days, consent_accesses_per_day";

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
    ]
}

impl Db {
    /// Stores an institution or refreshes its details; returns the stored one, whose id is the first
    /// one ever given for this connector and provider id.
    pub async fn upsert_institution(&self, institution: &Institution) -> Result<Institution, StoreError> {
        self.execute(
            "INSERT INTO institutions (id, connector, provider_institution_id, name, country, bic, \
             max_history_days, max_consent_days, accesses_per_day, description) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (connector, provider_institution_id) DO UPDATE \
             SET name = excluded.name, country = excluded.country, bic = excluded.bic, \
             max_history_days = excluded.max_history_days, max_consent_days = excluded.max_consent_days, \
             accesses_per_day = excluded.accesses_per_day, description = excluded.description",
            &[
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
            ],
        )
        .await?;
        self.institution_by_provider_id(&institution.connector, &institution.provider_institution_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("institution {:?}", institution.name)))
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

    /// The catalog, by name; `search` filters by a case-insensitive part of the name or id.
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
            "INSERT INTO connections ({CONNECTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ),
        &args,
    )
    .await?;
    Ok(())
}
