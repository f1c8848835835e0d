/**
 * SerialTransport over a real socat pty pair, both ends real serialport code:
 * the direct-I/O binding (hardware/direct-io-binding.ts) must move bytes in
 * order when the OS output buffer fills up, deliver replies, report a far
 * side that goes away, and stay quiet on close().
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SerialTransport } from '../hardware/serial-transport.js';

let dir: string;
let socat: ChildProcess | null = null;
let near: string;
let far: string;

async function startPair(): Promise<void> {
  near = path.join(dir, 'near');
  far = path.join(dir, 'far');
  socat = spawn('socat', [`pty,raw,echo=0,link=${near}`, `pty,raw,echo=0,link=${far}`], { stdio: 'ignore' });
  for (;;) {
    const ready = await Promise.all([access(near), access(far)]).then(
      () => true,
      () => false,
    );
    if (ready) return;
    if (socat.exitCode !== null) throw new Error('socat exited');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function stopPair(): Promise<void> {
  const child = socat;
  socat = null;
  if (!child || child.exitCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await gone;
}

/** Collects what a transport receives; resolves `waitFor(n)` once n bytes arrived. */
function collector(transport: SerialTransport) {
  let text = '';
  let waiter: { bytes: number; resolve: () => void } | null = null;
  transport.on('data', (chunk) => {
    text += chunk;
    if (waiter && text.length >= waiter.bytes) waiter.resolve();
  });
  return {
    get text() {
      return text;
    },
    waitFor(bytes: number): Promise<void> {
      if (text.length >= bytes) return Promise.resolve();
      return new Promise((resolve) => {
        waiter = { bytes, resolve };
      });
    },
  };
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-transport-'));
});

after(async () => {
  await stopPair();
  await rm(dir, { recursive: true, force: true });
});

test('256 KB written (drained or not) while the far side does not read arrive whole and in order, and replies come back', {
  timeout: 20_000,
}, async () => {
  await startPair();
  const a = new SerialTransport({ path: near, baudRate: 115200 });
  await a.open();
  // The far side is a plain fd that reads only after every write was queued: the pty and
  // socat buffers fill up and the transport's writes must wait, not drop or reorder.
  const farSide = await open(far, constants.O_RDWR | constants.O_NOCTTY);
  try {
    const chunks = Array.from(
      { length: 256 },
      (_, i) => `${String(i).padStart(4, '0')}${'x'.repeat(1019)}\n`,
    );
    const expected = chunks.join('');
    // Drained and undrained writes interleaved: order holds either way.
    const writes = Promise.all(chunks.map((chunk, i) => a.write(chunk, { drain: i % 2 === 0 })));
    let received = '';
    const buffer = Buffer.alloc(65536);
    while (received.length < expected.length) {
      const { bytesRead } = await farSide.read(buffer, 0, buffer.length, null);
      received += buffer.toString('latin1', 0, bytesRead);
    }
    await writes;
    assert.equal(received.length, expected.length);
    assert.ok(received === expected, 'bytes arrived out of order or changed');

    const fromFar = collector(a);
    await farSide.write('1 OK PONG\n');
    await fromFar.waitFor(10);
    assert.equal(fromFar.text, '1 OK PONG\n');
  } finally {
    await a.close();
    await farSide.close();
    await stopPair();
  }
});

test('a far side that goes away is reported as close; close() itself emits nothing', async () => {
  await startPair();
  const a = new SerialTransport({ path: near, baudRate: 115200 });
  await a.open();
  const closed = new Promise<Error>((resolve) => a.once('close', resolve));
  await stopPair();
  const error = await closed;
  assert.ok(error instanceof Error);
  assert.equal(a.isOpen, false);
  await assert.rejects(a.write('1 PING\n'), /not open/);
  await assert.rejects(a.write('1 PING\n', { drain: false }), /not open/);

  await startPair();
  const b = new SerialTransport({ path: near, baudRate: 115200 });
  let events = 0;
  b.on('close', () => events++);
  b.on('error', () => events++);
  await b.open();
  await b.close();
  // The far side vanishing after close() must not be reported either (waits for socat's exit).
  await stopPair();
  assert.equal(events, 0);
});
