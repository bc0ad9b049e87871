#!/usr/bin/env node
// A/B of builds on the signing copy (dsv-copy --sign-by registry -> registry): one source registry, a fresh
// destination per run, the variants alternated (A B C, C B A, ...) after one unmeasured round. Reports per
// variant the median wall time (min-max), the client's CPU (user + system, children included), the CPU the
// source and destination registries used (from /proc), peak RSS, and each variant's ratio to the first.
// A build is a directory holding apps/copy/{bin,bundle} (copy them aside after `npm run build`).
//   AB_BUILDS=new=/work/wt/perf,old=/tmp/old  AB_PLAIN=1 (also the plain copy with the first build)
//   AB_SIGN=0 (the builds make plain copies, no --sign-by)  RUNS=5  IMG=eight|big (bench/.work images) or LAYOUT=<oci layout dir, tag latest>
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry } from './registry.mjs';
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILDS = Object.fromEntries((process.env.AB_BUILDS ?? `current=${root}`).split(',').map((x) => x.split('=')));
const RUNS = Number(process.env.RUNS ?? 5);
const SIGN = process.env.AB_SIGN !== '0';
const IMG = process.env.IMG ?? 'eight';
const VARIANTS = [...Object.keys(BUILDS), ...(process.env.AB_PLAIN === '1' ? ['plain'] : [])];
const ticks = (pid) => { try { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100; } catch { return NaN; } };
function run(cmd, args, env) {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%U %S %M', cmd, ...args], { env: { ...process.env, NODE_EXTRA_CA_CERTS: '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return rej(new Error(err));
      const [u, s, m] = err.trim().split('\n').pop().split(' ').map(Number);
      res({ wall, cpu: u + s, rss: m / 1024 });
    });
  });
}
const src = await startRegistry({ prefix: 'dsv-ab-reg-' });
const layout = process.env.LAYOUT ?? `${root}/bench/.work/${IMG === 'eight' ? 'eight-67108864' : 'big-1073741824'}`;
execFileSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${src.host}/bench/${IMG}:1`], { stdio: 'ignore' });
const gnupg = mkdtempSync(join(tmpdir(), 'dsv-ab-gpg-'));
execFileSync('gpg', ['--homedir', gnupg, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'dsv bench <bench@dsv.invalid>', 'ed25519', 'sign', '1d'], { stdio: 'ignore' });
const fpr = execFileSync('gpg', ['--homedir', gnupg, '--batch', '--with-colons', '--list-secret-keys'], { encoding: 'utf8' }).split('\n').find((l) => l.startsWith('fpr')).split(':')[9];
const gpgEnv = { DSV_GPG_DATASTORE: gnupg, GNUPGHOME: gnupg, DSV_KEYPASS: '' };
const copyBin = (r) => join(r, 'apps/copy/bin/dsv-copy.js');
const variants = {
  plain: (d) => [process.execPath, [copyBin(Object.values(BUILDS)[0]), `docker://${src.host}/bench/${IMG}:1`, `docker://${d.host}/bench/${IMG}:1`], {}],
  ...Object.fromEntries(Object.entries(BUILDS).map(([k, r]) => [k, (d) => [process.execPath, [copyBin(r), ...(SIGN ? ['--sign-by', fpr] : []), `docker://${src.host}/bench/${IMG}:1`, `docker://${d.host}/bench/${IMG}:1`], SIGN ? gpgEnv : {}]])),
};
const res = Object.fromEntries(VARIANTS.map((v) => [v, []]));
for (let i = -1; i < RUNS; i++) {
  const order = i % 2 ? [...VARIANTS].reverse() : VARIANTS;
  for (const v of order) {
    const d = await startRegistry({ prefix: 'dsv-ab-reg-' });
    execFileSync('sync');
    const s0 = ticks(src.pid), d0 = ticks(d.pid);
    const [cmd, args, env] = variants[v](d);
    const r = await run(cmd, args, env);
    r.srcCpu = ticks(src.pid) - s0; r.dstCpu = ticks(d.pid) - d0;
    await d.stop();
    if (i >= 0) res[v].push(r);
  }
  if (i >= 0) console.error(`run ${i}: ` + VARIANTS.map((v) => `${v} ${res[v][i].wall.toFixed(2)}s (cpu ${res[v][i].cpu.toFixed(2)})`).join('  ') + `  load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`);
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
for (const v of VARIANTS) {
  const r = res[v];
  console.log(`${v}: wall ${med(r.map((x) => x.wall)).toFixed(2)} (${Math.min(...r.map((x) => x.wall)).toFixed(2)}–${Math.max(...r.map((x) => x.wall)).toFixed(2)}), client cpu ${med(r.map((x) => x.cpu)).toFixed(2)}, src ${med(r.map((x) => x.srcCpu)).toFixed(2)}, dst ${med(r.map((x) => x.dstCpu)).toFixed(2)}, rss ${Math.max(...r.map((x) => x.rss)).toFixed(0)}`);
}
const base = VARIANTS[0];
for (const v of VARIANTS.slice(1)) {
  const pr = res[v].map((x, i) => x.wall / res[base][i].wall);
  console.log(`${v}/${base}: ratio of medians ${(med(res[v].map((x) => x.wall)) / med(res[base].map((x) => x.wall))).toFixed(2)}, paired median ${med(pr).toFixed(2)} (${Math.min(...pr).toFixed(2)}–${Math.max(...pr).toFixed(2)})`);
}
await src.stop();
try { execFileSync('gpgconf', ['--homedir', gnupg, '--kill', 'gpg-agent'], { stdio: 'ignore' }); } catch {}
rmSync(gnupg, { recursive: true, force: true });
