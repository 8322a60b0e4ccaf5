/** vitest globalSetup of the projects whose tests run the real gpg: finds or provides it (see test-tools.ts). */
import { gpg } from "./test-tools.js"

export default function setup(): void {
  gpg()
}
