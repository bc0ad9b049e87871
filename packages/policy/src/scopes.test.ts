import { describe, expect, it } from 'vitest';
import { parsePolicy } from './parse.js';
import { requirementsFor } from './engine.js';
import { dockerNamespaces, scopesFor } from './scopes.js';

const D = `sha256:${'1'.repeat(64)}`;

describe('scopes', () => {
  it('docker: the full reference, the repository, its namespaces, the host, then wildcard domains without the port', () => {
    expect(scopesFor({ transport: 'docker', dockerReference: 'reg.sub.example.com:5000/ns/app:1', manifestDigest: D })).toEqual([
      'reg.sub.example.com:5000/ns/app:1', 'reg.sub.example.com:5000/ns/app', 'reg.sub.example.com:5000/ns', 'reg.sub.example.com:5000',
      '*.sub.example.com', '*.example.com', '*.com',
    ]);
    expect(scopesFor({ transport: 'docker', dockerReference: 'busybox', manifestDigest: D })[0]).toBe('docker.io/library/busybox:latest');
    expect(dockerNamespaces('localhost:5000/a')).toEqual(['localhost:5000/a', 'localhost:5000']);
  });

  it('docker-storage and containerd use docker scopes; oci and oci-archive use the path and its parents; archives and the daemon only ""', () => {
    expect(scopesFor({ transport: 'containerd', dockerReference: `example.com/a@${D}`, manifestDigest: D })).toEqual([`example.com/a@${D}`, 'example.com/a', 'example.com', '*.com']);
    expect(scopesFor({ transport: 'docker-storage', dockerReference: 'example.com/a:1', manifestDigest: D })[0]).toBe('example.com/a:1');
    expect(scopesFor({ transport: 'oci', path: '/srv/layouts/app/', manifestDigest: D })).toEqual(['/srv/layouts/app', '/srv/layouts', '/srv']);
    expect(scopesFor({ transport: 'oci-archive', path: '/srv/a.tar', manifestDigest: D })).toEqual(['/srv/a.tar', '/srv']);
    expect(scopesFor({ transport: 'docker-archive', path: '/srv/a.tar', manifestDigest: D })).toEqual([]);
    expect(scopesFor({ transport: 'docker-daemon', dockerReference: 'a.com/b:1', manifestDigest: D })).toEqual([]);
  });

  it('the most specific scope wins; then the transport default, then the global default', () => {
    const p = parsePolicy(JSON.stringify({
      default: [{ type: 'reject' }],
      transports: {
        docker: {
          '': [{ type: 'insecureAcceptAnything' }],
          'example.com': [{ type: 'reject' }],
          'example.com/ns/app:1': [{ type: 'insecureAcceptAnything' }],
          '*.corp.example': [{ type: 'insecureAcceptAnything' }],
        },
        oci: { '/srv/trusted': [{ type: 'insecureAcceptAnything' }] },
      },
    }));
    const scope = (transport: string, ref: { dockerReference?: string; path?: string }) => requirementsFor(p, { transport, manifestDigest: D, ...ref }).scope;
    expect(scope('docker', { dockerReference: 'example.com/ns/app:1' })).toBe('transports.docker["example.com/ns/app:1"]');
    expect(scope('docker', { dockerReference: 'example.com/ns/app:2' })).toBe('transports.docker["example.com"]');
    expect(scope('docker', { dockerReference: 'r.corp.example:443/x:1' })).toBe('transports.docker["*.corp.example"]');
    expect(scope('docker', { dockerReference: 'quay.io/x:1' })).toBe('transports.docker[""]');
    expect(scope('oci', { path: '/srv/trusted/app' })).toBe('transports.oci["/srv/trusted"]');
    expect(scope('oci', { path: '/srv/trustedx' })).toBe('default');
    expect(scope('docker-archive', { path: '/srv/trusted/a.tar' })).toBe('default');
  });
});
