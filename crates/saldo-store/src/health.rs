//! Institution health: outage state per institution, and the sync-run windows it is assessed from.

use crate::db::{Db, StoreError};
use crate::sql::in_lists;
use crate::sql::Arg;
use chrono::{DateTime, Utc};
use saldo_core::failure::FailureKind;
use saldo_core::ids::{InstitutionId, UserId};
use saldo_core::institution::Institution;
use saldo_core::outage::{InstitutionHealth, WindowStats};
use uuid::Uuid;

impl Db {
    /// Institutions with their health, for a scheduler pass; unknown ids are left out.
    pub async fn institutions_with_health(
        &self,
        ids: &[InstitutionId],
    ) -> Result<Vec<(Institution, InstitutionHealth)>, StoreError> {
        let columns: Vec<String> =
            crate::institutions::INSTITUTION_COLUMNS.split(", ").map(|c| format!("i.{c}")).collect();
        let mut found = Vec::with_capacity(ids.len());
        for (list, args) in in_lists(ids.iter().map(|id| Arg::Uuid(id.0)).collect()) {
            let sql = format!(
                "SELECT {}, h.degraded_since, h.next_probe_at, h.probes, h.announced FROM institutions i \
                 LEFT JOIN institution_health h ON h.institution_id = i.id WHERE i.id IN ({list})",
                columns.join(", ")
            );
            for row in self.fetch(&sql, &args).await? {
                let at = columns.len();
                let health = InstitutionHealth {
                    degraded_since: row.get(at)?,
                    next_probe_at: row.get(at + 1)?,
                    probes: row.get::<Option<i64>>(at + 2)?.unwrap_or(0) as u32,
                    announced: row.get::<Option<bool>>(at + 3)?.unwrap_or(false),
                };
                found.push((crate::institutions::institution_from_row(&row)?, health));
            }
        }
        Ok(found)
    }

    pub async fn institution_health(&self, institution: InstitutionId) -> Result<InstitutionHealth, StoreError> {
        let row = self
            .fetch_optional(
                "SELECT degraded_since, next_probe_at, probes, announced FROM institution_health WHERE institution_id = $1",
                &[Arg::Uuid(institution.0)],
            )
            .await?;
        match row {
            Some(row) => Ok(InstitutionHealth {
                degraded_since: row.get(0)?,
                next_probe_at: row.get(1)?,
                probes: row.get::<i64>(2)? as u32,
                announced: row.get(3)?,
            }),
            None => Ok(InstitutionHealth::default()),
        }
    }

    pub async fn save_institution_health(
        &self,
        institution: InstitutionId,
        health: &InstitutionHealth,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO institution_health (institution_id, degraded_since, next_probe_at, probes, announced) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (institution_id) DO UPDATE SET degraded_since = excluded.degraded_since, \
             next_probe_at = excluded.next_probe_at, probes = excluded.probes, announced = excluded.announced",
            &[
                Arg::Uuid(institution.0),
                Arg::OptTime(health.degraded_since),
                Arg::OptTime(health.next_probe_at),
                Arg::Int(i64::from(health.probes)),
                Arg::Bool(health.announced),
            ],
        )
        .await?;
        Ok(())
    }

    /// Saves an institution's health only if nobody changed its outage state since it was read
    /// (`expected_since` is the `degraded_since` that was read), so that of several workers
    /// assessing at once exactly one announces an outage's start or end.
    pub async fn transition_institution_health(
        &self,
        institution: InstitutionId,
        expected_since: Option<DateTime<Utc>>,
        health: &InstitutionHealth,
    ) -> Result<bool, StoreError> {
        self.execute(
            "INSERT INTO institution_health (institution_id, probes) VALUES ($1, 0) ON CONFLICT (institution_id) DO NOTHING",
            &[Arg::Uuid(institution.0)],
        )
        .await?;
        let changed = self
            .execute(
                "UPDATE institution_health SET degraded_since = $3, next_probe_at = $4, probes = $5, announced = $6 \
                 WHERE institution_id = $1 AND degraded_since IS NOT DISTINCT FROM $2",
                &[
                    Arg::Uuid(institution.0),
                    Arg::OptTime(expected_since),
                    Arg::OptTime(health.degraded_since),
                    Arg::OptTime(health.next_probe_at),
                    Arg::Int(i64::from(health.probes)),
                    Arg::Bool(health.announced),
                ],
            )
            .await?;
        Ok(changed > 0)
    }

    /// The users with a connection to an institution.
    pub async fn users_of_institution(&self, institution: InstitutionId) -> Result<Vec<UserId>, StoreError> {
        let rows = self
            .fetch(
                "SELECT DISTINCT user_id FROM connections WHERE institution_id = $1 AND consent_id IS NOT NULL",
                &[Arg::Uuid(institution.0)],
            )
            .await?;
        rows.iter().map(|row| Ok(UserId(row.get(0)?))).collect()
    }

    /// Sync outcomes of an institution's connections finished since `since`: successes, failures that
    /// count toward an outage, and how many distinct connections those failures came from.
    pub async fn window_stats(
        &self,
        institution: InstitutionId,
        since: DateTime<Utc>,
    ) -> Result<WindowStats, StoreError> {
        let rows = self
            .fetch(
                "SELECT connection_id, outcome, failure_kind FROM sync_runs WHERE institution_id = $1 AND finished_at >= $2",
                &[Arg::Uuid(institution.0), Arg::Time(since)],
            )
            .await?;
        let mut stats = WindowStats::default();
        let mut failing = std::collections::HashSet::new();
        for row in &rows {
            let outcome: String = row.get(1)?;
            let kind = row.get::<Option<String>>(2)?.and_then(|k| FailureKind::parse(&k));
            if outcome != "failed" {
                stats.succeeded += 1;
            } else if kind.is_some_and(saldo_core::outage::counts_toward_outage) {
                stats.failed += 1;
                failing.insert(row.get::<Uuid>(0)?);
            }
        }
        stats.failing_connections = failing.len() as u32;
        Ok(stats)
    }
}
