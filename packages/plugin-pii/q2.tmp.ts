import * as Sample from "@synthline/core/Sample"
for (const r of Sample.rows(7, 20000)) for (const s of r.pii) if (s.value === "192.168.120.234") { const c = r.record.conversation[s.turn].content; console.log(JSON.stringify(c.slice(Math.max(0, s.start - 60), s.end + 30))) }
