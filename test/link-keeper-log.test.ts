import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { LinkKeeper } from '../hardware/link-keeper.js';
import { type LineDevice, MemoryTransport } from '../hardware/memory-transport.js';

// What the link keeper logs over an outage: the failed reopen once, and one line when the board is back.

class QuietDevice extends EventEmitter implements LineDevice {
  receive(): void {}
  start(): void {}
  stop(): void {}
}

test('an outage logs the failed open once and the return once, with the attempts it took', async () => {
  const lines: { level: number; msg: string; retries?: number }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  const transport = new MemoryTransport({ device: new QuietDevice(), description: 'memory' });
  const onlineCalls = new EventEmitter();
  const keeper: LinkKeeper = new LinkKeeper(
    { transport, logger: pino({ level: 'debug' }, stream), backoff: { initialMs: 5, maxMs: 10 } },
    {
      onOpen: async () => {
        keeper.online();
        onlineCalls.emit('online');
      },
      onData: () => {},
      onLost: () => {},
      onStop: () => {},
    },
  );
  try {
    await keeper.start();
    assert.equal(keeper.phase, 'online');
    transport.unplug();
    // Let it retry a few times against the missing port.
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (lines.filter((line) => /still/.test(line.msg)).length >= 3) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    const back = new Promise((resolve) => onlineCalls.once('online', resolve));
    transport.plug();
    await back;
    const warnings = lines.filter((line) => line.level === 40);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]?.msg ?? '', /relay board port cannot be opened: the device node is missing/);
    const info = lines.filter((line) => line.level === 30);
    assert.equal(info.length, 1, JSON.stringify(info));
    assert.match(info[0]?.msg ?? '', /^relay board back after \d+ s offline \(\d+ attempts\)$/);
    assert.ok((info[0]?.retries ?? 0) >= 4);
  } finally {
    await keeper.stop();
  }
});
