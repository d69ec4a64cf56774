//! Crash test: the real agent binary is killed with SIGKILL at random points (seeded) 50 times
//! while it reads the simulator and ships to an in-test receiver that also drops some acks.
//! Afterwards every sequence 1..N taken must have reached the receiver exactly once after
//! deduplication, chained, and none may be missing.

mod common;

use std::time::{Duration, Instant};

use common::*;
use meter_agent::spool::Spool;

const KILLS: usize = 50;
const SEED: u64 = 0x5EED_2026_0001;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_50_times_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("agent.log");
    let (sim, sim_task) = start_simulator_with_handle(60.0).await;
    // every 4th answer is a 503 after storing: the agent must resend, the receiver dedups
    let (url, rx) = start_receiver(4).await;
    let cfg = write_config(dir.path(), sim, &url, 0.1);
    keygen(&cfg);
    let mut rng = XorShift(SEED);
    println!("crash test seed {SEED:#x}");

    for _ in 0..KILLS {
        let mut child = spawn_agent(&cfg, &log);
        tokio::time::sleep(Duration::from_millis(rng.range(20, 500))).await;
        child.kill().await.unwrap(); // SIGKILL
    }

    // switch the device off so no new readings are taken, and let the agent drain its spool
    sim_task.abort();
    let mut child = spawn_agent(&cfg, &log);
    let started = Instant::now();
    let mut last = (0usize, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n = rx.lock().unwrap().readings.len();
        if n != last.0 {
            last = (n, Instant::now());
        }
        if last.1.elapsed() > Duration::from_secs(2) || started.elapsed() > Duration::from_secs(30)
        {
            break;
        }
    }
    child.kill().await.unwrap();

    let spool = Spool::open(&dir.path().join("data/roof/spool"), Default::default()).unwrap();
    let n = spool.tip().sequence;
    let g = rx.lock().unwrap();
    println!(
        "readings taken: {n}; received (dedup): {}; deliveries: {}; duplicates: {}; requests: {}",
        g.readings.len(),
        g.deliveries,
        g.duplicates,
        g.requests
    );
    assert!(n >= 50, "too few readings taken to mean anything: {n}");
    let problems = g.check_chain(n);
    assert!(
        problems.is_empty(),
        "{problems:?}\nlog: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(
        g.readings.len() as u64,
        n,
        "nothing beyond the last reading taken arrived"
    );
    assert_eq!(spool.acked(), n, "everything received was acknowledged");
}
