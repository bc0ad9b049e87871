// The sync-scale row (BENCH_ONLY=sync-scale, or alone: `node bench/lib/sync-scale.mjs [50,200,800]`): peak RSS
// of `dsv sync` registry→registry for repositories of 50, 200 and 800 small tagged images (the sync row's
// generator: one 32 KiB layer each), each into a fresh registry. Memory must stay flat in the number of tags;
// wall times are printed too, but on a shared machine only the RSS is stable.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateManyTags } from './many-tags.mjs';
import { startRegistry } from './registry.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const dsvBin = join(root, 'apps', 'cli', 'bin', 'dsv.js');

/** Wall seconds and peak RSS (MiB) of one command, from /usr/bin/time. */
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
      res({ wall, cpu: user + sys, rss: rssKb / 1024 });
    });
  });
}

/** One row per size: { tags, wall, cpu, rss }. `work` caches the generated layouts. */
export async function syncScaleRows({ work, sizes = [50, 200, 800], runs = 1, env = process.env }) {
  const src = await startRegistry({ prefix: 'dsv-bench-scale-reg-' });
  const rows = [];
  try {
    for (const n of sizes) {
      const dir = resolve(work, `scale-${n}`);
      await generateManyTags(dir, join(work, 'many-parts'), n);
      execFileSync(process.execPath, [dsvBin, 'sync', `oci:${dir}`, `docker://${src.host}/scale`], { env, stdio: 'ignore' });
      const got = [];
      for (let i = 0; i < runs; i++) {
        const dest = await startRegistry({ prefix: 'dsv-bench-scale-reg-' });
        try {
          execFileSync('sync');
          got.push(await measure(process.execPath, [dsvBin, 'sync', `docker://${src.host}/scale/scale-${n}`, `docker://${dest.host}/mirror`], env));
        } finally {
          await dest.stop();
        }
      }
      const row = { tags: n, wall: Math.min(...got.map((g) => g.wall)), cpu: Math.min(...got.map((g) => g.cpu)), rss: Math.max(...got.map((g) => g.rss)) };
      console.error(`sync-scale ${n} tags: ${row.wall.toFixed(1)} s wall, ${row.cpu.toFixed(1)} s CPU, ${row.rss.toFixed(0)} MiB peak RSS`);
      rows.push(row);
    }
  } finally {
    await src.stop();
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = (process.argv[2] ?? '50,200,800').split(',').map(Number);
  const work = join(here, '..', '.work');
  mkdirSync(work, { recursive: true });
  const rows = await syncScaleRows({ work, sizes, runs: Number(process.env.BENCH_RUNS ?? 1) });
  console.log(['| tags | dsv sync wall (s, loaded) | client CPU (s) | peak RSS (MiB) |', '| ---: | ---: | ---: | ---: |', ...rows.map((r) => `| ${r.tags} | ${r.wall.toFixed(1)} | ${r.cpu.toFixed(1)} | ${r.rss.toFixed(0)} |`)].join('\n'));
}
