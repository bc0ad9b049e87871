#!/usr/bin/env node
// Assembles the one installable package `dsv` from the built esbuild bundles and packs it:
//   node tools/pack-dsv.mjs [--out DIR] [--no-pack]   → DIR/dsv/ (the package) and DIR/dsv-<version>.tgz
// (DIR: dist/ at the top of the checkout by default)
// Run `npm run build` first. The package has NO dependencies: the bundles inline every @dsv package and
// every npm dependency (tools/bundle-apps.mjs bundles with no externals), so `npm install -g` of the tarball
// needs no registry and no network, and what runs is exactly what the tests ran. The script refuses to pack
// a bundle that still imports anything but a Node built-in. The bundles' *.LEGAL.txt files (the licences of
// the code they inline) travel with them.
//
// Layout (the launchers and bundles keep their relative paths, so `new URL('../bin/…', import.meta.url)` in
// the cli's bundle finds the Docker CLI plugin launchers that `dsv docker-plugin install` points at):
//   bin/dsv.js, bin/docker-sign.js, bin/docker-verify.js, bin/docker-cli-plugin-{sign,verify}.js  (apps/cli/bin)
//   bin/dsv-copy.js                                         (apps/copy/bin, reading ../bundle-copy/)
//   bundle/ bundle-plugin/                                  (apps/cli's bundles)
//   bundle-copy/                                            (apps/copy/bundle)
//   bin/dsv-containerd-verifier.js, bundle-containerd-verifier/   (apps/containerd-verifier)
import { execFileSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outAt = process.argv.indexOf('--out');
const outRoot = outAt > 0 ? resolve(process.argv[outAt + 1] ?? '') : join(root, 'dist');
const pkgDir = join(outRoot, 'dsv');

const shown = (p) => (p.startsWith(root) ? relative(root, p) : p);
const readJson = async (p) => JSON.parse(await readFile(join(root, p), 'utf8'));
const rootPkg = await readJson('package.json');
const cliPkg = await readJson('apps/cli/package.json');
const copyPkg = await readJson('apps/copy/package.json');
const verifierPkg = await readJson('apps/containerd-verifier/package.json');

// `dsv --version` prints the runtime's VERSION, kept in step with the apps (the e2e test compares it with the
// installed package's); the package, the apps and the root carry one version.
const version = rootPkg.version;
if (!version) throw new Error('pack-dsv: the root package.json has no "version"');
for (const p of [cliPkg, copyPkg, verifierPkg]) {
  if (p.version !== version) throw new Error(`pack-dsv: ${p.name} is at ${p.version}, the root at ${version}; keep them in step`);
}

const COPIES = [
  ['apps/cli/bundle', 'bundle'],
  ['apps/cli/bundle-plugin', 'bundle-plugin'],
  ['apps/copy/bundle', 'bundle-copy'],
  ['apps/containerd-verifier/bundle', 'bundle-containerd-verifier'],
];
const CLI_BINS = ['dsv', 'docker-sign', 'docker-verify', 'docker-cli-plugin-sign', 'docker-cli-plugin-verify'];

for (const [from] of COPIES) {
  if (!(await stat(join(root, from)).catch(() => null))) throw new Error(`pack-dsv: ${from} is missing; run \`npm run build\` first`);
}

const tmp = `${pkgDir}.tmp-${process.pid}`;
await rm(tmp, { recursive: true, force: true });
await mkdir(join(tmp, 'bin'), { recursive: true });
for (const [from, to] of COPIES) await cp(join(root, from), join(tmp, to), { recursive: true });
for (const name of CLI_BINS) await cp(join(root, 'apps/cli/bin', `${name}.js`), join(tmp, 'bin', `${name}.js`));
const copyLauncher = await readFile(join(root, 'apps/copy/bin/dsv-copy.js'), 'utf8');
if (!copyLauncher.includes("'../bundle/")) throw new Error('pack-dsv: apps/copy/bin/dsv-copy.js no longer imports ../bundle/');
await writeFile(join(tmp, 'bin', 'dsv-copy.js'), copyLauncher.replaceAll("'../bundle/", "'../bundle-copy/"), { mode: 0o755 });
const verifierLauncher = await readFile(join(root, 'apps/containerd-verifier/bin/dsv-containerd-verifier.js'), 'utf8');
if (!verifierLauncher.includes("'../bundle/")) throw new Error('pack-dsv: apps/containerd-verifier/bin/dsv-containerd-verifier.js no longer imports ../bundle/');
await writeFile(join(tmp, 'bin', 'dsv-containerd-verifier.js'), verifierLauncher.replaceAll("'../bundle/", "'../bundle-containerd-verifier/"), { mode: 0o755 });

await assertSelfContained(tmp).catch(async (e) => {
  await rm(tmp, { recursive: true, force: true });
  throw e;
});

const bin = Object.fromEntries([...CLI_BINS.filter((b) => !b.startsWith('docker-cli-plugin-')), 'dsv-copy', 'dsv-containerd-verifier'].map((b) => [b, `bin/${b}.js`]));
const manifest = {
  name: 'dsv',
  version,
  description: 'Sign and verify Docker/OCI images where they live: dsv, docker-sign, docker-verify, dsv-copy, dsv-containerd-verifier and the docker sign / docker verify CLI plugins',
  license: rootPkg.license,
  type: 'module',
  engines: rootPkg.engines,
  bin,
  files: ['bin', 'bundle', 'bundle-plugin', 'bundle-copy', 'bundle-containerd-verifier', 'README.md'],
  repository: rootPkg.repository,
  keywords: ['docker', 'oci', 'container', 'image', 'signing', 'verification', 'gpg', 'x509'],
  publishConfig: { access: 'public' },
};
await writeFile(join(tmp, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
await writeFile(join(tmp, 'README.md'), await packageReadme());

await rm(pkgDir, { recursive: true, force: true });
await rename(tmp, pkgDir);
console.log(`pack-dsv: ${shown(pkgDir)} (dsv ${version})`);

if (!process.argv.includes('--no-pack')) {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', outRoot], { cwd: pkgDir, encoding: 'utf8' });
  const [{ filename, entryCount, size }] = JSON.parse(out);
  console.log(`pack-dsv: ${shown(join(outRoot, filename))} (${entryCount} files, ${Math.round(size / 1024)} kB)`);
}

/** Every import left in the bundles must be a Node built-in: the package declares no dependencies. */
async function assertSelfContained(dir) {
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  const bad = new Set();
  for (const sub of ['bundle', 'bundle-plugin', 'bundle-copy', 'bundle-containerd-verifier', 'bin']) {
    for (const f of await readdir(join(dir, sub))) {
      if (!f.endsWith('.js')) continue;
      const text = await readFile(join(dir, sub, f), 'utf8');
      const specs = [
        ...text.matchAll(/(?:^|[;\s}])(?:import|export)\s[^'"`;]*?from\s*["']([^"']+)["']/g),
        ...text.matchAll(/(?:^|[;\s])import\s*["']([^"']+)["']/g),
        ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
        ...text.matchAll(/\b(?:__require|require)\(\s*["']([^"']+)["']\s*\)/g),
      ].map((m) => m[1]);
      for (const s of specs) {
        // `node:` names are built-ins even when this Node lacks them (undici probes node:sqlite, Node 22+).
        if (s.startsWith('.') || s.startsWith('node:') || builtins.has(s)) continue;
        bad.add(`${sub}/${f}: ${s}`);
      }
    }
  }
  if (bad.size) throw new Error(`pack-dsv: the bundles import packages the dsv package does not carry:\n  ${[...bad].join('\n  ')}`);
}

/** The package's README: the root README's title and Install section, and where the rest lives. */
async function packageReadme() {
  const text = await readFile(join(root, 'README.md'), 'utf8');
  const cut = text.indexOf('\n## Run from a checkout');
  if (cut < 0) throw new Error('pack-dsv: README.md has no "## Run from a checkout" section to end the package README at');
  const url = String(rootPkg.repository?.url ?? '').replace(/^git\+/, '').replace(/\.git$/, '');
  return `${text.slice(0, cut).trimEnd()}\n\nUsage, exit codes and environment: the project's README${url ? ` (${url})` : ''}, and \`dsv --help\`.\n`;
}
