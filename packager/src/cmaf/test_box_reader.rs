//! Test-only ISO BMFF reader: splits boxes, walks paths, reads fields.
//! Shared by the unit tests and (via `#[path]`) the integration tests, so it
//! uses nothing from the crate. Panics on malformed input: it is a test oracle.
#![allow(dead_code)]

/// One box: its type, its payload (after the header) and its declared size.
#[derive(Debug, Clone, Copy)]
pub struct ParsedBox<'a> {
    pub fourcc: [u8; 4],
    pub payload: &'a [u8],
    pub size: u64,
    /// Offset of the box header within the data that was split.
    pub offset: usize,
}

impl ParsedBox<'_> {
    pub fn kind(&self) -> &str {
        std::str::from_utf8(&self.fourcc).expect("fourcc is ASCII")
    }
}

/// Splits `data` into consecutive boxes; panics unless they tile it exactly.
pub fn boxes(data: &[u8]) -> Vec<ParsedBox<'_>> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    while offset < data.len() {
        let rest = &data[offset..];
        assert!(rest.len() >= 8, "truncated box header at {offset}");
        let size32 = u32::from_be_bytes(rest[..4].try_into().unwrap());
        let fourcc: [u8; 4] = rest[4..8].try_into().unwrap();
        let (size, header) = match size32 {
            1 => (u64::from_be_bytes(rest[8..16].try_into().unwrap()), 16usize),
            0 => (rest.len() as u64, 8),
            n => (u64::from(n), 8),
        };
        let size_usize = usize::try_from(size).unwrap();
        assert!(
            size_usize >= header && size_usize <= rest.len(),
            "box {:?} at {offset} has size {size} but {} bytes remain",
            String::from_utf8_lossy(&fourcc),
            rest.len()
        );
        out.push(ParsedBox {
            fourcc,
            payload: &rest[header..size_usize],
            size,
            offset,
        });
        offset += size_usize;
    }
    out
}

/// The types of the boxes in `data`, in order.
pub fn kinds(data: &[u8]) -> Vec<String> {
    boxes(data).iter().map(|b| b.kind().to_string()).collect()
}

/// The single child of `data` with type `kind`; panics if absent or repeated.
pub fn child<'a>(data: &'a [u8], kind: &str) -> ParsedBox<'a> {
    let matching: Vec<_> = boxes(data)
        .into_iter()
        .filter(|b| b.kind() == kind)
        .collect();
    assert_eq!(matching.len(), 1, "expected exactly one {kind} box");
    matching[0]
}

/// All children of `data` with type `kind`.
pub fn children<'a>(data: &'a [u8], kind: &str) -> Vec<ParsedBox<'a>> {
    boxes(data)
        .into_iter()
        .filter(|b| b.kind() == kind)
        .collect()
}

/// Follows a path of plain container boxes, e.g. `["moov", "trak", "mdia"]`.
pub fn path<'a>(data: &'a [u8], kinds: &[&str]) -> ParsedBox<'a> {
    let (first, rest) = kinds.split_first().expect("non-empty path");
    let mut current = child(data, first);
    for kind in rest {
        current = child(current.payload, kind);
    }
    current
}

/// Sequential big-endian field reader.
#[derive(Debug)]
pub struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        out
    }

    pub fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take(2).try_into().unwrap())
    }

    pub fn u24(&mut self) -> u32 {
        let b = self.take(3);
        u32::from_be_bytes([0, b[0], b[1], b[2]])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take(4).try_into().unwrap())
    }

    pub fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take(8).try_into().unwrap())
    }

    pub fn fourcc(&mut self) -> String {
        String::from_utf8(self.take(4).to_vec()).unwrap()
    }

    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.data[self.pos..];
        self.pos = self.data.len();
        out
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
}

/// One `trun` entry, with every optional field resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrunSample {
    pub duration: Option<u32>,
    pub size: Option<u32>,
    pub flags: Option<u32>,
    pub composition_offset: Option<i64>,
}

/// A parsed `trun` box payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trun {
    pub version: u8,
    pub flags: u32,
    pub data_offset: Option<i32>,
    pub first_sample_flags: Option<u32>,
    pub samples: Vec<TrunSample>,
}

pub fn parse_trun(payload: &[u8]) -> Trun {
    let mut f = Fields::new(payload);
    let version = f.u8();
    let flags = f.u24();
    let count = f.u32();
    let data_offset = (flags & 0x1 != 0).then(|| f.i32());
    let first_sample_flags = (flags & 0x4 != 0).then(|| f.u32());
    let samples = (0..count)
        .map(|_| TrunSample {
            duration: (flags & 0x100 != 0).then(|| f.u32()),
            size: (flags & 0x200 != 0).then(|| f.u32()),
            flags: (flags & 0x400 != 0).then(|| f.u32()),
            composition_offset: (flags & 0x800 != 0).then(|| {
                if version == 0 {
                    i64::from(f.u32())
                } else {
                    i64::from(f.i32())
                }
            }),
        })
        .collect();
    assert_eq!(f.remaining(), 0, "trailing bytes in trun");
    Trun {
        version,
        flags,
        data_offset,
        first_sample_flags,
        samples,
    }
}

/// `tfdt` payload -> base media decode time.
pub fn parse_tfdt(payload: &[u8]) -> u64 {
    let mut f = Fields::new(payload);
    let version = f.u8();
    let _flags = f.u24();
    if version == 1 {
        f.u64()
    } else {
        u64::from(f.u32())
    }
}
