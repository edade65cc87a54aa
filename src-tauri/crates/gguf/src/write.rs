//! Writing GGUF headers: for tests, the mock Hub and benchmarks, which need files with the real
//! shapes of models far larger than this machine. `write_sparse` gives the file its full length
//! without writing the weights (a sparse file), so a "70B" takes a few megabytes of disk.

use std::io::Write;
use std::path::Path;

use crate::ggml_type::GgmlType;

enum Kv {
    U32(u32),
    I32(i32),
    U64(u64),
    F32(f32),
    Bool(bool),
    Str(String),
    ArrU32(Vec<u32>),
    ArrI32(Vec<i32>),
    ArrBool(Vec<bool>),
    ArrStr(Vec<String>),
}

pub struct Tensor {
    pub name: String,
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
}

#[derive(Default)]
pub struct GgufWriter {
    kvs: Vec<(String, Kv)>,
    tensors: Vec<Tensor>,
    version: u32,
}

impl GgufWriter {
    pub fn new(architecture: &str) -> Self {
        let mut w = Self { version: 3, ..Self::default() };
        w.kvs.push(("general.architecture".into(), Kv::Str(architecture.into())));
        w
    }

    pub fn version(mut self, v: u32) -> Self {
        self.version = v;
        self
    }
    pub fn u32(mut self, k: &str, v: u32) -> Self {
        self.kvs.push((k.into(), Kv::U32(v)));
        self
    }
    pub fn i32(mut self, k: &str, v: i32) -> Self {
        self.kvs.push((k.into(), Kv::I32(v)));
        self
    }
    pub fn u64(mut self, k: &str, v: u64) -> Self {
        self.kvs.push((k.into(), Kv::U64(v)));
        self
    }
    pub fn f32(mut self, k: &str, v: f32) -> Self {
        self.kvs.push((k.into(), Kv::F32(v)));
        self
    }
    pub fn bool(mut self, k: &str, v: bool) -> Self {
        self.kvs.push((k.into(), Kv::Bool(v)));
        self
    }
    pub fn str(mut self, k: &str, v: &str) -> Self {
        self.kvs.push((k.into(), Kv::Str(v.into())));
        self
    }
    pub fn u32_array(mut self, k: &str, v: Vec<u32>) -> Self {
        self.kvs.push((k.into(), Kv::ArrU32(v)));
        self
    }
    pub fn i32_array(mut self, k: &str, v: Vec<i32>) -> Self {
        self.kvs.push((k.into(), Kv::ArrI32(v)));
        self
    }
    pub fn bool_array(mut self, k: &str, v: Vec<bool>) -> Self {
        self.kvs.push((k.into(), Kv::ArrBool(v)));
        self
    }
    pub fn str_array(mut self, k: &str, v: Vec<String>) -> Self {
        self.kvs.push((k.into(), Kv::ArrStr(v)));
        self
    }
    /// Drops every value of `k`, so a test can write it again with another value or type (the
    /// reader refuses a key written twice).
    pub fn without(mut self, k: &str) -> Self {
        self.kvs.retain(|(key, _)| key != k);
        self
    }
    pub fn tensor(mut self, name: &str, dims: &[u64], ggml_type: GgmlType) -> Self {
        self.tensors.push(Tensor { name: name.into(), dims: dims.to_vec(), ggml_type });
        self
    }
    pub fn push_tensor(&mut self, name: String, dims: Vec<u64>, ggml_type: GgmlType) {
        self.tensors.push(Tensor { name, dims, ggml_type });
    }

    /// The header bytes, padded to the alignment: the tensor data would start right after.
    /// Returns `(header, total file length)`.
    pub fn header(&self) -> (Vec<u8>, u64) {
        const ALIGN: u64 = 32;
        let mut b = Vec::new();
        b.extend_from_slice(b"GGUF");
        b.extend_from_slice(&self.version.to_le_bytes());
        b.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        b.extend_from_slice(&(self.kvs.len() as u64).to_le_bytes());
        let s = |b: &mut Vec<u8>, v: &str| {
            b.extend_from_slice(&(v.len() as u64).to_le_bytes());
            b.extend_from_slice(v.as_bytes());
        };
        for (k, v) in &self.kvs {
            s(&mut b, k);
            match v {
                Kv::U32(x) => (b.extend_from_slice(&4u32.to_le_bytes()), b.extend_from_slice(&x.to_le_bytes())).1,
                Kv::I32(x) => (b.extend_from_slice(&5u32.to_le_bytes()), b.extend_from_slice(&x.to_le_bytes())).1,
                Kv::F32(x) => (b.extend_from_slice(&6u32.to_le_bytes()), b.extend_from_slice(&x.to_le_bytes())).1,
                Kv::Bool(x) => (b.extend_from_slice(&7u32.to_le_bytes()), b.push(u8::from(*x))).1,
                Kv::Str(x) => (b.extend_from_slice(&8u32.to_le_bytes()), s(&mut b, x)).1,
                Kv::U64(x) => (b.extend_from_slice(&10u32.to_le_bytes()), b.extend_from_slice(&x.to_le_bytes())).1,
                Kv::ArrU32(xs) => {
                    array_head(&mut b, 4, xs.len());
                    xs.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
                }
                Kv::ArrI32(xs) => {
                    array_head(&mut b, 5, xs.len());
                    xs.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
                }
                Kv::ArrBool(xs) => {
                    array_head(&mut b, 7, xs.len());
                    xs.iter().for_each(|x| b.push(u8::from(*x)));
                }
                Kv::ArrStr(xs) => {
                    array_head(&mut b, 8, xs.len());
                    xs.iter().for_each(|x| s(&mut b, x));
                }
            }
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            s(&mut b, &t.name);
            b.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            t.dims.iter().for_each(|d| b.extend_from_slice(&d.to_le_bytes()));
            b.extend_from_slice(&t.ggml_type.id.to_le_bytes());
            b.extend_from_slice(&offset.to_le_bytes());
            // Hostile headers written by tests may claim sizes that overflow: they saturate here, the
            // reader is what must refuse them.
            let elements = t.dims.iter().fold(1u64, |a, d| a.saturating_mul(*d));
            let bytes = t.ggml_type.bytes_for(elements).unwrap_or(0);
            offset = offset.saturating_add(bytes.div_ceil(ALIGN).saturating_mul(ALIGN));
        }
        while b.len() as u64 % ALIGN != 0 {
            b.push(0);
        }
        let total = (b.len() as u64).saturating_add(offset);
        (b, total)
    }

    /// A complete file in memory, weights as zeros. Only for small models.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (mut b, total) = self.header();
        b.resize(total as usize, 0);
        b
    }

    /// Write the header and extend the file to its full length without writing the weights.
    pub fn write_sparse(&self, path: &Path) -> std::io::Result<u64> {
        let (header, total) = self.header();
        let mut f = std::fs::File::create(path)?;
        f.write_all(&header)?;
        f.set_len(total)?;
        Ok(total)
    }
}

fn array_head(b: &mut Vec<u8>, item_type: u32, len: usize) {
    b.extend_from_slice(&9u32.to_le_bytes());
    b.extend_from_slice(&item_type.to_le_bytes());
    b.extend_from_slice(&(len as u64).to_le_bytes());
}
