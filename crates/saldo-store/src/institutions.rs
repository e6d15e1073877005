//! Institutions and connections.

use crate::db::{Db, StoreError};
use crate::sql::{Arg, Row};
use saldo_core::ids::{ConnectionId, InstitutionId, UserId};
use saldo_core::institution::{Connection, Institution};

fn institution_from_row(row: &Row) -> Result<Institution, StoreError> {
    Ok(Institution {
        id: InstitutionId(row.get(0)?),
        connector: row.get(1)?,
        provider_institution_id: row.get(2)?,
        name: row.get(3)?,
        country: row.get(4)?,
        bic: row.get(5)?,
    })
}

impl Db {
    /// Stores an institution or refreshes its details; returns the stored one, whose id is the first
    /// one ever given for this connector and provider id.
    pub async fn upsert_institution(
        &self,
        institution: &Institution,
    ) -> Result<Institution, StoreError> {
        self.execute(
            "INSERT INTO institutions (id, connector, provider_institution_id, name, country, bic) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (connector, provider_institution_id) DO UPDATE \
             SET name = excluded.name, country = excluded.country, bic = excluded.bic",
            &[
                Arg::Uuid(institution.id.0),
                Arg::Text(institution.connector.clone()),
                Arg::Text(institution.provider_institution_id.clone()),
                Arg::Text(institution.name.clone()),
                Arg::OptText(institution.country.clone()),
                Arg::OptText(institution.bic.clone()),
            ],
        )
        .await?;
        let row = self
            .fetch_optional(
                "SELECT id, connector, provider_institution_id, name, country, bic FROM institutions \
                 WHERE connector = $1 AND provider_institution_id = $2",
                &[
                    Arg::Text(institution.connector.clone()),
                    Arg::Text(institution.provider_institution_id.clone()),
                ],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("institution {:?}", institution.name)))?;
        institution_from_row(&row)
    }

    pub async fn insert_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO connections (id, user_id, institution_id, created_at) VALUES ($1, $2, $3, $4)",
            &[
                Arg::Uuid(connection.id.0),
                Arg::Uuid(connection.user_id.0),
                Arg::Uuid(connection.institution_id.0),
                Arg::Time(connection.created_at),
            ],
        )
        .await?;
        Ok(())
    }

    pub async fn connections(&self, user: UserId) -> Result<Vec<Connection>, StoreError> {
        let rows = self
            .fetch(
                "SELECT id, user_id, institution_id, created_at FROM connections WHERE user_id = $1 \
                 ORDER BY created_at, id",
                &[Arg::Uuid(user.0)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Connection {
                    id: ConnectionId(row.get(0)?),
                    user_id: UserId(row.get(1)?),
                    institution_id: InstitutionId(row.get(2)?),
                    created_at: row.get(3)?,
                })
            })
            .collect()
    }
}
