//! How many operations one caller may run at once.
//!
//! The connection pool is shared by everyone: without a per-caller bound, one token firing
//! many expensive requests in parallel holds every pooled connection and the other callers'
//! cheap queries wait for the pool (or time out). Callers are told by their token subject. A
//! caller's operations beyond its bound wait in line (holding no database connection) until
//! one of its own finishes, within the request's time limit; when its line is full too, more
//! are refused at once with `LIMIT_EXCEEDED` (HTTP 429). Well-behaved parallel clients are
//! slowed, never failed; a burst cannot pile up unbounded waiting work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// The operations running and waiting per caller, shared by every route of one service.
#[derive(Clone, Debug)]
pub struct CallerLimits {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Most operations one caller may run at once; 0 means no limit.
    max: usize,
    /// Most operations of one caller that may wait for a slot.
    max_waiting: usize,
    /// Busy callers only: an entry goes when its last operation does.
    callers: Mutex<HashMap<String, Caller>>,
}

#[derive(Debug)]
struct Caller {
    slots: Arc<Semaphore>,
    /// Operations running or waiting.
    users: usize,
}

impl Inner {
    fn callers(&self) -> MutexGuard<'_, HashMap<String, Caller>> {
        // Plain counters stay consistent whatever a panicking holder did.
        self.callers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl CallerLimits {
    /// At most `max` operations at once per caller (0 means no limit), and at most
    /// `max_waiting` more waiting for a slot.
    pub fn new(max: usize, max_waiting: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                max,
                max_waiting,
                callers: Mutex::default(),
            }),
        }
    }

    /// A slot for one operation of `subject`, waiting for one of its running operations to
    /// finish if need be; LIMIT_EXCEEDED at once when too many already wait. The slot is held
    /// until the permit is dropped; dropping the future while it waits leaves the line.
    pub async fn acquire(&self, subject: &str) -> Result<CallerPermit, ApiError> {
        let Some((slots, ticket)) = self.enter(subject, self.inner.max_waiting)? else {
            return Ok(CallerPermit::unlimited());
        };
        // The semaphore is never closed, so this fails for no reason; answer as if full.
        let slot = slots.acquire_owned().await.map_err(|_| self.full())?;
        Ok(CallerPermit {
            _slot: Some(slot),
            _ticket: Some(ticket),
        })
    }

    /// A slot for one operation of `subject` if one is free now; LIMIT_EXCEEDED otherwise.
    pub fn try_acquire(&self, subject: &str) -> Result<CallerPermit, ApiError> {
        let Some((slots, ticket)) = self.enter(subject, 0)? else {
            return Ok(CallerPermit::unlimited());
        };
        let slot = slots.try_acquire_owned().map_err(|_| self.full())?;
        Ok(CallerPermit {
            _slot: Some(slot),
            _ticket: Some(ticket),
        })
    }

    /// Counts a new operation of `subject` in (None without a limit), refusing it when the
    /// caller already has as many running and `waiting` waiting as allowed.
    fn enter(
        &self,
        subject: &str,
        waiting: usize,
    ) -> Result<Option<(Arc<Semaphore>, Ticket)>, ApiError> {
        if self.inner.max == 0 {
            return Ok(None);
        }
        let mut callers = self.inner.callers();
        let caller = callers.entry(subject.to_owned()).or_insert_with(|| Caller {
            slots: Arc::new(Semaphore::new(self.inner.max)),
            users: 0,
        });
        if caller.users >= self.inner.max.saturating_add(waiting) {
            return Err(self.full());
        }
        caller.users += 1;
        Ok(Some((
            Arc::clone(&caller.slots),
            Ticket {
                inner: Arc::clone(&self.inner),
                subject: subject.to_owned(),
            },
        )))
    }

    fn full(&self) -> ApiError {
        ApiError::LimitExceeded(format!(
            "this caller already runs {} operations at once, the limit, and {} more wait; \
             retry when one has finished",
            self.inner.max, self.inner.max_waiting
        ))
    }

    /// Operations `subject` runs or waits to run right now.
    pub fn users(&self, subject: &str) -> usize {
        self.inner
            .callers()
            .get(subject)
            .map_or(0, |caller| caller.users)
    }
}

/// Counts one operation of a caller (running or waiting) until dropped.
#[derive(Debug)]
struct Ticket {
    inner: Arc<Inner>,
    subject: String,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut callers = self.inner.callers();
        if let Some(caller) = callers.get_mut(&self.subject) {
            caller.users = caller.users.saturating_sub(1);
            if caller.users == 0 {
                callers.remove(&self.subject);
            }
        }
    }
}

/// One running operation of a caller; dropping it frees the slot.
#[derive(Debug)]
pub struct CallerPermit {
    // Fields drop in order: the slot is free before the operation stops being counted.
    _slot: Option<OwnedSemaphorePermit>,
    _ticket: Option<Ticket>,
}

impl CallerPermit {
    fn unlimited() -> Self {
        Self {
            _slot: None,
            _ticket: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_at_its_limit_gets_no_free_slot_while_others_do() {
        let limits = CallerLimits::new(2, 10);
        let first = limits.try_acquire("abuser").expect("first");
        let _second = limits.try_acquire("abuser").expect("second");
        let refused = limits
            .try_acquire("abuser")
            .expect_err("third is over the limit");
        assert_eq!(refused.code(), "LIMIT_EXCEEDED");
        let _other = limits.try_acquire("someone else").expect("another caller");
        drop(first);
        let _again = limits
            .try_acquire("abuser")
            .expect("a freed slot is reused");
    }

    #[tokio::test]
    async fn a_caller_over_its_limit_waits_for_its_own_slot_and_a_full_line_is_refused() {
        let limits = CallerLimits::new(1, 1);
        let running = limits.acquire("a").await.expect("slot");
        let waiting = {
            let limits = limits.clone();
            tokio::spawn(async move { limits.acquire("a").await.map(|_| ()) })
        };
        // Bounded polling until the second operation stands in line.
        for _ in 0..2_000 {
            if limits.users("a") == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(limits.users("a"), 2);
        let refused = limits.acquire("a").await.expect_err("the line is full");
        assert_eq!(refused.code(), "LIMIT_EXCEEDED");
        drop(running);
        waiting
            .await
            .expect("task")
            .expect("served once the slot is free");
        assert_eq!(limits.users("a"), 0);
    }

    #[test]
    fn finished_callers_leave_nothing_behind() {
        let limits = CallerLimits::new(1, 0);
        drop(limits.try_acquire("a").expect("slot"));
        assert_eq!(limits.users("a"), 0);
        assert!(limits.inner.callers().is_empty());
    }

    #[test]
    fn zero_means_no_limit() {
        let limits = CallerLimits::new(0, 0);
        let permits: Vec<_> = (0..100)
            .map(|_| limits.try_acquire("a").expect("unlimited"))
            .collect();
        drop(permits);
        assert!(limits.inner.callers().is_empty());
    }
}
