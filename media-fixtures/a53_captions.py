#!/usr/bin/env python3
"""Writes CEA-608 captions into an H.264 stream as ATSC A/53 SEI user data.

Usage: a53_captions.py IN.h264 OUT.h264 FPS CAPTION...

IN.h264 is an Annex B stream whose access units each start with an access
unit delimiter and whose decode order is its display order (x264 with
aud=1 and no B-frames). Every access unit gets one SEI NAL unit (payload
type 4, user_data_registered_itu_t_t35: country 0xB5, provider 0x0031,
"GA94", user_data_type_code 3) right after its delimiter, carrying one
608 byte pair for field 1 (CC1) and one for field 2, the way broadcast
encoders and cameras write them: padding (0x80 0x80) when there is nothing
to say, so every picture carries captions.

CAPTION is START-END:TEXT in seconds, e.g. "1.0-4.0:HELLO TEACHERS": a
pop-on caption on row 15, loaded into non-displayed memory just before
START, shown by END OF CAPTION on the picture at START and erased by
ERASE DISPLAYED MEMORY on the picture at END. Control codes are sent twice,
as the standard recommends. TEXT must be basic 608 characters (uppercase
ASCII letters, digits, space and simple punctuation).

Deterministic: the same input and arguments give the same bytes.
"""

import sys

RCL = (0x14, 0x20)  # resume caption loading (pop-on)
ENM = (0x14, 0x2E)  # erase non-displayed memory
PAC_ROW15 = (0x14, 0x70)  # preamble address code: row 15, column 0, white
EOC = (0x14, 0x2F)  # end of caption: flip memories (show)
EDM = (0x14, 0x2C)  # erase displayed memory (clear)
PADDING = (0x00, 0x00)  # odd parity makes these 0x80 0x80


def odd_parity(byte):
    byte &= 0x7F
    return byte | (0x80 if bin(byte).count("1") % 2 == 0 else 0)


def text_pairs(text):
    for ch in text:
        if not (0x20 <= ord(ch) < 0x7F) or ch in "*\\^_`{|}~":
            sys.exit(f"a53_captions.py: {ch!r} is not a basic 608 character")
    if len(text) % 2:
        text += "\0"  # a null byte ends the last pair
    return [(ord(text[i]), ord(text[i + 1])) for i in range(0, len(text), 2)]


def schedule(captions, fps, frames):
    """The field-1 byte pair of every picture."""
    pairs = [PADDING] * frames
    for spec in captions:
        times, text = spec.split(":", 1)
        start, end = (round(float(t) * fps) for t in times.split("-"))
        load = [RCL, RCL, ENM, ENM, PAC_ROW15, PAC_ROW15] + text_pairs(text)
        first = start - len(load)
        if first < 0 or end + 2 > frames or end <= start + 1:
            sys.exit(f"a53_captions.py: caption {spec!r} does not fit in {frames} pictures")
        for i, pair in enumerate(load + [EOC, EOC], start=first):
            if pairs[i] != PADDING:
                sys.exit(f"a53_captions.py: caption {spec!r} overlaps another")
            pairs[i] = pair
        pairs[end] = pairs[end + 1] = EDM
    return pairs


def escape(rbsp):
    """Inserts emulation prevention bytes."""
    out, zeros = bytearray(), 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def sei_nal(pair):
    cc = bytes([0xFC, odd_parity(pair[0]), odd_parity(pair[1]), 0xFD, 0x80, 0x80])
    payload = b"\xb5\x00\x31GA94\x03" + bytes([0x40 | 2, 0xFF]) + cc + b"\xff"
    return b"\x00\x00\x00\x01\x06" + escape(bytes([4, len(payload)]) + payload + b"\x80")


def nal_units(stream):
    """(start, end) of every NAL unit including its start code."""
    starts, i = [], 0
    while True:
        i = stream.find(b"\x00\x00\x01", i)
        if i < 0:
            break
        starts.append(i - 1 if i > 0 and stream[i - 1] == 0 else i)
        i += 3
    return list(zip(starts, starts[1:] + [len(stream)]))


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    src, dst, fps = sys.argv[1], sys.argv[2], float(sys.argv[3])
    stream = open(src, "rb").read()
    units = nal_units(stream)
    header = lambda s: stream[s + (3 if stream[s + 2] == 1 else 4)] & 0x1F
    delimiters = [u for u in units if header(u[0]) == 9]
    pairs = schedule(sys.argv[4:], fps, len(delimiters))
    out, pictures = bytearray(), 0
    for start, end in units:
        out += stream[start:end]
        if header(start) == 9:
            out += sei_nal(pairs[pictures])
            pictures += 1
    open(dst, "wb").write(out)


if __name__ == "__main__":
    main()
