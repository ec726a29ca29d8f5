//! Heap bytes in use, to measure what a computation holds (an autograd graph's saved tensors,
//! checkpointed states): libtorch allocates CPU tensors with `malloc`, so glibc's allocator
//! statistics (`mallinfo2`: bytes in use in ordinary chunks plus mmapped blocks) count them.
//!
//! Only the main arena is reported, i.e. allocations made by the calling thread; measure with
//! libtorch on one thread ([`PeakHeap::start`] sets that and restores the count). On platforms
//! without glibc the functions return `None`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Bytes in use on the heap's main arena, `None` without glibc.
pub fn heap_in_use() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallinfo2` takes no arguments, only reads the allocator's counters under its
        // own lock and returns a plain struct by value.
        #[allow(unsafe_code)]
        let m = unsafe { libc::mallinfo2() };
        Some((m.uordblks + m.hblkhd) as u64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// The peak of [`heap_in_use`] above its value at the start, sampled every 20 µs by a watcher
/// thread until [`PeakHeap::finish`].
#[derive(Debug)]
pub struct PeakHeap {
    base: u64,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    watcher: Option<JoinHandle<()>>,
    threads: i32,
}

impl PeakHeap {
    /// Starts watching (and runs libtorch on one thread until `finish`); `None` without glibc.
    pub fn start() -> Option<Self> {
        let base = heap_in_use()?;
        let threads = tch::get_num_threads();
        tch::set_num_threads(1);
        let (peak, stop) = (Arc::new(AtomicU64::new(base)), Arc::new(AtomicBool::new(false)));
        let (p, s) = (peak.clone(), stop.clone());
        let watcher = std::thread::spawn(move || {
            // bounded by the caller's `finish` (or drop)
            while !s.load(Ordering::Relaxed) {
                if let Some(now) = heap_in_use() {
                    p.fetch_max(now, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_micros(20));
            }
        });
        Some(PeakHeap { base, peak, stop, watcher: Some(watcher), threads })
    }

    /// Stops watching and returns the peak bytes above the start (one last sample included).
    pub fn finish(mut self) -> u64 {
        self.stop_watcher();
        if let Some(now) = heap_in_use() {
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
        self.peak.load(Ordering::Relaxed).saturating_sub(self.base)
    }

    fn stop_watcher(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(w) = self.watcher.take() {
            let _ = w.join();
        }
        tch::set_num_threads(self.threads);
    }
}

impl Drop for PeakHeap {
    fn drop(&mut self) {
        self.stop_watcher();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64 MiB tensor held during the watch shows up in the peak, within a few per cent (the
    /// allocator's bookkeeping and the watcher's own thread are small beside it).
    #[test]
    fn a_held_tensor_is_seen_at_its_size() {
        let Some(watch) = PeakHeap::start() else { return };
        let t = tch::Tensor::ones([8 * 1024 * 1024], (tch::Kind::Double, tch::Device::Cpu));
        std::thread::sleep(Duration::from_millis(5));
        drop(t);
        let peak = watch.finish() as f64;
        let size = 64.0 * 1024.0 * 1024.0;
        assert!(peak >= size && peak < 1.05 * size, "peak {peak} for {size}");
        assert!(heap_in_use().is_some());
    }
}
