import { detect } from "./src/Detect.js"
import { scanDigits } from "./src/internal/scan.js"
const t = "Please contact me at wkim@naver.com if you need anything. ping 192.168.120.234"
console.log(detect(t))
const out: any[] = []; scanDigits(t, { keepPrivateIps: false, keepLoopbackIps: false, allUrls: false }, out); console.log(out)
console.log(detect("ping 192.168.120.234"), detect("anything. ping 192.168.120.234"))
