// `npm run build` (after tsc): the mqtt package as one minified file,
// dist/vendor/mqtt.cjs, which the daemon loads instead of mqtt's ~100 files.
// Node keeps a cost per loaded file: from its files mqtt adds ~11 MB resident
// to the daemon, as one file about half (`npm run bench`, MQTT section).
// The code is the package's own, from the lock file; nothing is patched.
// Left out: the transports PiPDU never uses (its config takes mqtt:// and
// mqtts:// only, with no proxy), ~2 MB resident together.
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** Where `npm run build` puts the bundles; src/mqtt/load-mqtt.ts looks there. */
export const DEFAULT_VENDOR_OUT = join(root, 'dist', 'vendor');

/** Packages mqtt requires that PiPDU's use of it never reaches, each with why. */
export const LEFT_OUT: Record<string, string> = {
  ws: 'WebSocket brokers (ws://, wss://): mqtt.url accepts mqtt:// and mqtts:// only',
  socks: 'SOCKS proxies: the bridge never sets socksProxy',
};

/** Resolves the left-out packages to an empty module, so their code is not in the bundle. */
const leaveOut: Plugin = {
  name: 'leave-out',
  setup(build) {
    const filter = new RegExp(`^(${Object.keys(LEFT_OUT).join('|')})$`);
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'left-out' }));
    build.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => ({
      contents: `module.exports = {}; // left out of PiPDU's mqtt bundle: ${LEFT_OUT[args.path]}`,
      loader: 'js',
    }));
  },
};

/** Bundles mqtt into `outDir`/mqtt.cjs; resolves with that file's path. */
export async function buildVendor(outDir = DEFAULT_VENDOR_OUT): Promise<string> {
  const file = join(outDir, 'mqtt.cjs');
  await rm(file, { force: true });
  await mkdir(outDir, { recursive: true });
  await build({
    stdin: { contents: "module.exports = require('mqtt');", resolveDir: root, loader: 'js' },
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: file,
    plugins: [leaveOut],
    // The packages' licence headers stay with the code they cover.
    legalComments: 'eof',
    logLevel: 'warning',
  });
  return file;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = await buildVendor();
  process.stdout.write(`mqtt bundled: ${file}\n`);
}
