/**
 * A lab worker process: receives { id, unit, seed, quick } over IPC, runs the unit, sends back
 * { id, result, seconds, cpu } (or { id, error }) and forwards the unit's progress lines as { id, log }.
 * Started by runLab with child_process.fork.
 *
 * Processes rather than worker threads: the native addon keeps process-wide state (the
 * metadata array each call reads), so two JavaScript threads of one process calling it at once
 * would read each other's shapes.
 */
import '../ops/tensor-methods.js'; // completes the Tensor class, as the main process's imports do
import { UNITS } from './registry.js';

interface Job { id: number; unit: string; seed: number; quick: boolean }

if (!process.send) throw new Error('src/lab/child.ts runs as a child process of runLab (child_process.fork)');
const send = (m: unknown) => process.send!(m);
process.on('message', (job: Job) => {
  const t0 = performance.now(), c0 = process.cpuUsage();
  try {
    const fn = UNITS[job.unit];
    if (!fn) throw new Error(`lab worker: unknown unit ${JSON.stringify(job.unit)}`);
    const result = fn(job.seed, { quick: job.quick, log: (line) => send({ id: job.id, log: line }) });
    const c = process.cpuUsage(c0);
    send({ id: job.id, result, seconds: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 });
  } catch (err) {
    send({ id: job.id, error: (err as Error).stack ?? String(err) });
  }
});
