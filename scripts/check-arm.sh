#!/usr/bin/env bash
# Cross-compiles lrpo-edge for 64-bit ARM by the Debian route (README, "Building for ARM"),
# restores a real photo with several faces under qemu-aarch64 and compares the result with the
# x86-64 build's output of the same command; then builds the C API's example program
# (edge/capi/examples/restore.c) with the system C compiler and with the aarch64 cross compiler,
# runs both on the same photo (the aarch64 one under qemu) and compares their outputs.
#
# Needs the packages .ci/run installs (rustc-web, libstd-rust-web-dev:arm64,
# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user). Uses the shipped policy when there
# is one, else a small stand-in policy written by the `test_policy` example.
#
# The emulated CPU is a Cortex-A76 (`-cpu cortex-a76`): tract then picks the NEON kernels
# (with the dot-product int8 kernel) that such boards run; QEMU's default `max` CPU would
# select SVE kernels instead.
#
# Tolerance: tract's x86-64 (AVX2/AVX-512) and aarch64 (NEON) kernels sum products in
# different orders, so float results may differ in the last bits and an 8-bit output sample
# may round to the neighbouring level; the check accepts at most 1 level of difference.
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu
target_dir="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

model=models/lrpo_student_int8.onnx
if [ ! -f "$model" ]; then
  model="$(cargo run -q -p lrpo-devtools --bin test_policy -- "$work/policy" 128)"
  echo "no shipped policy yet: using the stand-in $model"
fi

echo "== building lrpo-edge for $target with $(/usr/bin/rustc --version)"
RUSTC=/usr/bin/rustc cargo build --release -p lrpo-edge --target "$target"
cargo build -q -p lrpo-edge
arm="$target_dir/$target/release/lrpo-edge"
x86="$target_dir/debug/lrpo-edge"
# ELF e_machine (bytes 18-19) is 0xb7 for aarch64.
[ "$(od -An -tx1 -j18 -N2 "$arm" | tr -d ' ')" = "b700" ] || { echo "$arm is not an aarch64 ELF binary" >&2; exit 1; }

photo=data/scenes/montage.jpg
# The clean scene's faces hold detail the detail gate would keep as they are: switch it off so
# that the policy itself runs on every face on both machines.
echo "== x86-64"
"$x86" restore "$photo" --detail-gate off --model "$model" -o "$work/x86"
echo "== aarch64 under qemu (Cortex-A76)"
qemu-aarch64 -cpu cortex-a76 -L /usr/aarch64-linux-gnu "$arm" restore "$photo" --detail-gate off --model "$model" -o "$work/arm"
qemu-aarch64 -cpu cortex-a76 -L /usr/aarch64-linux-gnu "$arm" --version

echo "== comparing"
cargo run -q -p lrpo-devtools --bin compare_images -- "$work/x86/montage.png" "$work/arm/montage.png" 1

# --- The C API: the example program, built with each machine's C compiler --------------------
echo "== C API: examples/restore.c against liblrpo.a, x86-64 and aarch64"
RUSTC=/usr/bin/rustc cargo build --release -p lrpo-edge-capi --target "$target"
cargo build -q -p lrpo-edge-capi
c_libs=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -Wl,-z,noexecstack -Wl,--gc-sections)
cc -std=c11 -O2 -Wall -Wextra -Werror -Iedge/capi/include edge/capi/examples/restore.c \
  "$target_dir/debug/liblrpo.a" "${c_libs[@]}" -o "$work/restore-x86"
aarch64-linux-gnu-gcc -std=c11 -O2 -Wall -Wextra -Werror -Iedge/capi/include edge/capi/examples/restore.c \
  "$target_dir/$target/release/liblrpo.a" "${c_libs[@]}" -o "$work/restore-arm"
[ "$(od -An -tx1 -j18 -N2 "$work/restore-arm" | tr -d ' ')" = "b700" ] || { echo "restore-arm is not an aarch64 ELF binary" >&2; exit 1; }
ffmpeg -loglevel error -y -i "$photo" "$work/montage.ppm"
c_args=(--no-gate --policy "$(realpath "$model")" models "$work/montage.ppm")
"$work/restore-x86" "${c_args[@]}" "$work/c-x86.ppm"
qemu-aarch64 -cpu cortex-a76 -L /usr/aarch64-linux-gnu "$work/restore-arm" "${c_args[@]}" "$work/c-arm.ppm"
cargo run -q -p lrpo-devtools --bin compare_images -- "$work/c-x86.ppm" "$work/c-arm.ppm" 1
echo "ARM check passed"
