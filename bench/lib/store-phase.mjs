#!/usr/bin/env node
// The local-store verify phase alone: core's integrity engine over a docker-storage: image, with the layers
// hashed in worker threads (ImageSource.digestBlob, `digest`) or streamed and hashed on the main thread
// (`stream`: the same source without digestBlob), alternated in fresh processes after one unmeasured round.
// Prints per mode the median wall time of verifyIntegrity (min-max), MiB/s, the process's CPU seconds over that
// phase (all threads) and its busiest thread's (the phase's floor on idle cores). Needs the built dist (`npm run build`).
//   DSV_DOCKER_ROOT=<store root> node bench/lib/store-phase.mjs docker-storage:bench/eight:1 [runs=5] [modes=stream,digest]
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [, , ref, runsArg, modesArg] = process.argv;
// CPU seconds of each thread of this process (utime + stime from /proc, 10 ms ticks), by thread id.
const threadCpu = () => Object.fromEntries(readdirSync('/proc/self/task').map((t) => {
  const f = readFileSync(`/proc/self/task/${t}/stat`, 'utf8').split(') ')[1].split(' ');
  return [t, (Number(f[11]) + Number(f[12])) / 100];
}));
if (process.env.STORE_PHASE_CHILD) {
  const { verifyIntegrity, TransportRegistry } = await import('@dsv/core');
  const { dockerStorageTransport } = await import('@dsv/source-repository');
  const source = await dockerStorageTransport.parseReference(ref.replace(/^docker-storage:/, '')).newSource({ dockerRoot: process.env.DSV_DOCKER_ROOT });
  const src = process.env.STORE_PHASE_CHILD === 'stream' ? new Proxy(source, { get: (t, k) => (k === 'digestBlob' ? undefined : typeof t[k] === 'function' ? t[k].bind(t) : t[k]) }) : source;
  await src.getManifest();
  const th0 = threadCpu();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const report = await verifyIntegrity(src);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const th1 = threadCpu();
  // The busiest thread's CPU over the phase: on idle cores the phase takes at least that long.
  const busiest = Math.max(...Object.entries(th1).map(([t, v]) => v - (th0[t] ?? 0)));
  await source.close();
  if (!report.ok) throw new Error(`integrity failed: ${JSON.stringify(report.images[0].layers.map((l) => l.error?.message))}`);
  const bytes = report.images[0].layers.reduce((n, l) => n + l.actualSize, 0);
  process.stdout.write(JSON.stringify({ wall, cpu: (c.user + c.system) / 1e6, bytes, rss: process.resourceUsage().maxRSS / 1024, busiest }));
  void TransportRegistry;
} else {
  const runs = Number(runsArg ?? 5);
  const modes = (modesArg ?? 'stream,digest').split(',');
  const res = Object.fromEntries(modes.map((m) => [m, []]));
  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  const loads = [load()];
  for (let i = -1; i < runs; i++) {
    for (const m of i % 2 ? [...modes].reverse() : modes) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), ref], { env: { ...process.env, STORE_PHASE_CHILD: m }, encoding: 'utf8' });
      if (i >= 0) res[m].push(JSON.parse(out));
    }
    loads.push(load());
  }
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
  for (const m of modes) {
    const w = res[m].map((r) => r.wall);
    const bytes = res[m][0].bytes;
    console.log(`${m}: verify phase ${med(w).toFixed(3)} s (${Math.min(...w).toFixed(3)}–${Math.max(...w).toFixed(3)}), ${(bytes / 2 ** 20 / med(w)).toFixed(0)} MiB/s, CPU ${med(res[m].map((r) => r.cpu)).toFixed(3)} s (busiest thread ${med(res[m].map((r) => r.busiest)).toFixed(2)} s: at most ${(res[m][0].bytes / 2 ** 20 / med(res[m].map((r) => r.busiest))).toFixed(0)} MiB/s on idle cores), peak RSS ${Math.max(...res[m].map((r) => r.rss)).toFixed(0)} MiB`);
  }
  console.log(`load average ${loads.join(' → ')}`);
}
