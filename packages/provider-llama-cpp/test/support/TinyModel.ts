/**
 * A tiny llama-architecture model, made from a seed: 2 layers, 64-wide, random weights, a
 * byte-level SentencePiece-style vocabulary (every byte is a `<0xXX>` token) plus ChatML
 * control tokens, and a ChatML chat template in `tokenizer.chat_template`. llama.cpp loads
 * and runs it; its output is random printable ASCII text (the output layer is biased toward
 * printable bytes and the end-of-turn token, so sampled answers also end), which is all the
 * provider's tests need.
 */
import { encode, type GgufTensor, type GgufValue } from "./Gguf.js"

/** Sizes of the tiny model. */
export interface TinyModelOptions {
  readonly seed?: number
  readonly layers?: number
  readonly embedding?: number
  readonly heads?: number
  readonly feedForward?: number
  readonly contextLength?: number
  /**
   * Weight of `<|im_end|>` (end of turn) on the dominant dimension, where printable bytes have 1:
   * how soon sampled answers end. Default 1: answers of a few to a few hundred tokens.
   */
  readonly endWeight?: number
}

/** The ChatML template written into the model's metadata. */
export const chatTemplate: string =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// llama_token_type
const NORMAL = 1
const UNKNOWN = 2
const CONTROL = 3
const BYTE = 6

/** mulberry32: a small seeded generator, so the same seed gives the same file. */
const rng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const isPrintable = (byte: number): boolean => (byte >= 0x20 && byte < 0x7f) || byte === 0x0a

/**
 * The vocabulary: `<unk>`, `<s>`, `</s>`, `<|im_start|>`, `<|im_end|>`, `▁` (SentencePiece's
 * space, so text round-trips), then the 256 bytes.
 */
export const vocabulary = (): { tokens: Array<string>; types: Array<number> } => {
  const tokens = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "\u2581"]
  const types = [UNKNOWN, CONTROL, CONTROL, CONTROL, CONTROL, NORMAL]
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`)
    types.push(BYTE)
  }
  return { tokens, types }
}

/** The bytes of a tiny GGUF model. */
export const make = (options: TinyModelOptions = {}): Uint8Array => {
  const seed = options.seed ?? 42
  const nLayer = options.layers ?? 2
  const nEmbd = options.embedding ?? 64
  const nHead = options.heads ?? 4
  const nFf = options.feedForward ?? 128
  const nCtx = options.contextLength ?? 4096
  const { tokens, types } = vocabulary()
  const nVocab = tokens.length
  const space = 5
  const firstByte = 6
  const random = rng(seed)
  const normal = (std: number): number => {
    const u = Math.max(random(), 1e-12)
    return std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random())
  }
  const randomTensor = (name: string, shape: ReadonlyArray<number>, std = 0.02): GgufTensor => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1))
    for (let i = 0; i < data.length; i++) data[i] = normal(std)
    return { name, shape, data }
  }
  const ones = (name: string): GgufTensor => ({ name, shape: [nEmbd], data: new Float32Array(nEmbd).fill(1) })

  // Dimension 0 of every embedding is 1, so after the final norm it dominates; the output row
  // of a printable byte (and of <|im_end|>) has +1 there and every other token -1: sampling
  // yields printable text that ends now and then.
  const embd = randomTensor("token_embd.weight", [nEmbd, nVocab])
  for (let t = 0; t < nVocab; t++) embd.data[t * nEmbd] = 1
  const output = randomTensor("output.weight", [nEmbd, nVocab], 0.5)
  for (let t = 0; t < nVocab; t++) {
    const printable = t === space || (t >= firstByte && isPrintable(t - firstByte))
    output.data[t * nEmbd] = printable ? 1 : -1
  }
  output.data[4 * nEmbd] = options.endWeight ?? 1

  const tensors: Array<GgufTensor> = [embd]
  for (let i = 0; i < nLayer; i++) {
    tensors.push(
      ones(`blk.${i}.attn_norm.weight`),
      randomTensor(`blk.${i}.attn_q.weight`, [nEmbd, nEmbd]),
      randomTensor(`blk.${i}.attn_k.weight`, [nEmbd, nEmbd]),
      randomTensor(`blk.${i}.attn_v.weight`, [nEmbd, nEmbd]),
      randomTensor(`blk.${i}.attn_output.weight`, [nEmbd, nEmbd]),
      ones(`blk.${i}.ffn_norm.weight`),
      randomTensor(`blk.${i}.ffn_gate.weight`, [nEmbd, nFf]),
      randomTensor(`blk.${i}.ffn_up.weight`, [nEmbd, nFf]),
      randomTensor(`blk.${i}.ffn_down.weight`, [nFf, nEmbd])
    )
  }
  tensors.push(ones("output_norm.weight"), output)

  const metadata: Array<readonly [string, GgufValue]> = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: "synthline-tiny" }],
    ["general.file_type", { type: "u32", value: 0 }],
    ["llama.context_length", { type: "u32", value: nCtx }],
    ["llama.embedding_length", { type: "u32", value: nEmbd }],
    ["llama.block_count", { type: "u32", value: nLayer }],
    ["llama.feed_forward_length", { type: "u32", value: nFf }],
    ["llama.rope.dimension_count", { type: "u32", value: nEmbd / nHead }],
    ["llama.attention.head_count", { type: "u32", value: nHead }],
    ["llama.attention.head_count_kv", { type: "u32", value: nHead }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: 1e-5 }],
    ["llama.rope.freq_base", { type: "f32", value: 10000 }],
    ["llama.vocab_size", { type: "u32", value: nVocab }],
    ["tokenizer.ggml.model", { type: "string", value: "llama" }],
    ["tokenizer.ggml.tokens", { type: "string[]", value: tokens }],
    ["tokenizer.ggml.scores", { type: "f32[]", value: tokens.map(() => 0) }],
    ["tokenizer.ggml.token_type", { type: "i32[]", value: types }],
    ["tokenizer.ggml.bos_token_id", { type: "u32", value: 1 }],
    ["tokenizer.ggml.eos_token_id", { type: "u32", value: 4 }],
    ["tokenizer.ggml.unknown_token_id", { type: "u32", value: 0 }],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: true }],
    ["tokenizer.ggml.add_eos_token", { type: "bool", value: false }],
    ["tokenizer.ggml.add_space_prefix", { type: "bool", value: false }],
    ["tokenizer.chat_template", { type: "string", value: chatTemplate }]
  ]
  return encode(metadata, tensors)
}
