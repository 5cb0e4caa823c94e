//! `provmark-fuzz`: a bounded mutation fuzzer for the stable toolchain.
//!
//! ```text
//! provmark-fuzz [--target NAME] [--seconds N] [--seed N]   run (all targets by default)
//! provmark-fuzz --replay DIR                                run every file of DIR through every target
//! provmark-fuzz --make-seeds                                add stamped copies of the container seeds
//! ```
//! A panic is saved to `testdata/regression/crash-<target>-<hash>.bin` and the process exits 1.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command-line tool")]

use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use provmark_fuzz::{stamp, Target, TARGETS};
use sha2::{Digest, Sha256};

const MAX_INPUT: usize = 64 * 1024;
const INTERESTING: [u32; 10] =
    [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x1000_0000];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut d = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = d.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] = rng.next() as u8;
            }
            2 if len >= 4 => {
                // Overwrite a plausible length field with an interesting value.
                let i = rng.below(len - 3);
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let b = if rng.below(2) == 0 { v.to_be_bytes() } else { v.to_le_bytes() };
                d[i..i + 4].copy_from_slice(&b);
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                d.drain(a..b);
            }
            4 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(32);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                d.splice(at..at, bytes);
            }
            5 if len > 0 => {
                d.truncate(rng.below(len));
            }
            6 if !corpus.is_empty() => {
                // Splice a piece of another input.
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + 1 + rng.below(256)).min(other.len());
                    let at = rng.below(len + 1);
                    d.splice(at..at, other[a..b].iter().copied());
                }
            }
            _ if len > 8 => {
                // Duplicate a block (repeated chunks, segments, frames).
                let a = rng.below(len);
                let b = (a + 1 + rng.below(128)).min(len);
                let block = d[a..b].to_vec();
                let at = rng.below(d.len() + 1);
                d.splice(at..at, block);
            }
            _ => {}
        }
    }
    d.truncate(MAX_INPUT);
    d
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn load(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|r| r.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    files.sort();
    files.into_iter().filter(|p| p.is_file()).filter_map(|p| std::fs::read(p).ok()).collect()
}

fn save_crash(target: &Target, input: &[u8]) -> PathBuf {
    let hash = hex::encode(&Sha256::digest(input)[..8]);
    let path =
        root().join("../../testdata/regression").join(format!("crash-{}-{hash}.bin", target.name));
    let _ = std::fs::write(&path, input);
    path
}

fn run_one(target: &Target, input: &[u8]) -> Result<String, ()> {
    panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input))).map_err(|_| ())
}

fn fuzz(target: &Target, budget: Duration, seed: u64) -> Result<(u64, usize), PathBuf> {
    let dir = root().join("corpus").join(target.name);
    let mut corpus = load(&dir);
    // Every target also starts from the container seeds (they hold XMP and labels).
    if target.name != "container" {
        // (`reader` has no folder of its own: it shares the container seeds.)
        corpus.extend(load(&root().join("corpus/container")));
    }
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let mut seen = HashSet::new();
    for input in &corpus {
        match run_one(target, input) {
            Ok(f) => {
                seen.insert(f);
            }
            Err(()) => return Err(save_crash(target, input)),
        }
    }
    let mut rng = Rng(seed | 1);
    let start = Instant::now();
    let mut execs = 0u64;
    while start.elapsed() < budget {
        let parent = &corpus[rng.below(corpus.len())];
        let child = mutate(&mut rng, parent, &corpus);
        execs += 1;
        match run_one(target, &child) {
            Ok(f) => {
                if seen.insert(f) && corpus.len() < 4096 {
                    corpus.push(child);
                }
            }
            Err(()) => return Err(save_crash(target, &child)),
        }
    }
    Ok((execs, seen.len()))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value =
        |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    if args.iter().any(|a| a == "--make-seeds") {
        let dir = root().join("corpus/container");
        for (i, input) in load(&dir).iter().enumerate() {
            if let Ok(out) = stamp(input) {
                let _ = std::fs::write(dir.join(format!("stamped-{i}.bin")), out);
            }
        }
        return;
    }
    if let Some(dir) = value("--replay") {
        let inputs = load(Path::new(&dir));
        for t in &TARGETS {
            for input in &inputs {
                if run_one(t, input).is_err() {
                    eprintln!("{}: panic on a replayed input", t.name);
                    std::process::exit(1);
                }
            }
        }
        println!("replayed {} inputs through {} targets", inputs.len(), TARGETS.len());
        return;
    }
    let seconds: u64 = value("--seconds").and_then(|s| s.parse().ok()).unwrap_or(10);
    let seed: u64 = value("--seed").and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    let only = value("--target");
    // Silence the default panic message; crashes are reported below.
    panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    for t in TARGETS.iter().filter(|t| only.as_deref().is_none_or(|o| o == t.name)) {
        match fuzz(t, Duration::from_secs(seconds), seed) {
            Ok((execs, outcomes)) => println!(
                "{}: {execs} executions in {seconds} s, {outcomes} distinct outcomes, no crash",
                t.name
            ),
            Err(path) => {
                eprintln!("{}: crash saved to {}", t.name, path.display());
                std::process::exit(1);
            }
        }
    }
}
