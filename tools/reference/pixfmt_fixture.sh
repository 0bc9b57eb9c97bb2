#!/usr/bin/env bash
# The pixel-format fixture of shared/tests/pixfmt_reference.rs, made with ffmpeg (Debian's
# `ffmpeg` package; swscale with accurate rounding and full chroma interpolation, BT.601):
# a 64 x 48 face from data/faces/obama.jpg as rgb24, converted by ffmpeg to nv12 and yuyv422
# (limited range, the camera default) and back to rgb24.
#
#     tools/reference/pixfmt_fixture.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=shared/tests/fixtures/pixfmt
mkdir -p "$out"
ff=(ffmpeg -v error -y)
sws=(-sws_flags +accurate_rnd+full_chroma_int+bicubic)
"${ff[@]}" -i data/faces/obama.jpg -vf "crop=400:300:255:260,scale=64:48" "${sws[@]}" \
  -pix_fmt rgb24 -f rawvideo "$out/face.rgb24"
raw=(-f rawvideo -s 64x48)
for fmt in nv12 yuyv422; do
  "${ff[@]}" "${raw[@]}" -pix_fmt rgb24 -i "$out/face.rgb24" "${sws[@]}" \
    -vf "scale=out_color_matrix=bt601:out_range=tv" -pix_fmt "$fmt" -f rawvideo "$out/face.$fmt"
  "${ff[@]}" "${raw[@]}" -pix_fmt "$fmt" -i "$out/face.$fmt" "${sws[@]}" \
    -vf "scale=in_color_matrix=bt601:in_range=tv" -pix_fmt rgb24 -f rawvideo "$out/face.$fmt.rgb24"
done
ls -l "$out"
