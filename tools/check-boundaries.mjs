#!/usr/bin/env node
// Enforces the module boundaries that nx tags describe (package.json "nx.tags"), in layers
//   core  <-  sources / signers  <-  runtime  <-  apps
// - a package is imported only by its public name (`@dsv/<name>`) or a subpath its package.json "exports"
//   declares (a transport package's `@dsv/<name>/manifest`), never by another deep path or a relative path
//   into another project;
// - type:core imports no other @dsv package; type:source and type:signer import only type:core (sources
//   may build on other sources); type:runtime imports core, sources and signers; type:app imports only the
//   runtime: no app imports an app, and nothing imports an app;
// - configuration flows one way: no `process.env` in packages/*/src outside packages/runtime (tests
//   excepted: they set up the environment they check is ignored);
// - type:testkit (@dsv/conformance) imports only type:core, and only test files import it.
// Prints one line per violation and exits 1 when there is any.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const projects = new Map();
for (const group of ['packages', 'apps']) {
  for (const dir of readdirSync(join(root, group))) {
    const pj = JSON.parse(readFileSync(join(root, group, dir, 'package.json'), 'utf8'));
    projects.set(pj.name, { name: pj.name, dir: join(root, group, dir), tags: pj.nx?.tags ?? [], exports: Object.keys(pj.exports ?? {}) });
  }
}
const typeOf = (p) => (p.tags.find((t) => t.startsWith('type:')) ?? 'type:none').slice(5);
const allowed = {
  core: [],
  source: ['core', 'source'],
  signer: ['core'],
  runtime: ['core', 'source', 'signer'],
  app: ['runtime'],
  testkit: ['core'],
};

const isTest = (file) => /\.test\.[cm]?[jt]s$/.test(file) || file.includes(`${sep}__tests__${sep}`);

function* walk(dir) {
  for (const e of readdirSync(dir)) {
    if (e === 'node_modules' || e === 'dist') continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (/\.(ts|mts|js|mjs)$/.test(e)) yield p;
  }
}

const importRe = /(?:^|[^\w.])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[^\w.])import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[^\w.])import\s+['"]([^'"]+)['"]/gm;
const violations = [];
for (const project of projects.values()) {
  const src = join(project.dir, 'src');
  let files = [];
  try { files = [...walk(src)]; } catch { continue; }
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const rel = relative(root, file);
    if (rel.startsWith(`packages${sep}`) && typeOf(project) !== 'runtime' && !isTest(file)) {
      if (/\bprocess\.env\b/.test(text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''))) violations.push(`${rel}: reads process.env; take the setting from SystemContext / options (the runtime reads the environment)`);
    }
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const where = relative(root, file);
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(project.dir + sep)) violations.push(`${where}: relative import "${spec}" leaves ${project.name}`);
        continue;
      }
      if (!spec.startsWith('@dsv/')) continue;
      const [scope, name, ...rest] = spec.split('/');
      const targetName = `${scope}/${name}`;
      const target = projects.get(targetName);
      if (!target) { violations.push(`${where}: imports unknown package ${targetName}`); continue; }
      if (rest.length && !target.exports.includes(`./${rest.join('/')}`)) violations.push(`${where}: deep import "${spec}"; use the public entry ${targetName}`);
      if (target === project) { violations.push(`${where}: imports its own package by name`); continue; }
      const from = typeOf(project), to = typeOf(target);
      if (to === 'testkit' && isTest(file)) continue;
      if (!(allowed[from] ?? []).includes(to)) violations.push(`${where}: ${from} package ${project.name} may not import ${to} package ${targetName}`);
    }
  }
}
for (const v of violations) console.error(v);
if (violations.length) process.exit(1);
console.log(`boundaries: ${projects.size} projects checked, no violations`);
