// Installs packed @dsv tarballs into a fresh project with no network: npm runs --offline, so every byte
// comes from the tarballs or npm's cache (the checkout's own `npm install` put the npm dependencies there). npm's cache holds those dependencies' tarballs but not their
// registry documents, so npm cannot resolve version ranges offline; the project gets a package-lock.json
// instead, with the @dsv tarballs and, for the npm dependencies, the same versions and integrities as the
// checkout's lockfile (the closure of what the tarballs need, at the same places in the tree: what the
// checkout nests under a workspace, packages/x/node_modules/y, goes under the installed package,
// node_modules/@dsv/x/node_modules/y, so Node finds the same versions the tests ran with).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../helpers/proc.js';

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  [k: string]: unknown;
}

export interface PackedPackage {
  name: string;
  version: string;
  /** Absolute path of the .tgz. */
  file: string;
  integrity: string;
  dependencies: Record<string, string>;
  /** Its directory in the checkout (packages/core): where the checkout's lockfile resolves its dependencies. */
  workspace: string;
}

const REGISTRY = 'https://registry.npmjs.org/';
/** Where the public registry keeps a version's tarball (npm's cache knows the tarballs by that address). */
const tarballUrl = (name: string, version: string) => `${REGISTRY}${name}/-/${name.replace(/^@[^/]+\//, '')}-${version}.tgz`;

/** Environment for npm with the network off: only its cache and the given tarballs. */
export function offlineNpmEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    npm_config_registry: REGISTRY,
    npm_config_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
}

/**
 * Writes package.json and package-lock.json in `dir` for the given tarballs and runs `npm ci --offline`.
 * `checkoutRoot`: where the checkout's package-lock.json is.
 */
export function installPackedOffline(dir: string, packed: PackedPackage[], checkoutRoot: string): void {
  const checkoutLock = JSON.parse(readFileSync(join(checkoutRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const ours = new Map(packed.map((p) => [p.name, p]));
  const packages: Record<string, LockEntry> = {};
  const dependencies = Object.fromEntries(packed.map((p) => [p.name, `file:${p.file}`]));
  packages[''] = { name: 'dsv-install-check', dependencies };

  // A dependency of the package at `from` (a lockfile key) resolves as Node does: the nearest node_modules up.
  const resolveFrom = (from: string, name: string): string => {
    let base = from;
    for (;;) {
      const key = `${base ? `${base}/` : ''}node_modules/${name}`;
      if (checkoutLock.packages[key]) return key;
      if (!base) throw new Error(`${name} (needed by ${from || 'the project'}) is not in the checkout's lockfile`);
      const at = base.lastIndexOf('/node_modules/');
      base = at < 0 ? '' : base.slice(0, at);
    }
  };
  const byWorkspace = packed.map((p) => [`${p.workspace}/`, `node_modules/${p.name}/`] as const);
  const placed = (key: string): string => {
    for (const [from, to] of byWorkspace) if (key.startsWith(`${from}node_modules/`)) return to + key.slice(from.length);
    return key;
  };
  const queue: [from: string, deps: Record<string, string>][] = [];
  for (const p of packed) {
    packages[`node_modules/${p.name}`] = { version: p.version, resolved: `file:${p.file}`, integrity: p.integrity, dependencies: p.dependencies };
    queue.push([p.workspace, p.dependencies]);
  }
  while (queue.length) {
    const [from, deps] = queue.shift()!;
    for (const name of Object.keys(deps)) {
      if (ours.has(name)) continue;
      const key = resolveFrom(from, name);
      const at = placed(key);
      if (packages[at]) continue;
      const entry = checkoutLock.packages[key]!;
      if (entry.link) throw new Error(`${name} is a link in the checkout's lockfile`);
      const { dev: _dev, ...kept } = entry;
      // The checkout's lockfile omits registry URLs; without one npm asks the registry where the tarball is.
      packages[at] = { ...kept, resolved: kept.resolved ?? tarballUrl(key.slice(key.lastIndexOf('node_modules/') + 13), entry.version!) };
      queue.push([key, { ...entry.dependencies }]);
      // Optional dependencies the checkout installed come along; the others were skipped there too.
      for (const o of Object.keys(entry.optionalDependencies ?? {})) {
        try {
          resolveFrom(key, o);
          queue.push([key, { [o]: '*' }]);
        } catch {
          /* not installed in the checkout (another platform's) */
        }
      }
    }
  }
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'dsv-install-check', private: true, type: 'module', dependencies }, null, 2)}\n`);
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify({ name: 'dsv-install-check', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
  run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, env: offlineNpmEnv() });
}
