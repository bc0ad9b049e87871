import { describe, expect, it } from 'vitest';
import type { Argv } from 'yargs';
import { dsvParser } from './dsv.js';
import { dockerSignParser, dockerVerifyParser } from './legacy.js';

/** The rendered --help of a parser. */
async function helpOf(parser: Argv): Promise<string> {
  let text = '';
  await parser.parseAsync(['--help'], {}, (_e: unknown, _a: unknown, out: string) => {
    text = out;
  });
  return text;
}

describe('--help', () => {
  // yargs' ESM entry used to cut help lines mid-word at the column width ("docker:/\n/host", "a\ns DESTINATION").
  const cases = [
    ['dsv', dsvParser, ['dsv trust', 'Docker Content Trust (Notary v1)', 'docker://host/repo:tag', 'oci-archive:PATH[:TAG],', 'docker-storage:NAME:TAG,', 'containerd:[NAMESPACE@SOCKET]NAME[:TAG|@DIGEST].', 'store it as DESTINATION', 'operational failure.', 'stack traces']],
    ['docker-sign', dockerSignParser, ['Creates and embeds signatures into docker images.', 'DSV_INSECURE_REGISTRIES,', 'DSV_SIGNER_PLUGINS.']],
    ['docker-verify', dockerVerifyParser, ['DSV_GPG_DATASTORE,', "(':'-separated).", 'DSV_DOCKER_ROOT']],
  ] as const;
  for (const [name, make, phrases] of cases) {
    it(`${name}: lines fit the help width and no word is cut`, async () => {
      const text = await helpOf(make());
      expect(text.split('\n').filter((l) => l.length > 110)).toEqual([]);
      const flat = text.replace(/\s+/g, ' ');
      for (const p of phrases) expect(flat, p).toContain(p);
    });
  }
});
