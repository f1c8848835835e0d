import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

// check-config on the files a config names: each must exist and be readable by the service's user.

const root = dirname(dirname(fileURLToPath(import.meta.url)));
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipdu-check-'));
  await chmod(dir, 0o755);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function check(file: string, ...flags: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/config/check-config.ts', file, ...flags], {
    cwd: root,
    encoding: 'utf8',
  });
}

test('a missing key file is named with where the config names it; a socket by its number and name', async () => {
  const config = join(dir, 'missing.yaml');
  await writeFile(
    config,
    [
      'version: 1',
      'board: { driver: simulator }',
      'sockets:',
      '  - number: 4',
      '    name: nas',
      '    preOff:',
      `      - ssh: { host: nas, user: root, key: ${dir}/nope, command: poweroff, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF3R0dGvV5Ly6mL2bPqQyHkqWq1V6Fh2X9bQ0sYk3tZp" }`,
      '',
    ].join('\n'),
  );
  const result = check(config);
  assert.equal(result.status, 1, result.stdout);
  assert.equal(result.stderr, `${config}: socket 4 (nas) preOff[0].key: ${dir}/nope does not exist\n`);
  const skipped = check(config, '--no-files');
  assert.equal(skipped.status, 0, skipped.stderr);
});

test('a key only root can read is a problem for the service user (nobody here)', {
  skip: process.getuid?.() === 0 ? false : 'needs root to judge for another user',
}, async () => {
  const key = join(dir, 'server.key');
  await writeFile(key, 'secret');
  await chmod(key, 0o600);
  await writeFile(join(dir, 'server.crt'), 'cert');
  const config = join(dir, 'tls.yaml');
  await writeFile(
    config,
    `version: 1\nboard: { driver: simulator }\napi:\n  listen: 0.0.0.0:8443\n  tls: { cert: ${dir}/server.crt, key: ${key}, ca: ${dir}/server.crt }\n`,
  );
  const result = check(config, '--user', 'nobody');
  assert.equal(result.status, 1);
  assert.equal(
    result.stderr,
    `${config}: api.tls.key: ${key} cannot be read by the user nobody (mode 0600, uid 0, gid 0)\n`,
  );
  await chmod(key, 0o644);
  const fixed = check(config, '--user', 'nobody');
  assert.equal(fixed.status, 0, fixed.stderr);
  assert.match(fixed.stdout, /OK/);
});
