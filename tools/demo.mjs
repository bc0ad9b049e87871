#!/usr/bin/env node
// `npm run demo`: the main job end to end on built-in sample data, with nothing else installed
// (no gpg binary, no docker, no registry). It
//   1. writes a small two-layer image as a `docker save` archive (deterministic tars, tar-stream),
//   2. generates a throwaway OpenPGP key (openpgp) into a temp dir, passphrase-protected,
//   3. runs the REAL built bins as child processes, printing each command and its output:
//      docker-sign archive … (a wrong passphrase first: exit 2, passphrase never shown), docker-verify
//      archive … (signed: exit 0; unsigned: exit 1), dsv verify --trust …, dsv inspect …,
//   4. changes one byte of one layer inside a copy of the archive and shows verification failing
//      with exit 1, naming the layer.
// Exits 0 when every step behaved as expected.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import * as openpgp from 'openpgp';
import tar from 'tar-stream';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'apps', 'cli', 'bin', `${name}.js`);
const work = mkdtempSync(join(tmpdir(), 'dsv-demo-'));
const keep = process.argv.includes('--keep');
const MTIME = new Date('2024-01-01T00:00:00Z');
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
// Colour only on a terminal, and never under NO_COLOR (https://no-color.org: set and not empty) or TERM=dumb.
const colour = process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
const paint = (code, text) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);

// ---------------------------------------------------------------------------------------------
// 1. A sample image as a docker-save archive (the legacy layout `docker save` writes)

async function tarBytes(entries) {
  const pack = tar.pack();
  const chunks = [];
  pack.on('data', (c) => chunks.push(c));
  const done = new Promise((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const header = { name: e.name, mtime: MTIME, uid: 0, gid: 0, uname: 'root', gname: 'root', mode: e.mode ?? 0o644, type: e.type ?? 'file' };
    if (header.type === 'directory') pack.entry({ ...header, mode: 0o755 });
    else pack.entry(header, Buffer.from(e.content));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function writeSampleArchive(path) {
  const layer1 = await tarBytes([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/os-release', content: 'NAME="dsv demo"\nID=dsvdemo\n' },
    { name: 'etc/motd', content: 'Signed and verified where it lives.\n' },
  ]);
  const layer2 = await tarBytes([
    { name: 'app/', type: 'directory' },
    { name: 'app/hello.sh', content: '#!/bin/sh\necho "hello from the dsv demo image"\n', mode: 0o755 },
    { name: 'app/data.txt', content: 'x'.repeat(4096) },
  ]);
  const layers = [layer1, layer2];
  const diffIds = layers.map((l) => `sha256:${sha256(l)}`);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: MTIME.toISOString(),
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/app/hello.sh'], Labels: { 'org.opencontainers.image.title': 'dsv demo' } },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: [
        { created: MTIME.toISOString(), created_by: 'demo: base files' },
        { created: MTIME.toISOString(), created_by: 'demo: app' },
      ],
    }),
  );
  const configHex = sha256(config);
  // Layer directories named like docker save's v1 ids (here: derived from the chain, deterministic).
  const ids = [];
  let parent = '';
  for (const d of diffIds) {
    const id = sha256(`${parent} ${d}`);
    ids.push(id);
    parent = id;
  }
  const entries = [];
  layers.forEach((l, i) => {
    const v1 = { id: ids[i], ...(i > 0 ? { parent: ids[i - 1] } : {}), created: MTIME.toISOString(), os: 'linux' };
    entries.push({ name: `${ids[i]}/`, type: 'directory' });
    entries.push({ name: `${ids[i]}/VERSION`, content: '1.0' });
    entries.push({ name: `${ids[i]}/json`, content: JSON.stringify(v1) });
    entries.push({ name: `${ids[i]}/layer.tar`, content: l });
  });
  entries.push({ name: `${configHex}.json`, content: config });
  entries.push({ name: 'manifest.json', content: JSON.stringify([{ Config: `${configHex}.json`, RepoTags: ['demo:1'], Layers: ids.map((id) => `${id}/layer.tar`) }]) });
  entries.push({ name: 'repositories', content: JSON.stringify({ demo: { 1: ids[ids.length - 1] } }) });
  writeFileSync(path, await tarBytes(entries));
  return { configDigest: `sha256:${configHex}`, layerFiles: ids.map((id) => `${id}/layer.tar`), diffIds };
}

/** Copies a tar, changing one byte of one entry's content (same size: only the content differs). */
async function tamperTarEntry(src, dst, entryName, offset) {
  const extract = tar.extract();
  const pack = tar.pack();
  let changed = false;
  extract.on('entry', (header, stream, next) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      let body = Buffer.concat(chunks);
      if (header.name === entryName) {
        body = Buffer.from(body);
        body[offset] ^= 0x01;
        changed = true;
      }
      pack.entry(header, body, next);
    });
  });
  extract.on('finish', () => pack.finalize());
  await Promise.all([pipeline(createReadStream(src), extract), pipeline(pack, createWriteStream(dst))]);
  if (!changed) throw new Error(`entry ${entryName} not found in ${src}`);
}

// ---------------------------------------------------------------------------------------------
// 2. A throwaway OpenPGP key

async function makeKey(dir, passphrase) {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: [{ name: 'dsv demo signer', email: 'demo@dsv.invalid' }],
    passphrase,
    format: 'armored',
  });
  const keyFile = join(dir, 'demo-key.asc');
  const pubFile = join(dir, 'demo-key.pub.asc');
  writeFileSync(keyFile, privateKey, { mode: 0o600 });
  writeFileSync(pubFile, publicKey);
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return { keyFile, pubFile, fingerprint: key.getFingerprint().toUpperCase() };
}

// ---------------------------------------------------------------------------------------------
// 3. Running the real bins

const failures = [];
let step = 0;

function show(cmd, args, env) {
  const shownEnv = Object.entries(env ?? {}).map(([k, v]) => `${k}=${k === 'DSV_KEYPASS' ? "'…'" : shortPath(v)}`);
  return [...shownEnv, cmd, ...args.map(shortPath)].join(' ');
}

function shortPath(s) {
  return String(s).split(work).join('$DEMO');
}

function runBin(title, name, args, { env = {}, expect, mustContain = [], mustNotContain = [] }) {
  step++;
  console.log(`\n${paint(1, `── ${step}. ${title}`)}`);
  console.log(`$ ${show(name, args, env)}`);
  const res = spawnSync(process.execPath, [bin(name), ...args], {
    cwd: work,
    env: { ...baseEnv, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
  const out = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  const indent = (t) => shortPath(t).replace(/\n$/, '').split('\n').map((l) => `  ${l}`).join('\n');
  if (res.stdout) console.log(indent(res.stdout));
  if (res.stderr) console.log(indent(res.stderr));
  const code = res.status ?? (res.error ? `error ${res.error.message}` : `signal ${res.signal}`);
  const problems = [];
  if (code !== expect) problems.push(`exit ${code}, expected ${expect}`);
  for (const s of mustContain) if (!out.includes(s)) problems.push(`output lacks "${shortPath(s)}"`);
  for (const s of mustNotContain) if (out.includes(s)) problems.push(`output contains "${shortPath(s)}"`);
  if (problems.length) {
    failures.push(`${step}. ${title}: ${problems.join('; ')}`);
    console.log(`  ${paint(31, `✗ ${problems.join('; ')}`)}`);
  } else console.log(`  ${paint(32, `✓ exit ${code} as expected`)}`);
  return res;
}

// An environment that cannot reach the user's keys or stores: an empty GnuPG home and PKI store.
const baseEnv = {
  PATH: process.env.PATH ?? '',
  HOME: work,
  DSV_GPG_DATASTORE: join(work, 'empty-gnupg'),
  DSV_PKI_DATASTORE: join(work, 'no-such-store.pem'),
  NO_COLOR: '1',
};

async function main() {
  console.log(`dsv demo — working in ${work}`);
  const archive = join(work, 'demo.tar');
  const sample = await writeSampleArchive(archive);
  console.log(`wrote a docker-save archive demo.tar: image demo:1, config ${sample.configDigest}, ${sample.layerFiles.length} layers`);
  const passphrase = 'demo passphrase';
  const wrongPassphrase = 'not-the-demo-passphrase';
  const key = await makeKey(work, passphrase);
  console.log(`generated a throwaway OpenPGP key ${key.fingerprint} (demo-key.asc, public part demo-key.pub.asc)`);

  runBin('sign with a wrong passphrase: refused, exit 2, the passphrase is never printed', 'docker-sign', [
    'archive', '--archive', archive, '-k', key.keyFile, '-p', wrongPassphrase, 'demo:1', 'demo:signed',
  ], { expect: 2, mustNotContain: [wrongPassphrase] });

  runBin('sign demo:1 into demo:signed, in place in the archive', 'docker-sign', [
    'archive', '--archive', archive, '-k', key.keyFile, 'demo:1', 'demo:signed',
  ], { env: { DSV_KEYPASS: passphrase }, expect: 0, mustContain: ['demo:signed'], mustNotContain: [passphrase] });

  // The legacy command trusts the GnuPG home (DSV_GPG_DATASTORE) plus the key files in DSV_GPG_TRUST.
  const trustEnv = { DSV_GPG_TRUST: key.pubFile };
  runBin('verify the signed image (the public key trusted through DSV_GPG_TRUST)', 'docker-verify', [
    'archive', '--archive', archive, 'demo:signed',
  ], { env: trustEnv, expect: 0, mustContain: ['Integrity check passed.', 'Signature check passed.'] });

  runBin('verify the original, unsigned image: not trusted, exit 1', 'docker-verify', [
    'archive', '--archive', archive, 'demo:1',
  ], { env: trustEnv, expect: 1, mustContain: ['demo:1'] });

  runBin('verify without trusting the key: the signature is by an unknown key, exit 1', 'docker-verify', [
    'archive', '--archive', archive, 'demo:signed',
  ], { expect: 1 });

  runBin('the modern command: dsv verify --trust KEYFILE', 'dsv', [
    'verify', '--trust', key.pubFile, `docker-archive:${archive}:demo:signed`,
  ], { expect: 0, mustContain: ['Signature check passed.'] });

  runBin('who signed what: dsv inspect', 'dsv', ['inspect', '--trust', key.pubFile, `docker-archive:${archive}:demo:signed`], {
    expect: 0,
    mustContain: [key.fingerprint.slice(-16)],
  });

  const tampered = join(work, 'demo-tampered.tar');
  const target = sample.layerFiles[1];
  await tamperTarEntry(archive, tampered, target, 600);
  console.log(`\nchanged one byte of ${target} (layer 1) in a copy of the archive: demo-tampered.tar`);
  runBin('verify the tampered copy: integrity failure naming the layer, exit 1', 'docker-verify', [
    'archive', '--archive', tampered, 'demo:signed',
  ], { env: trustEnv, expect: 1, mustContain: ['layer'] });

  console.log('');
  if (failures.length) {
    console.log(paint(31, `demo FAILED: ${failures.length} step(s) did not behave as expected:`));
    for (const f of failures) console.log(`  ${f}`);
  } else {
    console.log(paint(32, `demo passed: all ${step} steps behaved as expected.`));
  }
  return failures.length ? 1 : 0;
}

main()
  .then((code) => {
    if (!keep) rmSync(work, { recursive: true, force: true });
    else console.log(`kept ${relative(process.cwd(), work) || work}`);
    process.exit(code);
  })
  .catch((e) => {
    console.error(`demo: error: ${e?.stack ?? e}`);
    process.exit(1);
  });
