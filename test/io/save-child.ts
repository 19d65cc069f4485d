/**
 * Child process for kill-save.test.ts (not a test itself): saves two float32 tensors of MB
 * megabytes each over FILE with saveFile. Mode `pause` stops for good inside the third
 * fs.writeSync call (length, header, first tensor written; second tensor not) after printing
 * "paused", so the parent can SIGKILL it mid-save; mode `run` prints "saving", saves, prints
 * "saved".
 *
 *   node --import tsx test/io/save-child.ts FILE pause|run MB
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';

const require = createRequire(import.meta.url);
const fs = require('node:fs') as typeof import('node:fs');
const [file, mode, mb] = process.argv.slice(2);
const write = fs.writeSync;
const say = (line: string): void => void write(1, `${line}\n`);

if (mode === 'pause') {
  let calls = 0;
  fs.writeSync = ((...args: Parameters<typeof write>): number => {
    const n = (write as (...a: unknown[]) => number)(...args);
    if (++calls === 3) {
      say('paused');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // blocks until killed
    }
    return n;
  }) as typeof write;
  syncBuiltinESMExports(); // make `import * as fs from 'node:fs'` in src/io see the wrapper
}

const { saveFile } = await import('../../src/io/files.js');
const { Tensor } = await import('../../src/tensor/tensor.js');
const n = Number(mb) * 262_144;
const a = Tensor.fromTypedArray(new Float32Array(n).fill(2), [n], 'float32');
const b = Tensor.fromTypedArray(new Float32Array(n).fill(3), [n], 'float32');
say('saving');
saveFile(file, { a, b }, { run: 'new' });
say('saved');
