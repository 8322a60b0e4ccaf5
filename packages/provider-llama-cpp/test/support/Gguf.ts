/**
 * A minimal GGUF (v3) writer: metadata key/values and F32 tensors, laid out as ggml's
 * `gguf.h` / llama.cpp's gguf-py write them (header, metadata, tensor infos, aligned data).
 */

/** A metadata value: numbers are written as the given scalar type. */
export type GgufValue =
  | { readonly type: "u32"; readonly value: number }
  | { readonly type: "i32"; readonly value: number }
  | { readonly type: "f32"; readonly value: number }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "string[]"; readonly value: ReadonlyArray<string> }
  | { readonly type: "f32[]"; readonly value: ReadonlyArray<number> }
  | { readonly type: "i32[]"; readonly value: ReadonlyArray<number> }

/** An F32 tensor; `shape` is in ggml order (innermost dimension first). */
export interface GgufTensor {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly data: Float32Array
}

const ALIGNMENT = 32

// gguf_type
const T_UINT32 = 4
const T_INT32 = 5
const T_FLOAT32 = 6
const T_BOOL = 7
const T_STRING = 8
const T_ARRAY = 9
// ggml_type
const GGML_F32 = 0

class Writer {
  private buf = new Uint8Array(1 << 16)
  private view = new DataView(this.buf.buffer)
  length = 0
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
    this.view = new DataView(next.buffer)
  }
  u32(v: number): void {
    this.ensure(4)
    this.view.setUint32(this.length, v, true)
    this.length += 4
  }
  i32(v: number): void {
    this.ensure(4)
    this.view.setInt32(this.length, v, true)
    this.length += 4
  }
  u64(v: number): void {
    this.ensure(8)
    this.view.setBigUint64(this.length, BigInt(v), true)
    this.length += 8
  }
  f32(v: number): void {
    this.ensure(4)
    this.view.setFloat32(this.length, v, true)
    this.length += 4
  }
  u8(v: number): void {
    this.ensure(1)
    this.view.setUint8(this.length, v)
    this.length += 1
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s)
    this.u64(b.length)
    this.bytes(b)
  }
  pad(): void {
    while (this.length % ALIGNMENT !== 0) this.u8(0)
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length)
  }
}

const writeValue = (w: Writer, v: GgufValue): void => {
  switch (v.type) {
    case "u32":
      w.u32(T_UINT32)
      w.u32(v.value)
      return
    case "i32":
      w.u32(T_INT32)
      w.i32(v.value)
      return
    case "f32":
      w.u32(T_FLOAT32)
      w.f32(v.value)
      return
    case "bool":
      w.u32(T_BOOL)
      w.u8(v.value ? 1 : 0)
      return
    case "string":
      w.u32(T_STRING)
      w.string(v.value)
      return
    case "string[]":
      w.u32(T_ARRAY)
      w.u32(T_STRING)
      w.u64(v.value.length)
      for (const s of v.value) w.string(s)
      return
    case "f32[]":
      w.u32(T_ARRAY)
      w.u32(T_FLOAT32)
      w.u64(v.value.length)
      for (const x of v.value) w.f32(x)
      return
    case "i32[]":
      w.u32(T_ARRAY)
      w.u32(T_INT32)
      w.u64(v.value.length)
      for (const x of v.value) w.i32(x)
      return
  }
}

/** Serializes metadata and tensors into the bytes of a GGUF v3 file. */
export const encode = (
  metadata: ReadonlyArray<readonly [string, GgufValue]>,
  tensors: ReadonlyArray<GgufTensor>
): Uint8Array => {
  const w = new Writer()
  w.bytes(new TextEncoder().encode("GGUF"))
  w.u32(3)
  w.u64(tensors.length)
  w.u64(metadata.length)
  for (const [key, value] of metadata) {
    w.string(key)
    writeValue(w, value)
  }
  let offset = 0
  for (const t of tensors) {
    const n = t.data.length
    w.string(t.name)
    w.u32(t.shape.length)
    for (const d of t.shape) w.u64(d)
    w.u32(GGML_F32)
    w.u64(offset)
    offset += Math.ceil((n * 4) / ALIGNMENT) * ALIGNMENT
  }
  w.pad()
  for (const t of tensors) {
    w.bytes(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))
    w.pad()
  }
  return w.result()
}
