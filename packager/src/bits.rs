//! A big-endian bit reader for the small bitstream headers this crate parses
//! (H.264 sequence parameter sets, AAC AudioSpecificConfig). Crate-private.

/// Reading ran past the end of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutOfBits;

/// Reads bits most-significant first from a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    position: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, position: 0 }
    }

    /// Bits not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() * 8 - self.position
    }

    pub(crate) fn read_bit(&mut self) -> Result<bool, OutOfBits> {
        let byte = self.data.get(self.position / 8).ok_or(OutOfBits)?;
        let bit = (byte >> (7 - (self.position % 8))) & 1;
        self.position += 1;
        Ok(bit == 1)
    }

    /// Reads `count` (at most 32) bits as an unsigned number.
    pub(crate) fn read_bits(&mut self, count: u32) -> Result<u32, OutOfBits> {
        debug_assert!(count <= 32);
        if self.remaining() < count as usize {
            return Err(OutOfBits);
        }
        let mut value: u64 = 0;
        for _ in 0..count {
            value = (value << 1) | u64::from(self.read_bit()?);
        }
        Ok(value as u32)
    }

    /// Unsigned Exp-Golomb code `ue(v)` (H.264 9.1).
    pub(crate) fn read_ue(&mut self) -> Result<u32, OutOfBits> {
        let mut leading_zeros = 0u32;
        while !self.read_bit()? {
            leading_zeros += 1;
            if leading_zeros > 31 {
                return Err(OutOfBits);
            }
        }
        if leading_zeros == 0 {
            return Ok(0);
        }
        let suffix = u64::from(self.read_bits(leading_zeros)?);
        let value = (1u64 << leading_zeros) - 1 + suffix;
        u32::try_from(value).map_err(|_| OutOfBits)
    }

    /// Signed Exp-Golomb code `se(v)` (H.264 9.1.1).
    pub(crate) fn read_se(&mut self) -> Result<i32, OutOfBits> {
        let code = i64::from(self.read_ue()?);
        let value = if code % 2 == 1 {
            (code + 1) / 2
        } else {
            -(code / 2)
        };
        i32::try_from(value).map_err(|_| OutOfBits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixed_width_fields_most_significant_bit_first() {
        let mut reader = BitReader::new(&[0b1010_0000, 0xff]);
        assert!(reader.read_bit().unwrap());
        assert_eq!(reader.read_bits(3).unwrap(), 0b010);
        assert_eq!(reader.read_bits(8).unwrap(), 0b0000_1111);
        assert_eq!(reader.remaining(), 4);
        assert_eq!(reader.read_bits(5), Err(OutOfBits));
    }

    #[test]
    fn decodes_exp_golomb_codes() {
        // ue: 1 -> 0, 010 -> 1, 011 -> 2, 00100 -> 3, 00111 -> 6
        let mut reader = BitReader::new(&[0b1010_0110, 0b0100_0011, 0b1000_0000]);
        assert_eq!(reader.read_ue().unwrap(), 0);
        assert_eq!(reader.read_ue().unwrap(), 1);
        assert_eq!(reader.read_ue().unwrap(), 2);
        assert_eq!(reader.read_ue().unwrap(), 3);
        assert_eq!(reader.read_ue().unwrap(), 6);
        // se: 010 -> +1, 011 -> -1, 00100 -> +2
        let mut reader = BitReader::new(&[0b0100_1100, 0b1000_0000]);
        assert_eq!(reader.read_se().unwrap(), 1);
        assert_eq!(reader.read_se().unwrap(), -1);
        assert_eq!(reader.read_se().unwrap(), 2);
    }

    #[test]
    fn exp_golomb_past_the_end_is_an_error() {
        let mut reader = BitReader::new(&[0x00]);
        assert_eq!(reader.read_ue(), Err(OutOfBits));
    }
}
