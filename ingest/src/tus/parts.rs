//! Pure arithmetic of an upload stored as fixed-size part objects (the shared upload store):
//! part `i` holds bytes `i * part_size .. (i + 1) * part_size` of the upload, every part but
//! the last is exactly `part_size` long, and the last (trailing) part may be partial and is
//! extended by the next `PATCH`. The durable offset only moves to the end of a part object
//! that was written completely. No IO, no clock.

/// The default size of one part object: 8 MiB (S3's smallest multipart part is 5 MiB, and
/// every part but the last of a joined object must be at least that).
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;

/// The storage key of part `index` of upload `id`: `uploads/{id}/parts/{index:06}`.
pub fn part_key(id: &str, index: u64) -> String {
    format!("{}{index:06}", parts_prefix(id))
}

/// The prefix of every part object of upload `id` (`uploads/{id}/parts/`).
pub fn parts_prefix(id: &str) -> String {
    format!("{}parts/", upload_prefix(id))
}

/// The prefix of every object of upload `id` (`uploads/{id}/`).
pub fn upload_prefix(id: &str) -> String {
    format!("uploads/{id}/")
}

/// Where the bytes at `offset` go: the part index and how many bytes of that part come
/// before it (the trailing part's stored length when `offset` is the durable offset).
pub fn position(offset: u64, part_size: u64) -> (u64, u64) {
    let size = part_size.max(1);
    (offset / size, offset % size)
}

/// How many part objects an upload of `offset` durable bytes has (a partial trailing part
/// counts).
pub fn part_count(offset: u64, part_size: u64) -> u64 {
    offset.div_ceil(part_size.max(1))
}

/// The keys of every part of upload `id` holding its first `offset` bytes, in order.
pub fn part_keys(id: &str, offset: u64, part_size: u64) -> Vec<String> {
    (0..part_count(offset, part_size))
        .map(|index| part_key(id, index))
        .collect()
}

/// The byte range of the upload that part `index` holds once the upload has `offset` bytes.
pub fn part_range(index: u64, offset: u64, part_size: u64) -> std::ops::Range<u64> {
    let start = index.saturating_mul(part_size).min(offset);
    start..start.saturating_add(part_size).min(offset)
}

/// The part being filled: its index, the upload offset where it starts, and its bytes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartCursor {
    /// The part's index.
    pub index: u64,
    /// The upload offset of the part's first byte.
    pub start: u64,
    /// Bytes of the part already durable (stored before this `PATCH`).
    pub durable: u64,
    /// The part size.
    pub part_size: u64,
}

impl PartCursor {
    /// The cursor of an upload whose durable offset is `offset`.
    pub fn at(offset: u64, part_size: u64) -> PartCursor {
        let part_size = part_size.max(1);
        let (index, durable) = position(offset, part_size);
        PartCursor {
            index,
            start: index * part_size,
            durable,
            part_size,
        }
    }

    /// How many more bytes fit in the part when it holds `filled` bytes.
    pub fn room(&self, filled: u64) -> u64 {
        self.part_size.saturating_sub(filled)
    }

    /// The offset to record once the part, holding `filled` bytes, is durably written.
    pub fn offset_after(&self, filled: u64) -> u64 {
        self.start + filled
    }

    /// The next part's cursor, once this one is full.
    pub fn next(&self) -> PartCursor {
        PartCursor {
            index: self.index + 1,
            start: self.start + self.part_size,
            durable: 0,
            part_size: self.part_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn part_keys_are_zero_padded_under_the_upload_prefix() {
        assert_eq!(part_key("ab", 0), "uploads/ab/parts/000000");
        assert_eq!(part_key("ab", 42), "uploads/ab/parts/000042");
        assert!(part_key("ab", 7).starts_with(&parts_prefix("ab")));
        assert!(parts_prefix("ab").starts_with(&upload_prefix("ab")));
    }

    #[test]
    fn an_offset_falls_in_the_part_it_continues() {
        assert_eq!(position(0, 8 * MIB), (0, 0));
        assert_eq!(position(8 * MIB - 1, 8 * MIB), (0, 8 * MIB - 1));
        assert_eq!(position(8 * MIB, 8 * MIB), (1, 0));
        assert_eq!(position(20 * MIB, 8 * MIB), (2, 4 * MIB));
    }

    #[test]
    fn a_partial_trailing_part_counts_as_a_part() {
        assert_eq!(part_count(0, 8), 0);
        assert_eq!(part_count(1, 8), 1);
        assert_eq!(part_count(8, 8), 1);
        assert_eq!(part_count(9, 8), 2);
        assert_eq!(part_keys("x", 17, 8).len(), 3);
    }

    #[test]
    fn part_ranges_cover_the_upload_without_gaps() {
        let (offset, size) = (21, 8);
        let ranges: Vec<_> = (0..part_count(offset, size))
            .map(|i| part_range(i, offset, size))
            .collect();
        assert_eq!(ranges, vec![0..8, 8..16, 16..21]);
    }

    #[test]
    fn a_cursor_resumes_inside_the_trailing_part_and_moves_on_when_it_is_full() {
        let cursor = PartCursor::at(10, 8);
        assert_eq!((cursor.index, cursor.start, cursor.durable), (1, 8, 2));
        assert_eq!(cursor.room(2), 6);
        assert_eq!(cursor.offset_after(8), 16);
        let next = cursor.next();
        assert_eq!((next.index, next.start, next.durable), (2, 16, 0));
        assert_eq!(PartCursor::at(16, 8).index, 2);
    }

    #[test]
    fn a_zero_part_size_is_treated_as_one_byte() {
        assert_eq!(position(5, 0), (5, 0));
        assert_eq!(part_count(3, 0), 3);
    }
}
