#!/usr/bin/env node
// In-process peak-RSS probe of a full integrity check (every digest and diff_id) of an OCI layout (bench/NOTES.md §17).
// Runs the built @dsv/core's verifyIntegrity over @dsv/source-archive's oci: source with a chosen concurrency, without
// the CLI (so without the V8 flags `createContext` sets), and prints peak RSS and CPU. Used to tell memory the code
// keeps from memory the garbage collector has not reclaimed yet: run it also as
// `node --expose-gc bench/oci-verify-rss.mjs …` with BENCH_GC_MS=1000, which forces a full GC every second.
//   node bench/oci-verify-rss.mjs bench/.work/forty-67108864 [concurrency, default 4]
import { verifyIntegrity } from '@dsv/core';
import { ociTransport } from '@dsv/source-archive';

const [dir, concurrency = '4'] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: node bench/oci-verify-rss.mjs OCI-LAYOUT-DIR [CONCURRENCY]\n');
  process.exit(2);
}
const gcEvery = Number(process.env.BENCH_GC_MS ?? 0);
if (gcEvery > 0) {
  if (typeof globalThis.gc !== 'function') {
    process.stderr.write('BENCH_GC_MS needs node --expose-gc\n');
    process.exit(2);
  }
  setInterval(() => globalThis.gc(), gcEvery).unref();
}
const source = await ociTransport.parseReference(dir).newSource({});
const report = await verifyIntegrity(source, { concurrency: Number(concurrency) });
await source.close();
const u = process.resourceUsage();
const cpu = (u.userCPUTime + u.systemCPUTime) / 1e6;
console.log(`${dir}: concurrency ${concurrency}, forced GC ${gcEvery > 0 ? `every ${gcEvery} ms` : 'no'}: ${report.ok ? 'ok' : 'FAILED'}, peak RSS ${(u.maxRSS / 1024).toFixed(1)} MiB, CPU ${cpu.toFixed(2)} s`);
process.exit(report.ok ? 0 : 1);
