/**
 * Blob files: content-addressed (sha256 hex) under <dir>/blobs/ab/cd/<hash>.
 * A file is written to <dir>/blobs/tmp/, fsynced, renamed into place and its directory fsynced,
 * so it is durable BEFORE the SQLite commit that references it. Small blobs never come here:
 * they live inline in the `blobs` table, inside the same commit as their message rows.
 */
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

/** Files without a row younger than this are left alone: another process may be about to commit them. */
export const ORPHAN_GRACE_MS = 60 * 60 * 1000;

export function sha256(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}

/** Above this size the hash is computed on libuv's thread pool (WebCrypto) instead of the event loop. */
const ASYNC_HASH_MIN_BYTES = 256 * 1024;

/** sha256 in hex; big inputs off the event loop (a 2 MB body costs milliseconds to hash). */
export async function sha256Async(raw: Buffer): Promise<string> {
  if (raw.length < ASYNC_HASH_MIN_BYTES) return sha256(raw);
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', raw)).toString('hex');
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Where the file of a blob lives under `root` (dir/blobs): two levels of fan-out by hash prefix. */
export function blobFilePath(root: string, hash: string): string {
  return path.join(root, hash.slice(0, 2), hash.slice(2, 4), hash);
}

export class BlobFiles {
  readonly root: string;
  private readonly tmp: string;
  /** Directories known to exist and to be durable (fsynced into their parent). */
  private readonly knownDirs = new Set<string>();

  constructor(dir: string) {
    this.root = path.join(dir, 'blobs');
    this.tmp = path.join(this.root, 'tmp');
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    mkdirSync(this.tmp, { recursive: true, mode: 0o700 });
    // Leftovers of writes interrupted by a crash never reached a commit: drop them. Only old ones:
    // another process (the CLI next to the server) may be writing a temp file right now.
    const cutoff = Date.now() - ORPHAN_GRACE_MS;
    for (const f of readdirSync(this.tmp)) {
      const p = path.join(this.tmp, f);
      try {
        if (statSync(p).mtimeMs < cutoff) unlinkSync(p);
      } catch {
        // gone already
      }
    }
  }

  /** Synchronous durable write, used inside a transaction when a file vanished under us (see Core.ensureBlobRow). */
  writeSync(hash: string, raw: Buffer): void {
    const final = this.pathOf(hash);
    const dir = path.dirname(final);
    mkdirSync(dir, { recursive: true });
    const tmp = path.join(this.tmp, `${hash}.${randomBytes(6).toString('hex')}`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      let off = 0;
      while (off < raw.length) off += writeSync(fd, raw, off, raw.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, final);
    for (const d of [dir, path.dirname(dir), this.root]) {
      const dfd = openSync(d, 'r');
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    }
  }

  /** Age of a blob file in ms, or null if missing. */
  ageMs(hash: string): number | null {
    try {
      return Date.now() - statSync(this.pathOf(hash)).mtimeMs;
    } catch {
      return null;
    }
  }

  pathOf(hash: string): string {
    return blobFilePath(this.root, hash);
  }

  exists(hash: string): boolean {
    return existsSync(this.pathOf(hash));
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    const parent = path.dirname(dir);
    if (parent !== this.root && parent.startsWith(this.root)) await this.ensureDir(parent);
    let created = false;
    try {
      await mkdir(dir);
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (created) await fsyncDir(parent);
    this.knownDirs.add(dir);
  }

  /** Write durably: temp file, fsync, rename, fsync the directory. */
  async write(hash: string, raw: Buffer): Promise<void> {
    const final = this.pathOf(hash);
    const dir = path.dirname(final);
    await this.ensureDir(dir);
    const tmp = path.join(this.tmp, `${hash}.${randomBytes(6).toString('hex')}`);
    // Private to the server's user, whatever the umask (mail and nothing else lives here).
    const fh = await open(tmp, 'w', 0o600);
    try {
      let off = 0;
      while (off < raw.length) {
        const { bytesWritten } = await fh.write(raw, off, raw.length - off);
        off += bytesWritten;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, final);
    await fsyncDir(dir);
  }

  async read(hash: string, range?: { start: number; end: number }): Promise<Buffer> {
    const fh = await open(this.pathOf(hash), 'r');
    try {
      const size = (await fh.stat()).size;
      const start = Math.max(0, Math.min(range?.start ?? 0, size));
      const end = Math.max(start, Math.min(range?.end ?? size, size));
      const buf = Buffer.alloc(end - start);
      let off = 0;
      while (off < buf.length) {
        const { bytesRead } = await fh.read(buf, off, buf.length - off, start + off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return off === buf.length ? buf : buf.subarray(0, off);
    } finally {
      await fh.close();
    }
  }

  stream(hash: string, range?: { start: number; end: number }): Readable {
    if (!range) return createReadStream(this.pathOf(hash));
    if (range.end <= range.start) return createReadStream(this.pathOf(hash), { start: 0, end: -1 });
    // createReadStream's `end` is inclusive.
    return createReadStream(this.pathOf(hash), { start: range.start, end: range.end - 1 });
  }

  removeSync(hash: string): void {
    try {
      unlinkSync(this.pathOf(hash));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  async remove(hash: string): Promise<void> {
    try {
      await unlink(this.pathOf(hash));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  async size(hash: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(hash))).size;
    } catch {
      return null;
    }
  }

  /** Every blob file name on disk (for consistency checks and sweeping orphans). */
  listSync(): string[] {
    const out: string[] = [];
    for (const a of readdirSync(this.root)) {
      if (a === 'tmp') continue;
      const pa = path.join(this.root, a);
      if (!statSync(pa).isDirectory()) continue;
      for (const b of readdirSync(pa)) {
        const pb = path.join(pa, b);
        if (!statSync(pb).isDirectory()) continue;
        for (const f of readdirSync(pb)) out.push(f);
      }
    }
    return out;
  }
}
