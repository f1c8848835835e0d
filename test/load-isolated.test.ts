/**
 * loadConfigIsolated: the config loaded in a child process must be exactly what
 * loading it here gives, and fail with the same errors.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError } from '../src/config/config-error.js';
import { loadConfig, loadConfigFile } from '../src/config/load.js';
import { loadConfigIsolated, moduleLoaderFlags } from '../src/config/load-isolated.js';
import { PduError } from '../src/errors.js';

const example = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'config', 'pipdu.example.yaml');
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-load-isolated-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the example config comes back from the child exactly as loaded in-process', async () => {
  const file = path.join(dir, 'example.yaml');
  await copyFile(example, file);
  const here = await loadConfigFile(file);
  const there = await loadConfigIsolated({ file });
  assert.equal(there.file, file);
  assert.deepEqual(there.config, JSON.parse(JSON.stringify(here)));
  // Plain data all the way down: nothing the JSON trip could have lost.
  assert.deepEqual(JSON.parse(JSON.stringify(here)), here);
});

test('a file with problems is a ConfigError with every issue, as in-process', async () => {
  const file = path.join(dir, 'bad.yaml');
  await writeFile(file, 'version: 1\nboard: { driver: nonsense }\nsockets:\n  - number: 99\n');
  const expected = await loadConfigFile(file).then(
    () => assert.fail('the bad file loaded'),
    (error: unknown) => error as ConfigError,
  );
  assert.ok(expected instanceof ConfigError && expected.issues.length >= 2);
  await assert.rejects(loadConfigIsolated({ file }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.issues, expected.issues);
    assert.equal(error.message, expected.message);
    return true;
  });
});

test('a missing file is BAD_CONFIG with the same message; PIPDU_CONFIG is honoured', async () => {
  const missing = path.join(dir, 'nope.yaml');
  await assert.rejects(loadConfigIsolated({ file: missing }), (error: unknown) => {
    assert.ok(error instanceof PduError && !(error instanceof ConfigError));
    assert.equal(error.code, 'BAD_CONFIG');
    assert.match(error.message, /no configuration file at .*nope\.yaml/);
    return true;
  });

  const named = path.join(dir, 'named.yaml');
  await writeFile(named, 'version: 1\nname: from-env\nboard: { driver: simulator }\n');
  const previous = process.env.PIPDU_CONFIG;
  process.env.PIPDU_CONFIG = named;
  try {
    const there = await loadConfigIsolated();
    assert.equal(there.file, named);
    assert.equal(there.config.name, 'from-env');
    assert.deepEqual(there.config, JSON.parse(JSON.stringify((await loadConfig()).config)));
    process.env.PIPDU_CONFIG = missing;
    await assert.rejects(loadConfigIsolated(), /PIPDU_CONFIG names .*nope\.yaml, which does not exist/);
  } finally {
    if (previous === undefined) delete process.env.PIPDU_CONFIG;
    else process.env.PIPDU_CONFIG = previous;
  }
});

test('the child gets only the module-loading flags of this process', () => {
  assert.deepEqual(
    moduleLoaderFlags([
      '--max-old-space-size=64',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      'script()',
      '--require=./probe.cjs',
      '--inspect=9229',
      '-r',
      './other.cjs',
      '--conditions=development',
    ]),
    ['--import', 'tsx', '--require=./probe.cjs', '-r', './other.cjs', '--conditions=development'],
  );
  assert.deepEqual(moduleLoaderFlags(['--import']), []);
});

test('a process started with -e loads its config once: the child does not run the script again', async () => {
  const file = path.join(dir, 'eval.yaml');
  await writeFile(file, 'version: 1\nname: evaluated\nboard: { driver: simulator }\n');
  const module = pathToFileURL(
    path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src/config/load-isolated.ts'),
  );
  // A re-run of this script in the child would load the config again: the depth guard
  // stops that chain at one extra level, which then makes the outer load fail.
  const script = `
    const depth = Number(process.env.EVAL_DEPTH ?? 0);
    process.env.EVAL_DEPTH = String(depth + 1);
    if (depth > 0) process.exit(3);
    const { loadConfigIsolated } = await import(${JSON.stringify(module.href)});
    const { config } = await loadConfigIsolated({ file: ${JSON.stringify(file)} });
    console.log(config.name);`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { timeout: 60_000 },
  );
  assert.equal(stdout.trim(), 'evaluated');
});
