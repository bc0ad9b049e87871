#!/usr/bin/env node
// A/B of builds on the signing copy (dsv-copy --sign-by registry -> registry; AB_MODE=copy: the plain copy,
// AB_MODE=verify: dsv verify of a signed copy of the image): one source registry, a fresh destination per run,
// the variants alternated (A B C, C B A, ...) after one unmeasured round. Reports per
// variant the median wall time (min-max), the client's CPU (user + system, children included), the CPU the
// source and destination registries used (from /proc), peak RSS, and each variant's ratio to the first.
// A build is a directory holding apps/copy/{bin,bundle} (and apps/cli/{bin,bundle} to verify; copy them aside after `npm run build`).
//   AB_BUILDS=new=/work/wt/perf,old=/tmp/old  AB_PLAIN=1 (also the plain copy with the first build)
//   AB_ENV='new:GLIBC_TUNABLES=glibc.malloc.trim_threshold=1073741824' (extra environment of one variant; ';' between)
//   AB_SIGN=0 (same as AB_MODE=copy)  AB_PEERS=skopeo,floor (also skopeo's copy, or `skopeo copy … dir:` when verifying, and bench/lib/node-floor.mjs)
//   RUNS=5  IMG=eight|big (bench/.work images) or LAYOUT=<oci layout dir, tag latest>
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry } from './registry.mjs';
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILDS = Object.fromEntries((process.env.AB_BUILDS ?? `current=${root}`).split(',').map((x) => x.split('=')));
const RUNS = Number(process.env.RUNS ?? 5);
const IMG = process.env.IMG ?? 'eight';
const MODE = process.env.AB_MODE ?? (process.env.AB_SIGN === '0' ? 'copy' : 'sign');
const PEERS = (process.env.AB_PEERS ?? '').split(',').filter(Boolean);
const EXTRA_ENV = {};
for (const spec of (process.env.AB_ENV ?? '').split(';').filter(Boolean)) {
  const [, name, key, value] = /^([^:]+):([^=]+)=(.*)$/.exec(spec);
  (EXTRA_ENV[name] ??= {})[key] = value;
}
const VARIANTS = [...Object.keys(BUILDS), ...(process.env.AB_PLAIN === '1' ? ['plain'] : []), ...PEERS];
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
const dsvBin = (r) => join(r, 'apps/cli/bin/dsv.js');
const pub = join(gnupg, 'pub.asc');
writeFileSync(pub, execFileSync('gpg', ['--homedir', gnupg, '--armor', '--export', fpr]));
const image = `${src.host}/bench/${IMG}:1`;
const signed = `${src.host}/bench/${IMG}:signed`;
if (MODE === 'verify') execFileSync(process.execPath, [dsvBin(Object.values(BUILDS)[0]), 'sign', '--key', fpr, `docker://${image}`, `docker://${signed}`], { env: { ...process.env, NODE_EXTRA_CA_CERTS: '', ...gpgEnv }, stdio: 'ignore' });
const flags = ['--src-tls-verify=false', '--dest-tls-verify=false'];
const ours = {
  sign: (r, d) => [process.execPath, [copyBin(r), '--sign-by', fpr, `docker://${image}`, `docker://${d.host}/bench/${IMG}:1`], gpgEnv],
  copy: (r, d) => [process.execPath, [copyBin(r), `docker://${image}`, `docker://${d.host}/bench/${IMG}:1`], {}],
  verify: (r) => [process.execPath, [dsvBin(r), 'verify', '--trust', pub, `docker://${signed}`], gpgEnv],
}[MODE];
const variants = {
  plain: (d) => [process.execPath, [copyBin(Object.values(BUILDS)[0]), `docker://${image}`, `docker://${d.host}/bench/${IMG}:1`], {}],
  skopeo: (d) => ['skopeo', MODE === 'verify' ? ['copy', ...flags, `docker://${signed}`, `dir:${d.dir}/img`] : ['copy', ...flags, `docker://${image}`, `docker://${d.host}/bench/${IMG}:1`], {}],
  floor: (d) => [process.execPath, ['--liftoff-only', join(root, 'bench/lib/node-floor.mjs'), src.host, d.host, `bench/${IMG}:1`], {}],
  ...Object.fromEntries(Object.entries(BUILDS).map(([k, r]) => [k, (d) => ours(r, d)])),
};
const res = Object.fromEntries(VARIANTS.map((v) => [v, []]));
for (let i = -1; i < RUNS; i++) {
  const order = i % 2 ? [...VARIANTS].reverse() : VARIANTS;
  for (const v of order) {
    const d = MODE === 'verify' && v !== 'floor' ? { dir: mkdtempSync(join(tmpdir(), 'dsv-ab-dir-')), pid: NaN, stop: async () => rmSync(d.dir, { recursive: true, force: true }) } : await startRegistry({ prefix: 'dsv-ab-reg-' });
    execFileSync('sync');
    const s0 = ticks(src.pid), d0 = ticks(d.pid);
    const [cmd, args, baseEnv] = variants[v](d);
    const env = { ...baseEnv, ...EXTRA_ENV[v] };
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
