#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer on the stable toolchain: the SanitizerCoverage
# instrumentation that cargo-fuzz adds is requested through stable codegen flags (no
# AddressSanitizer, which needs nightly; Rust code here is memory-safe: `forbid(unsafe_code)`).
# Usage: crates/fuzz/run-libfuzzer.sh [SECONDS_PER_TARGET] [TARGET...]
# A crash is copied to testdata/regression/ and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"; shift || true
targets=("${@:-reader container xmp label}")
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps RUSTFLAGS away from build scripts and proc macros.
host="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --locked --features libfuzzer --bin libfuzzer_reader --bin libfuzzer_container --bin libfuzzer_xmp --bin libfuzzer_label --target "$host" --target-dir target/libfuzzer
for t in ${targets[@]}; do
  work="target/libfuzzer/corpus-$t"
  mkdir -p "$work" "target/libfuzzer/artifacts-$t"
  seeds=(corpus/"$t")
  [ "$t" = container ] || seeds+=(corpus/container)
  [ -d corpus/"$t" ] || seeds=(corpus/container)
  if ! target/libfuzzer/"$host"/release/libfuzzer_"$t" "$work" "${seeds[@]}" -max_total_time="$seconds" \
      -max_len=65536 -rss_limit_mb=2048 -artifact_prefix="target/libfuzzer/artifacts-$t/" -print_final_stats=1; then
    for f in target/libfuzzer/artifacts-"$t"/*; do
      cp "$f" "../../testdata/regression/crash-$t-$(sha256sum "$f" | cut -c1-16).bin"
    done
    exit 1
  fi
done
