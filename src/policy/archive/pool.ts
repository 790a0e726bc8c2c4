/**
 * Archive inspection off the event loop and out of the server process: one long-lived child
 * process (node:child_process fork, started on first use, unref'd while idle) inspects archives;
 * the server only waits. A child process, not a worker thread: a worker that runs out of memory
 * on a single huge allocation (an archive parser handed a crafted count) can abort the whole
 * process in Node, where a child only ends itself. A child that overruns the time limit is
 * killed (its work is abandoned, not merely ignored) and the file is reported "cannot be
 * checked"; the next archive gets a fresh child. If no child can be started at all, inspection
 * runs in-process (still bounded, cooperative) and that is logged once.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { emptyReport, inspectFile, type InspectLimits, type InspectReport } from './inspect.js';
import type { InspectRequest } from './worker.js';

/** The child's heap: an archive that needs more cannot be checked. */
const CHILD_HEAP_MB = 512;

interface Pending {
  resolve: (r: InspectReport) => void;
  timer: NodeJS.Timeout;
  name: string;
  bytes: Buffer;
  extensions: ReadonlySet<string>;
  limits: InspectLimits;
  /** Inspection processes that died while this file was with them. */
  crashes: number;
}

let worker: ChildProcess | null = null;
let broken: string | null = null;
let nextId = 1;
const pending = new Map<number, Pending>();

function spawnWorker(): ChildProcess {
  const heap = `--max-old-space-size=${CHILD_HEAP_MB}`;
  const options = { serialization: 'advanced' as const, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] as Array<'ignore' | 'inherit' | 'ipc'> };
  if (!import.meta.url.endsWith('.ts')) return fork(fileURLToPath(new URL('./worker.js', import.meta.url)), [], { ...options, execArgv: [heap] });
  // Under tsx/vitest this module is TypeScript: the child loads worker.ts through tsx's loader.
  return fork(fileURLToPath(new URL('./worker.ts', import.meta.url)), [], { ...options, execArgv: [heap, '--import', import.meta.resolve('tsx')] });
}

/** Let the server exit while the child idles (the child ends when its channel closes). */
function idle(w: ChildProcess, on: boolean): void {
  const channel = w.channel as { ref(): void; unref(): void } | null | undefined;
  if (on) {
    w.unref();
    channel?.unref();
  } else {
    w.ref();
    channel?.ref();
  }
}

/**
 * The child died (or was killed for another file's overrun): give its other files to a fresh
 * one, once; a file that was with two children that died is "cannot be checked".
 */
function resubmitAll(): void {
  const again = [...pending.values()];
  pending.clear();
  for (const p of again) {
    clearTimeout(p.timer);
    if (p.crashes >= 1) {
      // A second child died with this file too: it is likely the cause (a crafted archive that
      // exhausts memory). "Cannot be checked", never a third try: no restart loop.
      const r = emptyReport();
      r.unscannable = `${p.name}: the inspection process failed on it twice`;
      p.resolve(r);
    } else void inspectArchive(p.bytes, p.name, p.extensions, p.limits, p.crashes + 1).then(p.resolve);
  }
}

function getWorker(): ChildProcess | null {
  if (worker) return worker;
  if (broken) return null;
  try {
    const w = spawnWorker();
    idle(w, true);
    let started = false;
    w.on('message', (m: { id: number; report?: InspectReport; error?: string; ready?: boolean }) => {
      if (m.ready) {
        started = true;
        return;
      }
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.report) p.resolve(m.report);
      else {
        const r = emptyReport();
        r.unscannable = `${p.name}: ${m.error ?? 'inspection failed'}`;
        p.resolve(r);
      }
      if (pending.size === 0) idle(w, true);
    });
    w.on('error', (e) => {
      if (worker === w) worker = null;
      if (!started) broken ??= e.message; // could not even start: inspect in-process from now on
      resubmitAll();
    });
    w.on('exit', (code, signal) => {
      if (worker === w) worker = null;
      if (!started) broken ??= `inspection process exited (${code ?? signal}) before starting`;
      resubmitAll();
    });
    worker = w;
    return w;
  } catch (e) {
    broken = e instanceof Error ? e.message : String(e);
    return null;
  }
}

/** The inspection child's process id while one runs (for the log and tests). */
export function inspectionPid(): number | null {
  return worker?.pid ?? null;
}

/** Why the child could not be used (null while it works); for the log. */
export function workerProblem(): string | null {
  return broken;
}

/** Inspect an archive in the child process (falls back to in-process when no child can run). */
export function inspectArchive(bytes: Buffer, name: string, extensions: ReadonlySet<string>, limits: InspectLimits, crashes = 0): Promise<InspectReport> {
  const w = getWorker();
  if (!w) return inspectFile(bytes, name, extensions, limits);
  const id = nextId++;
  return new Promise<InspectReport>((resolve) => {
    const timer = setTimeout(() => {
      // Over time: stop the work for real, answer "cannot be checked", start afresh next time.
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      const r = emptyReport();
      r.unscannable = `${name}: inspection time limit (${limits.timeMs} ms)`;
      resolve(r);
      if (worker === w) worker = null;
      w.kill('SIGKILL');
    }, limits.timeMs + 1000);
    pending.set(id, { resolve, timer, name, bytes, extensions, limits, crashes });
    idle(w, false);
    const req: InspectRequest = { id, bytes, name, extensions: [...extensions], limits };
    w.send(req);
  });
}
