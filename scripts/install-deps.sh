#!/usr/bin/env bash
# Installs every system package yanxiu builds, runs and tests with, on
# Debian 12 (bookworm). Idempotent: does nothing when all are present.
# Needs root (or sudo). Rust itself (cargo, rustc 1.95) must be on PATH.
set -euo pipefail

packages=(
  # build
  pkg-config clang libclang-dev
  # C++ compiler and runtime: libfuzzer-sys builds libFuzzer (fuzz/ bins)
  g++
  # FFmpeg libraries (ffmpeg-next) and the CLI (fixtures, test readers, benchmark)
  libavcodec-dev libavformat-dev libavfilter-dev libavdevice-dev libavutil-dev
  libswscale-dev libswresample-dev ffmpeg
  # GStreamer (live and WebRTC work; test publishers)
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-nice gstreamer1.0-tools
  # PostgreSQL server binaries: the control-plane tests start throwaway clusters
  postgresql
  # tools the scripts use
  util-linux python3 python3-venv ca-certificates curl
  # TURN server (coturn): the test of WebRTC clients whose network blocks UDP
  coturn
  # headless browser for tests/browser_playback.rs (hls.js plays a published resource)
  chromium
  # CJK glyphs for the web app's zh-CN pages in Chromium (tests/web_app.rs screenshots)
  fonts-noto-cjk
)

# Node.js and npm run the browser test's driver (hls.js and playwright-core
# from npm, Node 18 or newer). NodeSource's nodejs bundles npm and conflicts
# with Debian's npm package: ask for Debian's only when a command is missing.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install-deps: installing ${missing[*]}" >&2
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo not found; install Rust 1.95 (rustup) first" >&2
  exit 1
fi
