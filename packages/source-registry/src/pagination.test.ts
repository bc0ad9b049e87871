// Link pagination against a fault-injecting server, and the Link header parser.
import { afterEach, describe, expect, it } from 'vitest';
import { nextLink } from './pagination.js';
import { cleanup, client, failure, fake, ok } from './__tests__/fake-registry.js';

afterEach(cleanup);

describe('RegistryClient pagination', () => {
  it('follows Link pagination for tags and refuses a link to another origin', async () => {
    const all = ['a', 'b', 'c', 'd', 'e'];
    let foreign = false;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      const u = new URL(req.url!, 'http://x');
      const n = Number(u.searchParams.get('n') ?? 100);
      const last = u.searchParams.get('last');
      const start = last ? all.indexOf(last) + 1 : 0;
      const page = all.slice(start, start + n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (start + n < all.length) {
        headers.link = foreign
          ? `<http://elsewhere.test/v2/app/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"`
          : `</v2/app/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"`;
      }
      res.writeHead(200, headers);
      res.end(JSON.stringify({ name: 'app', tags: page }));
    });
    const c = client(f.host);
    expect(await c.listTags('app', { pageSize: 2 })).toEqual(all);
    expect(f.seen.filter((s) => s.url.includes('tags/list'))).toHaveLength(3);
    foreign = true;
    expect((await failure(c.listTags('app', { pageSize: 2 }))).code).toBe('RemoteError');
  });
});

describe('nextLink', () => {
  it('parses rel="next" among several links', () => {
    const base = new URL('http://r:5000/v2/a/tags/list?n=2');
    expect(nextLink(['</v2/a/tags/list?last=b&n=2>; rel="next"'], base)?.href).toBe('http://r:5000/v2/a/tags/list?last=b&n=2');
    expect(nextLink(['<http://r:5000/x>; rel="prev", </y?a=1>; rel=next'], base)?.href).toBe('http://r:5000/y?a=1');
    expect(nextLink(['</z>; rel="prev"'], base)).toBeUndefined();
  });
});
