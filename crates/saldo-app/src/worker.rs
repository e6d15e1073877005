//! The worker loop that `saldo serve` and `saldo worker` run: due syncs, claimed one at a time
//! within each institution's limit, until told to stop.

use crate::ops::App;
use crate::sync;
use std::future::Future;
use std::time::Duration;

/// A name for this process's worker, unique enough to tell leases apart.
pub fn worker_id() -> String {
    format!("worker-{}-{:08x}", std::process::id(), rand::random::<u32>())
}

/// Runs due syncs until `shutdown` resolves; syncs under way finish first. Slots are refilled as
/// soon as any sync ends, so a slow or hanging institution only ever holds its own slots (at most
/// `per_institution` of them) and never delays the connections of other institutions.
pub async fn work(ctx: &App, worker: &str, shutdown: impl Future<Output = ()>) {
    use std::collections::HashMap;
    use std::sync::Arc;
    const IDLE: Duration = Duration::from_secs(2);
    let slots = ctx.engine.concurrency.max(1);
    let mut per_institution: HashMap<saldo_core::ids::InstitutionId, Arc<tokio::sync::Semaphore>> = HashMap::new();
    let mut running = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    tracing::info!(worker, "sync worker started");
    loop {
        // Claim one connection at a time, each only from an institution with a free permit, and
        // take the permit before the sync starts: a sync never sits in a slot waiting for its
        // institution, so a hanging institution holds its own permits and nothing else.
        let mut claimed_any = false;
        while running.len() < slots {
            let now = ctx.clock.now();
            let busy: Vec<_> =
                per_institution.iter().filter(|(_, gate)| gate.available_permits() == 0).map(|(id, _)| *id).collect();
            let claimed = match ctx.db.claim_due_except(worker, now, now + ctx.engine.policy.lease, 1, &busy).await {
                Ok(claimed) => claimed,
                Err(err) => {
                    tracing::error!(error = %err, "claiming due connections failed");
                    break;
                }
            };
            let Some((id, institution)) = claimed.into_iter().next() else { break };
            claimed_any = true;
            let gate = per_institution
                .entry(institution)
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(ctx.engine.per_institution.max(1))))
                .clone();
            let permit = gate.clone().try_acquire_owned();
            let ctx = ctx.clone();
            let worker = worker.to_string();
            running.spawn(async move {
                // Only another worker loop in this process could have taken the permit meanwhile.
                let _permit = match permit {
                    Ok(permit) => Ok(permit),
                    Err(_) => gate.acquire_owned().await,
                };
                sync::sync_claimed(&ctx, id, saldo_core::sync::Trigger::Scheduled, &worker, now).await
            });
        }
        let pause = if claimed_any { Duration::ZERO } else { IDLE };
        tokio::select! {
            () = &mut shutdown => break,
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(Err(err)) = done {
                    tracing::error!(error = %err, "sync failed to record");
                }
            }
            () = tokio::time::sleep(pause) => {}
        }
    }
    while let Some(done) = running.join_next().await {
        if let Ok(Err(err)) = done {
            tracing::error!(error = %err, "sync failed to record");
        }
    }
    tracing::info!(worker, "sync worker stopped");
}
