/**
 * Archive inspection off the event loop: one long-lived worker thread (node:worker_threads,
 * started on first use, unref'd) inspects archives; the main thread only waits. A worker that
 * overruns the time limit is terminated (its work is abandoned, not merely ignored) and the
 * file is reported "cannot be checked"; the next archive gets a fresh worker. If a worker
 * cannot be started at all, inspection runs in-process (still bounded, cooperative) and that
 * is logged once.
 */
import { Worker } from 'node:worker_threads';
import { emptyReport, inspectFile, type InspectLimits, type InspectReport } from './inspect.js';

interface Pending {
  resolve: (r: InspectReport) => void;
  timer: NodeJS.Timeout;
  name: string;
  bytes: Buffer;
  extensions: ReadonlySet<string>;
  limits: InspectLimits;
  /** Workers that died while this file was with them. */
  crashes: number;
}

let worker: Worker | null = null;
let broken: string | null = null;
let nextId = 1;
const pending = new Map<number, Pending>();

function spawnWorker(): Worker {
  const ts = import.meta.url.endsWith('.ts');
  if (!ts) return new Worker(new URL('./worker.js', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: 512 } });
  // Under tsx/vitest this module is TypeScript: the worker registers tsx's loader, then loads worker.ts.
  const target = JSON.stringify(new URL('./worker.ts', import.meta.url).href);
  const code = `import('tsx/esm/api').then(({ register }) => { register(); return import(${target}); });`;
  return new Worker(code, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 512 } });
}

/**
 * The worker died (or was stopped for another file's overrun): give its other files to a fresh
 * one, once; a file that was with two workers that died is "cannot be checked".
 */
function resubmitAll(): void {
  const again = [...pending.values()];
  pending.clear();
  for (const p of again) {
    clearTimeout(p.timer);
    if (p.crashes >= 1) {
      // A second worker died with this file too: it is likely the cause (a crafted archive that
      // exhausts memory). "Cannot be checked", never a third try: no restart loop.
      const r = emptyReport();
      r.unscannable = `${p.name}: the inspection worker failed on it twice`;
      p.resolve(r);
    } else void inspectArchive(p.bytes, p.name, p.extensions, p.limits, p.crashes + 1).then(p.resolve);
  }
}

function getWorker(): Worker | null {
  if (worker) return worker;
  if (broken) return null;
  try {
    const w = spawnWorker();
    w.unref();
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
      if (pending.size === 0) w.unref();
    });
    w.on('error', (e) => {
      if (worker === w) worker = null;
      if (!started) broken ??= e.message; // could not even start: inspect in-process from now on
      resubmitAll();
    });
    w.on('exit', (code) => {
      if (worker === w) worker = null;
      if (!started) broken ??= `worker exited with ${code} before starting`;
      resubmitAll();
    });
    worker = w;
    return w;
  } catch (e) {
    broken = e instanceof Error ? e.message : String(e);
    return null;
  }
}

/** Why the worker could not be used (null while it works); for the log. */
export function workerProblem(): string | null {
  return broken;
}

/** Inspect an archive in the worker thread (falls back to in-process when no worker can run). */
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
      void w.terminate();
    }, limits.timeMs + 1000);
    pending.set(id, { resolve, timer, name, bytes, extensions, limits, crashes });
    w.ref();
    const copy = new Uint8Array(bytes); // the message buffer stays with the main thread
    w.postMessage({ id, bytes: copy, name, extensions: [...extensions], limits }, [copy.buffer]);
  });
}
