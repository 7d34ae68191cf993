//! How the RTMP targets cut one fuzz input into socket reads: a sequence
//! of records, each a 16-bit big-endian length and that many bytes. The
//! last record takes what is left when its length runs past the end, and
//! a lone trailing byte is a read of its own; empty records are skipped
//! (a read of zero bytes is end of stream, which the targets do not need).

/// Largest read one record can carry.
pub const MAX_READ: usize = u16::MAX as usize;

/// The reads encoded in `data`, in order; none is empty.
pub fn split_reads(data: &[u8]) -> SplitReads<'_> {
    SplitReads { rest: data }
}

/// Iterator returned by [`split_reads`].
#[derive(Debug, Clone)]
pub struct SplitReads<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SplitReads<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let Some((length, rest)) = self.rest.split_first_chunk::<2>() else {
                // Zero or one byte left: that byte is the last read.
                let last = std::mem::take(&mut self.rest);
                return (!last.is_empty()).then_some(last);
            };
            let length = usize::from(u16::from_be_bytes(*length)).min(rest.len());
            let (read, rest) = rest.split_at(length);
            self.rest = rest;
            if !read.is_empty() {
                return Some(read);
            }
        }
    }
}

/// Encodes reads as [`split_reads`] reads them back (reads longer than
/// [`MAX_READ`] become several records; empty ones are left out).
pub fn join_reads<'a>(reads: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for read in reads {
        for record in read.chunks(MAX_READ) {
            // `chunks` bounds each record to MAX_READ, which fits in u16.
            let length = u16::try_from(record.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&length.to_be_bytes());
            out.extend_from_slice(record);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_reads_split_back_into_the_same_reads() {
        let big = vec![7u8; MAX_READ + 10];
        let reads: [&[u8]; 4] = [b"abc", b"", b"d", &big];
        let joined = join_reads(reads);
        let split: Vec<&[u8]> = split_reads(&joined).collect();
        assert_eq!(
            split,
            vec![&b"abc"[..], b"d", &big[..MAX_READ], &big[MAX_READ..]]
        );
    }

    #[test]
    fn a_length_past_the_end_takes_the_rest_and_a_lone_byte_is_a_read() {
        let split: Vec<&[u8]> = split_reads(&[0, 9, 1, 2, 3]).collect();
        assert_eq!(split, vec![&[1u8, 2, 3][..]]);
        let split: Vec<&[u8]> = split_reads(&[0, 1, 5, 6]).collect();
        assert_eq!(split, vec![&[5u8][..], &[6u8][..]]);
        let split: Vec<&[u8]> = split_reads(&[0, 0, 0, 0]).collect();
        assert!(split.is_empty());
    }
}
