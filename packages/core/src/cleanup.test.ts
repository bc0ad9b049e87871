// The cleanup registry, pid-named temps and their sweep, and what SIGTERM does with registered actions.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pendingCleanups, pidTempName, registerCleanup, runCleanups, sweepStaleTemps, tempOwner } from './cleanup.js';

const deadPid = (): number => {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
};

describe('cleanup registry', () => {
  it('runs what is registered, newest first, once; unregistered actions never run', () => {
    const ran: string[] = [];
    const listeners = process.listenerCount('SIGTERM');
    const offA = registerCleanup(() => ran.push('a'));
    registerCleanup(() => ran.push('b'));
    const offC = registerCleanup(() => ran.push('c'));
    offC();
    registerCleanup(() => {
      throw new Error('ignored');
    });
    runCleanups();
    runCleanups();
    expect(ran).toEqual(['b', 'a']);
    offA();
    expect(pendingCleanups()).toBe(0);
    // the signal handlers come and go with the actions
    expect(process.listenerCount('SIGTERM')).toBe(listeners);
  });

  it('temp names carry the pid; a sweep removes only those of processes that are gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv-cleanup-'));
    const mine = pidTempName(join(dir, 'a.tar'), '.tmp');
    expect(tempOwner(mine)).toBe(process.pid);
    const dead = deadPid();
    const stale = join(dir, `.a.tar.dsv-${dead}-0123456789ab.tmp`);
    const staleDir = join(dir, `.a.tar.dsv-${dead}-0123456789ab.d`);
    writeFileSync(mine, 'x');
    writeFileSync(stale, 'x');
    mkdirSync(staleDir);
    writeFileSync(join(staleDir, 'blob'), 'x');
    for (const keep of ['a.tar', '.a.tar.dsv-0123456789ab.tmp', `.a.tar.dsv-${dead}-xyz.tmp`, `x.dsv-${dead}-0123456789ab.tmp`]) writeFileSync(join(dir, keep), 'k');
    expect((await sweepStaleTemps(dir)).sort()).toEqual([`.a.tar.dsv-${dead}-0123456789ab.d`, `.a.tar.dsv-${dead}-0123456789ab.tmp`]);
    expect(existsSync(mine)).toBe(true);
    expect(readdirSync(dir).length).toBe(5);
    expect(await sweepStaleTemps(join(dir, 'missing'))).toEqual([]);
  });

  it('SIGTERM runs the actions and the process still dies of the signal; an app handler keeps control', async () => {
    const core = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'dsv-cleanup-'));
    const run = (extra: string) =>
      new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) => {
        const file = join(dir, `f-${Math.random()}`);
        writeFileSync(file, 'x');
        const script = `import { registerCleanup } from ${JSON.stringify(core)}; import { rmSync } from 'node:fs';
          registerCleanup(() => rmSync(${JSON.stringify(file)}, { force: true })); ${extra}
          console.log('ready'); setInterval(() => {}, 1000);`;
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('ready')) child.kill('SIGTERM');
        });
        child.on('exit', (code, signal) => resolve({ code, signal, out: `${out}${existsSync(file) ? 'left' : 'removed'}` }));
      });
    const plain = await run('');
    expect(plain.signal).toBe('SIGTERM');
    expect(plain.out).toContain('removed');
    const own = await run(`process.on('SIGTERM', () => { console.log('app'); setTimeout(() => process.exit(143), 10); });`);
    expect(own.code).toBe(143);
    expect(own.out).toContain('app');
    expect(own.out).toContain('removed');
  });
});
