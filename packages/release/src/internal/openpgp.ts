/**
 * OpenPGP symmetric encryption of whole files with `openpgp`, streamed so memory stays flat:
 * the output is what `gpg --symmetric` writes (SKESK + integrity-protected data) and
 * `gpg --batch --passphrase KEY -d` opens. Output goes to a temporary name, is fsynced and
 * renamed into place only when complete (and, when decrypting, only once the integrity check
 * at the end passed), so a crash never leaves a half file under the final name.
 */
import { createReadStream, createWriteStream } from "node:fs"
import { open, rename, rm } from "node:fs/promises"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as openpgp from "openpgp"

const fsyncFile = async (file: string): Promise<void> => {
  const h = await open(file, "r+")
  try {
    await h.sync()
  } finally {
    await h.close()
  }
}

/** The chunks of a web stream (read through its reader, so the DOM and Node typings both fit). */
async function* chunksOf(data: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = data.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    reader.releaseLock()
  }
}

const writeAtomic = async (out: string, data: ReadableStream<Uint8Array>): Promise<void> => {
  const tmp = `${out}.partial`
  try {
    await pipeline(Readable.from(chunksOf(data)), createWriteStream(tmp))
    await fsyncFile(tmp)
    await rename(tmp, out)
  } catch (e) {
    await rm(tmp, { force: true })
    throw e
  }
}

/** Encrypts `input` into `output` with a passphrase. */
export const encryptFile = async (input: string, output: string, passphrase: string): Promise<void> => {
  const message = await openpgp.createMessage({ binary: Readable.toWeb(createReadStream(input)) })
  const data = await openpgp.encrypt({ message, passwords: [passphrase], format: "binary" })
  await writeAtomic(output, data)
}

/** Decrypts `input` into `output` with a passphrase; fails (leaving no output) on a wrong key or damaged file. */
export const decryptFile = async (input: string, output: string, passphrase: string): Promise<void> => {
  const message = await openpgp.readMessage({ binaryMessage: Readable.toWeb(createReadStream(input)) })
  const { data } = await openpgp.decrypt({
    message,
    passwords: [passphrase],
    format: "binary",
    // Streams the plaintext; the integrity check at the end still fails the stream, and the
    // output is only renamed into place after it passed.
    config: { allowUnauthenticatedStream: true }
  })
  await writeAtomic(output, data)
}
