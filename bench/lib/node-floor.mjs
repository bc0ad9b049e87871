#!/usr/bin/env node
// The floor for any Node client of this copy: a registry→registry copy of one image with nothing but
// undici (the same modules @dsv/source-registry loads) and node:crypto — GET each blob, hash it (SHA-256,
// checked at the end as skopeo does), PUT it (POST + PUT with the body), 4 at a time, then the manifest.
// No CLI, no auth, no retries, plain HTTP only. bench/run.mjs times it beside dsv-copy and skopeo so the
// table shows how much of the copy ratio is Node itself.
//   node --liftoff-only bench/lib/node-floor.mjs SRC_HOST DST_HOST repo:tag
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Transform } from 'node:stream';

const require = createRequire(new URL('../../packages/source-registry/package.json', import.meta.url));
const Agent = require('undici/lib/dispatcher/agent.js');
const requestApi = require('undici/lib/api/api-request.js');
const agent = new Agent({ connections: 8 });
const request = (url, opts = {}) => {
  const u = new URL(url);
  return requestApi.call(agent, { method: 'GET', ...opts, origin: u.origin, path: u.pathname + u.search });
};
const expect = async (res, status, what) => {
  if (res.statusCode !== status) throw new Error(`${what}: HTTP ${res.statusCode}`);
};

const [src, dst, ref] = process.argv.slice(2);
const [repo, tag] = ref.split(':');
const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
const m = await request(`http://${src}/v2/${repo}/manifests/${tag}`, { headers: { accept } });
await expect(m, 200, 'manifest');
const manifestBytes = Buffer.from(await m.body.arrayBuffer());
const manifest = JSON.parse(manifestBytes.toString('utf8'));
const blobs = [manifest.config, ...manifest.layers].sort((a, b) => b.size - a.size);

async function copyBlob(d) {
  const head = await request(`http://${dst}/v2/${repo}/blobs/${d.digest}`, { method: 'HEAD' });
  await head.body.dump();
  if (head.statusCode === 200) return;
  const post = await request(`http://${dst}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await post.body.dump();
  await expect(post, 202, 'start upload');
  const location = new URL(post.headers.location, `http://${dst}`);
  location.searchParams.set('digest', d.digest);
  const get = await request(`http://${src}/v2/${repo}/blobs/${d.digest}`);
  await expect(get, 200, `blob ${d.digest}`);
  const hash = createHash('sha256');
  const body = get.body.pipe(new Transform({ transform: (c, _e, cb) => (hash.update(c), cb(null, c)) }));
  const put = await request(location.href, { method: 'PUT', body, headers: { 'content-length': String(d.size), 'content-type': 'application/octet-stream' } });
  await put.body.dump();
  await expect(put, 201, `upload ${d.digest}`);
  if (`sha256:${hash.digest('hex')}` !== d.digest) throw new Error(`blob ${d.digest}: digest mismatch`);
}

let next = 0;
await Promise.all(Array.from({ length: 4 }, async () => {
  while (next < blobs.length) await copyBlob(blobs[next++]);
}));
const put = await request(`http://${dst}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifestBytes, headers: { 'content-type': m.headers['content-type'] } });
await put.body.dump();
await expect(put, 201, 'manifest');
await agent.close();
