// Checks that the two undici modules loaded directly are the ones undici itself exports, and that they send requests.
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import * as undici from 'undici';
import { Agent, request } from './http.js';

describe('narrow undici import', () => {
  it('is the Agent undici exports', () => {
    expect(Agent).toBe(undici.Agent);
  });

  it('sends a request with method, path, query, headers and body', async () => {
    const seen: { method?: string; url?: string; header?: string; body?: string } = {};
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        Object.assign(seen, { method: req.method, url: req.url, header: req.headers['x-dsv'], body });
        res.writeHead(201, { 'x-answer': '42' }).end('done');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const agent = new Agent();
    try {
      const res = await request(agent, new URL(`http://127.0.0.1:${port}/v2/a/b?digest=sha256%3Aab`), { method: 'PUT', headers: { 'x-dsv': 'yes' }, body: 'hello' });
      expect(res.statusCode).toBe(201);
      expect(res.headers['x-answer']).toBe('42');
      expect(await res.body.text()).toBe('done');
      expect(seen).toEqual({ method: 'PUT', url: '/v2/a/b?digest=sha256%3Aab', header: 'yes', body: 'hello' });
    } finally {
      await agent.close();
      await new Promise((r) => server.close(r));
    }
  });
});
