import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstat, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SerialPort } from 'serialport';
import { exists, type SimulatorProcess, startSimulator } from './helpers/simulator-process.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Everything a test starts is stopped when it ends, even when it fails half-way. */
async function simulator(
  t: TestContext,
  options?: Parameters<typeof startSimulator>[0],
): Promise<SimulatorProcess> {
  const sim = await startSimulator(options);
  t.after(() => sim.stop());
  return sim;
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-sim-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A real serialport client on the pty, reading lines. */
class Client {
  readonly lines: string[] = [];
  readonly errors: Error[] = [];
  closeError: (Error & { disconnected?: boolean }) | null | undefined = undefined;
  private partial = '';
  private next = 0;
  private waiter: (() => void) | null = null;

  private constructor(readonly port: SerialPort) {
    port.on('error', (error) => this.errors.push(error));
    port.on('close', (error?: Error) => {
      this.closeError = error ?? null;
      this.waiter?.();
    });
    port.on('data', (chunk: Buffer) => {
      this.partial += chunk.toString('latin1');
      let newline = this.partial.indexOf('\n');
      while (newline !== -1) {
        this.lines.push(this.partial.slice(0, newline));
        this.partial = this.partial.slice(newline + 1);
        newline = this.partial.indexOf('\n');
      }
      this.waiter?.();
    });
  }

  static async open(t: TestContext, portPath: string): Promise<Client> {
    const port = new SerialPort({ path: portPath, baudRate: 115200, hupcl: false, autoOpen: false });
    const client = new Client(port);
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    t.after(() => client.close());
    return client;
  }

  /** The next line received that matches (lines before it are skipped). */
  async take(matches: (line: string) => boolean = () => true, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.next < this.lines.length) {
        const line = this.lines[this.next++]!;
        if (matches(line)) return line;
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no matching line within ${timeoutMs} ms; got ${JSON.stringify(this.lines)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = null;
          resolve();
        };
      });
    }
  }

  /** Sends a request and returns the next reply line, skipping events (`!`) and anything else. */
  async ask(line: string): Promise<string> {
    const id = line.split(' ')[0]!;
    this.port.write(`${line}\n`);
    return this.take((received) => !received.startsWith('!') && received.startsWith(`${id} `));
  }

  /** The next line that is not a `! CURRENT` event, whatever it is. */
  nextNonTelemetry(): Promise<string> {
    return this.take((line) => !line.startsWith('! CURRENT '));
  }

  async close(): Promise<void> {
    if (!this.port.isOpen) return;
    await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }
}

/** Alive and not a zombie. */
async function running(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('simulator CLI --pty', () => {
  test('HELLO, STATE, SET round trip through a real pty; requests and relays are reported', async (t) => {
    const sim = await simulator(t);
    assert.match(sim.bootId, /^[0-9A-F]{1,8}$/);
    assert.match(sim.serial ?? '', /^[0-9A-F]{16}$/, 'a generated serial, announced in ready');
    assert.ok((await lstat(sim.path)).isSymbolicLink());
    const client = await Client.open(t, sim.path);
    assert.equal(
      await client.ask('1 HELLO'),
      `1 OK PIPDU/1 channels=16 fw=1.0.0-sim features=current,persist boot=${sim.bootId} serial=${sim.serial}`,
    );
    assert.equal(await client.ask('2 STATE'), '2 OK 0000');
    assert.equal(await client.ask('3 SET 4 1'), '3 OK 0010');
    assert.equal(await client.ask('4 MASK 00ef'), '4 OK 00EF');
    assert.match(await client.ask('5 SET 99 1'), /^5 ERR BADCH channel 99 out of range 0\.\.15$/);
    assert.match(await client.ask('6 CURRENT'), /^6 OK (\d+,){15}\d+$/);
    await sim.waitFor((event) => event.event === 'request' && event.line === '6 CURRENT', 3000, 0);
    assert.deepEqual(sim.requests, [
      '1 HELLO',
      '2 STATE',
      '3 SET 4 1',
      '4 MASK 00ef',
      '5 SET 99 1',
      '6 CURRENT',
    ]);
    const masks = sim.events.filter((event) => event.event === 'relays').map((event) => event.mask);
    assert.deepEqual(masks, ['0010', '00EF']);
    await client.close();
    await sim.stop();
  });

  test('the pty outlives a client: close, reopen and go on', async (t) => {
    const sim = await simulator(t);
    const first = await Client.open(t, sim.path);
    assert.equal(await first.ask('1 SET 0 1'), '1 OK 0001');
    await first.close();
    const second = await Client.open(t, sim.path);
    assert.equal(await second.ask('2 STATE'), '2 OK 0001');
    await second.close();
    await sim.stop();
  });

  test('telemetry arrives about every --telemetry period', async (t) => {
    const sim = await simulator(t, { args: ['--telemetry', '50ms', '--power-up-mask', '0003'] });
    const client = await Client.open(t, sim.path);
    const line = await client.take((received) => received.startsWith('! CURRENT '));
    const values = line.slice('! CURRENT '.length).split(',').map(Number);
    assert.equal(values.length, 16);
    assert.ok(values[0]! > 0 && values[1]! > 0, line);
    assert.deepEqual(values.slice(2), new Array(14).fill(0));
    await sim.stop();
  });

  test('SIGUSR1 is a power loss: ! BOOT with the power-up mask, a new boot id in HELLO', async (t) => {
    const sim = await simulator(t, { args: ['--power-up-mask', '8001'] });
    const client = await Client.open(t, sim.path);
    const before = sim.bootId;
    assert.equal(await client.ask('1 MASK 00FF'), '1 OK 00FF');
    const since = sim.events.length;
    sim.signal('SIGUSR1');
    assert.equal(
      await client.nextNonTelemetry(),
      '! BOOT 8001',
      'the power-up boot line was not sent: this is the first',
    );
    const boot = await sim.waitFor((event) => event.event === 'boot', 3000, since);
    assert.equal(boot.mask, '8001');
    assert.notEqual(sim.bootId, before);
    assert.equal(
      await client.ask('2 HELLO'),
      `2 OK PIPDU/1 channels=16 fw=1.0.0-sim features=current,persist boot=${sim.bootId} serial=${sim.serial}`,
      'a new boot id, the same serial',
    );
    assert.equal(await client.ask('3 STATE'), '3 OK 8001');
    await client.close();
    await sim.stop();
  });

  test('--eeprom keeps the power-up mask and the serial across simulator processes', async (t) => {
    const dir = await tempDir(t);
    const eeprom = path.join(dir, 'eeprom');
    const first = await simulator(t, { args: ['--eeprom', eeprom] });
    const serial = first.serial;
    assert.match(serial ?? '', /^[0-9A-F]{16}$/);
    assert.equal(await readFile(eeprom, 'utf8'), `\nserial=${serial}\n`, 'no mask stored yet, the serial is');
    const client = await Client.open(t, first.path);
    assert.equal(await client.ask('1 DEFAULT'), '1 OK 0000');
    assert.equal(await client.ask('2 DEFAULT 0a05'), '2 OK 0A05');
    await first.waitFor((event) => event.event === 'default' && event.mask === '0A05', 3000, 0);
    assert.equal(
      await readFile(eeprom, 'utf8'),
      `0A05\nserial=${serial}\n`,
      'written by the time the reply left',
    );
    await client.close();
    await first.kill(); // even a hard kill keeps it

    const second = await simulator(t, { args: ['--eeprom', eeprom] });
    const boot = second.events.find((event) => event.event === 'boot');
    assert.equal(boot?.mask, '0A05');
    assert.equal(second.serial, serial, 'the same board');
    const again = await Client.open(t, second.path);
    assert.equal(await again.ask('1 STATE'), '1 OK 0A05');
    assert.equal(await again.ask('2 DEFAULT'), '2 OK 0A05');
    assert.match(await again.ask('3 HELLO'), new RegExp(` serial=${serial}$`));
    await again.close();
    await second.stop();
  });

  test('--serial sets serial= (and overrides the --eeprom one); --no-serial acts as an older firmware', async (t) => {
    const dir = await tempDir(t);
    const eeprom = path.join(dir, 'eeprom');
    const named = await simulator(t, { args: ['--serial', 'c0ffee0012', '--eeprom', eeprom] });
    assert.equal(named.serial, 'C0FFEE0012');
    const client = await Client.open(t, named.path);
    assert.match(await client.ask('1 HELLO'), / boot=[0-9A-F]{1,8} serial=C0FFEE0012$/);
    await client.close();
    await named.stop();
    assert.equal(await readFile(eeprom, 'utf8'), '\nserial=C0FFEE0012\n');

    const older = await simulator(t, { args: ['--no-serial'] });
    assert.equal(older.serial, null);
    const plain = await Client.open(t, older.path);
    assert.equal(
      await plain.ask('1 HELLO'),
      `1 OK PIPDU/1 channels=16 fw=1.0.0-sim features=current,persist boot=${older.bootId}`,
    );
    await plain.close();
    await older.stop();
  });

  test('--set-delay and control set-delay: SET and MASK answer late, switching as they answer', async (t) => {
    const sim = await simulator(t, { args: ['--set-delay', '150ms'] });
    const client = await Client.open(t, sim.path);
    assert.equal(await client.ask('1 PING'), '1 OK PONG', 'other verbs answer at once');
    const since = sim.events.length;
    const started = performance.now();
    client.port.write('2 SET 11 1\n3 STATE\n');
    await sim.waitFor((event) => event.event === 'request' && event.line === '3 STATE', 3000, since);
    assert.equal(
      sim.events.slice(since).filter((event) => event.event === 'relays').length,
      0,
      'not switched on arrival',
    );
    assert.equal(await client.nextNonTelemetry(), '2 OK 0800');
    assert.ok(performance.now() - started >= 140, 'SET answered after --set-delay');
    assert.equal(await client.nextNonTelemetry(), '3 OK 0800', 'STATE waited its turn and sees the switch');
    const relays = await sim.waitFor((event) => event.event === 'relays', 3000, since);
    assert.equal(relays.mask, '0800');
    await sim.command('set-delay 0');
    const fast = performance.now();
    assert.equal(await client.ask('4 MASK 0001'), '4 OK 0001');
    assert.ok(performance.now() - fast < 140, 'set-delay 0: answered at once');
    await assert.rejects(sim.command('set-delay -5'), /refused "set-delay -5"/);
    await assert.rejects(sim.command('set-delay'), /refused "set-delay"/);
    await client.close();
    await sim.stop();
  });

  test('control mute: requests are seen but not answered; unmute answers again', async (t) => {
    const sim = await simulator(t);
    const client = await Client.open(t, sim.path);
    assert.equal(await client.ask('1 PING'), '1 OK PONG');
    await sim.command('mute');
    const since = sim.events.length;
    client.port.write('2 SET 1 1\n');
    await sim.waitFor((event) => event.event === 'request' && event.line === '2 SET 1 1', 3000, since);
    await sim.command('unmute');
    client.port.write('3 STATE\n');
    assert.equal(await client.nextNonTelemetry(), '3 OK 0000', 'no reply to 2, and it was not obeyed');
    await sim.stop();
  });

  test('control garbage, event, delay, drop, load and reset', async (t) => {
    const sim = await simulator(t, { args: ['--seed', '7'] });
    const client = await Client.open(t, sim.path);
    await sim.command('garbage #@! not a reply');
    assert.equal(await client.nextNonTelemetry(), '#@! not a reply');
    await sim.command('event FAULT relay 3 stuck');
    assert.equal(await client.nextNonTelemetry(), '! FAULT relay 3 stuck');

    await sim.command('delay 150');
    const started = performance.now();
    assert.equal(await client.ask('1 PING'), '1 OK PONG');
    assert.ok(performance.now() - started >= 140, 'the reply was delayed');
    await sim.command('delay 0');

    await sim.command('drop 1');
    client.port.write('2 SET 2 1\n');
    await sim.waitFor((event) => event.event === 'relays' && event.mask === '0004');
    await sim.command('drop 0');
    client.port.write('3 STATE\n');
    assert.equal(await client.nextNonTelemetry(), '3 OK 0004', 'obeyed, reply dropped');

    await sim.command('load 2 777');
    const reading = (await client.ask('4 CURRENT')).split(' ')[2]!.split(',').map(Number)[2]!;
    assert.ok(Math.abs(reading - 777) <= 16, String(reading));

    const before = sim.bootId;
    await sim.command('reset');
    assert.equal(await client.nextNonTelemetry(), '! BOOT 0000');
    assert.notEqual(sim.bootId, before);

    await assert.rejects(sim.command('drop 2'), /refused "drop 2"/);
    await assert.rejects(sim.command('frobnicate'), /refused "frobnicate"/);
    await client.close();
    await sim.stop();
  });

  test('kill -9: the port closes and the pty link disappears', async (t) => {
    const sim = await simulator(t);
    const client = await Client.open(t, sim.path);
    assert.equal(await client.ask('1 PING'), '1 OK PONG');
    const closed = once(client.port, 'close');
    await sim.kill(); // also waits for the link to be gone
    const [error] = (await Promise.race([
      closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('the port did not emit close')), 3000)),
    ])) as [(Error & { disconnected?: boolean }) | undefined];
    assert.equal(error?.disconnected, true, 'closed as a disconnect');
    assert.equal(await exists(sim.path), false);
    assert.equal(client.errors.length, 0);
    await assert.rejects(Client.open(t, sim.path), /ENOENT|No such file/);
  });

  test('SIGTERM: a clean exit that removes the link; control exit too', async (t) => {
    const sim = await simulator(t);
    await sim.stop();
    assert.equal(await exists(sim.path), false);
    assert.ok(sim.exited);
    const other = await simulator(t);
    other.control('exit');
    await other.waitFor(() => false, 5000).catch(() => {});
    assert.ok(other.exited);
    assert.equal(await exists(other.path), false);
  });

  test('a stale link left behind by a killed socat is replaced', async (t) => {
    const dir = await tempDir(t);
    const link = path.join(dir, 'board');
    await symlink('/dev/pts/does-not-exist', link);
    const sim = await simulator(t, { path: link });
    const client = await Client.open(t, link);
    assert.equal(await client.ask('1 PING'), '1 OK PONG');
    assert.match(sim.stderr, /replacing the old link/);
    await client.close();
    await sim.stop();
  });

  test('features and channels options reach HELLO', async (t) => {
    const sim = await simulator(t, { args: ['--features', '', '--channels', '8', '--firmware', '9.9.9'] });
    const client = await Client.open(t, sim.path);
    assert.equal(
      await client.ask('1 HELLO'),
      `1 OK PIPDU/1 channels=8 fw=9.9.9 features= boot=${sim.bootId} serial=${sim.serial}`,
    );
    assert.match(await client.ask('2 CURRENT'), /^2 ERR UNSUPPORTED /);
    assert.equal(await client.ask('3 MASK 81'), '3 OK 81');
    await client.close();
    await sim.stop();
  });
});

describe('simulator CLI --legacy', () => {
  for (const format of ['comma', 'space'] as const) {
    test(`${format} telemetry over the pty; single-letter commands, no replies`, async (t) => {
      const sim = await simulator(t, { args: ['--legacy', '--format', format, '--telemetry', '40'] });
      assert.equal(sim.bootId, '');
      const boot = sim.events.find((event) => event.event === 'boot');
      assert.equal(boot?.mask, 'FFFF', 'the original firmware powers up with every relay on');
      const client = await Client.open(t, sim.path);
      const pattern =
        format === 'comma' ? /^(\d+\.\d\d,){15}\d+\.\d\d$/ : /^(\d+\.\d\d ){16}$/; /* trailing space */
      const line = await client.take();
      assert.match(line, pattern);
      assert.ok(
        line
          .split(/[ ,]/)
          .filter(Boolean)
          .every((value) => Number(value) > 0),
        'all on at boot',
      );
      client.port.write('q');
      await sim.waitFor((event) => event.event === 'relays' && event.mask === '0000', 3000, 0);
      client.port.write('C');
      await sim.waitFor((event) => event.event === 'relays' && event.mask === '0004', 3000, 0);
      const values = (received: string) => received.split(/[ ,]/).filter(Boolean).map(Number);
      const onlyChannel2 = await client.take((received) => {
        const amps = values(received);
        return (
          amps.length === 16 && amps[2]! > 0 && amps.every((value, channel) => channel === 2 || value === 0)
        );
      });
      assert.match(onlyChannel2, pattern);
      assert.deepEqual(sim.requests, ['q', 'C']);
      await client.close();
      await sim.stop();
    });
  }
});

describe('simulator CLI --stdio', () => {
  test('speaks PRP/1 on stdin/stdout, JSON on stderr, SIGUSR1 resets, stdin EOF exits', async (t) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'hardware/simulator-cli.ts', '--stdio'], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('latin1');
    child.stderr.setEncoding('utf8');
    const waitUntil = (stream: () => string, pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${pattern} not seen; stdout ${out}; stderr ${err}`)),
          5000,
        );
        const check = () => {
          const match = pattern.exec(stream());
          if (match) {
            clearTimeout(timer);
            child.stdout.off('data', check);
            child.stderr.off('data', check);
            resolve(match);
          }
        };
        child.stdout.on('data', check);
        child.stderr.on('data', check);
        check();
      });
    child.stdout.on('data', (text: string) => {
      out += text;
    });
    child.stderr.on('data', (text: string) => {
      err += text;
    });
    const ready = await waitUntil(() => err, /\{"event":"ready".*\}\n/);
    const readyEvent = JSON.parse(ready[0]) as { bootId: string; serial: string; pid: number };
    assert.equal(readyEvent.pid, child.pid);
    await waitUntil(() => out, /^! BOOT 0000\n/);
    child.stdin.write('1 HELLO\n2 SET 1 1\n');
    await waitUntil(
      () => out,
      new RegExp(
        `1 OK PIPDU/1 channels=16 fw=1.0.0-sim features=current,persist boot=${readyEvent.bootId} serial=${readyEvent.serial}\n2 OK 0002\n`,
      ),
    );
    await waitUntil(() => err, /\{"event":"request","line":"2 SET 1 1","at":[\d.]+\}/);
    child.kill('SIGUSR1');
    await waitUntil(() => out, /\n! BOOT 0000\n/);
    const exited = once(child, 'exit');
    child.stdin.end();
    const [code] = await exited;
    assert.equal(code, 0);
  });

  test('works behind socat pty,raw,echo=0,link=X EXEC:...', async (t) => {
    const dir = await tempDir(t);
    const link = path.join(dir, 'board');
    const socat = spawn(
      'socat',
      [
        `pty,raw,echo=0,link=${link}`,
        `EXEC:${process.execPath} --import tsx hardware/simulator-cli.ts --stdio`,
      ],
      { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    socat.stderr.setEncoding('utf8');
    socat.stderr.on('data', (text: string) => {
      err += text;
    });
    t.after(() => {
      if (socat.exitCode === null && socat.signalCode === null) socat.kill('SIGTERM');
    });
    // The simulator's stderr (JSON) comes through socat's.
    const deadline = Date.now() + 10_000;
    while (!/"event":"ready"/.test(err)) {
      assert.ok(Date.now() < deadline, `no ready event: ${err}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const ready = JSON.parse(/\{"event":"ready".*\}/.exec(err)![0]) as {
      bootId: string;
      serial: string;
      pid: number;
    };
    const client = await Client.open(t, link);
    assert.equal(
      await client.ask('1 HELLO'),
      `1 OK PIPDU/1 channels=16 fw=1.0.0-sim features=current,persist boot=${ready.bootId} serial=${ready.serial}`,
    );
    assert.equal(await client.ask('2 SET 15 1'), '2 OK 8000');
    process.kill(ready.pid, 'SIGUSR1');
    while ((err.match(/"event":"boot"/g) ?? []).length < 2) {
      assert.ok(Date.now() < deadline, `no second boot event: ${err}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await client.take((line) => line === '! BOOT 0000');
    const hello = await client.ask('3 HELLO');
    const bootId = / boot=([0-9A-F]{1,8}) serial=([0-9A-F]{16})$/.exec(hello);
    assert.ok(bootId, hello);
    assert.notEqual(bootId[1], ready.bootId, 'a new boot id after the reset');
    assert.equal(bootId[2], ready.serial, 'the same serial');
    // Close first: a far side hanging up under a pending read can send serialport
    // into its busy loop (bindings-cpp #162); the kill case is tested above.
    await client.close();
    const socatExit = once(socat, 'exit');
    socat.kill('SIGTERM');
    await socatExit;
    assert.equal(await exists(link), false, 'socat removed its link');
    // socat passes its SIGTERM on (and, killed harder, the simulator would see EOF
    // on its stdin): either way it exits by itself. Orphaned by socat, it may stay
    // a zombie until init reaps it; that counts as gone.
    const gone = Date.now() + 5000;
    while (await running(ready.pid)) {
      assert.ok(Date.now() < gone, 'the --stdio simulator outlived socat');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });

  test('bad arguments exit 2 with the usage', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'hardware/simulator-cli.ts', '--stdio', '--pty', 'x'],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      err += text;
    });
    const [code] = await once(child, 'exit');
    assert.equal(code, 2);
    assert.match(err, /exactly one of --pty <path> or --stdio/);
    assert.match(err, /usage: simulator-cli/);
  });
  test('--serial, --no-serial and --set-delay: bad values exit 2 with one clear line; --help lists them', async () => {
    const run = async (args: string[]) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'hardware/simulator-cli.ts', ...args], {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
      child.stderr.setEncoding('utf8').on('data', (text: string) => (err += text));
      const [code] = await once(child, 'exit');
      return { code, out, firstLine: err.split('\n')[0] };
    };
    const cases: Array<[string[], RegExp]> = [
      [['--serial', 'C0FFEE'], /^simulator: --serial must be 8 to 16 hex digits, got "C0FFEE"$/],
      [['--serial', '0123456789ABCDEF0'], /--serial must be 8 to 16 hex digits/],
      [['--serial', 'ABCDEF12', '--no-serial'], /^simulator: give --serial <hex> or --no-serial, not both$/],
      [
        ['--set-delay', 'soon'],
        /^simulator: --set-delay must be a duration like 250, 250ms or 1s, got "soon"$/,
      ],
      [['--legacy', '--set-delay', '10'], /--set-delay is for the PRP\/1 board, not --legacy/],
      [['--legacy', '--no-serial'], /--no-serial is for the PRP\/1 board, not --legacy/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(['--stdio', ...args])));
    results.forEach((result, i) => {
      assert.equal(result.code, 2, cases[i]![0].join(' '));
      assert.match(result.firstLine!, cases[i]![1]);
    });
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    for (const option of ['--serial <hex>', '--no-serial', '--set-delay <ms>', 'set-delay <ms>'])
      assert.ok(help.out.includes(option), `--help mentions ${option}`);
  });
});

test('an --eeprom file that is not a mask is refused at start', async (t) => {
  const dir = await tempDir(t);
  const eeprom = path.join(dir, 'eeprom');
  await writeFile(eeprom, 'not hex\n');
  await assert.rejects(
    startSimulator({ path: path.join(dir, 'board'), args: ['--eeprom', eeprom] }),
    /eeprom file/,
  );
});
