//! ggml's tensor types: block size (elements per block) and bytes per block, as llama.cpp's
//! `ggml_blck_size` / `ggml_type_size` report them. Removed and unknown types are `None`: a file that
//! uses one cannot be loaded, and the reader says so.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GgmlType {
    pub id: u32,
    pub name: &'static str,
    pub block_size: u32,
    pub type_size: u32,
}

const TABLE: &[(u32, &str, u32, u32)] = &[
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 36),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
    (40, "NVFP4", 64, 36),
    (41, "Q1_0", 128, 18),
    (42, "Q2_0", 64, 18),
];

impl GgmlType {
    pub fn from_id(id: u32) -> Option<Self> {
        TABLE.iter().find(|(i, ..)| *i == id).map(|&(id, name, block_size, type_size)| Self { id, name, block_size, type_size })
    }

    pub fn by_name(name: &str) -> Option<Self> {
        TABLE.iter().find(|(_, n, ..)| n.eq_ignore_ascii_case(name)).and_then(|&(id, ..)| Self::from_id(id))
    }

    /// Bytes for `elements` values, or `None` when the count is not a whole number of blocks or
    /// overflows (only a damaged file does that).
    pub fn bytes_for(&self, elements: u64) -> Option<u64> {
        let block = u64::from(self.block_size);
        if elements % block != 0 {
            return None;
        }
        (elements / block).checked_mul(u64::from(self.type_size))
    }

    /// Bits per weight, for display ("4.5 bpw").
    pub fn bits_per_weight(&self) -> f64 {
        f64::from(self.type_size) * 8.0 / f64::from(self.block_size)
    }

    pub fn all() -> impl Iterator<Item = GgmlType> {
        TABLE.iter().filter_map(|&(id, ..)| Self::from_id(id))
    }
}

/// llama.cpp's `general.file_type` (`llama_ftype`) as the label people know ("Q4_K_M").
pub fn file_type_label(file_type: u32) -> Option<&'static str> {
    Some(match file_type {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        39 => "NVFP4",
        40 => "Q1_0",
        41 => "Q2_0",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_block_layout() {
        let q4k = GgmlType::by_name("q4_k").unwrap();
        assert_eq!(q4k.bytes_for(4096 * 4096), Some(4096 * 4096 / 256 * 144));
        assert!((q4k.bits_per_weight() - 4.5).abs() < 1e-9);
        assert_eq!(GgmlType::from_id(0).unwrap().bytes_for(10), Some(40));
        // Not a whole number of blocks: only a damaged file says this.
        assert_eq!(q4k.bytes_for(100), None);
        // Removed types are unknown.
        assert_eq!(GgmlType::from_id(31), None);
        assert_eq!(GgmlType::from_id(4), None);
    }
}
