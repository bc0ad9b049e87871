// The sync-scale row (BENCH_ONLY=sync-scale, or alone: `node bench/lib/sync-scale.mjs [50,200,800]`): peak RSS
// of `dsv sync` registry→registry for repositories of 50, 200 and 800 small tagged images (the sync row's
// generator: one 32 KiB layer each), each into a fresh registry. Memory must stay flat in the number of tags;
// wall times are printed too, but on a shared machine only the RSS is stable.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateManyTags } from './many-tags.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const dsvBin = join(root, 'apps', 'cli', 'bin', 'dsv.js');

const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
const portOpen = (port) =>
  new Promise((res) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => (c.destroy(), res(true)));
    c.once('error', () => res(false));
  });

async function registry() {
  const dir = mkdtempSync(join(tmpdir(), 'dsv-bench-scale-reg-'));
  const port = await freePort();
  const cfg = join(dir, 'config.yml');
  writeFileSync(cfg, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn('/usr/bin/docker-registry', ['serve', cfg], { stdio: 'ignore' });
  for (let i = 0; i < 200 && !(await portOpen(port)); i++) await new Promise((r) => setTimeout(r, 50));
  return {
    host: `127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

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
  const src = await registry();
  const rows = [];
  try {
    for (const n of sizes) {
      const dir = resolve(work, `scale-${n}`);
      await generateManyTags(dir, join(work, 'many-parts'), n);
      execFileSync(process.execPath, [dsvBin, 'sync', `oci:${dir}`, `docker://${src.host}/scale`], { env, stdio: 'ignore' });
      const got = [];
      for (let i = 0; i < runs; i++) {
        const dest = await registry();
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
