import { asyncBufferFromFile, parquetMetadataAsync, parquetRead } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import { lmsysRow, tempDir, writeLmsysParquet } from "./test/support/io.js"
import { plainValue } from "./src/internal/io/parquetRead.js"
const dir = tempDir()
const N = 100000
const rows = Array.from({ length: N }, (_, i) => lmsysRow(i))
let t = Date.now()
writeLmsysParquet(`${dir}/a.parquet`, rows, 10000)
console.log("write", Date.now() - t)
const file = await asyncBufferFromFile(`${dir}/a.parquet`)
const md = await parquetMetadataAsync(file)
for (const comp of [undefined]) {
  t = Date.now()
  let n = 0
  let start = 0
  let walk = 0
  for (const rg of md.row_groups) {
    const rs = Number(rg.num_rows)
    await parquetRead({ file, metadata: md, rowStart: start, rowEnd: start + rs, rowFormat: "object", ...(comp ? { compressors: comp } : {}), onComplete: (r) => { const w = Date.now(); for (const x of r) plainValue(x); walk += Date.now() - w; n += r.length } })
    start += rs
  }
  console.log("read", n, Date.now() - t, "ms walk", walk)
}
