//! The raw GGUF header: magic, version, metadata key/values, tensor infos. Layout (little-endian):
//! `"GGUF"`, u32 version, u64 tensor count, u64 metadata count, the key/values, the tensor infos, then
//! padding to `general.alignment` and the tensor data.
//!
//! Every count and length comes from the file and is untrusted: each is checked against a limit before
//! use, and no buffer is sized by one (vectors grow as items are really read).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cursor::Cursor;
use crate::error::{GgufError, Result};
use crate::ggml_type::GgmlType;

/// Limits far above any real model, far below what could hurt.
pub const MAX_STRING: u64 = 16 << 20;
pub const MAX_NAME: u64 = 4096;
pub const MAX_TENSORS: u64 = 1 << 20;
pub const MAX_KV: u64 = 1 << 16;
pub const MAX_DIMS: u32 = 4;
/// Numeric arrays up to this length are kept (per-layer head counts, SWA patterns); longer ones
/// (token scores, token types) are stepped over and only their length is kept.
pub const KEEP_ARRAY: u64 = 1 << 16;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Uint(u64),
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Array(Array),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Array {
    /// The GGUF value type of the items.
    pub item_type: u32,
    pub len: u64,
    /// The items as numbers (bools as 0/1), when the array is numeric and short enough to keep.
    pub numbers: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    pub elements: u64,
    pub bytes: u64,
    /// From the start of the data section.
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawHeader {
    pub version: u32,
    pub metadata: BTreeMap<String, Value>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u32,
    /// Where the tensor data starts in the file.
    pub data_offset: u64,
}

const T_U8: u32 = 0;
const T_I8: u32 = 1;
const T_U16: u32 = 2;
const T_I16: u32 = 3;
const T_U32: u32 = 4;
const T_I32: u32 = 5;
const T_F32: u32 = 6;
const T_BOOL: u32 = 7;
const T_STRING: u32 = 8;
const T_ARRAY: u32 = 9;
const T_U64: u32 = 10;
const T_I64: u32 = 11;
const T_F64: u32 = 12;

pub fn parse(buf: &[u8]) -> Result<RawHeader> {
    let mut c = Cursor::new(buf);
    let magic: [u8; 4] = c.take(4)?.try_into().map_err(|_| GgufError::Missing("the magic"))?;
    if &magic != b"GGUF" {
        return Err(GgufError::NotGguf { found: magic });
    }
    let version = c.u32()?;
    if version.swap_bytes() == 2 || version.swap_bytes() == 3 {
        return Err(GgufError::BigEndian);
    }
    if version != 2 && version != 3 {
        return Err(GgufError::UnsupportedVersion(version));
    }
    let tensor_count = c.u64()?;
    if tensor_count > MAX_TENSORS {
        return Err(GgufError::TooLarge { what: "the tensor count", size: tensor_count, limit: MAX_TENSORS });
    }
    let kv_count = c.u64()?;
    if kv_count > MAX_KV {
        return Err(GgufError::TooLarge { what: "the metadata count", size: kv_count, limit: MAX_KV });
    }

    let mut metadata = BTreeMap::new();
    for _ in 0..kv_count {
        let key = c.string("a metadata key", MAX_NAME)?;
        let value_type = c.u32()?;
        let value = read_value(&mut c, &key, value_type, true)?;
        if metadata.contains_key(&key) {
            // llama.cpp refuses such a file; so do we, rather than guess which value is meant.
            return Err(GgufError::DuplicateKey(key));
        }
        metadata.insert(key, value);
    }

    let alignment = match metadata.get("general.alignment") {
        None => 32,
        Some(Value::Uint(a)) if a.is_power_of_two() && *a <= 1 << 20 => *a as u32,
        Some(_) => return Err(GgufError::WrongType { key: "general.alignment".into(), expected: "a power of two" }),
    };

    let mut tensors = Vec::new();
    for _ in 0..tensor_count {
        tensors.push(read_tensor(&mut c)?);
    }
    let data_offset = c.pos().div_ceil(u64::from(alignment)) * u64::from(alignment);
    for t in &tensors {
        if t.offset % u64::from(alignment) != 0 {
            return Err(GgufError::BadTensor { tensor: t.name.clone(), why: "its data is not aligned".into() });
        }
    }
    Ok(RawHeader { version, metadata, tensors, alignment, data_offset })
}

fn read_value(c: &mut Cursor<'_>, key: &str, value_type: u32, top_level: bool) -> Result<Value> {
    Ok(match value_type {
        T_U8 => Value::Uint(u64::from(c.u8()?)),
        T_I8 => Value::Int(i64::from(c.u8()? as i8)),
        T_U16 => Value::Uint(u64::from(c.u16()?)),
        T_I16 => Value::Int(i64::from(c.u16()? as i16)),
        T_U32 => Value::Uint(u64::from(c.u32()?)),
        T_I32 => Value::Int(i64::from(c.u32()? as i32)),
        T_F32 => Value::Float(f64::from(c.f32()?)),
        T_BOOL => Value::Bool(c.u8()? != 0),
        T_STRING => Value::Str(c.string("a metadata string", MAX_STRING)?),
        T_U64 => Value::Uint(c.u64()?),
        T_I64 => Value::Int(c.u64()? as i64),
        T_F64 => Value::Float(c.f64()?),
        T_ARRAY if top_level => read_array(c, key)?,
        _ => return Err(GgufError::UnknownValueType { key: key.to_string(), value_type }),
    })
}

fn read_array(c: &mut Cursor<'_>, key: &str) -> Result<Value> {
    let item_type = c.u32()?;
    let len = c.u64()?;
    let keep = len <= KEEP_ARRAY && item_type != T_STRING && item_type != T_ARRAY;
    let mut numbers = Vec::new();
    for _ in 0..len {
        // Each item consumes at least one byte, so a hostile length runs into `Truncated`, never
        // into a long loop over bytes that are not there.
        match item_type {
            T_STRING => c.skip_string("a string in a metadata array", MAX_STRING)?,
            T_ARRAY => return Err(GgufError::UnknownValueType { key: key.to_string(), value_type: T_ARRAY }),
            t => {
                let v = read_value(c, key, t, false)?;
                if keep {
                    numbers.push(match v {
                        Value::Uint(u) => u as f64,
                        Value::Int(i) => i as f64,
                        Value::Float(f) => f,
                        Value::Bool(b) => f64::from(u8::from(b)),
                        _ => 0.0,
                    });
                }
            }
        }
    }
    Ok(Value::Array(Array { item_type, len, numbers }))
}

fn read_tensor(c: &mut Cursor<'_>) -> Result<TensorInfo> {
    let name = c.string("a tensor name", MAX_NAME)?;
    let n_dims = c.u32()?;
    if n_dims == 0 || n_dims > MAX_DIMS {
        return Err(GgufError::BadTensor { tensor: name, why: format!("{n_dims} dimensions (1 to 4 allowed)") });
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        dims.push(c.u64()?);
    }
    let type_id = c.u32()?;
    let offset = c.u64()?;
    let ggml_type = GgmlType::from_id(type_id).ok_or(GgufError::UnknownTensorType { tensor: name.clone(), ggml_type: type_id })?;
    let elements = dims
        .iter()
        .try_fold(1u64, |acc, d| acc.checked_mul(*d))
        .ok_or_else(|| GgufError::BadTensor { tensor: name.clone(), why: "its size overflows".into() })?;
    let bytes = ggml_type.bytes_for(elements).ok_or_else(|| GgufError::BadTensor {
        tensor: name.clone(),
        why: format!("{elements} elements is not a whole number of {} blocks", ggml_type.name),
    })?;
    Ok(TensorInfo { name, dims, ggml_type, elements, bytes, offset })
}
