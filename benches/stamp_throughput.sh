#!/usr/bin/env bash
# Whole-process throughput of `provmark stamp` (hyperfine), as reported in README.md
# ("Throughput (measured)"):
#   - `stamp` of a folder with RAYON_NUM_THREADS=1 and =2 (scaling across cores);
#   - per file, `stamp` against `watermark embed` alone on the same files, both on one
#     thread (what metadata, signing, fsyncs and the ledger commit add).
# Inputs: the bundled testdata, copied N times (images: 4 pictures x 8; audio: the two
# longer WAV clips x 4), or the folders given. Usage, from the repository root, after
# `cargo build --release`:
#   benches/stamp_throughput.sh [RUNS [FOLDER...]]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
bin=$PWD/target/release/provmark
w=$(mktemp -d /tmp/provmark-throughput.XXXXXX)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/images" "$w/audio"
for i in 1 2 3 4 5 6 7 8; do
  for f in testdata/images/*; do cp "$f" "$w/images/$i-$(basename "$f")"; done
done
for i in 1 2 3 4; do
  for f in testdata/audio/pcm16-16000-mono-26s-librivox.wav testdata/audio/pcm16-44100-stereo-12s-drascula.wav; do
    cp "$f" "$w/audio/$i-$(basename "$f")"
  done
done
"$bin" keygen --out "$w/home" >/dev/null 2>&1
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
sets=(images audio)
if [ "$#" -gt 0 ]; then
  sets=()
  for d in "$@"; do
    name=$(basename "$(dirname "$d")")-$(basename "$d")
    cp -r "$d" "$w/$name"
    sets+=("$name")
  done
fi
for set in "${sets[@]}"; do
  n=$(ls "$w/$set" | wc -l)
  stamp="$bin stamp --home $w/home --ledger sqlite:$w/ledger.db --out $w/out $w/$set"
  embed="for f in $w/$set/*; do $bin watermark embed --home $w/home --id 0123456789abcdef \$f $w/emb/\$(basename \$f) || exit 1; done"
  hyperfine --runs "$runs" --style basic --export-json "$w/$set.json" \
    --prepare "rm -rf $w/out $w/emb $w/ledger.db; mkdir -p $w/emb" \
    -n "stamp, 1 thread" "RAYON_NUM_THREADS=1 $stamp" \
    -n "stamp, 2 threads" "RAYON_NUM_THREADS=2 $stamp" \
    -n "watermark embed, 1 thread" "RAYON_NUM_THREADS=1 bash -c '$embed'"
  python3 - "$w/$set.json" "$set" "$n" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
n = int(sys.argv[3])
keys = ("stamp, 1 thread", "stamp, 2 threads", "watermark embed, 1 thread")
s1, s2, e1 = (r[k]["mean"] for k in keys)
c1, c2, ce = (r[k]["user"] + r[k]["system"] for k in keys)
print(f"{sys.argv[2]} ({n} files), wall: stamp 1 thread {s1/n*1000:.0f} ms/file, 2 threads "
      f"{s2/n*1000:.0f} ms/file, embed alone {e1/n*1000:.0f} ms/file; scaling 1->2 threads "
      f"{s1/s2:.2f}x; stamp/embed {s1/e1:.2f}x")
print(f"{sys.argv[2]} ({n} files), CPU (user+sys): stamp 1 thread {c1/n*1000:.0f} ms/file, "
      f"2 threads {c2/n*1000:.0f} ms/file, embed alone {ce/n*1000:.0f} ms/file; stamp/embed {c1/ce:.2f}x")
PY
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
