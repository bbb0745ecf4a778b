//! Background work: a pool of workers that take jobs from the database
//! queue, run them, and retry failures with exponential backoff until they
//! become dead jobs for an admin to look at.
//!
//! Every node runs its own pool. A worker holds a lease on each job it takes;
//! a node that dies simply lets its leases run out and another node takes the
//! jobs over. On shutdown, running jobs get a grace period to finish and are
//! then released, without counting the attempt.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use ferrodesk_store::{ClaimedJob, JobPriority, JobRecord, MAIL_JOB_KIND, NewJob};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::audit::{Audit, Caller};
use crate::{Actor, App, AppError, AppResult};

/// The first retry waits this long; each further one twice as long.
const FIRST_RETRY_DELAY: Duration = Duration::from_secs(15);
/// No retry waits longer than this.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60 * 60);
/// Dead jobs an admin page lists at most.
const DEAD_JOBS_SHOWN: i64 = 200;

/// How a node runs its workers.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// How many jobs run at once on this node.
    pub workers: usize,
    /// How often an idle pool looks for due jobs that other nodes queued
    /// (jobs queued on this node wake it at once).
    pub poll_interval: Duration,
    /// How long a job's lease lasts; another node takes the job over after
    /// this if the worker died.
    pub lease: Duration,
    /// A job running longer than this is stopped and counted as failed.
    /// Shorter than the lease, so no job outlives its lease.
    pub time_limit: Duration,
    /// How long running jobs may take to finish after shutdown begins.
    pub shutdown_grace: Duration,
    /// How often this node looks for IMAP accounts due to be fetched (each
    /// account is fetched at its own poll interval, by one node at a time).
    pub mail_fetch_tick: Duration,
    /// How often this node's scheduler looks for escalations that fell
    /// due (each due one is queued once, by one node).
    pub scheduler_tick: Duration,
}

impl Default for WorkerConfig {
    fn default() -> WorkerConfig {
        WorkerConfig {
            workers: 4,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(5 * 60),
            time_limit: Duration::from_secs(2 * 60),
            shutdown_grace: Duration::from_secs(10),
            mail_fetch_tick: Duration::from_secs(5),
            scheduler_tick: Duration::from_secs(10),
        }
    }
}

/// Why a job did not succeed.
#[derive(Debug)]
pub(crate) enum JobFailure {
    /// Worth trying again later (a mail server that is down).
    Retry(String),
    /// Will never succeed (a payload that does not parse): dead at once.
    Permanent(String),
}

impl From<AppError> for JobFailure {
    fn from(error: AppError) -> JobFailure {
        JobFailure::Retry(error.to_string())
    }
}

impl From<ferrodesk_store::StoreError> for JobFailure {
    fn from(error: ferrodesk_store::StoreError) -> JobFailure {
        JobFailure::Retry(error.to_string())
    }
}

pub(crate) type JobResult = Result<(), JobFailure>;

/// The delay before attempt `attempts + 1`, after `attempts` failed ones.
pub(crate) fn retry_delay(attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    FIRST_RETRY_DELAY
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_RETRY_DELAY)
}

/// A running worker pool; dropping it leaves the pool running until the
/// runtime ends, so call [`Workers::shut_down`] to stop it cleanly.
#[derive(Debug)]
pub struct Workers {
    stop: watch::Sender<bool>,
    pool: tokio::task::JoinHandle<()>,
    fetcher: tokio::task::JoinHandle<()>,
    live_reader: tokio::task::JoinHandle<()>,
    chat_reader: tokio::task::JoinHandle<()>,
    scheduler: tokio::task::JoinHandle<()>,
}

impl Workers {
    /// Stops taking new jobs, lets running ones finish within the grace
    /// period, and releases the rest to be run again.
    pub async fn shut_down(self) {
        let _ = self.stop.send(true);
        let _ = self.pool.await;
        let _ = self.fetcher.await;
        let _ = self.live_reader.await;
        let _ = self.chat_reader.await;
        let _ = self.scheduler.await;
    }
}

/// A name for this node's leases: host name, process and a random part, so
/// two processes on one machine never share a lease owner.
fn lease_owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "node".to_owned());
    let random = crate::secrets::random_bytes::<4>()
        .map(hex::encode)
        .unwrap_or_default();
    format!("{host}:{}:{random}", std::process::id())
}

impl App {
    /// Starts this node's worker pool, its mail fetching and the reader
    /// of ticket events behind the agents' live updates, and the reader
    /// of chat events behind live chat.
    pub fn start_workers(&self, config: WorkerConfig) -> Workers {
        let (stop, stopped) = watch::channel(false);
        let app = self.clone();
        tokio::spawn(async move {
            if let Err(error) = app.inner.passwords.warm_up().await {
                tracing::warn!(%error, "cannot prepare the password hasher");
            }
        });
        let app = self.clone();
        let fetching = stopped.clone();
        let reading = stopped.clone();
        let pool = tokio::spawn(async move { app.run_pool(config, stopped).await });
        let app_for_reader = self.clone();
        let live_reader =
            tokio::spawn(async move { app_for_reader.run_live_reader(reading).await });
        let app_for_chat = self.clone();
        let chatting = stop.subscribe();
        let chat_reader = tokio::spawn(async move { app_for_chat.run_chat_reader(chatting).await });
        let app = self.clone();
        let fetcher = tokio::spawn(async move {
            app.run_mail_fetching(config.mail_fetch_tick, fetching)
                .await
        });
        let app = self.clone();
        let scheduling = stop.subscribe();
        let scheduler =
            tokio::spawn(async move { app.run_scheduler(config.scheduler_tick, scheduling).await });
        Workers {
            stop,
            pool,
            fetcher,
            live_reader,
            chat_reader,
            scheduler,
        }
    }

    /// Visits the IMAP accounts that are due, every `tick` and whenever an
    /// account is saved, until stopped.
    async fn run_mail_fetching(&self, tick: Duration, mut stopped: watch::Receiver<bool>) {
        let owner = lease_owner();
        loop {
            if *stopped.borrow() {
                break;
            }
            if let Err(error) = self.fetch_due_mail(&owner).await {
                tracing::warn!(%error, "cannot fetch mail");
            }
            tokio::select! {
                () = tokio::time::sleep(tick) => {}
                () = self.inner.mail_account_saved.notified() => {}
                _ = stopped.changed() => {}
            }
        }
    }

    /// Wakes this node's idle workers, after queueing a job that is due now.
    pub fn wake_workers(&self) {
        self.inner.job_queued.notify_one();
    }

    /// Queues a job; `payload` is its JSON.
    pub(crate) async fn enqueue_job(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        max_attempts: i64,
    ) -> AppResult<i64> {
        let now = self.now();
        let payload = payload.to_string();
        let id = self
            .store()
            .jobs()
            .enqueue_job(
                &NewJob {
                    kind,
                    payload: &payload,
                    run_at: now,
                    max_attempts,
                    priority: JobPriority::Normal,
                },
                now,
            )
            .await?;
        self.wake_workers();
        Ok(id)
    }

    async fn run_pool(&self, config: WorkerConfig, mut stopped: watch::Receiver<bool>) {
        let owner = lease_owner();
        let workers = config.workers.max(1);
        let mut running: JoinSet<Option<i64>> = JoinSet::new();
        let mut running_jobs: HashMap<tokio::task::Id, i64> = HashMap::new();
        // Jobs claimed ahead, to start as workers free up: one claim takes
        // work for the workers free now and for as many again, so a busy
        // queue costs one claim per several jobs, not one per job. At most
        // `workers` wait, so each starts within one job's time limit and
        // finishes well inside its lease.
        let mut claimed_ahead: VecDeque<ClaimedJob> = VecDeque::new();
        // Jobs done, to be removed with the next claim (one write for both).
        let mut done: Vec<i64> = Vec::new();
        let ticket_written = self.store().ticket_event_written();
        tracing::info!(workers, owner = %owner, "job workers started");
        loop {
            if *stopped.borrow() {
                break;
            }
            while running.len() < workers
                && let Some(job) = claimed_ahead.pop_front()
            {
                let job_id = job.id;
                let app = self.clone();
                let owner = owner.clone();
                let handle =
                    running.spawn(async move { app.run_job(&owner, job, config.time_limit).await });
                running_jobs.insert(handle.id(), job_id);
            }
            let free = workers.saturating_sub(running.len());
            let mut claimed = 0;
            if free > 0 {
                let now = self.now();
                let limit = i64::try_from(free + workers).unwrap_or(1);
                match self
                    .store()
                    .jobs()
                    .finish_and_claim_jobs(&owner, &done, now.plus(config.lease), now, limit)
                    .await
                {
                    Ok(jobs) => {
                        done.clear();
                        claimed = jobs.len();
                        claimed_ahead.extend(jobs);
                    }
                    Err(error) => tracing::warn!(%error, "cannot take jobs from the queue"),
                }
            }
            while let Some(finished) = running.try_join_next_with_id() {
                done.extend(forget_finished(&mut running_jobs, finished));
            }
            if claimed > 0 {
                // Start them, and there may be more due jobs: look again.
                continue;
            }
            tokio::select! {
                () = self.inner.job_queued.notified() => {}
                // Every ticket write queues its rules job.
                () = ticket_written.notified() => {}
                () = tokio::time::sleep(config.poll_interval) => {}
                _ = stopped.changed() => {}
                Some(finished) = running.join_next_with_id(), if !running.is_empty() => {
                    done.extend(forget_finished(&mut running_jobs, finished));
                }
            }
        }
        let unstarted = claimed_ahead.into_iter().map(|job| job.id);
        self.drain(
            &owner,
            config.shutdown_grace,
            running,
            running_jobs,
            done,
            unstarted,
        )
        .await;
        tracing::info!("job workers stopped");
    }

    /// Waits for running jobs up to `grace`, removes the jobs done, then
    /// stops the rest and gives their jobs back to the queue.
    async fn drain(
        &self,
        owner: &str,
        grace: Duration,
        mut running: JoinSet<Option<i64>>,
        mut running_jobs: HashMap<tokio::task::Id, i64>,
        mut done: Vec<i64>,
        unstarted: impl Iterator<Item = i64>,
    ) {
        let deadline = tokio::time::Instant::now() + grace;
        while !running.is_empty() {
            match tokio::time::timeout_at(deadline, running.join_next_with_id()).await {
                Ok(Some(finished)) => done.extend(forget_finished(&mut running_jobs, finished)),
                Ok(None) => break,
                Err(_) => {
                    running.abort_all();
                    while running.join_next().await.is_some() {}
                    break;
                }
            }
        }
        let now = self.now();
        if let Err(error) = self
            .store()
            .jobs()
            .finish_and_claim_jobs(owner, &done, now, now, 0)
            .await
        {
            tracing::warn!(%error, "cannot remove jobs done at shutdown; they run again when their leases end");
        }
        for job_id in running_jobs.into_values().chain(unstarted) {
            match self
                .store()
                .jobs()
                .release_job(job_id, owner, self.now())
                .await
            {
                Ok(()) => tracing::info!(job_id, "job released at shutdown"),
                Err(error) => {
                    tracing::warn!(job_id, %error, "cannot release a job at shutdown; its lease will run out")
                }
            }
        }
    }

    /// Runs a job and records a failure; answers the job's id when it is
    /// done, for the pool to remove with its next claim.
    async fn run_job(&self, owner: &str, job: ClaimedJob, time_limit: Duration) -> Option<i64> {
        let started = std::time::Instant::now();
        let outcome = match tokio::time::timeout(time_limit, self.dispatch_job(&job, owner)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(JobFailure::Retry(format!(
                "stopped after {} seconds",
                time_limit.as_secs()
            ))),
        };
        let now = self.now();
        let store = self.store();
        let recorded = match &outcome {
            Ok(()) => Ok(()),
            Err(JobFailure::Retry(error)) => {
                let retry_at = now.plus(retry_delay(job.attempts));
                store
                    .jobs()
                    .fail_job(job.id, owner, error, retry_at, false, now)
                    .await
            }
            Err(JobFailure::Permanent(error)) => {
                store
                    .jobs()
                    .fail_job(job.id, owner, error, now, true, now)
                    .await
            }
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &outcome {
            Ok(()) => tracing::debug!(job_id = job.id, kind = %job.kind, elapsed_ms, "job done"),
            Err(JobFailure::Retry(error)) if job.attempts < job.max_attempts => {
                tracing::warn!(job_id = job.id, kind = %job.kind, attempt = job.attempts, %error, "job failed; it will be retried");
            }
            Err(JobFailure::Retry(error) | JobFailure::Permanent(error)) => {
                tracing::error!(job_id = job.id, kind = %job.kind, attempt = job.attempts, %error, "job failed for good; it is now a dead job");
            }
        }
        if let Err(error) = recorded {
            tracing::warn!(job_id = job.id, %error, "cannot record a job's outcome; it runs again when its lease ends");
        }
        outcome.is_ok().then_some(job.id)
    }

    /// Runs one job by its kind. Every kind of job is listed here.
    async fn dispatch_job(&self, job: &ClaimedJob, owner: &str) -> JobResult {
        let last_attempt = job.attempts >= job.max_attempts;
        match job.kind.as_str() {
            MAIL_JOB_KIND => self.send_queued_mail(&job.payload, last_attempt).await,
            crate::accounts::PASSWORD_RESET_REQUEST_JOB => {
                self.answer_password_reset_request(&job.payload).await
            }
            crate::hostnames::REVERSE_DNS_JOB => self.resolve_hostname_job(&job.payload).await,
            ferrodesk_store::INBOUND_MAIL_JOB_KIND => self.process_inbound_job(&job.payload).await,
            ferrodesk_store::AGENT_NOTICE_JOB_KIND => self.notify_agents_job(&job.payload).await,
            ferrodesk_store::TICKET_RULES_JOB_KIND => self.ticket_rules_job(job, owner).await,
            ferrodesk_store::ESCALATION_JOB_KIND => self.escalation_job(job, owner).await,
            ferrodesk_store::SLA_BREACH_JOB_KIND => self.sla_breach_job(job, owner).await,
            ferrodesk_store::REPORT_MAIL_JOB_KIND => self.report_mail_job(&job.payload).await,
            ferrodesk_store::SLA_BACKFILL_JOB_KIND => self.sla_backfill_job(job).await,
            ferrodesk_store::ESCALATION_BACKFILL_JOB_KIND => {
                self.escalation_backfill_job(job).await
            }
            crate::webhooks::WEBHOOK_DELIVERY_JOB => {
                self.deliver_webhook_job(&job.payload, last_attempt).await
            }
            other => Err(JobFailure::Permanent(format!(
                "no handler for jobs of kind {other:?}"
            ))),
        }
    }

    /// Dead jobs, most recent first, for admins.
    pub async fn dead_jobs(&self, actor: &Actor) -> AppResult<Vec<JobRecord>> {
        if !actor.may_administer() {
            return Err(AppError::Forbidden);
        }
        Ok(self
            .store()
            .jobs()
            .jobs_with_status("dead", DEAD_JOBS_SHOWN)
            .await?)
    }

    /// How many jobs wait, run and are dead, for admins.
    pub async fn job_counts(&self, actor: &Actor) -> AppResult<Vec<(String, i64)>> {
        if !actor.may_administer() {
            return Err(AppError::Forbidden);
        }
        Ok(self.store().jobs().count_jobs_by_status().await?)
    }

    /// Puts a dead job back in the queue with fresh attempts. A dead mail job
    /// is retried through its outbox row, so the outbox shows it queued again.
    pub async fn retry_dead_job(&self, caller: &Caller<'_>, job_id: i64) -> AppResult<()> {
        if !caller.actor.may_administer() {
            return Err(AppError::Forbidden);
        }
        let job = self
            .store()
            .jobs()
            .get_job(job_id)
            .await?
            .filter(|job| job.status == "dead")
            .ok_or(AppError::NotFound)?;
        let now = self.now();
        let audit = Audit::new(caller, "job.retried")
            .on("job", Some(job_id), &format!("{} job {job_id}", job.kind))
            .after(&serde_json::json!({ "last_error": job.last_error }));
        let retried = match crate::mail::outbox_id_of(&job) {
            Some(outbox_id) => {
                self.store()
                    .outbox()
                    .retry_mail(outbox_id, &audit.entry(), now)
                    .await?
            }
            None => {
                self.store()
                    .jobs()
                    .retry_dead_job(job_id, &audit.entry(), now)
                    .await?
            }
        };
        if !retried {
            return Err(AppError::NotFound);
        }
        tracing::info!(job_id, kind = %job.kind, "dead job retried by an admin");
        self.wake_workers();
        Ok(())
    }
}

/// Forgets a finished task; answers its job's id when the job is done.
fn forget_finished(
    running_jobs: &mut HashMap<tokio::task::Id, i64>,
    finished: Result<(tokio::task::Id, Option<i64>), tokio::task::JoinError>,
) -> Option<i64> {
    let (task, done) = match finished {
        Ok((task, done)) => (task, done),
        Err(error) => {
            if error.is_panic() {
                tracing::error!("a job panicked; it runs again when its lease ends");
            }
            (error.id(), None)
        }
    };
    running_jobs.remove(&task);
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(retry_delay(1), Duration::from_secs(15));
        assert_eq!(retry_delay(2), Duration::from_secs(30));
        assert_eq!(retry_delay(3), Duration::from_secs(60));
        assert_eq!(retry_delay(9), Duration::from_secs(3600));
        assert_eq!(retry_delay(25), Duration::from_secs(3600));
        assert_eq!(retry_delay(i64::MAX), Duration::from_secs(3600));
        assert_eq!(retry_delay(0), Duration::from_secs(15));
    }

    #[test]
    fn lease_owners_differ_between_pools() {
        assert_ne!(lease_owner(), lease_owner());
    }
}
