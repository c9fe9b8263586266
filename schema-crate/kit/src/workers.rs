//! The threads a pool's units of work run on: at most one per connection the pool may
//! open, started as they are needed, fed from one queue.
//!
//! Why not `tokio::task::spawn_blocking`: tokio starts a new blocking thread whenever none
//! is idle, so with more requests in flight than connections, dozens of threads wait for
//! a connection and every hand-off wakes one. Here a thread that finishes a unit of work
//! takes the next one from the queue without sleeping; under load the only thread switch
//! left per request is the wait for the database's answer (docs/benchmarks.md, issue 14).
//! The work still runs off the async workers, so a request can be answered at its
//! deadline while its thread is stuck on a database that does not answer.

use std::{
    collections::VecDeque,
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A queue and the threads that run what is put on it; the threads end when this is
/// dropped (after the work already queued).
pub(crate) struct Workers {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    max_threads: usize,
    name: &'static str,
}

struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    closed: bool,
}

impl Workers {
    /// At most `max_threads` threads (at least one), named `name-N`.
    pub(crate) fn new(name: &'static str, max_threads: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    jobs: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    closed: false,
                }),
                ready: Condvar::new(),
                max_threads: max_threads.max(1),
                name,
            }),
        }
    }

    /// Queues `job`; an idle thread takes it, or a new one when there is none and fewer
    /// than the maximum run. Fails only when no thread runs and none could be started.
    pub(crate) fn submit(&self, job: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        let mut state = self.shared.lock();
        state.jobs.push_back(Box::new(job));
        if state.idle > 0 {
            drop(state);
            self.shared.ready.notify_one();
            return Ok(());
        }
        if state.threads >= self.shared.max_threads {
            // Every thread is busy: the first to finish takes it.
            return Ok(());
        }
        state.threads += 1;
        let number = state.threads;
        drop(state);
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name(format!("{}-{number}", self.shared.name))
            .spawn(move || shared.work());
        if let Err(error) = spawned {
            let mut state = self.shared.lock();
            state.threads -= 1;
            if state.threads == 0 {
                // Nobody would ever run it.
                state.jobs.clear();
                return Err(error);
            }
        }
        Ok(())
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A job never runs under the lock, so a poisoned lock holds consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One thread's life: jobs back to back, sleeping only when the queue is empty.
    fn work(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                // Jobs catch their own panics (`AppState`); one that does not must not
                // take the thread's count with it.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                state = self.lock();
                continue;
            }
            if state.closed {
                state.threads -= 1;
                return;
            }
            state.idle += 1;
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.idle -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{
        sync::{Barrier, atomic::AtomicUsize, atomic::Ordering, mpsc},
        time::Duration,
    };

    #[test]
    fn runs_every_job_on_at_most_max_threads() {
        let workers = Workers::new("test-workers", 3);
        let (done, finished) = mpsc::channel();
        let names = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
        for i in 0..50 {
            let done = done.clone();
            let names = Arc::clone(&names);
            workers
                .submit(move || {
                    let name = std::thread::current().name().map(str::to_owned);
                    names.lock().unwrap().insert(name.unwrap());
                    std::thread::sleep(Duration::from_millis(1));
                    done.send(i).unwrap();
                })
                .unwrap();
        }
        let mut seen: Vec<i32> = (0..50)
            .map(|_| finished.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
        let names = names.lock().unwrap();
        assert!(
            (1..=3).contains(&names.len()),
            "ran on {} threads: {names:?}",
            names.len()
        );
        assert!(names.iter().all(|n| n.starts_with("test-workers-")));
    }

    #[test]
    fn a_stuck_job_does_not_stop_the_others_while_threads_remain() {
        let workers = Workers::new("test-stuck", 2);
        let release = Arc::new(Barrier::new(2));
        let stuck = Arc::clone(&release);
        workers
            .submit(move || {
                stuck.wait();
            })
            .unwrap();
        let (done, finished) = mpsc::channel();
        for i in 0..5 {
            let done = done.clone();
            workers.submit(move || done.send(i).unwrap()).unwrap();
        }
        for _ in 0..5 {
            finished.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        release.wait();
    }

    #[test]
    fn a_panicking_job_leaves_its_thread_working() {
        let workers = Workers::new("test-panic", 1);
        workers.submit(|| panic!("a job that panics")).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let (done, finished) = mpsc::channel();
        let counter = Arc::clone(&ran);
        workers
            .submit(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                done.send(()).unwrap();
            })
            .unwrap();
        finished.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn threads_end_when_the_workers_are_dropped() {
        let workers = Workers::new("test-drop", 2);
        let (done, finished) = mpsc::channel();
        workers.submit(move || done.send(()).unwrap()).unwrap();
        finished.recv_timeout(Duration::from_secs(10)).unwrap();
        let shared = Arc::downgrade(&workers.shared);
        drop(workers);
        for _ in 0..1000 {
            if shared.strong_count() == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("a worker thread outlived its Workers");
    }
}
