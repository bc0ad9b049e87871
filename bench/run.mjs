#!/usr/bin/env node
// npm run bench: dsv against skopeo on the same deterministic images, alternating runs, medians and ratios.
// Not part of npm test. Writes bench/results/latest.md and prints it.
//   BENCH_RUNS=3 (runs per side)   BENCH_SMALL=1 (8 x 8 MiB + 1 x 64 MiB instead of 8 x 64 MiB + 1 x 1 GiB)
//   BENCH_ONLY=startup,copy,copy-sign,sign,detached-sign,verify,store,containerd,sync,scale (a subset of the rows; default all)
//   BENCH_OWN_ENV=0 (skip the dsv runs in the machine's own environment, printed beside each row)
//   BENCH_ONLY=sync-scale: the extra rows (never in the default set) of the peak RSS of dsv sync, sign --all-tags and verify --all-tags for 50, 200, 800 tags
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateImage } from './lib/gen-image.mjs';
import { startRegistry } from './lib/registry.mjs';
import { detachedSignRow } from './lib/detached-sign.mjs';
import { startContainerd } from './lib/containerd.mjs';
import { generateManyTags, MANY_TAGS } from './lib/many-tags.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SMALL = process.env.BENCH_SMALL === '1';
const ALL = ['startup', 'copy', 'copy-sign', 'sign', 'detached-sign', 'verify', 'store', 'containerd', 'sync', 'scale'];
const ONLY = new Set((process.env.BENCH_ONLY ?? ALL.join(',')).split(',').map((x) => x.trim()));
const MiB = 1 << 20;
const work = join(here, '.work');
mkdirSync(work, { recursive: true });
const node = process.execPath;
// Every measured command runs in this environment. NODE_EXTRA_CA_CERTS goes (unless BENCH_KEEP_ENV=1): Node reads
// and parses that file at every start, before any code runs (on this machine it names the whole system bundle:
// ≈ 45 ms per process), and no side of the bench uses TLS. main() measures what it adds and prints it, and every row
// also runs each dsv side in the machine's own environment (that variable kept), alternated with the others and
// printed beside (BENCH_OWN_ENV=0 skips those runs; BENCH_KEEP_ENV=1 keeps the variable for every run instead).
const KEEP_ENV = process.env.BENCH_KEEP_ENV === '1';
const extraCaCerts = process.env.NODE_EXTRA_CA_CERTS;
const benchEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => KEEP_ENV || k !== 'NODE_EXTRA_CA_CERTS'));
const OWN_ENV = Boolean(extraCaCerts) && !KEEP_ENV && process.env.BENCH_OWN_ENV !== '0';
/** A dsv side as it runs in the machine's own environment. */
const inOwnEnv = (side) => (side && side.cmd === process.execPath ? { ...side, env: { ...side.env, NODE_EXTRA_CA_CERTS: extraCaCerts } } : undefined);
const bin = (app, name) => join(root, 'apps', app, 'bin', `${name}.js`);

execFileSync('bash', [join(root, 'tools', 'setup-system')], { stdio: 'inherit' });

/** The real dockerd on a private root and socket (as the e2e tests run it). */
async function startDockerd() {
  const dir = mkdtempSync('/tmp/dsvbd-');
  const sock = join(dir, 'd.sock');
  const child = spawn('dockerd', ['--data-root', join(dir, 'root'), '--exec-root', join(dir, 'exec'), '--host', `unix://${sock}`, '--pidfile', join(dir, 'd.pid'),
    '--storage-driver', 'overlay2', '--iptables=false', '--ip6tables=false', '--bridge=none', '--containerd-namespace', `dsvbench${process.pid}`, '--containerd-plugins-namespace', `dsvbench${process.pid}p`],
  { stdio: 'ignore', detached: true });
  for (let i = 0; i < 600; i++) {
    try {
      execFileSync('docker', ['-H', `unix://${sock}`, 'version'], { stdio: 'ignore' });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    host: `unix://${sock}`,
    root: join(dir, 'root'),
    stop: async () => {
      try { process.kill(-child.pid, 'SIGTERM'); } catch {}
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs a command under GNU time; returns wall seconds, CPU seconds (user + system, its children included) and peak RSS (MiB). */
function measure(cmd, args, env = {}) {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%U %S %M', cmd, ...args], { env: { ...benchEnv, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const lines = err.trim().split('\n');
      const [user, sys, rssKb] = lines[lines.length - 1].split(' ').map(Number);
      if (code !== 0) return rej(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${err.slice(-2000)}`));
      res({ wall, cpu: user + sys, rss: rssKb / 1024 });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const loadAverage = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

async function alternate(name, ours, peer, runs = RUNS, reference = undefined) {
  const o = [], p = [], r = [], oo = [], po = [];
  const loads = [loadAverage()];
  // The dsv sides again in the machine's own environment (NODE_EXTRA_CA_CERTS kept): ours, and the peer when it is
  // dsv too (copy --sign-by against the plain copy), so that ratio compares like with like.
  const ownOurs = OWN_ENV ? inOwnEnv(ours) : undefined;
  const ownPeer = OWN_ENV ? inOwnEnv(peer) : undefined;
  // One unmeasured round first: the first run after a push or a daemon start meets cold caches, and it would
  // always be ours.
  for (let i = -1; i < runs; i++) {
    const sides = [[ours, o], [peer, p], [reference, r], [ownOurs, oo], [ownPeer, po]];
    for (const [side, measured] of i % 2 ? sides.reverse() : sides) {
      if (!side) continue;
      const list = i < 0 ? [] : measured;
      const prep = side.prepare ? await side.prepare(i) : undefined;
      try {
        // Earlier runs leave gigabytes of dirty pages (every copy fills a fresh registry): flush them first, so
        // no run pays for another's writeback.
        execFileSync('sync');
        list.push(await measure(side.cmd, side.args(i, prep), side.env));
      } finally {
        if (side.cleanup) await side.cleanup(prep);
      }
    }
    loads.push(loadAverage());
  }
  const row = {
    name,
    oursWall: median(o.map((x) => x.wall)),
    oursCpu: median(o.map((x) => x.cpu)),
    oursRss: Math.max(...o.map((x) => x.rss)),
    peerWall: p.length ? median(p.map((x) => x.wall)) : undefined,
    peerCpu: p.length ? median(p.map((x) => x.cpu)) : undefined,
    peerRss: p.length ? Math.max(...p.map((x) => x.rss)) : undefined,
    ...(r.length ? { refWall: median(r.map((x) => x.wall)), refCpu: median(r.map((x) => x.cpu)), refRss: Math.max(...r.map((x) => x.rss)) } : {}),
    ...(oo.length ? { ownWall: median(oo.map((x) => x.wall)), ownCpu: median(oo.map((x) => x.cpu)), ownRss: Math.max(...oo.map((x) => x.rss)) } : {}),
    ...(po.length ? { ownPeerWall: median(po.map((x) => x.wall)) } : {}),
    load: [Math.min(...loads), Math.max(...loads)],
  };
  // Each alternation's own ratio: how far one run's ratio moves on this machine.
  if (p.length) {
    const paired = o.map((x, i) => x.wall / p[i].wall);
    row.pairedRange = [Math.min(...paired), Math.max(...paired)];
  }
  if (r.length && p.length) {
    const paired = r.map((x, i) => x.wall / p[i].wall);
    row.refPairedRange = [Math.min(...paired), Math.max(...paired)];
  }
  if (oo.length && p.length) {
    const paired = oo.map((x, i) => x.wall / (po.length ? po : p)[i].wall);
    row.ownPairedRange = [Math.min(...paired), Math.max(...paired)];
  }
  console.error(`${name}: ours ${row.oursWall.toFixed(2)}s ${row.oursRss.toFixed(0)} MiB` + (row.peerWall ? `; skopeo ${row.peerWall.toFixed(2)}s ${row.peerRss.toFixed(0)} MiB` : '') + (row.refWall ? `; reference ${row.refWall.toFixed(2)}s` : ''));
  return row;
}

/** Each command's time and CPU from process start to its first request (or exit) against `node -e 0` (lib/startup.mjs; no server). */
async function startupSection() {
  const { measureStartup, prepare, startupTable } = await import('./lib/startup.mjs');
  const dir = mkdtempSync(join(tmpdir(), 'dsv-bench-startup-'));
  try {
    const env = { ...benchEnv, ...prepare(dir) };
    const before = loadAverage();
    const runs = Math.max(RUNS, 5);
    const results = measureStartup({ roots: [root], runs, work: dir, env });
    return [
      '## Start-up: time and CPU to the first request, against `node -e 0`',
      '',
      startupTable(results, ['dsv']),
      '',
      `- ${runs} rounds over the commands, medians (min–max). Each stops at its first socket connect (the registry at 127.0.0.1:9, or dockerd) or, making none, at exit; ms since the process started, CPU user + system of the process. Load average ${before.toFixed(1)}–${loadAverage().toFixed(1)}. What each loads: \`node bench/lib/startup.mjs --modules\` (bench/NOTES.md, start-up inventory).`,
      '',
    ].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a failed run must still stop or remove: the source registry, the GnuPG home (a row's own servers it stops itself). */
const onFailure = [];

async function main() {
  const startupMd = ONLY.has('startup') ? await startupSection() : undefined;
  if (startupMd && ONLY.size === 1) {
    console.log(startupMd);
    return;
  }
  const layerSize = SMALL ? 8 * MiB : 64 * MiB;
  const bigSize = SMALL ? 64 * MiB : 1024 * MiB;
  console.error(`generating images (${SMALL ? 'small' : 'full'} set; cached in bench/.work)…`);
  const eight = await generateImage(join(work, `eight-${layerSize}`), 'eight', Array.from({ length: 8 }, (_, i) => ({ size: layerSize, compressible: i % 2 === 0 })));
  const big = await generateImage(join(work, `big-${bigSize}`), 'big', [{ size: bigSize, compressible: false }]);
  // The 40-layer image (the scale rows, the local store at 2.5 GiB): generated on first use.
  const fortyImage = () => generateImage(join(work, `forty-${layerSize}`), 'forty', Array.from({ length: 40 }, (_, i) => ({ size: layerSize, compressible: i % 2 === 0 })));

  const src = await startRegistry();
  onFailure.push(() => src.stop());
  const flags = ['--src-tls-verify=false', '--dest-tls-verify=false'];
  const push = (layout, ref) => execFileSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout.dir}:${layout.tag}`, `docker://${src.host}/${ref}`], { stdio: 'ignore' });
  push(eight, 'bench/eight:1');
  push(big, 'bench/big:1');

  // A throwaway GPG key for the sign/verify rows, made with the real gpg so skopeo can sign with it too.
  const gnupg = mkdtempSync('/tmp/dsvbg-');
  onFailure.push(() => rmSync(gnupg, { recursive: true, force: true }));
  execFileSync('gpg', ['--homedir', gnupg, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'dsv bench <bench@dsv.invalid>', 'ed25519', 'sign', '1d'], { stdio: 'ignore' });
  const fpr = execFileSync('gpg', ['--homedir', gnupg, '--batch', '--with-colons', '--list-secret-keys'], { encoding: 'utf8' }).split('\n').find((l) => l.startsWith('fpr'))?.split(':')[9];
  const pub = join(gnupg, 'pub.asc');
  writeFileSync(pub, execFileSync('gpg', ['--homedir', gnupg, '--armor', '--export', fpr]));
  const gpgEnv = { DSV_GPG_DATASTORE: gnupg, GNUPGHOME: gnupg, DSV_KEYPASS: '' };

  // What NODE_EXTRA_CA_CERTS adds to every Node process here.
  let extraCa;
  if (extraCaCerts) {
    const withIt = [], without = [];
    for (let i = 0; i < 9; i++) {
      withIt.push((await measure(node, ['-e', '0'], { NODE_EXTRA_CA_CERTS: extraCaCerts })).wall);
      without.push((await measure(node, ['-e', '0'], { NODE_EXTRA_CA_CERTS: '' })).wall);
    }
    extraCa = { file: extraCaCerts, with: median(withIt), without: median(without) };
  }

  const rows = [];
  const storeRows = [];
  // 4. verify of an image in Docker's local store (tar-split reconstruction, every diff_id) — MiB/s of layer data:
  // the 8-layer image (512 MiB, where a command's fixed start-up is half the time) and the 40-layer one (2.5 GiB,
  // the rate once there is enough to hash).
  // First: it has no peer to share the machine's state with, and after the registry rows (≈ 25 GB written and
  // deleted) it measured 16–45% slower than alone.
  const store = ONLY.has('store') ? await startDockerd() : undefined;
  if (store) try {
    const storeEnv = { ...gpgEnv, DOCKER_HOST: store.host, DSV_DOCKER_ROOT: store.root };
    const forty = await fortyImage();
    for (const [image, name, label] of [[eight, 'eight', '8 layers'], [forty, 'forty', '40 layers']]) {
      execFileSync('skopeo', ['copy', '--dest-daemon-host', store.host, `oci:${image.dir}:${image.tag}`, `docker-daemon:bench/${name}:1`], { stdio: 'ignore' });
      execFileSync(node, [bin('cli', 'dsv'), 'sign', '--key', fpr, `docker-daemon:bench/${name}:1`, `docker-daemon:bench/${name}:signed`], { env: { ...benchEnv, ...storeEnv }, stdio: 'ignore' });
      const r = await alternate(`verify in the local store (docker-storage:, ${label})`, {
        cmd: node,
        env: storeEnv,
        args: () => [bin('cli', 'dsv'), 'verify', '--trust', pub, `docker-storage:bench/${name}:signed`],
      });
      storeRows.push({ ...r, bytes: image.totalUncompressed, throughput: image.totalUncompressed / MiB / r.oursWall });
    }
  } finally {
    await store.stop();
  }
  const bigLabel = bigSize >= 1024 * MiB ? `${bigSize / 1024 / MiB} GiB layer` : `${bigSize / MiB} MiB layer`;
  const images = [['8 layers', 'bench/eight:1', eight], [bigLabel, 'bench/big:1', big]];
  for (const [label, ref, info] of images) {
    // 1. copy registry -> a fresh registry each run
    if (ONLY.has('copy')) rows.push({
      ...(await alternate(`copy registry→registry (${label})`,
        { cmd: node, prepare: startRegistry, cleanup: (d) => d.stop(), args: (_i, d) => [bin('copy', 'dsv-copy'), `docker://${src.host}/${ref}`, `docker://${d.host}/${ref}`] },
        { cmd: 'skopeo', prepare: startRegistry, cleanup: (d) => d.stop(), args: (_i, d) => ['copy', ...flags, `docker://${src.host}/${ref}`, `docker://${d.host}/${ref}`] },
        RUNS,
        // For reference: the least any Node client can spend on this copy (see lib/node-floor.mjs).
        { cmd: node, prepare: startRegistry, cleanup: (d) => d.stop(), args: (_i, d) => ['--liftoff-only', join(here, 'lib', 'node-floor.mjs'), src.host, d.host, ref] })),
      bytes: info.totalCompressed,
    });
    // 1b. the same copy signing on the way (dsv-copy --sign-by), alternated with the plain dsv-copy: what signing
    // adds to a copy (target ≤ 1.1 × the plain copy; every blob is still read once, its diff_id checked on the way).
    if (ONLY.has('copy-sign')) rows.push({
      ...(await alternate(`copy --sign-by registry→registry (${label}), against the plain dsv-copy`,
        { cmd: node, env: gpgEnv, prepare: startRegistry, cleanup: (d) => d.stop(), args: (_i, d) => [bin('copy', 'dsv-copy'), '--sign-by', fpr, `docker://${src.host}/${ref}`, `docker://${d.host}/${ref}`] },
        { cmd: node, prepare: startRegistry, cleanup: (d) => d.stop(), args: (_i, d) => [bin('copy', 'dsv-copy'), `docker://${src.host}/${ref}`, `docker://${d.host}/${ref}`] })),
      bytes: info.totalCompressed,
      peerName: 'dsv-copy',
      note: 'copy --sign-by: the peer column is the plain dsv-copy of the same image in the same alternation, not skopeo (target: ratio ≤ 1.10)',
    });
    // 3. sign (GPG, embedded) into a new tag, end to end; the peer signs with skopeo --sign-by (simple signing, lookaside)
    const signed = `${ref.split(':')[0]}:signed`;
    if (ONLY.has('sign')) rows.push({
      ...(await alternate(`sign GPG into a new tag (${label})`,
        { cmd: node, env: gpgEnv, args: (i) => [bin('cli', 'dsv'), 'sign', '--key', fpr, `docker://${src.host}/${ref}`, `docker://${src.host}/${ref.split(':')[0]}:dsv-signed-${i}`] },
        { cmd: 'skopeo', env: gpgEnv, args: (i) => ['copy', ...flags, '--sign-by', fpr, `docker://${src.host}/${ref}`, `docker://${src.host}/${ref.split(':')[0]}:skopeo-signed-${i}`] })),
      bytes: info.totalCompressed,
    });
    // 3b. a detached simple signature (the image unchanged), against dsv verify of the same image (8 layers only).
    if (ONLY.has('detached-sign') && info === eight) rows.push(await detachedSignRow({ alternate, node, dsvBin: bin('cli', 'dsv'), src, ref, fpr, pub, gpgEnv, flags, bytes: info.totalCompressed }));
    if (!ONLY.has('verify')) continue;
    execFileSync(node, [bin('cli', 'dsv'), 'sign', '--key', fpr, `docker://${src.host}/${ref}`, `docker://${src.host}/${signed}`], { env: { ...benchEnv, ...gpgEnv }, stdio: 'ignore' });
    // 2. full verify (every compressed digest and every diff_id) vs skopeo copy … dir: (compressed digests only)
    rows.push({
      ...(await alternate(`verify registry image (${label})`,
        { cmd: node, env: gpgEnv, args: () => [bin('cli', 'dsv'), 'verify', '--trust', pub, `docker://${src.host}/${signed}`] },
        { cmd: 'skopeo', prepare: () => mkdtempSync(join(tmpdir(), 'dsv-bench-dir-')), cleanup: (d) => rmSync(d, { recursive: true, force: true }), args: (_i, d) => ['copy', ...flags, `docker://${src.host}/${signed}`, `dir:${d}/img`] })),
      bytes: info.totalCompressed,
      note: 'skopeo copy … dir: checks compressed digests only; dsv also inflates every layer and checks its diff_id',
    });
  }
  // 5. verify of the 8-layer image in containerd's content store (containerd:, every compressed digest and
  // diff_id over its gRPC API), alternated with the verify of the same image in the registry — MiB/s of layer data.
  if (ONLY.has('containerd')) {
    const signedRef = 'bench/eight:signed';
    execFileSync(node, [bin('cli', 'dsv'), 'sign', '--key', fpr, `docker://${src.host}/bench/eight:1`, `docker://${src.host}/${signedRef}`], { env: { ...benchEnv, ...gpgEnv }, stdio: 'ignore' });
    const c = await startContainerd();
    try {
      c.ctr('bench', ['images', 'pull', '--plain-http', '--snapshotter', 'native', `${src.host}/${signedRef}`]);
      const r = await alternate('verify in containerd (containerd:, 8 layers), against the registry verify', {
        cmd: node,
        env: gpgEnv,
        args: () => [bin('cli', 'dsv'), 'verify', '--trust', pub, `containerd:[bench@${c.socket}]${src.host}/${signedRef}`],
      }, {
        cmd: node,
        env: gpgEnv,
        args: () => [bin('cli', 'dsv'), 'verify', '--trust', pub, `docker://${src.host}/${signedRef}`],
      });
      rows.push({
        ...r,
        bytes: eight.totalUncompressed,
        throughput: eight.totalUncompressed / MiB / r.oursWall,
        peerName: 'dsv verify docker://',
        note: 'verify in containerd: the peer column is dsv verify of the same image in the registry, in the same alternation, not skopeo',
      });
    } finally {
      await c.stop();
    }
  }
  // 6. dsv sync of a repository of 200 small tagged images into a fresh registry, against skopeo sync (target ≤ 1.0 ×,
  // memory flat in the number of tags).
  if (ONLY.has('sync')) {
    const many = await generateManyTags(join(work, 'many'), join(work, 'many-parts'));
    execFileSync(node, [bin('cli', 'dsv'), 'sync', `oci:${many.dir}`, `docker://${src.host}/bench`], { env: benchEnv, stdio: 'ignore' });
    rows.push({
      ...(await alternate(`sync a repository of ${MANY_TAGS} tagged images registry→registry`,
        { cmd: node, prepare: startRegistry, cleanup: (d) => d.stop(), args: (_i, d) => [bin('cli', 'dsv'), 'sync', `docker://${src.host}/bench/many`, `docker://${d.host}/mirror`] },
        { cmd: 'skopeo', prepare: startRegistry, cleanup: (d) => d.stop(), args: (_i, d) => ['sync', '--src', 'docker', '--dest', 'docker', ...flags, `${src.host}/bench/many`, `${d.host}/mirror`] })),
      note: `sync: ${MANY_TAGS} images of one 32 KiB layer each; dsv sync and skopeo sync both copy every tag into a fresh registry (target: ratio ≤ 1.0, RSS flat in the number of tags)`,
    });
  }
  // 6b. (BENCH_ONLY=sync-scale only) dsv sync's peak RSS against the number of tags: it must stay flat.
  if (ONLY.has('sync-scale')) {
    const { syncScaleRows } = await import('./lib/sync-scale.mjs');
    for (const r of await syncScaleRows({ work, runs: RUNS, env: benchEnv })) {
      const what = r.command === 'sync' ? 'dsv sync of' : `dsv ${r.command}${r.command.startsWith('sign') ? ' --format cosign' : ''} over`;
      rows.push({ name: `sync-scale: ${what} ${r.tags} small tagged images (min wall of ${RUNS})`, oursWall: r.wall, oursCpu: r.cpu, oursRss: r.rss, note: 'sync-scale: the peak RSS column is what counts (flat in the number of tags); wall times are from a shared machine' });
    }
  }
  // 7. scale: a 40-layer image against the 8-layer one, a 5 GiB layer against the 1 GiB one (each 5 × the bytes;
  // generated once, cached in bench/.work). dsv on the scaled image alternates with skopeo on it and with dsv on the
  // base image: time and peak RSS must grow linearly at most (RSS should stay flat).
  if (ONLY.has('scale')) {
    const forty = await fortyImage();
    const huge = await generateImage(join(work, `huge-${5 * bigSize}`), 'huge', [{ size: 5 * bigSize, compressible: false }]);
    push(forty, 'bench/forty:1');
    push(huge, 'bench/huge:1');
    const hugeLabel = 5 * bigSize >= 1024 * MiB ? `${(5 * bigSize) / 1024 / MiB} GiB layer` : `${(5 * bigSize) / MiB} MiB layer`;
    const dsvCopy = (ref) => ({ cmd: node, prepare: startRegistry, cleanup: (d) => d.stop(), args: (_i, d) => [bin('copy', 'dsv-copy'), `docker://${src.host}/${ref}`, `docker://${d.host}/${ref}`] });
    const skopeoCopy = (ref) => ({ cmd: 'skopeo', prepare: startRegistry, cleanup: (d) => d.stop(), args: (_i, d) => ['copy', ...flags, `docker://${src.host}/${ref}`, `docker://${d.host}/${ref}`] });
    const signedOf = (ref) => `${ref.split(':')[0]}:signed`;
    const dsvVerify = (ref) => ({ cmd: node, env: gpgEnv, args: () => [bin('cli', 'dsv'), 'verify', '--trust', pub, `docker://${src.host}/${signedOf(ref)}`] });
    const skopeoDir = (ref) => ({ cmd: 'skopeo', prepare: () => mkdtempSync(join(tmpdir(), 'dsv-bench-dir-')), cleanup: (d) => rmSync(d, { recursive: true, force: true }), args: (_i, d) => ['copy', ...flags, `docker://${src.host}/${signedOf(ref)}`, `dir:${d}/img`] });
    const pairs = [[`40 × ${layerSize / MiB} MiB layers`, 'bench/forty:1', forty, '8 layers', 'bench/eight:1', eight], [hugeLabel, 'bench/huge:1', huge, bigLabel, 'bench/big:1', big]];
    for (const [label, ref, info, baseLabel, baseRef, baseInfo] of pairs) {
      const scale = { factor: info.totalUncompressed / baseInfo.totalUncompressed, baseLabel };
      rows.push({ ...(await alternate(`copy registry→registry (${label}), scale`, dsvCopy(ref), skopeoCopy(ref), RUNS, dsvCopy(baseRef))), bytes: info.totalCompressed, scale });
      for (const r of [ref, baseRef]) execFileSync(node, [bin('cli', 'dsv'), 'sign', '--key', fpr, `docker://${src.host}/${r}`, `docker://${src.host}/${signedOf(r)}`], { env: { ...benchEnv, ...gpgEnv }, stdio: 'ignore' });
      rows.push({ ...(await alternate(`verify registry image (${label}), scale`, dsvVerify(ref), skopeoDir(ref), RUNS, dsvVerify(baseRef))), bytes: info.totalCompressed, scale });
    }
  }
  rows.push(...storeRows);
  await src.stop();
  rmSync(gnupg, { recursive: true, force: true });

  const fmt = (x, d = 2) => (x === undefined ? '—' : x.toFixed(d));
  const range = (mm) => (mm ? `${fmt(mm[0])}–${fmt(mm[1])}` : '—');
  const lines = [
    `# dsv bench — ${new Date().toISOString()}`,
    '',
    `Machine: ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores; ${RUNS} alternating runs per side; medians; peak RSS is the max over runs.`,
    `Images: 8 × ${layerSize / MiB} MiB layers (half compressible) and 1 × ${bigSize / MiB} MiB layer (incompressible), gzip.`,
    '',
    '| benchmark | dsv (s) | skopeo (s) | ratio dsv/skopeo | ratio per run (min–max) | dsv CPU (s) | skopeo CPU (s) ¹ | dsv peak RSS (MiB) | skopeo peak RSS (MiB) ¹ | dsv, own env (s) ² | ratio, own env ² |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.flatMap((r) => [
      `| ${r.name} | ${fmt(r.oursWall)} | ${fmt(r.peerWall)}${r.peerName ? ` (${r.peerName})` : ''} | ${r.peerWall ? fmt(r.oursWall / r.peerWall) : '—'} | ${range(r.pairedRange)} | ${fmt(r.oursCpu)} | ${fmt(r.peerCpu)} | ${fmt(r.oursRss, 0)} | ${fmt(r.peerRss, 0)} | ${fmt(r.ownWall)} | ${r.ownWall && r.peerWall ? `${fmt(r.ownWall / (r.ownPeerWall ?? r.peerWall))} (${range(r.ownPairedRange)})` : '—'} |`,
      ...(r.refWall && !r.scale ? [`| ↳ ${r.refName ?? 'minimal Node client (lib/node-floor.mjs), for reference'} | ${fmt(r.refWall)} | ${fmt(r.peerWall)} | ${fmt(r.refWall / r.peerWall)} | ${range(r.refPairedRange)} | — | ${fmt(r.peerCpu)} | ${fmt(r.refRss, 0)} | ${fmt(r.peerRss, 0)} | — | — |`] : []),
    ]),
    '',
    ...(rows.some((r) => r.scale) ? [
      'Scale: dsv on the larger image against dsv on the base image, alternated in the same row (growth = larger / base; linear at most means growth ≤ the size factor; peak RSS should stay flat).',
      '',
      '| scale row | base image | size × | dsv (s) | dsv on base (s) | time × | CPU × | dsv peak RSS / base (MiB) | linear at most (time, CPU, RSS) |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...rows.filter((r) => r.scale).map((r) => {
        const t = r.oursWall / r.refWall, c = r.oursCpu / r.refCpu, m = r.oursRss / r.refRss, f = r.scale.factor;
        return `| ${r.name.replace(/, scale$/, '')} | ${r.scale.baseLabel} | ${fmt(f, 1)} | ${fmt(r.oursWall)} | ${fmt(r.refWall)} | ${fmt(t)} | ${fmt(c)} | ${fmt(r.oursRss, 0)} / ${fmt(r.refRss, 0)} | ${[t, c, m].map((g) => (g <= f ? 'yes' : 'no')).join(', ')} |`;
      }),
      '',
    ] : []),
    `- load average (1 min) while each row ran: ${rows.filter((r) => r.load).map((r) => `${r.name.split(', against')[0]} ${r.load[0].toFixed(1)}–${r.load[1].toFixed(1)}`).join('; ')} (2 cores: above ≈ 2, other work shared the machine).`,
    ...rows.filter((r) => r.throughput).map((r) => `- ${r.name}: ${r.throughput.toFixed(0)} MiB/s of uncompressed layer data${r.ownWall ? ` (${(r.bytes / MiB / r.ownWall).toFixed(0)} MiB/s in the machine's own environment)` : ''} (wall clock, including process start-up; target ≥ 1.5 GiB/s with a warm page cache, issue 26).`),
    ...[...new Set(rows.filter((r) => r.note).map((r) => `- ${r.note}`))],
    '- ratio per run: each alternation\'s dsv time over the skopeo time measured next to it; the ratio column divides the medians.',
    '- ¹ the peer\'s columns hold the plain dsv-copy on the copy --sign-by rows.',
    '- CPU: user + system seconds of the client process (and the children it waited for, such as gpg), medians; the registries\' own CPU is not counted. With other work on the machine, wall times stretch and CPU seconds stay comparable.',
    ...(rows.some((r) => r.refWall && !r.refName && !r.scale) ? ['- minimal Node client: undici + node:crypto only, no CLI (GET, SHA-256, POST + PUT, 4 at a time), timed in the same alternation: what Node itself costs on this copy.'] : []),
    ...(OWN_ENV ? [`- ² own env: the dsv side${rows.some((r) => r.ownPeerWall) ? 's' : ''} run again in the machine's own environment (NODE_EXTRA_CA_CERTS=${extraCaCerts} kept), alternated in the same row; the ratio divides by skopeo's median (by the plain dsv-copy's, itself run in that environment, on the copy --sign-by rows), per-run range in brackets.`] : ['- ² own env: not measured (' + (KEEP_ENV ? 'BENCH_KEEP_ENV=1: every run above kept the environment' : extraCaCerts ? 'BENCH_OWN_ENV=0' : 'NODE_EXTRA_CA_CERTS is not set here: the environment is the same') + ').']),
    ...(extraCa ? [`- environment: NODE_EXTRA_CA_CERTS (${extraCa.file}) is set on this machine and ${KEEP_ENV ? 'was kept (BENCH_KEEP_ENV=1)' : 'left out for every side (BENCH_KEEP_ENV=1 keeps it)'}: Node parses that file at every start, before any code runs — \`node -e 0\` takes ${(extraCa.with * 1000).toFixed(0)} ms with it, ${(extraCa.without * 1000).toFixed(0)} ms without (medians of 9), so with it each dsv row takes ≈ ${((extraCa.with - extraCa.without) * 1000).toFixed(0)} ms longer. The bench's registries speak plain HTTP; skopeo reads no such file.`] : []),
    '- sign: dsv reads every blob once (digest and diff_id checked as it streams), embeds a GPG signature in the config and pushes config + manifest to a new tag; skopeo copy --sign-by writes a simple-signing signature to its lookaside store.',
    '',
    ...(startupMd ? [startupMd] : []),
  ];
  const md = lines.join('\n');
  // A subset (BENCH_ONLY) is printed only: results/latest.md always holds a full run.
  if (ALL.every((x) => ONLY.has(x))) {
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(join(here, 'results', 'latest.md'), md);
  }
  console.log(md);
}

main().catch(async (e) => {
  console.error(e instanceof Error ? e.message : e);
  for (const undo of onFailure.reverse()) await Promise.resolve().then(undo).catch(() => {});
  process.exit(1);
});
