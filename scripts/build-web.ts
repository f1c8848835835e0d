// `npm run build` (after tsc): the web dashboard, src/web → dist/web.
// Content-hashed assets under assets/, an index.html that only links them
// (the Content-Security-Policy allows no inline script or style), and a
// gzip and a brotli copy of every file for the server to pick from.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/** Where `npm run build` puts the dashboard; the API server serves it from there. */
export const DEFAULT_WEB_OUT = join(root, 'dist', 'web');

/** What a build wrote: the file names under `outDir`, for tests and the benchmark. */
export interface WebBuild {
  outDir: string;
  files: string[];
}

/** Builds the dashboard into `outDir` (emptied first). */
export async function buildWeb(outDir = DEFAULT_WEB_OUT): Promise<WebBuild> {
  await rm(outDir, { recursive: true, force: true });
  const assets = join(outDir, 'assets');
  const result = await build({
    entryPoints: { app: join(root, 'src/web/main.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: assets,
    // uPlot is loaded when the first chart is drawn, after the grid: a smaller script before it.
    splitting: true,
    entryNames: '[name]-[hash]',
    chunkNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
    tsconfig: join(root, 'tsconfig.web.json'),
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
  const entry = Object.entries(result.metafile.outputs).find(([, output]) => output.entryPoint);
  const script = entry && basename(entry[0]);
  const style = outputs.find((file) => file.endsWith('.css'));
  if (!script || !style)
    throw new Error(`the web build wrote no script or no stylesheet: ${outputs.join(', ')}`);
  const template = await readFile(join(root, 'src/web/index.html'), 'utf8');
  const html = template.replace('{{style}}', `/assets/${style}`).replace('{{script}}', `/assets/${script}`);
  await writeFile(join(outDir, 'index.html'), html);
  const files = await listFiles(outDir);
  await Promise.all(
    files.map(async (file) => {
      const body = await readFile(join(outDir, file));
      const [gz, br] = await Promise.all([
        gzipAsync(body, { level: 9 }),
        brotliAsync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
      ]);
      await writeFile(join(outDir, `${file}.gz`), gz);
      await writeFile(join(outDir, `${file}.br`), br);
    }),
  );
  return { outDir, files };
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await mkdir(DEFAULT_WEB_OUT, { recursive: true });
  const { files } = await buildWeb();
  process.stdout.write(`web dashboard built: ${files.join(', ')} (+ .gz, .br) in dist/web\n`);
}
