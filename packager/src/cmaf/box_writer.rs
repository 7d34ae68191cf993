//! Byte-level ISO BMFF box writing: big-endian fields and size-patched boxes.
//! No knowledge of which boxes exist; `init` and `fragment` decide that.

/// An append-only buffer that writes ISO BMFF boxes.
///
/// `write_box` reserves the 32-bit size, runs the body, then patches the size,
/// so nesting is expressed by nesting closures. Callers keep every box below
/// 4 GiB (media segments check their sizes before writing).
#[derive(Debug, Default)]
pub(crate) struct BoxWriter {
    buf: Vec<u8>,
}

impl BoxWriter {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// Bytes written so far (the offset of the next byte).
    pub(crate) fn position(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }

    pub(crate) fn u8(&mut self, value: u8) {
        self.buf.push(value);
    }

    pub(crate) fn u16(&mut self, value: u16) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn i16(&mut self, value: i16) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    /// The low 24 bits of `value`.
    pub(crate) fn u24(&mut self, value: u32) {
        self.buf.extend_from_slice(&value.to_be_bytes()[1..]);
    }

    pub(crate) fn u32(&mut self, value: u32) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn i32(&mut self, value: i32) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn u64(&mut self, value: u64) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn zeros(&mut self, count: usize) {
        self.buf.resize(self.buf.len() + count, 0);
    }

    /// Overwrites 4 bytes at `position` (a placeholder written earlier).
    pub(crate) fn patch_u32(&mut self, position: usize, value: u32) {
        self.buf[position..position + 4].copy_from_slice(&value.to_be_bytes());
    }

    /// A box: 32-bit size, four-character type, then whatever `body` writes.
    pub(crate) fn write_box<T>(
        &mut self,
        fourcc: &[u8; 4],
        body: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let start = self.buf.len();
        self.u32(0);
        self.bytes(fourcc);
        let result = body(self);
        let size = self.buf.len() - start;
        // Boxes written through this helper are bounded far below 4 GiB (see type docs).
        self.patch_u32(start, u32::try_from(size).unwrap_or(u32::MAX));
        result
    }

    /// A full box: a box whose body starts with an 8-bit version and 24-bit flags.
    pub(crate) fn write_full_box<T>(
        &mut self,
        fourcc: &[u8; 4],
        version: u8,
        flags: u32,
        body: impl FnOnce(&mut Self) -> T,
    ) -> T {
        self.write_box(fourcc, |w| {
            w.u8(version);
            w.u24(flags);
            body(w)
        })
    }

    /// An MPEG-4 descriptor (ISO/IEC 14496-1 8.3.3): tag, variable-length size, body.
    pub(crate) fn write_descriptor(&mut self, tag: u8, body: impl FnOnce(&mut Self)) {
        let mut inner = BoxWriter::default();
        body(&mut inner);
        self.u8(tag);
        write_descriptor_length(self, inner.buf.len());
        self.bytes(&inner.buf);
    }
}

/// The expandable size field: 7 bits per byte, high bit set on all but the last.
fn write_descriptor_length(w: &mut BoxWriter, length: usize) {
    let length = u32::try_from(length)
        .unwrap_or(0x0fff_ffff)
        .min(0x0fff_ffff);
    let mut started = false;
    for shift in [21u32, 14, 7] {
        let chunk = ((length >> shift) & 0x7f) as u8;
        if started || chunk != 0 {
            w.u8(0x80 | chunk);
            started = true;
        }
    }
    w.u8((length & 0x7f) as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_written_big_endian() {
        let mut w = BoxWriter::default();
        w.u8(1);
        w.u16(0x0203);
        w.u24(0xff040506);
        w.u32(0x0708090a);
        w.i16(-2);
        w.i32(-1);
        w.u64(0x0b0c0d0e0f101112);
        w.zeros(2);
        assert_eq!(
            w.finish(),
            vec![
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x0b, 0x0c,
                0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0, 0
            ]
        );
    }

    #[test]
    fn nested_boxes_get_their_sizes_patched() {
        let mut w = BoxWriter::default();
        w.write_box(b"moov", |w| {
            w.write_full_box(b"mvhd", 1, 0x000203, |w| w.u32(7));
            w.write_box(b"free", |_| {});
        });
        assert_eq!(
            w.finish(),
            vec![
                0, 0, 0, 32, b'm', b'o', b'o', b'v', // outer: 8 + 16 + 8
                0, 0, 0, 16, b'm', b'v', b'h', b'd', 1, 0, 2, 3, 0, 0, 0, 7, // full box
                0, 0, 0, 8, b'f', b'r', b'e', b'e', // empty box
            ]
        );
    }

    #[test]
    fn write_box_returns_what_the_body_returns() {
        let mut w = BoxWriter::default();
        let placeholder = w.write_box(b"trun", |w| {
            let at = w.position();
            w.u32(0);
            at
        });
        w.patch_u32(placeholder, 0xdeadbeef);
        assert_eq!(&w.finish()[8..], &[0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn descriptor_lengths_use_the_expandable_encoding() {
        let mut w = BoxWriter::default();
        w.write_descriptor(0x05, |w| w.bytes(&[0x12, 0x10]));
        assert_eq!(w.finish(), vec![0x05, 2, 0x12, 0x10]);

        let mut w = BoxWriter::default();
        w.write_descriptor(0x04, |w| w.zeros(200));
        let bytes = w.finish();
        assert_eq!(&bytes[..3], &[0x04, 0x81, 0x48]); // 200 = 1 * 128 + 72
        assert_eq!(bytes.len(), 3 + 200);
    }
}
