// The sync-scale rows (BENCH_ONLY=sync-scale, or alone: `node bench/lib/sync-scale.mjs [50,200,800]`): peak RSS of
// the fleet commands against the number of tags, for repositories of 50, 200 and 800 small tagged images (the sync
// row's generator: one 32 KiB layer each). Per run: `dsv sync` registry → a fresh registry, then on that copy
// `dsv sign --all-tags --format cosign` (a .sig per tag, key made once by `dsv generate-key-pair`) and
// `dsv verify --all-tags --policy` (a sigstoreSigned policy with that key: every tag's integrity and its .sig). Memory must stay
// flat in the number of tags; wall times are printed too, but on a shared machine only the RSS is stable.
// SYNC_SCALE_BUILDS=new=/work/wt/x,old=/tmp/old (directories holding apps/cli/{bin,bundle}): the builds alternate
// within each run (old/new, new/old, ...), one row per build and size.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateManyTags } from './many-tags.mjs';
import { startRegistry } from './registry.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const dsvOf = (build) => join(build, 'apps', 'cli', 'bin', 'dsv.js');

const loadAverage = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/** Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one command, from /usr/bin/time. */
function measure(cmd, args, env) {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%U %S %M', cmd, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const [user, sys, rssKb] = err.trim().split('\n').pop().split(' ').map(Number);
      if (code !== 0) return rej(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${err.slice(-2000)}`));
      res({ wall, cpu: user + sys, rss: rssKb / 1024, load: loadAverage() });
    });
  });
}

const COMMANDS = ['sync', 'sign --all-tags', 'verify --all-tags'];

/**
 * One row per build, size and command: { build, tags, command, wall, cpu, rss, load } (wall and CPU the smallest of
 * the runs, RSS the largest, load the largest 1-minute load average seen at the end of a run). `work` caches the
 * generated layouts; `builds` maps a name to a checkout or a copy of its apps/cli (default: this checkout).
 */
export async function syncScaleRows({ work, sizes = [50, 200, 800], runs = 1, env = process.env, builds = { dsv: root } }) {
  const names = Object.keys(builds);
  const src = await startRegistry({ prefix: 'dsv-bench-scale-reg-' });
  const keys = mkdtempSync(join(tmpdir(), 'dsv-bench-scale-keys-'));
  const rows = [];
  try {
    writeFileSync(join(keys, 'pw'), 'bench\n');
    const prefix = join(keys, 'fleet');
    writeFileSync(join(keys, 'policy.json'), JSON.stringify({ default: [{ type: 'sigstoreSigned', keyPath: `${prefix}.pub`, signedIdentity: { type: 'matchRepository' } }] }));
    execFileSync(process.execPath, [dsvOf(root), 'generate-key-pair', '--format', 'cosign', '--output-prefix', prefix, '--passphrase-file', join(keys, 'pw')], { env, stdio: 'ignore' });
    for (const n of sizes) {
      const dir = resolve(work, `scale-${n}`);
      await generateManyTags(dir, join(work, 'many-parts'), n);
      execFileSync(process.execPath, [dsvOf(root), 'sync', `oci:${dir}`, `docker://${src.host}/scale`], { env, stdio: 'ignore' });
      const got = new Map(names.flatMap((b) => COMMANDS.map((c) => [`${b} ${c}`, []])));
      for (let i = 0; i < runs; i++) {
        for (const build of i % 2 ? [...names].reverse() : names) {
          const dsv = dsvOf(builds[build]);
          const dest = await startRegistry({ prefix: 'dsv-bench-scale-reg-' });
          try {
            const repo = `docker://${dest.host}/mirror/scale-${n}`;
            execFileSync('sync');
            got.get(`${build} sync`).push(await measure(process.execPath, [dsv, 'sync', `docker://${src.host}/scale/scale-${n}`, `docker://${dest.host}/mirror`], env));
            got.get(`${build} sign --all-tags`).push(await measure(process.execPath, [dsv, 'sign', '--all-tags', '--format', 'cosign', '--key', `${prefix}.key`, '--passphrase-file', join(keys, 'pw'), repo], env));
            got.get(`${build} verify --all-tags`).push(await measure(process.execPath, [dsv, 'verify', '--all-tags', '--policy', join(keys, 'policy.json'), repo], env));
          } finally {
            await dest.stop();
          }
        }
      }
      for (const build of names) {
        for (const command of COMMANDS) {
          const g = got.get(`${build} ${command}`);
          const row = { build, tags: n, command, wall: Math.min(...g.map((x) => x.wall)), cpu: Math.min(...g.map((x) => x.cpu)), rss: Math.max(...g.map((x) => x.rss)), load: Math.max(...g.map((x) => x.load)) };
          console.error(`sync-scale ${names.length > 1 ? `${build} ` : ''}${command}, ${n} tags: ${row.wall.toFixed(1)} s wall, ${row.cpu.toFixed(1)} s CPU, ${row.rss.toFixed(0)} MiB peak RSS (load ${row.load.toFixed(1)})`);
          rows.push(row);
        }
      }
    }
  } finally {
    await src.stop();
    rmSync(keys, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = (process.argv[2] ?? '50,200,800').split(',').map(Number);
  const work = join(here, '..', '.work');
  mkdirSync(work, { recursive: true });
  const builds = process.env.SYNC_SCALE_BUILDS ? Object.fromEntries(process.env.SYNC_SCALE_BUILDS.split(',').map((x) => x.split('='))) : undefined;
  const rows = await syncScaleRows({ work, sizes, runs: Number(process.env.BENCH_RUNS ?? 1), ...(builds ? { builds } : {}) });
  console.log(
    [
      '| build | command | tags | wall (s, loaded) | client CPU (s) | peak RSS (MiB) | load average |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map((r) => `| ${r.build} | ${r.command} | ${r.tags} | ${r.wall.toFixed(1)} | ${r.cpu.toFixed(1)} | ${r.rss.toFixed(0)} | ${r.load.toFixed(1)} |`),
    ].join('\n'),
  );
}
