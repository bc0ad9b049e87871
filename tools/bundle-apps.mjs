#!/usr/bin/env node
// Bundles each app's command-line entry points (from the tsc output in dist/) into apps/<app>/bundle/, which
// the bin/ launchers run. Node 20 pays per module at start-up (resolve, read, compile, link: ≈ 120 modules
// for one dsv-copy, undici alone ≈ 80) and has no compile cache; one bundle per app starts ≈ 60 ms sooner and
// a registry copy finishes ≈ 0.1 s sooner (bench/NOTES.md §11). dist/ stays the packages' library output.
//
// The bundles are ES modules split at every dynamic import(), so what the apps load lazily (the transport
// packages, the signers, fzstd, openpgp, node-forge) stays lazy. Chunks sit beside the entries, at the depth
// of dist/, so `new URL('../package.json', import.meta.url)` means the same in both.
//   node tools/bundle-apps.mjs [app…]   (every app, or the named ones; nx's bundle target passes one)
import { build } from 'esbuild';
import { readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const APPS = [
  // Every job is @dsv/runtime's, so each app bundles what it starts and needs no other app: the cli's bundle
  // runs `dsv copy` and the Docker CLI plugins that `dsv docker-plugin install` puts in place (entry plugin).
  { app: 'cli', entries: ['dsv', 'legacy'], external: [] },
  // The plugin entry gets a bundle of its own: split together with dsv and legacy, its chunks would carry
  // their code (yargs among it) and the Docker CLI's metadata probe would load it on every `docker --help`.
  { app: 'cli', bundle: 'bundle-plugin', entries: ['plugin'], external: [] },
  { app: 'copy', entries: ['copy'], external: [] },
  { app: 'docker-plugin', entries: ['main'], external: [] },
  { app: 'containerd-verifier', entries: ['containerd-verifier'], external: [] },
];

// Two modules load CommonJS code through `createRequire(import.meta.url)` (yargs' CommonJS entry, two undici
// modules). In a bundle that require would resolve from the bundle's directory at run time; handing the calls
// to esbuild's own `require` bundles those modules instead.
const CREATE_REQUIRE = /^import \{ createRequire \} from 'node:module';\n|^const require = createRequire\(import\.meta\.url\);\n/gm;
const requireFromBundle = {
  name: 'require-from-bundle',
  setup(b) {
    b.onLoad({ filter: /\/(packages|apps)\/[^/]+\/dist\/.*\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('createRequire')) return undefined;
      const rewritten = text.replace(CREATE_REQUIRE, '');
      if (rewritten.includes('createRequire')) {
        throw new Error(`${relative(root, args.path)}: createRequire in a form tools/bundle-apps.mjs does not rewrite`);
      }
      return { contents: rewritten, loader: 'js' };
    });
  },
};

// yargs (CommonJS) reads __dirname; ES modules have none.
const banner = [
  "import { createRequire as __dsvCreateRequire } from 'node:module';",
  "import { fileURLToPath as __dsvFileURLToPath } from 'node:url';",
  'const require = __dsvCreateRequire(import.meta.url);',
  'const __filename = __dsvFileURLToPath(import.meta.url);',
  "const __dirname = __dsvFileURLToPath(new URL('.', import.meta.url));",
].join(' ');

// Libraries only some commands need: no entry may load them before its command runs (`dsv --version` loaded
// openpgp, yaml and the cosign code once through a package index; bench/NOTES.md, start-up inventory).
const LAZY_LIBRARIES = ['openpgp', 'pkijs', 'yaml', '@grpc/grpc-js', 'undici', 'tweetnacl', 'tar-stream', 'fzstd'];

/** What each entry's static imports (chunks it loads before running) hold of LAZY_LIBRARIES. */
function eagerLibraries(metafile, outdir, entryFiles) {
  const outputs = metafile.outputs;
  const found = [];
  for (const [file, o] of Object.entries(outputs)) {
    if (!entryFiles.includes(o.entryPoint)) continue;
    const seen = new Set([file]);
    const queue = [file];
    while (queue.length) {
      for (const i of outputs[queue.shift()].imports) {
        if (i.kind === 'import-statement' && !i.external && !seen.has(i.path)) seen.add(i.path), queue.push(i.path);
      }
    }
    const libs = new Set();
    for (const f of seen) {
      for (const input of Object.keys(outputs[f].inputs)) {
        const lib = LAZY_LIBRARIES.find((l) => input.includes(`node_modules/${l}/`));
        if (lib) libs.add(lib);
      }
    }
    if (libs.size) found.push(`${relative(outdir, join(root, file))} loads ${[...libs].join(', ')}`);
  }
  return found;
}

const only = process.argv.slice(2);
const unknown = only.filter((a) => !APPS.some((x) => x.app === a));
if (unknown.length) throw new Error(`bundle-apps: no app named ${unknown.join(', ')}`);

for (const { app, bundle = 'bundle', entries, external } of APPS.filter((x) => only.length === 0 || only.includes(x.app))) {
  const dir = join(root, 'apps', app);
  const out = join(dir, bundle);
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  // esbuild rejects on any error (and has printed it); the partial output goes with it.
  const result = await build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(entries.map((e) => [e, join(dir, 'dist', `${e}.js`)])),
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: '[name]-[hash]',
    external,
    banner: { js: banner },
    plugins: [requireFromBundle],
    legalComments: 'linked',
    logLevel: 'warning',
    metafile: true,
  }).catch(async (e) => {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  });
  const eager = eagerLibraries(result.metafile, tmp, entries.map((e) => relative(root, join(dir, 'dist', `${e}.js`))));
  if (eager.length) {
    await rm(tmp, { recursive: true, force: true });
    throw new Error(`bundle-apps: apps/${app}/${bundle}: ${eager.join('; ')} (loaded before any command runs; import it lazily)`);
  }
  await rm(out, { recursive: true, force: true });
  await rename(tmp, out);
  const inputs = Object.keys(result.metafile.inputs).length;
  console.log(`bundle: apps/${app}/${bundle} (${entries.join(', ')}) from ${inputs} modules`);
}
