#!/usr/bin/env bash
# Fuzzes one target of fuzz/ with libFuzzer on stable Rust: builds the
# target's bin with SanitizerCoverage instrumentation (what cargo-fuzz
# does, without sanitizers, which need nightly) in its own target dir,
# release with debug assertions and overflow checks, then runs it.
#
#   scripts/fuzz.sh TARGET [SECONDS] [libFuzzer flags...]
#   scripts/fuzz.sh list
#
# New inputs go to target/fuzz/corpus/TARGET (kept between runs; the
# committed seeds in fuzz/corpus/TARGET are read, never written); crashes
# to target/fuzz/artifacts/TARGET/. Replay one: the bin with the file as
# its only argument. Exit status: libFuzzer's (0 = no crash in the time).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
targets=(flv_video_tag flv_audio_tag amf0 rtmp_server_session rtmp_server_session_after_handshake)

usage() {
  echo "usage: scripts/fuzz.sh TARGET [SECONDS] [libFuzzer flags...]" >&2
  echo "targets: ${targets[*]}" >&2
  exit 2
}

[ $# -ge 1 ] || usage
target=$1
shift
if [ "$target" = list ]; then
  printf '%s\n' "${targets[@]}"
  exit 0
fi
printf '%s\n' "${targets[@]}" | grep -qx -- "$target" || usage
seconds=60
if [ $# -ge 1 ] && [[ $1 =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi

export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing"
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
target_dir="$root/target/fuzz"
# An explicit --target keeps RUSTFLAGS (the instrumentation) away from build
# scripts and proc macros, which would not link without libFuzzer.
host=$(rustc -vV | sed -n 's/^host: //p')

cargo build --release --manifest-path "$root/Cargo.toml" -p yanxiu-fuzz --bin "$target" \
  --target "$host" --target-dir "$target_dir"

work_corpus="$target_dir/corpus/$target"
artifacts="$target_dir/artifacts/$target"
mkdir -p "$work_corpus" "$artifacts"

"$target_dir/$host/release/$target" \
  -max_total_time="$seconds" \
  -print_final_stats=1 \
  -artifact_prefix="$artifacts/" \
  "$@" \
  "$work_corpus" "$root/fuzz/corpus/$target"
