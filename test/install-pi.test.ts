import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// scripts/install-pi.sh on this machine, into a DESTDIR (the user pipdu is made for real),
// up to starting systemd; then what the service user can and cannot read.

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const SCRIPT = join(root, 'scripts', 'install-pi.sh');
const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

async function install(dest: string, ...args: string[]) {
  return run('sh', [SCRIPT, '--no-build', '--no-start', '--no-apt', ...args], {
    env: { ...process.env, DESTDIR: dest, SUDO_USER: '' },
  });
}

/** Whether the user pipdu may read (or, with 'w', write) `path`. */
async function pipduMay(path: string, access: 'r' | 'w' = 'r'): Promise<boolean> {
  try {
    await run('runuser', ['-u', 'pipdu', '--', 'test', `-${access}`, path]);
    return true;
  } catch {
    return false;
  }
}

// These two run as any user: --dry-run and argument errors change nothing.
test('--dry-run shows the steps and changes nothing', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'pipdu-dry-'));
  try {
    const { stdout } = await install(empty, '--dry-run');
    assert.match(stdout, /\+ install -d -o root -g pipdu -m 0750 .*\/etc\/pipdu/);
    assert.match(stdout, /\+ .*\/etc\/systemd\/system\/pipdu\.service \(node /);
    const { stdout: left } = await run('find', [empty, '-mindepth', '1']);
    assert.equal(left, '');
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});

test('an unknown argument is one line and exit 2', async () => {
  await assert.rejects(install(tmpdir(), '--frobnicate'), (error: { code: number; stderr: string }) => {
    assert.equal(error.code, 2);
    assert.equal(error.stderr, 'install-pi.sh: unknown argument "--frobnicate" (--help lists them)\n');
    return true;
  });
});

// The install itself makes a system user, so it runs as root (as CI does). As another user the
// script must refuse in one line before it changes anything.
if (!isRoot) {
  test('as a normal user it refuses in one line and changes nothing', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'pipdu-noroot-'));
    try {
      await assert.rejects(install(empty), (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 1);
        assert.match(error.stderr, /^install-pi\.sh: run it as root: sudo /);
        return true;
      });
      const { stdout: left } = await run('find', [empty, '-mindepth', '1']);
      assert.equal(left, '');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
}

if (isRoot) {
  describe('install-pi.sh as root', () => {
    let dest: string;
    let node: string;

    before(async () => {
      dest = await mkdtemp(join(tmpdir(), 'pipdu-install-'));
      await chmod(dest, 0o755); // the service user must be able to reach what is under it
      node = (await run('sh', ['-c', 'readlink -f "$(command -v node)"'])).stdout.trim();
    });
    after(async () => {
      await rm(dest, { recursive: true, force: true });
    });

    test('installs: user, code, /etc/pipdu, state, unit with the node found, the pipdu command', async () => {
      await install(dest);
      const unit = await readFile(join(dest, 'etc/systemd/system/pipdu.service'), 'utf8');
      assert.match(unit, new RegExp(`^ExecStart=${node} .* /opt/pipdu/dist/src/main\\.js$`, 'm'));
      assert.match(unit, /^WorkingDirectory=\/opt\/pipdu$/m);
      assert.match(unit, /^RestartPreventExitStatus=78$/m);
      assert.match(unit, /^StateDirectory=pipdu$/m);
      assert.match(unit, /^RuntimeDirectory=pipdu$/m);
      // Only the groups this machine has: systemd refuses to start a unit naming a missing one.
      const groups = /^SupplementaryGroups=(.*)$/m.exec(unit)?.[1]?.split(' ') ?? [];
      for (const group of groups) await run('getent', ['group', group]);
      const { stdout: ids } = await run('id', ['-nG', 'pipdu']);
      for (const group of groups) assert.ok(ids.split(/\s+/).includes(group), `pipdu is in ${group}`);

      const command = await readFile(join(dest, 'usr/local/bin/pipdu'), 'utf8');
      assert.match(command, new RegExp(`exec ${node} /opt/pipdu/dist/src/cli/pipdu\\.js "\\$@"`));
      assert.equal((await stat(join(dest, 'usr/local/bin/pipdu'))).mode & 0o777, 0o755);
      assert.ok((await stat(join(dest, 'opt/pipdu/src/main.ts'))).isFile(), 'the code was copied');

      const config = join(dest, 'etc/pipdu/pipdu.yaml');
      assert.doesNotMatch(
        await readFile(config, 'utf8'),
        /^ {2}dir: \.\/state/m,
        'state.dir left to systemd',
      );
      assert.ok(await pipduMay(config), 'pipdu reads pipdu.yaml');
      assert.ok(!(await pipduMay(config, 'w')), 'pipdu cannot change pipdu.yaml');
      assert.ok(!(await pipduMay(join(dest, 'etc/pipdu/secrets.env'))), 'secrets.env is root only');
      assert.ok(await pipduMay(join(dest, 'var/lib/pipdu'), 'w'), 'pipdu writes its state directory');
    });

    test('a second run keeps the config, gives pipdu the server key made by make-certs.sh, not the CA key', async () => {
      const config = join(dest, 'etc/pipdu/pipdu.yaml');
      await writeFile(config, 'version: 1\n# edited\n');
      const tls = join(dest, 'etc/pipdu/tls');
      await run('sh', [join(root, 'scripts', 'make-certs.sh'), tls]);
      const { stdout } = await install(dest);
      assert.match(stdout, /kept .*\/etc\/pipdu\/pipdu\.yaml/);
      assert.equal(await readFile(config, 'utf8'), 'version: 1\n# edited\n');
      for (const file of ['server.key', 'server.crt', 'ca.crt']) {
        assert.ok(await pipduMay(join(tls, file)), `pipdu reads ${file}`);
      }
      assert.ok(!(await pipduMay(join(tls, 'ca.key'))), 'ca.key stays root only');
    });

    test('systemd-analyze verify accepts the unit', async () => {
      const unit = join(dest, 'etc/systemd/system/pipdu.service');
      const { stderr } = await run('systemd-analyze', ['verify', unit]).catch(
        (error: { stderr: string; code: number }) => {
          throw new Error(`systemd-analyze verify failed: ${error.stderr}`);
        },
      );
      // It warns about paths that exist only on an installed Pi; nothing about the unit's keys.
      assert.doesNotMatch(stderr, /Unknown key|Failed to parse|Invalid/i);
    });
  });
}

test('the shell scripts pass shellcheck', async () => {
  const scripts = ['scripts/install-pi.sh', 'scripts/make-certs.sh'].map((file) => join(root, file));
  const { stdout } = await run('shellcheck', ['--format=gcc', ...scripts]).catch(
    (error: { stdout?: string }) => {
      throw new Error(`shellcheck found problems:\n${error.stdout ?? error}`);
    },
  );
  assert.equal(stdout, '');
});
