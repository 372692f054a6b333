//! A CPU burner for tests that must hold under load: the in-test equivalent of Debian's
//! `stress --cpu N` (N threads each spinning on arithmetic), stopped when dropped. In the test
//! process rather than a `stress` child, so it needs no package and cannot outlive the test.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// `threads` busy threads until dropped.
pub struct CpuLoad {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl CpuLoad {
    /// Starts `threads` spinning threads (`stress --cpu threads`).
    pub fn start(threads: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    // what `stress --cpu` does: square roots in a tight loop
                    let mut x = 1.0f64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..10_000 {
                            x = black_box(black_box(x + 1.0).sqrt());
                        }
                    }
                })
            })
            .collect();
        Self { stop, threads }
    }
}

impl Drop for CpuLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
