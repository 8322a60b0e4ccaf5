import { asyncBufferFromFile, parquetMetadataAsync, parquetRead } from "hyparquet"
import { lmsysRow, tempDir, writeLmsysParquet } from "./test/support/io.js"
const dir = tempDir()
const rows = Array.from({ length: 20000 }, (_, i) => lmsysRow(i))
writeLmsysParquet(`${dir}/a.parquet`, rows, 10000)
const f = await asyncBufferFromFile(`${dir}/a.parquet`)
let calls = 0, bytes = 0, tot = 0
const file = { byteLength: f.byteLength, slice: async (s: number, e?: number) => { calls++; const t = Date.now(); const r = await f.slice(s, e); tot += Date.now() - t; bytes += r.byteLength; return r } }
const md = await parquetMetadataAsync(file)
let t = Date.now()
await parquetRead({ file, metadata: md, rowStart: 0, rowEnd: 10000, rowFormat: "object", onComplete: () => {} })
console.log("rg0", Date.now() - t, "ms calls", calls, "bytes", bytes, "slice time", tot, "filesize", f.byteLength)
const buf = new Uint8Array(await f.slice(0)).buffer
t = Date.now()
await parquetRead({ file: buf, metadata: md, rowStart: 0, rowEnd: 10000, rowFormat: "object", onComplete: () => {} })
console.log("in-memory rg0", Date.now() - t)
import * as fs from "node:fs"
fs.writeFileSync("/tmp/prof/a.parquet", new Uint8Array(buf))
