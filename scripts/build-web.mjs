// Production build of the web console (web/src → web/dist): one bundled, minified ES module and one
// stylesheet with content-hashed names under assets/, and an index.html that loads them (no inline script,
// so the gateway's CSP can forbid inline script). `node scripts/build-web.mjs` or `npm run build`.
import { chmod, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const WEB_DIST = join(ROOT, 'web', 'dist');

const html = (script, style) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>Airlock</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/${style}">
<script type="module" src="/assets/${script}"></script>
</head>
<body><div id="app"></div><noscript>The Airlock console needs JavaScript.</noscript></body>
</html>
`;

/**
 * Builds into a fresh directory next to `outDir` and moves it into place, so a gateway reading `outDir`
 * never sees half a build and two builds at once (parallel test workers) do not mix their files.
 */
export async function buildWeb({ outDir = WEB_DIST } = {}) {
  await mkdir(dirname(outDir), { recursive: true });
  const tmp = await mkdtemp(join(dirname(outDir), `.${basename(outDir)}-`));
  try {
    await chmod(tmp, 0o755);
    const result = await esbuild.build({
      entryPoints: { app: join(ROOT, 'web', 'src', 'main.tsx') },
      outdir: join(tmp, 'assets'),
      entryNames: '[name]-[hash]',
      assetNames: '[name]-[hash]',
      bundle: true,
      minify: true,
      format: 'esm',
      target: 'es2022',
      jsx: 'automatic',
      jsxImportSource: 'preact',
      tsconfig: join(ROOT, 'web', 'tsconfig.json'),
      define: { 'process.env.NODE_ENV': '"production"' },
      legalComments: 'none',
      metafile: true,
      logLevel: 'silent',
    });
    const outputs = Object.keys(result.metafile.outputs).map((f) => basename(f));
    const script = outputs.find((f) => f.endsWith('.js'));
    const style = outputs.find((f) => f.endsWith('.css'));
    if (!script || !style) throw new Error(`web build produced ${outputs.join(', ')}: expected one .js and one .css`);
    await writeFile(join(tmp, 'index.html'), html(script, style));
    await replaceDir(tmp, outDir);
    return { outDir, files: ['index.html', ...outputs.map((f) => `assets/${f}`)] };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

async function replaceDir(from, to) {
  const old = `${from}.old`;
  try {
    await rename(to, old);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  try {
    await rename(from, to);
  } catch (err) {
    // Another build moved its own complete copy in between: keep that one.
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    await rm(from, { recursive: true, force: true });
  }
  await rm(old, { recursive: true, force: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const { outDir, files } = await buildWeb();
  const sizes = await readdir(join(outDir, 'assets'));
  console.log(`web console built in ${Math.round(performance.now() - started)} ms: ${outDir} (${files.length} files: ${sizes.join(', ')})`);
}
