/**
 * Parquet schema inference for the parquet sink: observes JSON rows and derives a schema
 * (strings → UTF8, booleans, integers → INT64, other numbers → DOUBLE, objects → struct,
 * arrays → 3-level LIST, recursively; null or missing → OPTIONAL; fields seen with
 * inconsistent types → a JSON-encoded UTF8 column that reads back as the original values),
 * then turns rows into the column values hyparquet-writer expects (INT64 as BigInt).
 */
import type { SchemaElement } from "hyparquet"
import { isRecord } from "../../Row.js"

type Scalar = "string" | "boolean" | "int" | "double" | "json"

type Shape =
  | { readonly kind: "unknown" }
  | { readonly kind: Scalar }
  | { readonly kind: "struct"; readonly fields: Map<string, Field>; instances: number }
  | { readonly kind: "list"; readonly element: Field }

/** What was seen of one field (or list element) across rows. */
class Field {
  shape: Shape = { kind: "unknown" }
  /** Seen as `null`/`undefined`. */
  nullable = false
  /** Times seen with a value. */
  count = 0
}

const json: Shape = { kind: "json" }

const scalarOf = (v: unknown): Scalar => {
  switch (typeof v) {
    case "string":
      return "string"
    case "boolean":
      return "boolean"
    case "number":
      return Number.isSafeInteger(v) ? "int" : "double"
    default:
      return "json"
  }
}

const observe = (f: Field, v: unknown): void => {
  if (v === null || v === undefined) {
    f.nullable = true
    return
  }
  f.count++
  const s = f.shape
  if (s.kind === "json") return
  if (typeof v === "object") {
    if (Array.isArray(v)) {
      if (s.kind === "unknown") f.shape = { kind: "list", element: new Field() }
      else if (s.kind !== "list") {
        f.shape = json
        return
      }
      const list = f.shape
      if (list.kind !== "list") return
      for (const e of v) observe(list.element, e)
      return
    }
    if (s.kind === "unknown") f.shape = { kind: "struct", fields: new Map(), instances: 0 }
    else if (s.kind !== "struct") {
      f.shape = json
      return
    }
    const struct = f.shape
    if (struct.kind !== "struct") return
    struct.instances++
    for (const [k, x] of Object.entries(v)) {
      let child = struct.fields.get(k)
      if (child === undefined) {
        child = new Field()
        struct.fields.set(k, child)
      }
      observe(child, x)
    }
    return
  }
  const kind = scalarOf(v)
  if (s.kind === "unknown" || s.kind === kind) f.shape = { kind }
  else if ((s.kind === "int" && kind === "double") || (s.kind === "double" && kind === "int")) f.shape = { kind: "double" }
  else f.shape = json
}

/** How a value is turned into what the writer takes. */
type Plan =
  | { readonly kind: "value" }
  | { readonly kind: "int" }
  | { readonly kind: "struct"; readonly fields: ReadonlyArray<readonly [string, Plan]> }
  | { readonly kind: "list"; readonly element: Plan }

/** An inferred schema: the parquet schema and the per-column conversion plans. */
export interface InferredSchema {
  readonly schema: Array<SchemaElement>
  readonly columns: ReadonlyArray<readonly [string, Plan]>
}

/** Accumulates what rows look like, then builds a schema. */
export class SchemaBuilder {
  private readonly root = new Field()
  private rows = 0

  /** Observes one row. */
  add(row: { readonly [key: string]: unknown }): void {
    this.rows++
    observe(this.root, row)
  }

  /** The schema for every row observed, or `undefined` when rows have no fields. */
  build(): InferredSchema | undefined {
    const shape = this.root.shape
    if (shape.kind !== "struct" || shape.fields.size === 0) return undefined
    const schema: Array<SchemaElement> = [{ name: "root", num_children: shape.fields.size }]
    const columns: Array<readonly [string, Plan]> = []
    for (const [name, field] of shape.fields) {
      columns.push([name, emit(name, field, field.count === this.rows && !field.nullable, schema)])
    }
    return { schema, columns }
  }
}

const emit = (name: string, f: Field, required: boolean, out: Array<SchemaElement>): Plan => {
  const s = f.shape
  const repetition_type = required && s.kind !== "unknown" ? "REQUIRED" : "OPTIONAL"
  switch (s.kind) {
    case "unknown":
    case "string":
      out.push({ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type })
      return { kind: "value" }
    case "json":
      out.push({ name, type: "BYTE_ARRAY", converted_type: "JSON", repetition_type })
      return { kind: "value" }
    case "boolean":
      out.push({ name, type: "BOOLEAN", repetition_type })
      return { kind: "value" }
    case "double":
      out.push({ name, type: "DOUBLE", repetition_type })
      return { kind: "value" }
    case "int":
      out.push({ name, type: "INT64", repetition_type })
      return { kind: "int" }
    case "struct": {
      if (s.fields.size === 0) {
        out.push({ name, type: "BYTE_ARRAY", converted_type: "JSON", repetition_type })
        return { kind: "value" }
      }
      out.push({ name, repetition_type, num_children: s.fields.size })
      const fields: Array<readonly [string, Plan]> = []
      for (const [k, child] of s.fields) {
        fields.push([k, emit(k, child, child.count === s.instances && !child.nullable, out)])
      }
      return { kind: "struct", fields }
    }
    case "list": {
      out.push({ name, repetition_type, converted_type: "LIST", num_children: 1 })
      out.push({ name: "list", repetition_type: "REPEATED", num_children: 1 })
      return { kind: "list", element: emit("element", s.element, !s.element.nullable, out) }
    }
  }
}

const convert = (plan: Plan, v: unknown): unknown => {
  if (v === null || v === undefined) return null
  switch (plan.kind) {
    case "value":
      return v
    case "int":
      return typeof v === "number" ? BigInt(v) : v
    case "struct": {
      if (!isRecord(v)) return v
      const out: { [key: string]: unknown } = {}
      for (const [k, p] of plan.fields) out[k] = convert(p, v[k])
      return out
    }
    case "list":
      return Array.isArray(v) ? v.map((e) => convert(plan.element, e)) : v
  }
}

/** The values of one top-level column for a batch of rows, ready for hyparquet-writer. */
export const columnValues = (
  name: string,
  plan: Plan,
  rows: ReadonlyArray<{ readonly [key: string]: unknown }>
): Array<unknown> => {
  const out = new Array<unknown>(rows.length)
  for (let i = 0; i < rows.length; i++) out[i] = convert(plan, rows[i]![name])
  return out
}
