//! The worker loop that `saldo serve` and `saldo worker` run ([`run`]), and the work it does:
//! due syncs ([`SyncJobs`]), claimed one at a time within each institution's limit, until told to
//! stop. Another kind of work (the notification outbox) implements [`Jobs`] and reuses the loop.

use crate::ops::{App, OpsError};
use crate::sync;
use saldo_core::ids::InstitutionId;
use saldo_core::sync::Trigger;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// A name for this process's worker, unique enough to tell leases apart.
pub fn worker_id() -> String {
    format!("worker-{}-{:08x}", std::process::id(), rand::random::<u32>())
}

/// A kind of work that worker loops do: syncs now, the notification outbox later. The loop keeps
/// up to its number of slots of jobs in flight, claims more as soon as one ends, idles when
/// nothing is due, and on shutdown lets the jobs under way finish.
pub trait Jobs: Send {
    /// What the log calls this work.
    const NAME: &'static str;

    /// Claims the next job that may start now, or `None` when nothing is due.
    fn claim(&mut self) -> impl Future<Output = Result<Option<Job>, OpsError>> + Send;
}

/// A claimed job: the future that does it and records its outcome.
pub type Job = Pin<Box<dyn Future<Output = Result<(), OpsError>> + Send>>;

/// Runs `jobs` in up to `slots` at once until `shutdown` resolves; jobs under way finish first.
pub async fn run<J: Jobs>(mut jobs: J, slots: usize, worker: &str, shutdown: impl Future<Output = ()>) {
    const IDLE: Duration = Duration::from_secs(2);
    let slots = slots.max(1);
    let mut running = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    tracing::info!(worker, "{} worker started", J::NAME);
    loop {
        let mut claimed_any = false;
        while running.len() < slots {
            match jobs.claim().await {
                Ok(Some(job)) => {
                    claimed_any = true;
                    running.spawn(job);
                }
                Ok(None) => break,
                Err(err) => {
                    tracing::error!(error = %err, "claiming {} work failed", J::NAME);
                    break;
                }
            }
        }
        let pause = if claimed_any { Duration::ZERO } else { IDLE };
        tokio::select! {
            () = &mut shutdown => break,
            Some(done) = running.join_next(), if !running.is_empty() => report::<J>(done),
            () = tokio::time::sleep(pause) => {}
        }
    }
    while let Some(done) = running.join_next().await {
        report::<J>(done);
    }
    tracing::info!(worker, "{} worker stopped", J::NAME);
}

fn report<J: Jobs>(done: Result<Result<(), OpsError>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(error = %err, "{} failed to record", J::NAME),
        Err(err) => tracing::error!(error = %err, "{} stopped unexpectedly", J::NAME),
    }
}

/// Scheduled syncs: one due connection at a time, each only from an institution with a free permit
/// (`per_institution` of them), the permit taken before the sync starts. A sync never sits in a
/// slot waiting for its institution, so a slow or hanging institution holds its own permits and
/// never delays the connections of other institutions.
pub struct SyncJobs {
    ctx: App,
    worker: String,
    per_institution: HashMap<InstitutionId, Arc<Semaphore>>,
}

impl SyncJobs {
    pub fn new(ctx: &App, worker: &str) -> SyncJobs {
        SyncJobs { ctx: ctx.clone(), worker: worker.to_string(), per_institution: HashMap::new() }
    }
}

impl Jobs for SyncJobs {
    const NAME: &'static str = "sync";

    async fn claim(&mut self) -> Result<Option<Job>, OpsError> {
        let ctx = &self.ctx;
        let now = ctx.clock.now();
        let busy: Vec<InstitutionId> =
            self.per_institution.iter().filter(|(_, gate)| gate.available_permits() == 0).map(|(id, _)| *id).collect();
        let claimed = ctx.db.claim_due_except(&self.worker, now, now + ctx.engine.policy.lease, 1, &busy).await?;
        let Some((id, institution)) = claimed.into_iter().next() else { return Ok(None) };
        let limit = ctx.engine.per_institution.max(1);
        let gate = self.per_institution.entry(institution).or_insert_with(|| Arc::new(Semaphore::new(limit))).clone();
        let permit = gate.clone().try_acquire_owned();
        let (ctx, worker) = (ctx.clone(), self.worker.clone());
        Ok(Some(Box::pin(async move {
            // Only another worker loop in this process could have taken the permit meanwhile.
            let _permit = match permit {
                Ok(permit) => Ok(permit),
                Err(_) => gate.acquire_owned().await,
            };
            sync::sync_claimed(&ctx, id, Trigger::Scheduled, &worker, now).await.map(|_| ())
        })))
    }
}

/// Runs due syncs until `shutdown` resolves; syncs under way finish first.
pub async fn work(ctx: &App, worker: &str, shutdown: impl Future<Output = ()>) {
    run(SyncJobs::new(ctx, worker), ctx.engine.concurrency, worker, shutdown).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Ten jobs of 20 ms each, counted while they run.
    struct Counted {
        left: usize,
        running: Arc<AtomicUsize>,
        most: Arc<AtomicUsize>,
        done: Arc<AtomicUsize>,
    }

    impl Jobs for Counted {
        const NAME: &'static str = "test";

        async fn claim(&mut self) -> Result<Option<Job>, OpsError> {
            if self.left == 0 {
                return Ok(None);
            }
            self.left -= 1;
            let (running, most, done) = (self.running.clone(), self.most.clone(), self.done.clone());
            Ok(Some(Box::pin(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                done.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })))
        }
    }

    #[tokio::test]
    async fn the_loop_fills_its_slots_and_lets_jobs_finish_on_shutdown() {
        let counters = || Arc::new(AtomicUsize::new(0));
        let (running, most, done) = (counters(), counters(), counters());
        let jobs = Counted { left: 10, running: running.clone(), most: most.clone(), done: done.clone() };
        // Stop as soon as the first jobs are under way: those finish, nothing more starts.
        let stop = tokio::time::sleep(Duration::from_millis(5));
        run(jobs, 3, "test", stop).await;
        assert_eq!(most.load(Ordering::SeqCst), 3, "three slots, all used");
        assert_eq!(running.load(Ordering::SeqCst), 0, "shutdown waited for the jobs under way");
        assert_eq!(done.load(Ordering::SeqCst), 3);

        let jobs = Counted { left: 10, running: counters(), most: counters(), done: done.clone() };
        run(jobs, 3, "test", tokio::time::sleep(Duration::from_millis(500))).await;
        assert_eq!(done.load(Ordering::SeqCst), 13, "every job ran, slots refilled as jobs ended");
    }
}
