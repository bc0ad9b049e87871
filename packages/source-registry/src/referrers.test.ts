// The referrers API client: answers other than a 200 OCI index, against a fault-injecting server (distribution 2.8,
// the real registry here, does not implement the API; e2e/cosign/sigstore-sign.test.ts runs it in front of one).
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, client, failure, fake, manifestDigest, ok } from './__tests__/fake-registry.js';

afterEach(cleanup);
const INDEX = 'application/vnd.oci.image.index.v1+json';
const path = `/v2/app/referrers/${manifestDigest}`;

describe('RegistryClient.listReferrers', () => {
  it('404 and a non-index answer: undefined (use the tag schema); the index with its filters otherwise', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'), 'application/json');
      if (req.url === path) return ok(res, Buffer.from('<html>not here</html>'), 'text/html');
      if (req.url === `${path}?artifactType=a%2Fb`) {
        res.writeHead(200, { 'content-type': INDEX, 'oci-filters-applied': 'artifactType' });
        return res.end(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [] }));
      }
      res.writeHead(404).end();
    });
    const c = client(f.host);
    expect(await c.listReferrers('other', manifestDigest)).toBeUndefined();
    expect(await c.listReferrers('app', manifestDigest)).toBeUndefined();
    const r = await c.listReferrers('app', manifestDigest, { artifactType: 'a/b' });
    expect(r!.filtersApplied).toEqual(['artifactType']);
    expect(JSON.parse(Buffer.from(r!.index).toString())).toEqual({ schemaVersion: 2, mediaType: INDEX, manifests: [] });
  });

  it('an index that is not JSON or has no manifests: ManifestInvalid; a bad digest: refused before any request', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'), 'application/json');
      if (req.url === path) return ok(res, Buffer.from('{"schemaVersion":2'), INDEX);
      if (req.url?.startsWith('/v2/nomanifests/')) return ok(res, Buffer.from('{"schemaVersion":2}'), INDEX);
      res.writeHead(404).end();
    });
    const c = client(f.host);
    expect((await failure(c.listReferrers('app', manifestDigest))).code).toBe('ManifestInvalid');
    expect((await failure(c.listReferrers('nomanifests', manifestDigest))).code).toBe('ManifestInvalid');
    await expect(c.listReferrers('app', 'sha256:nothex')).rejects.toThrow();
  });
});
