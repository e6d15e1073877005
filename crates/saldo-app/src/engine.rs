//! What the sync engine is given: its settings, the connectors this process offers, and the
//! seeded jitter that spreads its syncs.

use chrono::{DateTime, Utc};
use saldo_connectors::Connector;
use saldo_core::ids::ConnectionId;
use saldo_core::outage::OutagePolicy;
use saldo_core::sync::SyncPolicy;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub policy: SyncPolicy,
    pub outage: OutagePolicy,
    /// Syncs running at once in one process.
    pub concurrency: usize,
    /// Syncs running at once against one institution.
    pub per_institution: usize,
    /// Longest wait for one provider call.
    pub call_timeout: Duration,
    /// Days fetched again before the last success, so late-booked transactions are not missed.
    pub overlap_days: i64,
}

impl Default for EngineSettings {
    fn default() -> EngineSettings {
        EngineSettings {
            policy: SyncPolicy::default(),
            outage: OutagePolicy::default(),
            concurrency: 16,
            per_institution: 4,
            call_timeout: Duration::from_secs(60),
            overlap_days: 5,
        }
    }
}

/// The connectors this process offers, by name.
#[derive(Clone, Default)]
pub struct Connectors {
    by_name: BTreeMap<&'static str, Arc<dyn Connector>>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_name.keys()).finish()
    }
}

impl Connectors {
    pub fn add(&mut self, connector: Arc<dyn Connector>) {
        self.by_name.insert(connector.name(), connector);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Connector>> {
        self.by_name.get(name).cloned()
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Connector>> {
        self.by_name.values()
    }
}

/// Jitter numbers from a seed. Each draw depends only on the seed, the connection and the time,
/// not on the order in which concurrent syncs ask, so a simulation repeats exactly.
#[derive(Debug, Clone, Copy)]
pub struct Jitter(u64);

impl Jitter {
    pub fn seeded(seed: u64) -> Jitter {
        Jitter(seed)
    }

    pub fn draw(&self, connection: ConnectionId, now: DateTime<Utc>) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(self.0, connection.0, now.timestamp_micros()), &mut hasher);
        // DefaultHasher is SipHash with fixed keys: stable within a build, which is all a
        // simulation needs; one more mixing round spreads its low bits.
        let mut z = std::hash::Hasher::finish(&hasher).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z ^ (z >> 31)
    }
}
