// The workspace packages as they would be published: what `npm pack` puts in each tarball (every exports
// target, types file and bin, a README, sources for every source map, no tests), the publish fields, and
// the packed tarballs installed together into a fresh project with no network, where every export imports
// and every declaration file type-checks.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, run, tempDir } from '../helpers/proc.js';
import { installPackedOffline, type PackedPackage } from './offline-install.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  repository?: { type?: string; url?: string; directory?: string };
  publishConfig?: { access?: string };
  scripts?: Record<string, string>;
}
interface PackResult {
  name: string;
  version: string;
  filename: string;
  integrity: string;
  files: { path: string }[];
}

const workspaces = ['packages', 'apps'].flatMap((group) =>
  readdirSync(join(root, group)).sort().map((dir) => {
    const path = `${group}/${dir}`;
    return { path, manifest: JSON.parse(readFileSync(join(root, path, 'package.json'), 'utf8')) as Manifest };
  }),
);
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;

/** Every file path an exports map names (conditions and subpaths alike), by subpath. */
function exportTargets(exports: Record<string, unknown>): { subpath: string; file: string }[] {
  const out: { subpath: string; file: string }[] = [];
  const walk = (subpath: string, v: unknown) => {
    if (typeof v === 'string') out.push({ subpath, file: v });
    else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(subpath, x);
  };
  for (const [subpath, v] of Object.entries(exports)) walk(subpath, v);
  return out;
}
const rel = (p: string) => normalize(p).replace(/^\.\//, '');

let packed: Map<string, PackResult>;
let packDir: string;

beforeAll(() => {
  // The published packages are what `npm run build` made before the tests (npm test builds first; prepack
  // runs the same build for one package). Building here would replace the bundles under the e2e tests
  // that are running the launchers at the same time.
  packDir = tempDir('dsv-packed-');
  // --ignore-scripts: the tree is built just above; prepack would build it again, package by package.
  const out = run('npm', ['pack', '--json', '--ignore-scripts', '--workspaces', '--pack-destination', packDir], { cwd: root });
  packed = new Map((JSON.parse(out) as PackResult[]).map((r) => [r.name, r]));
}, 600_000);

afterAll(() => removeTempDirs());

describe('the packed workspace packages', () => {
  it('every workspace package is packed', () => {
    expect([...packed.keys()].sort()).toEqual(workspaces.map((w) => w.manifest.name).sort());
  });

  describe.each(workspaces)('$path', ({ path, manifest }) => {
    const files = () => new Set(packed.get(manifest.name)!.files.map((f) => f.path));

    it('carries publish fields: repository, publishConfig, a prepack build, the root version', () => {
      expect(manifest.private).toBeUndefined();
      expect(manifest.version).toBe(rootManifest.version);
      expect(manifest.repository).toEqual({ ...rootManifest.repository, directory: path });
      expect(manifest.publishConfig?.access).toBe('public');
      expect(manifest.scripts?.prepack).toMatch(/^tsc -b tsconfig\.json\b/);
      if (path.startsWith('apps/')) expect(manifest.scripts?.prepack).toContain('tools/bundle-apps.mjs');
    });

    it('ships a README and no tests, sources or build info it does not need', () => {
      const f = [...files()];
      expect(f).toContain('README.md');
      expect(f.filter((x) => /\.test\.[jt]s$|__tests__|\.tsbuildinfo$/.test(x))).toEqual([]);
    });

    it('ships main, types, every exports target and every bin', () => {
      const f = files();
      const wanted = [
        ...(manifest.main ? [manifest.main] : []),
        ...(manifest.types ? [manifest.types] : []),
        ...exportTargets(manifest.exports ?? {}).map((t) => t.file),
        ...Object.values(manifest.bin ?? {}),
      ].map(rel);
      expect(wanted.length).toBeGreaterThan(0);
      expect(wanted.filter((w) => !f.has(w))).toEqual([]);
    });

    it('every source map points at files in the tarball', () => {
      const f = files();
      const maps = [...f].filter((x) => x.endsWith('.map'));
      const missing: string[] = [];
      for (const m of maps) {
        const map = JSON.parse(readFileSync(join(root, path, m), 'utf8')) as { sources: string[] };
        for (const s of map.sources) {
          const target = normalize(join(dirname(m), s));
          if (!f.has(target)) missing.push(`${m} → ${s}`);
        }
      }
      expect(missing).toEqual([]);
    });
  });
});

describe('the packed packages installed together, offline', () => {
  let project: string;

  beforeAll(() => {
    project = tempDir('dsv-libs-install-');
    const list: PackedPackage[] = workspaces.map(({ path, manifest }) => {
      const p = packed.get(manifest.name)!;
      return { name: p.name, version: p.version, file: join(packDir, p.filename), integrity: p.integrity, dependencies: manifest.dependencies ?? {}, workspace: path };
    });
    installPackedOffline(project, list, root);
  }, 300_000);

  it('every export of every package imports', () => {
    const specifiers = workspaces.flatMap(({ manifest }) =>
      Object.keys(manifest.exports ?? { '.': null })
        .filter((s) => s !== './package.json')
        .map((s) => (s === '.' ? manifest.name : `${manifest.name}/${s.slice(2)}`)),
    );
    const script = `for (const s of ${JSON.stringify(specifiers)}) { const m = await import(s); if (Object.keys(m).length === 0) throw new Error(s + ' exports nothing'); } console.log('ok');`;
    writeFileSync(join(project, 'import-all.mjs'), script);
    // Import only: an app's main must not start its command line when imported.
    expect(run(process.execPath, ['import-all.mjs'], { cwd: project }).trim()).toBe('ok');
  });

  it('every package\'s declarations type-check from the installed tarballs', () => {
    const lines = workspaces.flatMap(({ manifest }, i) =>
      exportTargets(manifest.exports ?? {})
        .filter((t) => t.subpath !== './package.json' && t.file.endsWith('.d.ts'))
        .map((t, j) => `import type * as m${i}_${j} from '${t.subpath === '.' ? manifest.name : `${manifest.name}/${t.subpath.slice(2)}`}';\nexport type T${i}_${j} = typeof m${i}_${j};`),
    );
    writeFileSync(join(project, 'check.ts'), `${lines.join('\n')}\n`);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          // Every export's declarations must resolve and load; errors inside declaration files are the next
          // test's (openpgp's own declarations name a package openpgp does not depend on).
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(root, 'node_modules/@types')],
        },
        files: ['check.ts'],
      }),
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    expect(run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project })).toBe('');
  });

  it('every npm package our declarations import is typed for a consumer', () => {
    const gaps: string[] = [];
    for (const { path, manifest } of workspaces) {
      const deps = manifest.dependencies ?? {};
      const dts = [...packed.get(manifest.name)!.files.map((f) => f.path)].filter((f) => f.endsWith('.d.ts'));
      const imported = new Set<string>();
      for (const f of dts) {
        const text = readFileSync(join(root, path, f), 'utf8');
        for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"./][^'"]*)['"]/g)) {
          if (!m[1]!.startsWith('node:')) imported.add(m[1]!);
        }
      }
      for (const spec of [...imported].sort()) {
        const name = spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
        if (!(name in deps)) {
          gaps.push(`${manifest.name}: imports ${spec}, not a dependency`);
          continue;
        }
        const dir = join(project, 'node_modules', name);
        const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
        const subpath = spec === name ? '.' : `./${spec.slice(name.length + 1)}`;
        const exported = pj.exports && typeof pj.exports === 'object' && !Array.isArray(pj.exports) ? (pj.exports as Record<string, unknown>)[subpath] : undefined;
        const typed = JSON.stringify(exported ?? null).includes('"types"')
          || (subpath === '.' && (Boolean(pj.types ?? pj.typings) || existsSync(join(dir, 'index.d.ts'))));
        const typesPackage = `@types/${name.replace(/^@([^/]+)\//, '$1__')}`;
        if (!typed && !(typesPackage in deps)) gaps.push(`${manifest.name}: imports ${spec}, which has no types (${typesPackage} is not a dependency)`);
      }
    }
    expect(gaps).toEqual([]);
  });
});
