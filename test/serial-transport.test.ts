/**
 * SerialTransport over a real socat pty pair, both ends real serialport code,
 * with each binding (the direct-I/O one, hardware/direct-io-binding.ts, and
 * the stock bindings-cpp one): it must move bytes in order when the OS output
 * buffer fills up, deliver replies, report a far side that goes away, and
 * stay quiet on close(). The direct binding falls back to the stock one when
 * a port's internals are not what it expects.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { directIoBinding, directIoUnsupported } from '../hardware/direct-io-binding.js';
import { SERIAL_BINDINGS, SerialTransport, serialBindingFromEnv } from '../hardware/serial-transport.js';
import { captureLogger } from './helpers/board-rig.js';

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

for (const binding of SERIAL_BINDINGS) {
  describe(`${binding} binding`, () => {
    test('256 KB written (drained or not) while the far side does not read arrive whole and in order, and replies come back', {
      timeout: 20_000,
    }, async () => {
      await startPair();
      const a = new SerialTransport({ path: near, baudRate: 115200, binding });
      await a.open();
      assert.equal(a.binding, binding);
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
      const a = new SerialTransport({ path: near, baudRate: 115200, binding });
      await a.open();
      const closed = new Promise<Error>((resolve) => a.once('close', resolve));
      await stopPair();
      const error = await closed;
      assert.ok(error instanceof Error);
      assert.equal(a.isOpen, false);
      await assert.rejects(a.write('1 PING\n'), /not open/);
      await assert.rejects(a.write('1 PING\n', { drain: false }), /not open/);

      await startPair();
      const b = new SerialTransport({ path: near, baudRate: 115200, binding });
      let events = 0;
      b.on('close', () => events++);
      b.on('error', () => events++);
      await b.open();
      await b.close();
      // The far side vanishing after close() must not be reported either (waits for socat's exit).
      await stopPair();
      assert.equal(events, 0);
    });
  });
}

describe('choosing the binding', () => {
  test('PIPDU_SERIAL_BINDING picks it; unset means direct; a bad value is BAD_CONFIG at construction', () => {
    assert.equal(serialBindingFromEnv(undefined), 'direct');
    assert.equal(serialBindingFromEnv(''), 'direct');
    assert.equal(serialBindingFromEnv('stock'), 'stock');
    assert.equal(serialBindingFromEnv('direct'), 'direct');
    const previous = process.env.PIPDU_SERIAL_BINDING;
    process.env.PIPDU_SERIAL_BINDING = 'fast';
    try {
      assert.throws(
        () => new SerialTransport({ path: '/dev/null', baudRate: 115200 }),
        (error: Error & { code?: string }) =>
          error.code === 'BAD_CONFIG' &&
          error.message === 'PIPDU_SERIAL_BINDING is "fast": valid values are direct, stock',
      );
      // An explicit option wins over the environment.
      assert.equal(
        new SerialTransport({ path: '/dev/null', baudRate: 115200, binding: 'stock' }).binding,
        null,
      );
    } finally {
      if (previous === undefined) delete process.env.PIPDU_SERIAL_BINDING;
      else process.env.PIPDU_SERIAL_BINDING = previous;
    }
  });

  test('PIPDU_SERIAL_BINDING=stock makes a transport without the option open with the stock binding', async () => {
    const previous = process.env.PIPDU_SERIAL_BINDING;
    process.env.PIPDU_SERIAL_BINDING = 'stock';
    let transport: SerialTransport;
    try {
      transport = new SerialTransport({ path: near, baudRate: 115200 });
    } finally {
      if (previous === undefined) delete process.env.PIPDU_SERIAL_BINDING;
      else process.env.PIPDU_SERIAL_BINDING = previous;
    }
    await startPair();
    try {
      await transport.open();
      assert.equal(transport.binding, 'stock');
    } finally {
      await transport.close();
      await stopPair();
    }
  });
});

describe('the direct binding checks the internals it uses', () => {
  /** A port shaped like bindings-cpp's LinuxPortBinding, minus what `strip` removes. */
  function fakePort(strip: (port: Record<string, unknown>) => void = () => {}) {
    const read = async () => ({ buffer: Buffer.alloc(0), bytesRead: 0 });
    const write = async () => {};
    const port: Record<string, unknown> = {
      fd: 42,
      isOpen: true,
      read,
      write,
      poller: { once: () => {}, poll: () => {} },
    };
    strip(port);
    return { port, read, write };
  }

  function fakeStock(port: object) {
    return {
      list: async () => [],
      open: async () => port,
    } as unknown as Parameters<typeof directIoBinding>[0];
  }

  const broken: Array<[string, (port: Record<string, unknown>) => void, RegExp]> = [
    ['no fd', (port) => delete port.fd, /no numeric fd/],
    ['a null fd', (port) => (port.fd = null), /no numeric fd/],
    ['an fd that is not a number', (port) => (port.fd = '42'), /no numeric fd/],
    ['isOpen false', (port) => (port.isOpen = false), /isOpen/],
    ['no read method', (port) => delete port.read, /read\/write/],
    ['no poller', (port) => delete port.poller, /no poller/],
    ['a poller without poll()', (port) => (port.poller = { once: () => {} }), /once\/poll/],
    ['a poller without once()', (port) => (port.poller = { poll: () => {} }), /once\/poll/],
  ];

  for (const [what, strip, reason] of broken) {
    test(`a port with ${what} stays the stock port, and the fallback is told why`, async () => {
      const { port, read, write } = fakePort(strip);
      const reasons: string[] = [];
      const binding = directIoBinding(fakeStock(port), (why) => reasons.push(why));
      const opened = (await binding.open({ path: '/dev/fake', baudRate: 115200 })) as unknown as Record<
        string,
        unknown
      >;
      assert.equal(opened, port);
      assert.equal(opened.write, write, 'write was not replaced');
      if ('read' in port) assert.equal(opened.read, read, 'read was not replaced');
      assert.equal(reasons.length, 1);
      assert.match(reasons[0]!, reason);
    });
  }

  test('a port with the expected internals gets the direct read and write, and no fallback', async () => {
    const { port, read, write } = fakePort();
    assert.equal(directIoUnsupported(port), null);
    const reasons: string[] = [];
    const opened = (await directIoBinding(fakeStock(port), (why) => reasons.push(why)).open({
      path: '/dev/fake',
      baudRate: 115200,
    })) as unknown as Record<string, unknown>;
    assert.notEqual(opened.read, read);
    assert.notEqual(opened.write, write);
    assert.deepEqual(reasons, []);
    assert.match(String(directIoUnsupported(null)), /not an object/);
  });

  test('over a real pty: a port whose internals differ falls back, works, and is logged once', async () => {
    // bindings-cpp's own LinuxBinding, whose ports get a poller without poll(): the stock
    // read and write only call once()/stop()/destroy(), the direct binding must not take it.
    const bindings = await import('@serialport/bindings-cpp');
    const stockOpen = bindings.LinuxBinding.open;
    bindings.LinuxBinding.open = async (options) => {
      const port = await stockOpen.call(bindings.LinuxBinding, options);
      const poller = port.poller;
      Object.defineProperty(port, 'poller', {
        value: {
          once: (event: string, callback: (error?: Error | null) => void) =>
            poller.once(event as 'readable', callback),
          stop: () => poller.stop(),
          destroy: () => poller.destroy(),
        },
      });
      return port;
    };
    const { logger, lines } = captureLogger();
    const transport = new SerialTransport({ path: near, baudRate: 115200, binding: 'direct', logger });
    await startPair();
    const farSide = await open(far, constants.O_RDWR | constants.O_NOCTTY);
    try {
      for (let round = 0; round < 2; round++) {
        await transport.open();
        assert.equal(transport.binding, 'stock');
        await transport.write(`${round} PING\n`);
        const buffer = Buffer.alloc(64);
        const { bytesRead } = await farSide.read(buffer, 0, buffer.length, null);
        assert.equal(buffer.toString('latin1', 0, bytesRead), `${round} PING\n`);
        const fromFar = collector(transport);
        await farSide.write(`${round} OK PONG\n`);
        await fromFar.waitFor(10);
        assert.equal(fromFar.text, `${round} OK PONG\n`);
        await transport.close();
      }
      const fallbacks = lines.filter((line) => /direct I\/O unavailable/.test(String(line.msg)));
      assert.equal(fallbacks.length, 1, 'logged once, not once per open');
      assert.equal(fallbacks[0]!.level, 30);
      assert.equal(fallbacks[0]!.path, near);
      assert.match(String(fallbacks[0]!.reason), /once\/poll/);
    } finally {
      bindings.LinuxBinding.open = stockOpen;
      await transport.close();
      await farSide.close();
      await stopPair();
    }
  });
});
