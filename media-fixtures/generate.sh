#!/usr/bin/env bash
# Generates yanxiu's test media deterministically with the ffmpeg CLI (and python3 for
# a53_captions.py, which writes CEA-608 captions into an H.264 stream).
#
# Usage: media-fixtures/generate.sh [OUTDIR]    (default: media-fixtures/generated)
#
# Same script + same ffmpeg build => byte-identical files. Safe to call from
# several test processes at once: an flock serialises runs, a stamp file
# (sha256 of this script, of a53_captions.py and of `ffmpeg -version`) makes repeat calls a no-op,
# and the set is built in a temporary directory that is renamed into place.
# See README.md for what each file exercises and expectations.toml for the
# outcome `yanxiu probe` must report under the default policy.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-"$SCRIPT_DIR/generated"}

for tool in ffmpeg ffprobe flock sha256sum python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "generate.sh: '$tool' not found on PATH; install it (Debian: apt-get install ffmpeg util-linux coreutils python3)" >&2
        exit 127
    fi
done

mkdir -p "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")

STAMP=$({ cat "${BASH_SOURCE[0]}" "$SCRIPT_DIR/a53_captions.py"; ffmpeg -hide_banner -version | head -n 1; } | sha256sum | cut -d' ' -f1)

exec 9>"$OUT.lock"
flock 9
if [[ -f "$OUT/.stamp" && "$(cat "$OUT/.stamp")" == "$STAMP" ]]; then
    exit 0
fi

TMP=$(mktemp -d "$OUT.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

# Global options go before the inputs; OUTPUT options (bit-exact muxing and
# encoding, no copied metadata, one thread per encoder so the output never
# depends on scheduling) go after them.
GLOBAL=(-hide_banner -nostdin -loglevel error -y)
OUTPUT=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1 -map_chapters -1 -threads 1)
X264=(-c:v libx264 -preset veryfast -pix_fmt yuv420p -threads 1 -x264-params threads=1:lookahead-threads=1)
AAC=(-c:a aac -b:a 64k)

# Speech-like audio: a voiced buzz (fundamental + two harmonics, pitch gliding
# 95-145 Hz) shaped into ~3.7 syllables per second, with pauses between phrases.
speech() { # $1 = sample rate, $2 = duration in seconds, [$3 = extra factor, e.g. '*(1-between(t,4,9))']
    local f='(120+25*sin(2*PI*0.8*t))'
    local e="0.35*(sin(2*PI*$f*t)+0.5*sin(4*PI*$f*t)+0.25*sin(6*PI*$f*t))*pow(sin(PI*3.7*t),2)*gt(sin(2*PI*0.37*t)+0.6,0)${3:-}"
    echo "aevalsrc=exprs='$e':s=$1:d=$2"
}

# A talking-head style picture: test pattern card with a moving box.
card() { # $1 = WxH, $2 = rate, $3 = duration
    echo "testsrc2=s=$1:r=$2:d=$3,drawbox=x='mod(t*80,iw-80)':y=ih/3:w=80:h=80:color=0x2050c0:t=fill"
}

# lecture_1080p30.mp4: the reference lecture (1080p30 H.264 High + AAC-LC 48 kHz stereo,
# still slides that change at 5 s, a moving speaker inset, speech-like audio); accepted.
ffmpeg "${GLOBAL[@]}" -filter_complex "
    color=c=0xf4f4f0:s=1920x1080:r=30:d=10,
    drawbox=x=120:y=80:w=1680:h=120:color=0x1f3a93:t=fill,
    drawbox=x=160:y=280:w=1000:h=36:color=0x444444:t=fill,
    drawbox=x=160:y=360:w=880:h=36:color=0x444444:t=fill,
    drawbox=x=160:y=440:w=1040:h=36:color=0x444444:t=fill,
    drawbox=x=160:y=560:w=760:h=420:color=0xc03030:t=fill:enable='gte(t,5)'[slide];
    testsrc2=s=360x480:r=30:d=10[speaker];
    [slide][speaker]overlay=x='1440+60*sin(2*PI*t/5)':y=520:shortest=1[v];
    $(speech 48000 10),aformat=channel_layouts=stereo[a]" "${OUTPUT[@]}" \
    -map '[v]' -map '[a]' "${X264[@]}" -profile:v high -crf 30 "${AAC[@]}" -ar 48000 -ac 2 \
    -movflags +faststart lecture_1080p30.mp4

# talk_720p25.mp4: an ordinary 720p25 upload (H.264 Main + AAC 48 kHz stereo); accepted.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 1280x720 25 8)" -f lavfi -i "$(speech 48000 8)" "${OUTPUT[@]}" \
    "${X264[@]}" -profile:v main -crf 32 "${AAC[@]}" -ar 48000 -ac 2 -movflags +faststart talk_720p25.mp4

# sd_4x3.mp4: standard-definition 4:3 picture (640x480); accepted.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 640x480 25 6)" -f lavfi -i "$(speech 48000 6)" "${OUTPUT[@]}" \
    "${X264[@]}" -crf 32 "${AAC[@]}" -ar 48000 -ac 2 sd_4x3.mp4

# phone_portrait_rotated.mp4: a phone clip coded 1280x720 with a 90-degree display
# matrix (displays 720x1280 portrait); accepted, judged by its long/short edge.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 1280x720 30 6)" -f lavfi -i "$(speech 48000 6)" "${OUTPUT[@]}" \
    "${X264[@]}" -crf 32 "${AAC[@]}" -ar 48000 -ac 2 -movflags +faststart phone_portrait_rotated.mp4
# This ffmpeg (5.1) has no -display_rotation and ignores the old `rotate` tag when
# muxing, so write the matrix into the video track's tkhd box directly, as a phone
# does: [a b u; c d v; tx ty w] = [0 1 0; -1 0 0; 720 0 1] (16.16 / 2.30 fixed point).
tkhd=$(LC_ALL=C grep -obUa 'tkhd' phone_portrait_rotated.mp4 | head -n 1 | cut -d: -f1)
printf '\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\xd0\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00' |
    dd of=phone_portrait_rotated.mp4 bs=1 seek=$((tkhd + 44)) conv=notrunc status=none

# anamorphic_sar.mp4: PAL 720x576 with SAR 64:45 (displays 16:9, 1024x576); accepted.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 720x576 25 6),setsar=64/45" -f lavfi -i "$(speech 48000 6)" "${OUTPUT[@]}" \
    "${X264[@]}" -crf 32 "${AAC[@]}" -ar 48000 -ac 2 anamorphic_sar.mp4

# odd_dimensions.mp4: odd coded size 853x479 (H.264 High 4:4:4, as screen recorders
# make); accepted, display size rounds to 854x480.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 854x480 25 6),format=yuv444p,crop=853:479:0:0:exact=1" \
    -f lavfi -i "$(speech 48000 6)" "${OUTPUT[@]}" \
    -c:v libx264 -preset veryfast -pix_fmt yuv444p -threads 1 -x264-params threads=1:lookahead-threads=1 \
    -crf 32 "${AAC[@]}" -ar 48000 -ac 2 odd_dimensions.mp4

# ntsc_29_97.mp4: NTSC frame rate 30000/1001; accepted.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 854x480 30000/1001 8)" -f lavfi -i "$(speech 48000 8)" "${OUTPUT[@]}" \
    "${X264[@]}" -crf 32 "${AAC[@]}" -ar 48000 -ac 2 ntsc_29_97.mp4

# vfr.mp4: variable frame rate (30 fps for 4 s, then every other frame dropped: 15 fps);
# accepted, reported with frame_rate_is_variable = true.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 640x360 30 8),select='lt(t\,4)+not(mod(n\,2))'" \
    -f lavfi -i "$(speech 48000 8)" "${OUTPUT[@]}" -fps_mode:v vfr \
    "${X264[@]}" -crf 32 "${AAC[@]}" -ar 48000 -ac 2 vfr.mp4

# still_slide_bframes.mp4: one still slide for 12 s at 30 fps over speech, encoded by x264
# with its default settings (preset medium: three B-frames in a pyramid, used throughout
# on a still picture); constant frame rate although the probe's 300-packet window, read in
# decode order, ends on a P-frame ahead of B-frames it has not read yet.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "color=c=0xf4f4f0:s=640x360:r=30:d=12,
    drawbox=x=40:y=30:w=560:h=40:color=0x1f3a93:t=fill,
    drawbox=x=50:y=100:w=340:h=12:color=0x444444:t=fill,
    drawbox=x=50:y=130:w=300:h=12:color=0x444444:t=fill" \
    -f lavfi -i "$(speech 48000 12)" "${OUTPUT[@]}" \
    -c:v libx264 -pix_fmt yuv420p -threads 1 -x264-params threads=1:lookahead-threads=1 \
    -crf 28 "${AAC[@]}" -ar 48000 -ac 2 still_slide_bframes.mp4

# hevc.mp4: H.265 in MP4 tagged hvc1 (Apple-style); accepted.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 1280x720 25 6)" -f lavfi -i "$(speech 48000 6)" "${OUTPUT[@]}" \
    -c:v libx265 -preset ultrafast -crf 34 -pix_fmt yuv420p \
    -x265-params pools=none:frame-threads=1:wpp=0:log-level=error -tag:v hvc1 \
    "${AAC[@]}" -ar 48000 -ac 2 hevc.mp4

# vp9_opus.webm: WebM with VP9 video and Opus audio; accepted.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 854x480 25 6)" -f lavfi -i "$(speech 48000 6)" "${OUTPUT[@]}" \
    -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -row-mt 0 -threads 1 -b:v 300k \
    -c:a libopus -b:a 48k -ac 2 vp9_opus.webm

# mpeg2.ts: MPEG-2 video + MP2 audio in an MPEG transport stream (broadcast capture); accepted.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 1280x720 25 6)" -f lavfi -i "$(speech 48000 6)" "${OUTPUT[@]}" \
    -c:v mpeg2video -b:v 1500k -g 12 -c:a mp2 -b:a 128k -ar 48000 -ac 2 -f mpegts mpeg2.ts

# h264.flv: H.264 + AAC 44.1 kHz in FLV (an old RTMP recording); accepted.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 640x360 25 6)" -f lavfi -i "$(speech 44100 6)" "${OUTPUT[@]}" \
    "${X264[@]}" -crf 32 "${AAC[@]}" -ar 44100 -ac 2 h264.flv

# mono_44k.mp4: mono 44.1 kHz AAC (a lapel microphone); accepted.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 640x360 25 6)" -f lavfi -i "$(speech 44100 6)" "${OUTPUT[@]}" \
    "${X264[@]}" -crf 32 "${AAC[@]}" -ar 44100 -ac 1 mono_44k.mp4

# video_only.mp4: a screen recording without sound; rejected (audio.missing).
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 640x360 25 6)" "${OUTPUT[@]}" "${X264[@]}" -crf 32 video_only.mp4

# audio_only.m4a: a podcast-style AAC file without picture; rejected (video.missing).
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(speech 48000 6)" "${OUTPUT[@]}" "${AAC[@]}" -ar 48000 -ac 2 audio_only.m4a

# lecture_audio.mp3: a radio-style lecture, MP3 44.1 kHz stereo, no picture; rejected under
# the default policy (video.missing), accepted for a resource of type 音频 by serve.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(speech 44100 12)" "${OUTPUT[@]}" -c:a libmp3lame -b:a 96k \
    -ar 44100 -ac 2 -id3v2_version 0 -write_xing 0 lecture_audio.mp3

# lecture_audio_cover.mp3: a lecture without picture that carries a 600x600 cover picture
# (ID3 APIC, PNG), which becomes its poster; rejected under the default policy (video.missing:
# a cover is not a picture of the lecture).
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(speech 44100 6)" \
    -f lavfi -i "color=c=0x1f3a93:s=600x600:d=1,drawbox=x=60:y=380:w=480:h=60:color=0xf4f4f0:t=fill,format=rgb24" \
    "${OUTPUT[@]}" -map 0:a -map 1:v -frames:v 1 -c:a libmp3lame -b:a 64k -ar 44100 -ac 2 \
    -c:v png -disposition:v attached_pic -id3v2_version 3 -write_xing 0 lecture_audio_cover.mp3

# lecture_audio.flac: the same kind of lecture kept lossless, FLAC 48 kHz mono, silent
# between 4 and 6 s; rejected like the MP3 under the default policy.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(speech 48000 10 '*(1-between(t,4,6))')" "${OUTPUT[@]}" \
    -c:a flac -ar 48000 -ac 1 lecture_audio.flac

# empty.mp4: a zero-byte upload; unreadable (probe.empty).
: >empty.mp4

# truncated.mp4: the first 40 % of a faststart MP4 (index complete, media data cut
# off, as an interrupted upload leaves it); unreadable (probe.unreadable).
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 640x360 25 8)" -f lavfi -i "$(speech 48000 8)" "${OUTPUT[@]}" \
    "${X264[@]}" -crf 28 "${AAC[@]}" -ar 48000 -ac 2 -movflags +faststart source_faststart.mp4
head -c $(($(stat -c %s source_faststart.mp4) * 40 / 100)) source_faststart.mp4 >truncated.mp4
rm source_faststart.mp4

# moov_cut.mp4: an MP4 written without faststart whose moov box (at the end) is cut
# off after its first 64 bytes; unreadable (probe.unreadable).
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 640x360 25 6)" -f lavfi -i "$(speech 48000 6)" "${OUTPUT[@]}" \
    "${X264[@]}" -crf 28 "${AAC[@]}" -ar 48000 -ac 2 source_moov_at_end.mp4
moov=$(LC_ALL=C grep -obUa 'moov' source_moov_at_end.mp4 | tail -n 1 | cut -d: -f1)
head -c $((moov - 4 + 64)) source_moov_at_end.mp4 >moov_cut.mp4
rm source_moov_at_end.mp4

# png_renamed.mp4: a still PNG image uploaded with a .mp4 name; unreadable (probe.not_media).
ffmpeg "${GLOBAL[@]}" -f lavfi -i testsrc=s=320x240:r=1 "${OUTPUT[@]}" -frames:v 1 -c:v png -f image2 png_renamed.mp4

# random.bin: 64 KiB of noise from a fixed seed (ffmpeg's own LFG, so identical
# everywhere); unreadable (probe.not_media).
ffmpeg "${GLOBAL[@]}" -f lavfi -i anoisesrc=seed=20261121:color=white:amplitude=1:r=8000 "${OUTPUT[@]}" \
    -t 8.192 -f u8 -c:a pcm_u8 -ac 1 random.bin

# huge_dimensions.y4m: a YUV4MPEG2 header claiming 16000x16000 (256 megapixels, one
# frame would be 384 MB; small enough to pass libav's own size check, so only the
# prober's dimension guard stands in the way) followed by 4 KiB of data; unreadable
# (probe.unreadable), refused quickly without allocating.
{ printf 'YUV4MPEG2 W16000 H16000 F25:1 Ip A1:1 C420jpeg\nFRAME\n'; head -c 4096 random.bin; } >huge_dimensions.y4m

# --- Technical QC faults (tests/qc_cli.rs, tests/qc_service.rs): 640x360 25 fps, each with
# one fault at a known time. Tones are generated as two channels (a mono source upmixed
# to stereo would lose 3 dB).

# qc_black_start.mp4: black picture for the first 3 s, speech throughout.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 640x360 25 10),drawbox=c=black:t=fill:enable='lt(t,3)'" \
    -f lavfi -i "$(speech 48000 10)" "${OUTPUT[@]}" \
    "${X264[@]}" -crf 32 "${AAC[@]}" -ar 48000 -ac 2 qc_black_start.mp4

# qc_silence.mp4: speech with 5 s of silence from 4 s to 9 s, moving picture.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 640x360 25 12)" -f lavfi -i "$(speech 48000 12 '*(1-between(t,4,9))')" \
    "${OUTPUT[@]}" "${X264[@]}" -crf 32 "${AAC[@]}" -ar 48000 -ac 2 qc_silence.mp4

# qc_frozen_silent.mp4: the picture frozen (frame 125 repeated) from 5 s to 25 s, and no
# sound over the same 20 s.
ffmpeg "${GLOBAL[@]}" -filter_complex "$(card 640x360 25 30),split[a][b];[a][b]freezeframes=first=125:last=624:replace=125[v];
    $(speech 48000 30 '*(1-between(t,5,25))')[a]" -map '[v]' -map '[a]' "${OUTPUT[@]}" \
    "${X264[@]}" -crf 32 "${AAC[@]}" -ar 48000 -ac 2 qc_frozen_silent.mp4

# qc_tone_minus20.mp4: a 1 kHz sine at -20 dBFS on both channels: -20.0 LUFS integrated,
# -20 dBTP true peak, 0 LU range.
tone='0.1*sin(2*PI*1000*t)'
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 640x360 25 10)" -f lavfi -i "aevalsrc=exprs='$tone|$tone':s=48000:d=10" \
    "${OUTPUT[@]}" "${X264[@]}" -crf 32 -c:a aac -b:a 128k -ar 48000 qc_tone_minus20.mp4

# qc_clipped.mp4: a 440 Hz tone at -10.5 dBFS, driven 4x past full scale and hard-clipped
# from 4 s to 6 s.
clip='max(-1,min(1,if(between(t,4,6),4,0.3)*sin(2*PI*440*t)))'
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 640x360 25 10)" -f lavfi -i "aevalsrc=exprs='$clip|$clip':s=48000:d=10" \
    "${OUTPUT[@]}" "${X264[@]}" -crf 32 -c:a aac -b:a 128k -ar 48000 qc_clipped.mp4

# qc_late_audio.mp4: 8 s of picture; the sound (7 s of speech) starts 1 s after it.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 640x360 25 8)" -itsoffset 1 -f lavfi -i "$(speech 48000 7)" \
    "${OUTPUT[@]}" "${X264[@]}" -crf 32 "${AAC[@]}" -ar 48000 -ac 2 qc_late_audio.mp4

# qc_lecture_static.mp4: a lecture of still slides (three, 15 s each, no speaker inset)
# with speech-like audio throughout: held pictures over speech, no error finding.
ffmpeg "${GLOBAL[@]}" -filter_complex "
    color=c=0xf4f4f0:s=960x540:r=25:d=45,
    drawbox=x=60:y=40:w=840:h=60:color=0x1f3a93:t=fill,
    drawbox=x=80:y=140:w=500:h=18:color=0x444444:t=fill,
    drawbox=x=80:y=180:w=440:h=18:color=0x444444:t=fill:enable='gte(t,15)',
    drawbox=x=80:y=280:w=380:h=210:color=0xc03030:t=fill:enable='gte(t,30)'[v];
    $(speech 48000 45)[a]" -map '[v]' -map '[a]' "${OUTPUT[@]}" \
    "${X264[@]}" -crf 30 "${AAC[@]}" -ar 48000 -ac 2 qc_lecture_static.mp4

# lecture_10min_720p25.mp4: a 10-minute lecture (720p25 H.264 High + AAC-LC 48 kHz stereo:
# slides that change every 12.5 s and 25 s, a moving box, a 440 Hz tone) for the chunked
# (parallel) encoding of long sources, tests/chunked_encoding.rs. Keyframes every 12 s (and at
# each 50 s join), so most chunk boundaries (multiples of 60 s) are not source keyframes. Made
# fast: a 50 s clip whose picture and tone are periodic in 50 s, copied 12 times (no re-encode).
ffmpeg "${GLOBAL[@]}" -filter_complex "
    color=c=0xf4f4f0:s=1280x720:r=25:d=50,
    drawbox=x=80:y=50:w=1120:h=80:color=0x1f3a93:t=fill,
    drawbox=x=100:y=190:w=700:h=24:color=0x444444:t=fill,
    drawbox=x=100:y=250:w=600:h=24:color=0x444444:t=fill:enable='lt(mod(t,25),12.5)',
    drawbox=x=100:y=310:w=650:h=24:color=0x444444:t=fill:enable='gte(mod(t,25),12.5)',
    drawbox=x=100:y=380:w=500:h=280:color=0xc03030:t=fill:enable='lt(t,25)',
    drawbox=x='900+100*sin(2*PI*t/10)':y=380:w=200:h=260:color=0x2050c0:t=fill[v];
    sine=f=440:sample_rate=48000:d=50,volume=0.3,aformat=channel_layouts=stereo[a]" \
    -map '[v]' -map '[a]' "${OUTPUT[@]}" "${X264[@]}" -profile:v high -crf 30 \
    -g 300 -keyint_min 300 -sc_threshold 0 "${AAC[@]}" -ar 48000 -ac 2 lecture_clip_50s.mp4
for _ in $(seq 12); do echo "file 'lecture_clip_50s.mp4'"; done >lecture_10min.txt
ffmpeg "${GLOBAL[@]}" -f concat -safe 0 -i lecture_10min.txt -c copy -fflags +bitexact \
    -map_metadata -1 -movflags +faststart lecture_10min_720p25.mp4
rm lecture_clip_50s.mp4 lecture_10min.txt

# --- Colour and scan (issue 14): HDR phone clips and interlaced classroom recordings
# (tests/transcode_colour.rs). Short, so the transcode sweeps stay fast.

# A moving test card turned into a BT.2020 HDR signal: the BT.709 picture in linear
# light (100 nits nominal peak) re-encoded with the PQ or HLG transfer, as 10-bit 4:2:0.
hdr_card() { # $1 = transfer (smpte2084 | arib-std-b67)
    echo "$(card 1280x720 25 3),format=gbrpf32le,zscale=tin=bt709:pin=bt709:t=$1:p=bt2020:npl=100,zscale=m=bt2020nc:r=tv,format=yuv420p10le"
}
hdr_x265() { # $1 = transfer: HEVC Main 10 with the colour description in the VUI and the container
    echo "-c:v libx265 -preset ultrafast -crf 28 -pix_fmt yuv420p10le -color_primaries bt2020 -color_trc $1 -colorspace bt2020nc -color_range tv
          -x265-params pools=none:frame-threads=1:wpp=0:log-level=error:colorprim=bt2020:transfer=$1:colormatrix=bt2020nc:range=limited -tag:v hvc1"
}

# hdr_hlg_hevc10.mp4: 720p25 HEVC Main 10, BT.2020, HLG (arib-std-b67), as phones record; accepted.
# shellcheck disable=SC2046 # word splitting of the option list is wanted
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(hdr_card arib-std-b67)" -f lavfi -i "$(speech 48000 3)" "${OUTPUT[@]}" \
    $(hdr_x265 arib-std-b67) "${AAC[@]}" -ar 48000 -ac 2 hdr_hlg_hevc10.mp4

# hdr_pq_hevc10.mp4: 720p25 HEVC Main 10, BT.2020, PQ (smpte2084, HDR10); accepted.
# shellcheck disable=SC2046
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(hdr_card smpte2084)" -f lavfi -i "$(speech 48000 3)" "${OUTPUT[@]}" \
    $(hdr_x265 smpte2084) "${AAC[@]}" -ar 48000 -ac 2 hdr_pq_hevc10.mp4

# interlaced_1080i50.mp4: 1080i50 H.264 (top field first, interlaced coding, field order
# flagged tt): a 50p card with a fast box woven into 25 frames/s of two fields each, so
# every moving edge combs; accepted, deinterlaced to 50p.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "testsrc2=s=1920x1080:r=50:d=3,drawbox=x='mod(t*480,iw-160)':y=ih/3:w=160:h=320:color=0x2050c0:t=fill,interlace=scan=tff:lowpass=off" \
    -f lavfi -i "$(speech 48000 3)" "${OUTPUT[@]}" \
    "${X264[@]}" -crf 30 -flags +ildct+ilme -top 1 "${AAC[@]}" -ar 48000 -ac 2 interlaced_1080i50.mp4

# combed_unflagged_576.mp4: the same kind of woven fields (576i25, top first) coded as
# progressive frames, so the stream says "progressive" while every moving edge combs (a
# capture card's doing); accepted, found interlaced by the content check.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "testsrc2=s=720x576:r=50:d=3,drawbox=x='mod(t*240,iw-80)':y=ih/3:w=80:h=160:color=0x2050c0:t=fill,interlace=scan=tff:lowpass=off" \
    -f lavfi -i "$(speech 48000 3)" "${OUTPUT[@]}" \
    "${X264[@]}" -crf 26 "${AAC[@]}" -ar 48000 -ac 2 combed_unflagged_576.mp4

# --- Ingest breadth (issue 14): CEA-608 captions carried in the video (tests/transcode_cea608.rs).

# captions_608_360p25.mp4: 12 s of 640x360 25 fps H.264 + AAC whose pictures carry CEA-608
# captions (CC1) as ATSC A/53 SEI user data, as broadcast encoders and cameras write them:
# "HELLO TEACHERS" shown 1-4 s, "LESSON ONE" 5-8 s, "THANK YOU" 9-11 s (pop-on, row 15).
# FFmpeg 5.1 and GStreamer 1.22 (no sccparse) cannot write captions from a script, so x264
# codes the picture with access unit delimiters and no B-frames (decode order = display
# order), a53_captions.py puts one A/53 SEI into every access unit, and ffmpeg muxes the
# result untouched with the sound.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "$(card 640x360 25 12)" "${OUTPUT[@]}" \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -threads 1 -x264-params threads=1:lookahead-threads=1:aud=1 \
    -bf 0 -crf 32 -f h264 captions_608.h264
python3 "$SCRIPT_DIR/a53_captions.py" captions_608.h264 captions_608_cc.h264 25 \
    "1.0-4.0:HELLO TEACHERS" "5.0-8.0:LESSON ONE" "9.0-11.0:THANK YOU"
ffmpeg "${GLOBAL[@]}" -framerate 25 -i captions_608_cc.h264 -f lavfi -i "$(speech 48000 12)" "${OUTPUT[@]}" \
    -map 0:v -map 1:a -c:v copy "${AAC[@]}" -ar 48000 -ac 2 -movflags +faststart captions_608_360p25.mp4
rm captions_608.h264 captions_608_cc.h264

# captions_608_576i25.mp4: the same kind of captions on 8 s of 576i25 (720x576, top field
# first, coded interlaced like interlaced_1080i50.mp4), as a broadcast recording has them:
# "HELLO TEACHERS" 1-4 s, "LESSON ONE" 5-7 s. Deinterlaced to 50p, every source picture
# becomes two: its caption bytes must still be sent once.
ffmpeg "${GLOBAL[@]}" -f lavfi -i "testsrc2=s=720x576:r=50:d=8,drawbox=x='mod(t*240,iw-80)':y=ih/3:w=80:h=160:color=0x2050c0:t=fill,interlace=scan=tff:lowpass=off" \
    "${OUTPUT[@]}" -c:v libx264 -preset veryfast -pix_fmt yuv420p -threads 1 \
    -x264-params threads=1:lookahead-threads=1:aud=1 -bf 0 -crf 30 -flags +ildct+ilme -top 1 -f h264 captions_608i.h264
python3 "$SCRIPT_DIR/a53_captions.py" captions_608i.h264 captions_608i_cc.h264 25 \
    "1.0-4.0:HELLO TEACHERS" "5.0-7.0:LESSON ONE"
ffmpeg "${GLOBAL[@]}" -framerate 25 -i captions_608i_cc.h264 -f lavfi -i "$(speech 48000 8)" "${OUTPUT[@]}" \
    -map 0:v -map 1:a -c:v copy "${AAC[@]}" -ar 48000 -ac 2 -movflags +faststart captions_608_576i25.mp4
rm captions_608i.h264 captions_608i_cc.h264

echo "$STAMP" >.stamp
chmod 755 .
cd /
if [[ -d "$OUT" ]]; then
    mv "$OUT" "$TMP.old"
fi
mv "$TMP" "$OUT"
rm -rf "$TMP.old"
trap - EXIT
