//! kill -9 at random moments during batch appends: after each kill the log verifies and
//! every batch the process reported committed is there, at the index it was given.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use provmark_core::ContentId;

use crate::common::mix;

const BATCH: u64 = 2_000;

#[test]
fn kill_dash_nine_during_appends_loses_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let helper = env!("CARGO_BIN_EXE_ledger-crash-helper");
    // (batch, first index, last index) of every commit any run reported.
    let mut reported: Vec<(u64, u64, u64)> = Vec::new();
    let mut rng = 0x1234_5678u64;
    let mut kills = 0;
    for round in 0..8 {
        let batches = 12 + round * 6;
        let mut child = Command::new(helper)
            .args([path.to_str().unwrap(), &BATCH.to_string(), &batches.to_string()])
            // Small index sizes: kills land inside segment builds, segment merges and
            // lookup-index merges too.
            .args(["3000", "5000"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<String>>()
        });
        rng = mix(rng);
        let wait = Duration::from_millis(20 + rng % 400);
        let start = Instant::now();
        let mut finished = false;
        while start.elapsed() < wait {
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if !finished {
            child.kill().unwrap(); // SIGKILL on Unix.
            kills += 1;
        }
        child.wait().unwrap();
        for line in reader.join().unwrap() {
            let parts: Vec<u64> = line
                .strip_prefix("committed ")
                .unwrap()
                .split(' ')
                .map(|x| x.parse().unwrap())
                .collect();
            reported.push((parts[0], parts[1], parts[2]));
        }

        // Restart: the log verifies and holds every reported commit at its index.
        let mut ledger = provmark_ledger::open(&format!("sqlite:{}", path.display())).unwrap();
        let report = ledger.verify(None).unwrap();
        assert!(report.is_ok(), "round {round}: {report:?}");
        for &(b, first, last) in &reported {
            assert_eq!(last - first + 1, BATCH, "a batch is contiguous");
            for (k, n) in [(0, b * BATCH), (BATCH - 1, (b + 1) * BATCH - 1)] {
                let i = ledger.store_mut().find_content_id(mix(n)).unwrap();
                assert_eq!(i, Some(first + k), "round {round}: batch {b} record {n}");
            }
        }
        // Batches are all-or-nothing: the size is a whole number of batches, and no
        // content ID appears twice (the unique index holds across restarts).
        let size = ledger.size().unwrap();
        assert_eq!(size % BATCH, 0, "round {round}: a partial batch was committed");
        let last_id = ContentId::from_u64(mix(size.saturating_sub(1)));
        if size > 0 {
            assert_eq!(
                ledger.store_mut().find_content_id(last_id.as_u64()).unwrap(),
                Some(size - 1)
            );
        }
    }
    assert!(kills >= 3, "only {kills} runs were killed mid-way; the test proved little");
}
