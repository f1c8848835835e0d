// The ssh hook step against the OpenSSH client: the same command on the same
// private sshd, connect + exec + close each time. Figures, not pass/fail.
import { spawn } from 'node:child_process';
import { silentLogger } from '../src/log.js';
import { runSshStep } from '../src/pdu/hooks/ssh-step.js';
import type { StepContext } from '../src/pdu/hooks/step.js';
import { startSshd } from '../test/helpers/sshd.js';

const RUNS = Number(process.env.BENCH_SSH_RUNS ?? 30);
const WARM_UP = 5;
const COMMAND = 'true';

export async function benchSsh(): Promise<void> {
  const sshd = await startSshd();
  try {
    const context: StepContext = {
      socket: { number: 1, name: 'bench' },
      signal: new AbortController().signal,
      logger: silentLogger(),
      power: { available: false, latest: () => null, subscribe: () => () => {} },
      env: {},
    };
    const step = {
      kind: 'ssh' as const,
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      key: sshd.keyPath,
      knownHosts: sshd.knownHostsPath,
      command: COMMAND,
      timeout: 10_000,
      expectDisconnect: false,
      allowFailure: false,
    };
    const sshArgs = [
      '-F',
      '/dev/null',
      '-i',
      sshd.keyPath,
      '-p',
      String(sshd.port),
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      `UserKnownHostsFile=${sshd.knownHostsPath}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      `${sshd.user}@${sshd.host}`,
      COMMAND,
    ];
    const stepTimes: number[] = [];
    const clientTimes: number[] = [];
    // Interleaved, so both see the same load on a shared machine.
    for (let i = 0; i < WARM_UP + RUNS; i++) {
      const stepMs = await timed(() => runSshStep(step, context));
      const clientMs = await timed(() => runClient(sshArgs));
      if (i < WARM_UP) continue;
      stepTimes.push(stepMs);
      clientTimes.push(clientMs);
    }
    const ours = summary(stepTimes);
    const theirs = summary(clientTimes);
    console.log(
      `ssh step vs the OpenSSH client, \`${COMMAND}\` on a private sshd on 127.0.0.1 as ${sshd.user}, ` +
        `${RUNS} each, interleaved, after ${WARM_UP} warm-ups:`,
    );
    console.log(`  runSshStep (connect + exec + close)  median ${fmt(ours.median)}  p90 ${fmt(ours.p90)}`);
    console.log(
      `  ssh client process                   median ${fmt(theirs.median)}  p90 ${fmt(theirs.p90)}`,
    );
    console.log(
      `  ratio step/ssh                       median ${(ours.median / theirs.median).toFixed(2)}x  ` +
        `p90 ${(ours.p90 / theirs.p90).toFixed(2)}x  (target median <= 1.5x)\n`,
    );
  } finally {
    await sshd.stop();
  }
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

function runClient(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`ssh exited ${code}: ${stderr}`)),
    );
  });
}

function summary(samples: number[]): { median: number; p90: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
  return { median: at(50), p90: at(90) };
}

function fmt(ms: number): string {
  return `${ms.toFixed(1)} ms`;
}
