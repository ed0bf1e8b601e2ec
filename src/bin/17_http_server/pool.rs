//! Step 1 of chapter 17: a fixed pool of worker threads, fed through a bounded queue.
//!
//! `ThreadPool::new(4, 64)` starts 4 threads once; `pool.execute(job)` puts a job (a closure)
//! in a queue of at most 64, and the first idle worker runs it. Nothing here knows about HTTP:
//! main.rs hands the pool one job per connection. Chapter 17 explains it line by line; the
//! Rust Book builds the same pool in its chapter 21.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use anyhow::Context;

// ANCHOR: pool
/// A job: any closure that a worker thread can run once.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed number of worker threads and the bounded queue of jobs that wait for them.
pub struct ThreadPool {
    sender: SyncSender<Job>,
}

impl ThreadPool {
    /// Starts `threads` workers that share a queue holding at most `queue` jobs.
    pub fn new(threads: usize, queue: usize) -> anyhow::Result<ThreadPool> {
        // The queue is a channel with room for `queue` jobs. A channel's receiving end has one
        // owner, so the workers share it behind a mutex: one idle worker waits on it at a time.
        let (sender, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
            let receiver = Arc::clone(&receiver);
            // Builder returns an error where thread::spawn would panic (chapter 02).
            thread::Builder::new()
                .spawn(move || worker(&receiver))
                .with_context(|| format!("could not start worker thread {n} of {threads}"))?;
        }
        Ok(ThreadPool { sender })
    }

    /// Queues `job` for the next idle worker. While the queue is full this waits for a worker
    /// to take a job: the caller slows down instead of piling up work. `false` means no
    /// worker is left to run it (they only stop if they panic).
    pub fn execute(&self, job: impl FnOnce() + Send + 'static) -> bool {
        self.sender.send(Box::new(job)).is_ok()
    }
}

/// One worker thread: takes jobs off the queue and runs each, one at a time.
fn worker(receiver: &Mutex<Receiver<Job>>) {
    loop {
        // Hold the lock only while taking one job: the guard is dropped at the end of this
        // statement, so another worker can wait for the next job while this one runs.
        let next = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(job) = next else {
            return; // the pool (its sending end) is gone: the server is stopping
        };
        job();
    }
}
// ANCHOR_END: pool
