// Cleanup of half-written output when a copy is interrupted: destinations register what to remove (temp
// files, spool directories, a destination directory they created) and unregister it once it is committed
// or removed; SIGINT/SIGTERM and process exit run what is still registered. Temp names carry the pid, so a
// later run can sweep what a killed process (SIGKILL, power loss) left behind.
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Must be synchronous: it may run in a signal handler just before the process exits. */
export type CleanupAction = () => void;

const actions = new Set<CleanupAction>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
let installed = false;

function onSignal(signal: NodeJS.Signals): void {
  runCleanups();
  removeHandlers();
  // Another handler (the app's own) decides what happens next; otherwise die of the signal as before.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function onExit(): void {
  runCleanups();
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('exit', onExit);
}

function removeHandlers(): void {
  if (!installed) return;
  installed = false;
  for (const s of SIGNALS) process.off(s, onSignal);
  process.off('exit', onExit);
}

/**
 * Registers `action` to run if the process is interrupted (SIGINT, SIGTERM) or exits before it is
 * unregistered. Returns the function that unregisters it. While anything is registered, dsv listens for
 * SIGINT/SIGTERM itself: it runs the actions and then lets the signal end the process as it would have
 * (unless the application has its own handler, which then calls `runCleanups()` or relies on this one).
 */
export function registerCleanup(action: CleanupAction): () => void {
  actions.add(action);
  installHandlers();
  return () => {
    actions.delete(action);
    if (actions.size === 0) removeHandlers();
  };
}

/** Runs (once) every registered action, newest first; failures are ignored. For an app's signal handler. */
export function runCleanups(): void {
  const list = [...actions].reverse();
  actions.clear();
  for (const a of list) {
    try {
      a();
    } catch {
      /* best effort: the process is going away */
    }
  }
}

/** How many actions are registered (for tests). */
export function pendingCleanups(): number {
  return actions.size;
}

const TEMP_RE = /^\..*\.dsv-([1-9][0-9]{0,9})-[0-9a-f]{12}(?:\.tmp|\.d)$/;

/** A hidden temp name beside `path` that names this process: `.name.dsv-<pid>-<rand><suffix>`. */
export function pidTempName(path: string, suffix: '.tmp' | '.d'): string {
  return join(dirname(path), `.${basename(path)}.dsv-${process.pid}-${randomBytes(6).toString('hex')}${suffix}`);
}

/** The pid a temp name made by pidTempName carries, if it is one. */
export function tempOwner(name: string): number | undefined {
  const m = TEMP_RE.exec(basename(name));
  return m ? Number(m[1]) : undefined;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files and directories in `dir` left by dsv processes that no longer run (their pid is
 * gone). Never touches another live process's temps or anything not named by pidTempName. Returns the
 * names removed; a directory that cannot be read is skipped.
 */
export async function sweepStaleTemps(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const pid = tempOwner(n);
    if (pid === undefined || alive(pid)) continue;
    try {
      await rm(join(dir, n), { recursive: true, force: true });
      removed.push(n);
    } catch {
      /* someone else's to deal with */
    }
  }
  return removed;
}
