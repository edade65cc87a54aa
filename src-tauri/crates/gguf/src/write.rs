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
    ArrF32(Vec<f32>),
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
    pub fn f32_array(mut self, k: &str, v: Vec<f32>) -> Self {
        self.kvs.push((k.into(), Kv::ArrF32(v)));
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
            encode_kv(&mut b, k, v);
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

fn put_str(b: &mut Vec<u8>, v: &str) {
    b.extend_from_slice(&(v.len() as u64).to_le_bytes());
    b.extend_from_slice(v.as_bytes());
}

/// One metadata entry as GGUF writes it: key, value type, value.
fn encode_kv(b: &mut Vec<u8>, k: &str, v: &Kv) {
    put_str(b, k);
    match v {
        Kv::U32(x) => (b.extend_from_slice(&4u32.to_le_bytes()), b.extend_from_slice(&x.to_le_bytes())).1,
        Kv::I32(x) => (b.extend_from_slice(&5u32.to_le_bytes()), b.extend_from_slice(&x.to_le_bytes())).1,
        Kv::F32(x) => (b.extend_from_slice(&6u32.to_le_bytes()), b.extend_from_slice(&x.to_le_bytes())).1,
        Kv::Bool(x) => (b.extend_from_slice(&7u32.to_le_bytes()), b.push(u8::from(*x))).1,
        Kv::Str(x) => (b.extend_from_slice(&8u32.to_le_bytes()), put_str(b, x)).1,
        Kv::U64(x) => (b.extend_from_slice(&10u32.to_le_bytes()), b.extend_from_slice(&x.to_le_bytes())).1,
        Kv::ArrU32(xs) => {
            array_head(b, 4, xs.len());
            xs.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        }
        Kv::ArrI32(xs) => {
            array_head(b, 5, xs.len());
            xs.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        }
        Kv::ArrF32(xs) => {
            array_head(b, 6, xs.len());
            xs.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        }
        Kv::ArrBool(xs) => {
            array_head(b, 7, xs.len());
            xs.iter().for_each(|x| b.push(u8::from(*x)));
        }
        Kv::ArrStr(xs) => {
            array_head(b, 8, xs.len());
            xs.iter().for_each(|x| put_str(b, x));
        }
    }
}

/// A change to a real GGUF file, for tests that need a real model a little different from the
/// one they have: the test model without its chat template, or relabelled as another architecture.
#[derive(Default)]
pub struct Edit {
    /// Metadata keys left out.
    pub drop: Vec<String>,
    /// Every key starting with the first prefix gets the second instead ("llama." → "granite.").
    pub rename_prefix: Option<(String, String)>,
    /// Metadata written after the source's; a key here replaces the source's value.
    pub set: GgufWriter,
    /// Tensors added after the source's, with their data (which must be their exact size).
    pub tensors: Vec<(Tensor, Vec<u8>)>,
}

/// Writes `src` with `edit` applied to `dst`. The source's metadata is copied byte for byte
/// (token lists and merges included), its tensor data too.
pub fn rewrite(src: &Path, dst: &Path, edit: &Edit) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    let bad = |why: &str| Error::new(ErrorKind::InvalidData, format!("{}: {why}", src.display()));
    let file = std::fs::read(src)?;
    let r = std::cell::Cell::new(0usize);
    // The next `n` bytes; `r` is where the cursor is.
    let take = |n: usize| -> std::io::Result<&[u8]> {
        let at = r.get();
        let piece = at.checked_add(n).and_then(|end| file.get(at..end)).ok_or_else(|| bad("ends early"))?;
        r.set(at + n);
        Ok(piece)
    };
    let u32_at = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap_or_default());
    let u64_at = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
    if take(4)? != b"GGUF" {
        return Err(bad("not a GGUF file"));
    }
    let version = u32_at(take(4)?);
    let n_tensors = u64_at(take(8)?);
    let n_kv = u64_at(take(8)?);
    // (key, the value's bytes: type and value)
    let mut kvs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut alignment = 32u64;
    for _ in 0..n_kv {
        let len = u64_at(take(8)?) as usize;
        let key = String::from_utf8_lossy(take(len)?).into_owned();
        let ty = take(4)?.to_vec();
        let value_start = r.get();
        skip_value(u32_at(&ty), &take)?;
        let value_end = r.get();
        let mut value = ty.clone();
        value.extend_from_slice(&file[value_start..value_end]);
        let ty = u32_at(&ty);
        if key == "general.alignment" && ty == 4 {
            alignment = u64::from(u32_at(&value[4..8])).max(1);
        }
        kvs.push((key, value));
    }
    let mut infos = Vec::new();
    for _ in 0..n_tensors {
        let mut info = take(8)?.to_vec();
        let len = u64_at(&info) as usize;
        info.extend_from_slice(take(len)?);
        let dims = take(4)?;
        info.extend_from_slice(dims);
        let dims = u32_at(dims) as usize;
        info.extend_from_slice(take(dims * 8 + 4)?);
        let offset = take(8)?;
        info.extend_from_slice(offset);
        infos.push((info, u64_at(offset)));
    }
    let at = r.get();
    let data_start = (at as u64).div_ceil(alignment) * alignment;
    let data = file.get(data_start as usize..).ok_or_else(|| bad("no tensor data"))?;

    let mut b = Vec::new();
    b.extend_from_slice(b"GGUF");
    b.extend_from_slice(&version.to_le_bytes());
    b.extend_from_slice(&(n_tensors + edit.tensors.len() as u64).to_le_bytes());
    let set_keys: Vec<&str> = edit.set.kvs.iter().map(|(k, _)| k.as_str()).collect();
    let kept: Vec<(String, &Vec<u8>)> = kvs
        .iter()
        .filter(|(k, _)| !edit.drop.contains(k))
        .map(|(k, v)| match &edit.rename_prefix {
            Some((from, to)) if k.starts_with(from.as_str()) => (format!("{to}{}", &k[from.len()..]), v),
            _ => (k.clone(), v),
        })
        .filter(|(k, _)| !set_keys.contains(&k.as_str()))
        .collect();
    b.extend_from_slice(&((kept.len() + edit.set.kvs.len()) as u64).to_le_bytes());
    for (k, v) in &kept {
        put_str(&mut b, k);
        b.extend_from_slice(v);
    }
    for (k, v) in &edit.set.kvs {
        encode_kv(&mut b, k, v);
    }
    for (info, _) in &infos {
        b.extend_from_slice(info);
    }
    // The added tensors' data goes after the source's, each aligned.
    let mut offset = (data.len() as u64).div_ceil(alignment) * alignment;
    let mut tail = Vec::new();
    for (t, bytes) in &edit.tensors {
        put_str(&mut b, &t.name);
        b.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
        t.dims.iter().for_each(|d| b.extend_from_slice(&d.to_le_bytes()));
        b.extend_from_slice(&t.ggml_type.id.to_le_bytes());
        b.extend_from_slice(&offset.to_le_bytes());
        tail.resize((offset - data.len() as u64) as usize, 0);
        tail.extend_from_slice(bytes);
        offset = (data.len() as u64 + tail.len() as u64).div_ceil(alignment) * alignment;
    }
    while !(b.len() as u64).is_multiple_of(alignment) {
        b.push(0);
    }
    let mut out = std::fs::File::create(dst)?;
    out.write_all(&b)?;
    out.write_all(data)?;
    out.write_all(&tail)?;
    Ok(())
}

/// Steps over one value of GGUF type `ty`.
fn skip_value<'a>(ty: u32, take: &impl Fn(usize) -> std::io::Result<&'a [u8]>) -> std::io::Result<()> {
    let fixed = |ty: u32| match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    };
    match ty {
        8 => {
            let len = u64::from_le_bytes(take(8)?.try_into().unwrap_or_default()) as usize;
            take(len)?;
        }
        9 => {
            let item = u32::from_le_bytes(take(4)?.try_into().unwrap_or_default());
            let n = u64::from_le_bytes(take(8)?.try_into().unwrap_or_default());
            for _ in 0..n {
                skip_value(item, take)?;
            }
        }
        t => {
            let n = fixed(t).ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("unknown GGUF value type {t}")))?;
            take(n)?;
        }
    }
    Ok(())
}

fn array_head(b: &mut Vec<u8>, item_type: u32, len: usize) {
    b.extend_from_slice(&9u32.to_le_bytes());
    b.extend_from_slice(&item_type.to_le_bytes());
    b.extend_from_slice(&(len as u64).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    #[test]
    fn a_rewrite_drops_renames_sets_and_adds_and_keeps_the_data() {
        let dir = std::env::temp_dir().join(format!("hearth-rewrite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f32 = GgmlType::by_name("F32").unwrap();
        let source = GgufWriter::new("llama")
            .u32("llama.block_count", 1)
            .str("tokenizer.chat_template", "{{ x }}")
            .str_array("tokenizer.ggml.tokens", vec!["a".into(), "b".into()])
            .tensor("blk.0.attn_norm.weight", &[8], f32);
        // The tensor's data: 8 floats 0..8 after the header.
        let (mut bytes, _) = source.header();
        bytes.extend((0..8).flat_map(|i| (i as f32).to_le_bytes()));
        let (src, dst) = (dir.join("a.gguf"), dir.join("b.gguf"));
        std::fs::write(&src, &bytes).unwrap();

        let edit = Edit {
            drop: vec!["tokenizer.chat_template".into()],
            rename_prefix: Some(("llama.".into(), "granite.".into())),
            set: GgufWriter::new("granite").f32("granite.logit_scale", 2.0),
            tensors: vec![(
                Tensor { name: "blk.0.extra.weight".into(), dims: vec![2], ggml_type: f32 },
                [7f32, 9f32].iter().flat_map(|x| x.to_le_bytes()).collect(),
            )],
        };
        rewrite(&src, &dst, &edit).unwrap();
        let out = std::fs::read(&dst).unwrap();
        let h = crate::header::parse(&out).unwrap();
        assert_eq!(h.metadata.get("general.architecture"), Some(&Value::Str("granite".into())));
        assert_eq!(h.metadata.get("granite.block_count"), Some(&Value::Uint(1)));
        assert!(!h.metadata.contains_key("llama.block_count") && !h.metadata.contains_key("tokenizer.chat_template"));
        assert_eq!(h.metadata.get("tokenizer.ggml.tokens").map(|v| matches!(v, Value::Array(a) if a.len == 2)), Some(true));
        let data = |name: &str| {
            let t = h.tensors.iter().find(|t| t.name == name).unwrap();
            let at = (h.data_offset + t.offset) as usize;
            out[at..at + t.bytes as usize].chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>()
        };
        assert_eq!(data("blk.0.attn_norm.weight"), (0..8).map(|i| i as f32).collect::<Vec<_>>());
        assert_eq!(data("blk.0.extra.weight"), vec![7.0, 9.0]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
