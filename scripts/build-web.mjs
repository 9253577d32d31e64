// Production build of the web console (web/src → web/dist): minified ES modules and one stylesheet with
// content-hashed names under assets/ (the terminal player is a chunk of its own, loaded when a replay opens),
// and an index.html that loads the entry (no inline script, so the gateway's CSP can forbid inline script).
// `node scripts/build-web.mjs` or `npm run build`.
import { chmod, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const WEB_DIST = join(ROOT, 'web', 'dist');

const html = (script, style, preload) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>Airlock</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/${style}">
${preload.map((f) => `<link rel="modulepreload" href="/assets/${f}">\n`).join('')}<script type="module" src="/assets/${script}"></script>
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
      chunkNames: '[name]-[hash]',
      assetNames: '[name]-[hash]',
      bundle: true,
      splitting: true,
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
    const [entry, out] = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint) ?? [];
    if (!entry || !out?.cssBundle) throw new Error(`web build produced ${outputs.join(', ')}: expected an entry module with its stylesheet`);
    // Chunks the entry imports statically are fetched at once rather than after the entry is parsed.
    const preload = out.imports.filter((i) => i.kind === 'import-statement' && !i.external).map((i) => basename(i.path));
    await writeFile(join(tmp, 'index.html'), html(basename(entry), basename(out.cssBundle), preload));
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
  const { outDir } = await buildWeb();
  const assets = await readdir(join(outDir, 'assets'));
  console.log(`web console built in ${Math.round(performance.now() - started)} ms: ${outDir} (index.html, assets: ${assets.join(', ')})`);
}
