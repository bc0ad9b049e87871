// Start-up inventory: each command's time and CPU from process start to its first request (or its exit), against `node -e 0`.
//
// Every command runs under lib/startup-probe.mjs with STARTUP_PROBE_EXIT=1: the process stops at its first socket
// connect (registry, dockerd) or its first look at the OCI layout's path, so no server or image is needed and only
// start-up is measured. Registry references name 127.0.0.1:9, which nothing is asked to serve. Rounds alternate over
// the commands (and over the builds, when several roots are given), medians and ranges per command.
//   node bench/lib/startup.mjs [--runs N] [--only a,b] [--modules] [ROOT …]
// ROOT is a checkout (or a copy of its apps/*/bin and bundles) to measure; default this one. With two roots the
// table gains an A/B column. --modules lists, per command, the bundle chunks loaded before the first request
// (with their size and what they hold) and the CPU profile's self time per chunk.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const PROBE = join(here, 'startup-probe.mjs');
const R = '127.0.0.1:9';

/** The commands users run, with the arguments that take each to its first request. `files` are written by prepare(). */
export function startupCommands(root, work) {
  const cli = (f) => join(root, 'apps/cli/bin', f);
  const copy = join(root, 'apps/copy/bin/dsv-copy.js');
  // dsv-copy's --insecure-registry is an array option: it goes last, or it takes the references too.
  const ins = `--insecure-registry=${R}`;
  return [
    { name: 'node -e 0', argv: ['-e', '0'] },
    { name: 'dsv --version', argv: [cli('dsv.js'), '--version'] },
    { name: 'dsv --help', argv: [cli('dsv.js'), '--help'] },
    { name: 'dsv completion bash', argv: [cli('dsv.js'), 'completion', 'bash'] },
    { name: 'dsv verify', argv: [cli('dsv.js'), 'verify', ins, `${R}/app:1`] },
    { name: 'dsv verify --policy', argv: [cli('dsv.js'), 'verify', ins, '--policy', join(work, 'policy.json'), `${R}/app:1`] },
    { name: 'dsv verify oci:', argv: [cli('dsv.js'), 'verify', `oci:${join(work, 'layout')}:1`] },
    { name: 'dsv inspect', argv: [cli('dsv.js'), 'inspect', ins, `${R}/app:1`] },
    { name: 'dsv sign (gpg)', argv: [cli('dsv.js'), 'sign', ins, '-k', join(work, 'gpg.key'), '--passphrase-file', join(work, 'empty'), `${R}/app:1`, `${R}/app:2`] },
    { name: 'dsv sign (pki)', argv: [cli('dsv.js'), 'sign', ins, '-t', 'pki', '-k', join(work, 'pki.key'), `${R}/app:1`, `${R}/app:2`] },
    { name: 'dsv sync', argv: [cli('dsv.js'), 'sync', ins, `docker://${R}/app`, `docker://${R}/mirror`] },
    { name: 'dsv-copy', argv: [copy, `${R}/app:1`, `${R}/app:2`, '--insecure-registry', R] },
    { name: 'dsv-copy --sign-by (gpg)', argv: [copy, '--sign-by', join(work, 'gpg.key'), '--passphrase-file', join(work, 'empty'), `${R}/app:1`, `${R}/app:2`, '--insecure-registry', R] },
    { name: 'docker-sign registry', argv: [cli('docker-sign.js'), 'registry', '--keyid', join(work, 'gpg.key'), '--keypass', '', `${R}/app:1`, `${R}/app:2`] },
    { name: 'docker-verify registry', argv: [cli('docker-verify.js'), 'registry', `${R}/app:1`] },
    { name: 'docker sign (plugin metadata)', argv: [cli('docker-cli-plugin-sign.js'), 'docker-cli-plugin-metadata'] },
    { name: 'docker verify (plugin)', argv: [cli('docker-cli-plugin-verify.js'), 'verify', `--insecure-registry=${R}`, '--remote', `${R}/app:1`] },
  ];
}

/** Key material and a policy for the signing and policy commands (gpg and openssl make them, as the e2e tests do). */
export function prepare(work) {
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'policy.json'), '{"default":[{"type":"insecureAcceptAnything"}]}\n');
  writeFileSync(join(work, 'empty'), '');
  const gnupg = join(work, 'gnupg');
  mkdirSync(gnupg, { recursive: true, mode: 0o700 });
  const gpg = (args, opts = {}) => {
    const r = spawnSync('gpg', ['--homedir', gnupg, '--batch', ...args], { encoding: 'utf8', ...opts });
    if (r.status !== 0) throw new Error(`gpg ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  gpg(['--passphrase', '', '--quick-gen-key', 'Start-up <startup@example.com>', 'rsa2048', 'sign', 'never']);
  writeFileSync(join(work, 'gpg.key'), gpg(['--armor', '--pinentry-mode', 'loopback', '--passphrase', '', '--export-secret-keys', 'startup@example.com']));
  const o = spawnSync('openssl', ['genrsa', '-out', join(work, 'pki.key'), '2048'], { encoding: 'utf8' });
  if (o.status !== 0) throw new Error(`openssl genrsa: ${o.stderr}`);
  return { GNUPGHOME: gnupg };
}

function runOnce(argv, env, out, extra = []) {
  rmSync(out, { force: true });
  const r = spawnSync(process.execPath, [...extra, '--import', PROBE, ...argv], {
    // The OCI layout need not exist: the probe stops the process at the first look at its path.
    env: { ...env, STARTUP_PROBE_OUT: out, STARTUP_PROBE_EXIT: '1', STARTUP_PROBE_PATH: join(dirname(out), 'layout') },
    encoding: 'utf8',
  });
  let line;
  try {
    line = readFileSync(out, 'utf8').trim().split('\n').at(-1);
  } catch {
    throw new Error(`${argv.join(' ')}: no probe record (exit ${r.status}): ${r.stderr}`);
  }
  return { ...JSON.parse(line), stderr: r.stderr };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Alternating rounds over roots × commands; returns per root and command the samples. */
export function measureStartup({ roots, runs, only, work, env }) {
  const results = roots.map(() => new Map());
  const out = join(work, 'probe.out');
  for (let i = 0; i < runs; i++) {
    for (const [ri, root] of roots.entries()) {
      for (const c of startupCommands(root, work)) {
        if (only && !only.some((o) => c.name === o || c.name.startsWith(o))) continue;
        const r = runOnce(c.argv, env, out);
        const m = results[ri].get(c.name) ?? { event: r.event, target: r.target, ms: [], cpuMs: [] };
        m.ms.push(r.ms);
        m.cpuMs.push(r.cpuMs);
        results[ri].set(c.name, m);
      }
    }
  }
  return results;
}

/** Chunks loaded before the first request, each with its size, what it holds and its share of the CPU profile. */
export function moduleInventory({ root, work, env, only, profiles = 3 }) {
  const out = join(work, 'probe.out');
  const rows = [];
  for (const c of startupCommands(root, work)) {
    if (only && !only.some((o) => c.name === o || c.name.startsWith(o))) continue;
    rmSync(`${out}.modules`, { force: true });
    const r = runOnce(c.argv, { ...env, STARTUP_PROBE_MODULES: '1' }, out);
    const loaded = readFileSync(`${out}.modules`, 'utf8').trim().split('\n').slice(1).map((l) => l.split(' ')[1]);
    const chunks = loaded.filter((u) => u.startsWith('file:') && /\/bundle[^/]*\//.test(u)).map((u) => fileURLToPath(u));
    const builtins = loaded.filter((u) => u.startsWith('node:'));
    // CPU profile: self time per script URL, summed over a few runs.
    const self = new Map();
    let total = 0;
    for (let p = 0; p < profiles; p++) {
      const dir = mkdtempSync(join(work, 'prof-'));
      runOnce(c.argv, env, out, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '250']);
      for (const f of readdirSync(dir)) {
        const prof = JSON.parse(readFileSync(join(dir, f), 'utf8'));
        const byId = new Map(prof.nodes.map((n) => [n.id, n]));
        const dt = new Map();
        prof.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
        for (const [id, us] of dt) {
          const n = byId.get(id);
          const url = n.callFrame.url || n.callFrame.functionName || '(unknown)';
          const key = url.startsWith('file:') ? basename(fileURLToPath(url)) : url.startsWith('node:') ? 'node: builtins' : url;
          self.set(key, (self.get(key) ?? 0) + us / 1000 / profiles);
          total += us / 1000 / profiles;
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
    rows.push({
      name: c.name,
      event: r.event,
      chunks: chunks.map((f) => ({ file: basename(f), bytes: readFileSync(f).length, holds: holds(f), selfMs: self.get(basename(f)) ?? 0 })),
      builtins,
      self,
      total,
    });
  }
  return rows;
}

/** What a bundle chunk holds: its packages, by esbuild's `// path` module comments, largest first. */
function holds(file) {
  const text = readFileSync(file, 'utf8');
  const marks = [...text.matchAll(/^\/\/ ((?:node_modules\/(?:@[^/\n]+\/)?[^/\n]+)|(?:packages|apps)\/[^/\n]+)\/\S*$/gm)];
  const sizes = new Map();
  marks.forEach((m, i) => {
    const end = i + 1 < marks.length ? marks[i + 1].index : text.length;
    const k = m[1].replace(/^node_modules\//, '').replace(/^(packages|apps)\//, '@dsv/');
    sizes.set(k, (sizes.get(k) ?? 0) + end - m.index);
  });
  return [...sizes].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${Math.round(v / 1024)}K`).join(', ');
}

function fmtRange(xs) {
  return `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
}

export function startupTable(results, labels) {
  const lines = [];
  const head = ['command', 'first', ...labels.flatMap((l) => [`${l} ms`, `${l} CPU ms`])];
  if (labels.length === 2) head.push('Δ CPU (median)');
  lines.push(`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`);
  const base = results[0].get('node -e 0');
  for (const [name, m] of results[0]) {
    const cells = [name, m.event === 'connect' ? `connect ${m.target}` : m.event === 'open' ? 'image path' : m.event];
    for (const r of results) {
      const x = r.get(name);
      cells.push(fmtRange(x.ms), fmtRange(x.cpuMs));
    }
    if (labels.length === 2) cells.push(`${(median(results[1].get(name).cpuMs) - median(m.cpuMs)).toFixed(0)}`);
    lines.push(`| ${cells.join(' | ')} |`);
  }
  if (base) lines.push('', `node -e 0: ${median(base.ms).toFixed(0)} ms, ${median(base.cpuMs).toFixed(0)} ms CPU (median of ${base.ms.length}).`);
  return lines.join('\n');
}

async function main() {
  const args = process.argv.slice(2);
  let runs = 9;
  let only;
  let modules = false;
  const roots = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--runs') runs = Number(args[++i]);
    else if (args[i] === '--only') only = args[++i].split(',');
    else if (args[i] === '--modules') modules = true;
    else roots.push(args[i]);
  }
  if (roots.length === 0) roots.push(join(here, '../..'));
  const work = mkdtempSync(join(tmpdir(), 'dsv-startup-'));
  try {
    const env = { ...process.env, ...prepare(work) };
    // The bench's environment (bench/NOTES.md §12): Node reads this file at every start, before any JavaScript.
    delete env.NODE_EXTRA_CA_CERTS;
    if (modules) {
      for (const row of moduleInventory({ root: roots[0], work, env, only })) {
        console.log(`\n### ${row.name} (${row.event}; profile ${row.total.toFixed(0)} ms of samples)`);
        for (const c of row.chunks) console.log(`  ${c.file.padEnd(24)} ${String(Math.round(c.bytes / 1024)).padStart(5)}K  ${c.selfMs.toFixed(1).padStart(6)} ms  ${c.holds}`);
        console.log(`  builtins after start: ${row.builtins.join(' ')}`);
        const other = [...row.self].filter(([k]) => !row.chunks.some((c) => c.file === k)).sort((a, b) => b[1] - a[1]).slice(0, 6);
        console.log(`  other self time: ${other.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
      }
      return;
    }
    const results = measureStartup({ roots, runs, only, work, env });
    const labels = roots.length === 1 ? ['this build'] : roots.map((_, i) => String.fromCharCode(65 + i));
    console.log(startupTable(results, labels));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
