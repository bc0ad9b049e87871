import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// Importing the package (for gpgPlugin / isPgpSignature) must not load openpgp.js: the index and the
// modules it imports eagerly may only reach the OpenPGP code through `import type` or `import()`.
const src = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');
const valueImports = (text: string) =>
  [...text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+'([^']+)'/gm)].map((m) => m[1]);

describe('lazy loading', () => {
  it('the index eagerly imports only @dsv/core and detect.js', () => {
    expect(valueImports(src('index.ts')).sort()).toEqual(['./detect.js', '@dsv/core/formats']);
    expect(valueImports(src('detect.ts'))).toEqual([]);
  });

  it('the plugin loads the signer / verifier modules on first use', async () => {
    const { gpgPlugin } = await import('./index.js');
    expect(gpgPlugin.recognizes('-----BEGIN PGP SIGNATURE-----\n')).toBe(true);
    await expect(gpgPlugin.createSigner({ key: '' })).rejects.toMatchObject({ code: 'KeyInvalid' });
  });
});
