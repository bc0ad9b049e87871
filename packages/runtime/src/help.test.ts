import { describe, expect, it } from 'vitest';
import type { Argv } from 'yargs';
import { Readable, Writable } from 'node:stream';
import { dsvMain, dsvParser } from './dsv.js';
import { copyMain } from './copy.js';
import { dockerSignMain, dockerSignParser, dockerVerifyMain, dockerVerifyParser } from './legacy.js';
import { formatHelp, parseArgs } from './docker-plugin/args.js';
import { SIGN_SPEC, VERIFY_SPEC } from './docker-plugin/specs.js';
import { commandsOf } from './suggest.js';
import type { CliIo } from './io.js';

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

describe('help that teaches', () => {
  const run = async (main: (args: string[], io: CliIo) => Promise<number>, args: string[]) => {
    let out = '';
    let err = '';
    const w = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(c.toString()), cb()) });
    const io: CliIo = { stdout: w((s) => (out += s)), stderr: w((s) => (err += s)), stdin: Readable.from([]) as unknown as NodeJS.ReadStream, env: {} };
    const code = await main(args, io);
    return { code, out, err };
  };
  const dsv = (args: string[]) => run((a, io) => dsvMain(a, io), args);

  it('-h is --help for dsv, every dsv command, docker-sign, docker-verify, dsv-copy and dsv docker-plugin', async () => {
    for (const [main, args] of [
      [dsv, ['-h']],
      [dsv, ['sign', '-h']],
      [dsv, ['copy', '-h']],
      [dsv, ['docker-plugin', '-h']],
      [(a: string[]) => run(dockerSignMain, a), ['-h']],
      [(a: string[]) => run(dockerVerifyMain, a), ['-h']],
      [(a: string[]) => run((x, io) => copyMain(x, io), a), ['-h']],
    ] as const) {
      const r = await main([...args]);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
      expect(r.out, args.join(' ')).toMatch(/Usage|Commands|Options/);
    }
  });

  it('every command yargs knows has an Examples: section in its help (dsv and its commands, docker-sign, docker-verify, dsv-copy)', async () => {
    const dsvCommands = commandsOf(dsvParser());
    expect(dsvCommands).toEqual(expect.arrayContaining(['sign', 'verify', 'inspect', 'copy', 'docker-plugin', 'completion']));
    for (const args of [[], ...dsvCommands.map((c) => [c])]) {
      const r = await dsv([...args, '--help']);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.out, `dsv ${args.join(' ')} --help`).toMatch(/^Examples:\n {2}# .+\n {2}dsv /m);
      expect(r.out.split('\n').filter((l) => l.length > 110), `dsv ${args.join(' ')} --help`).toEqual([]);
    }
    for (const [main, prog] of [[dockerSignMain, 'docker-sign'], [dockerVerifyMain, 'docker-verify'], [(a: string[], io: CliIo) => copyMain(a, io), 'dsv-copy']] as const) {
      const r = await run(main, ['--help']);
      expect(r.out, prog).toMatch(new RegExp(`^Examples:\\n {2}# .+\\n {2}${prog} `, 'm'));
    }
    expect(formatHelp(SIGN_SPEC)).toMatch(/^Examples:\n {2}# .+\n {2}docker sign /m);
    // docker sign / docker verify: -h, -q/--quiet and --progress too
    expect(parseArgs(SIGN_SPEC, ['-h']).help).toBe(true);
    for (const spec of [SIGN_SPEC, VERIFY_SPEC]) expect(formatHelp(spec)).toMatch(/-q, --quiet[\s\S]*--progress mode|--progress mode[\s\S]*-q, --quiet/);
    expect(formatHelp(VERIFY_SPEC)).toMatch(/^Examples:\n {2}# .+\n {2}docker verify /m);
  });

  it('sign, verify, inspect and copy help show the reference syntax', async () => {
    for (const c of ['sign', 'verify', 'inspect', 'copy']) {
      const r = await dsv([c, '--help']);
      expect(r.out.replace(/\s+/g, ' '), c).toContain('References: docker://host/repo:tag');
      expect(r.out, c).toContain('containerd:');
    }
  });

  it('"did you mean" for a mistyped command; a list when nothing is close', async () => {
    const r = await dsv(['sgin', 'docker://h/r:1']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('dsv: error: unknown command "sgin": did you mean "sign"?\ndsv: see dsv --help\n');
    expect((await dsv(['verfy', 'x'])).err).toContain('did you mean "verify"?');
    expect((await dsv(['frobnicate'])).err).toMatch(/unknown command "frobnicate" \(sign, verify, inspect, .*copy/);
  });

  it('docker-sign / docker-verify: an image where the subcommand goes says what is missing', async () => {
    const v = await run(dockerVerifyMain, ['myimage:1']);
    expect(v.code).toBe(2);
    expect(v.err).toBe('docker-verify: error: missing `registry | repository | archive` before "myimage:1" (e.g. docker-verify registry myimage:1)\ndocker-verify: see docker-verify --help\n');
    const s = await run(dockerSignMain, ['-k', 'KEY', 'a:1', 'b:1']);
    expect(s.err).toContain('missing `registry | repository | archive` before "a:1"');
    expect((await run(dockerVerifyMain, ['regstry', 'x'])).err).toContain('unknown subcommand "regstry": did you mean "registry"?');
  });
});
