// The signatures we write carry no notation data outside UTF-8: gpg prints notation data raw on its
// status fd, and docker-sign-verify decodes that output as strict UTF-8.
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpgSigner } from './index.js';
import { cleanup, eccKey, enc, rsaKey, tmp, writeTmp } from './__tests__/helpers.js';

const DATA = enc('sha256:cccbbb1b4a9a1e8abc56e969e96c7be145b3450cabec92ab55d44e147ebdf6e2');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

let files: Record<string, string>;
beforeAll(async () => {
  const [ed, rsa, sub] = await Promise.all([
    eccKey('Ed'),
    rsaKey('Rsa'),
    eccKey('Sub', { subkeys: [{}, { sign: true }] } as Partial<openpgp.KeyOptions>),
  ]);
  files = { ed25519: writeTmp('ed.asc', ed.armor()), rsa2048: writeTmp('rsa.asc', rsa.armor()), subkey: writeTmp('sub.asc', sub.armor()) };
});
afterAll(cleanup);

/** Hashed and unhashed subpackets of a v4 signature packet body, as [type, data] (parsed here, not by openpgp.js). */
function subpackets(body: Uint8Array): [number, Uint8Array][] {
  expect(body[0]).toBe(4);
  const out: [number, Uint8Array][] = [];
  let pos = 4;
  for (let area = 0; area < 2; area++) {
    const len = (body[pos] << 8) | body[pos + 1];
    pos += 2;
    const end = pos + len;
    while (pos < end) {
      let n = body[pos++];
      if (n >= 192 && n < 255) n = ((n - 192) << 8) + body[pos++] + 192;
      else if (n === 255) {
        n = ((body[pos] << 24) | (body[pos + 1] << 16) | (body[pos + 2] << 8) | body[pos + 3]) >>> 0;
        pos += 4;
      }
      out.push([body[pos] & 0x7f, body.subarray(pos + 1, pos + n)]);
      pos += n;
    }
  }
  return out;
}

describe('signature notations', () => {
  it('no notation data outside UTF-8 (and no openpgp.js salt) in any signature we write', async () => {
    for (const [name, file] of Object.entries(files)) {
      const signer = await createGpgSigner({ key: file, gpgHome: `${tmp()}/no-home` });
      for (let i = 0; i < 3; i++) {
        const armored = await signer.sign(DATA);
        const sig = await openpgp.readSignature({ armoredSignature: armored });
        expect(sig.packets).toHaveLength(1);
        for (const n of sig.packets[0].rawNotations) {
          expect(() => strictUtf8.decode(n.value), `${name}: notation ${n.name}`).not.toThrow();
        }
        expect(sig.packets[0].rawNotations.map((n) => n.name), name).not.toContain('salt@notations.openpgpjs.org');
        // The same, read straight from the packet bytes: every notation (subpacket 20) decodes as strict UTF-8.
        const body = sig.packets[0].write();
        for (const [type, data] of subpackets(body)) {
          if (type !== 20) continue;
          const nameLen = (data[4] << 8) | data[5];
          const valueLen = (data[6] << 8) | data[7];
          expect(() => strictUtf8.decode(data.subarray(8, 8 + nameLen + valueLen)), name).not.toThrow();
        }
      }
    }
  });
});
