/**
 * `dsv plugins list [--json]`: every signer type dsv can use, where it came from (built in, the plugins
 * directory ~/.dsv/plugins, PATH, DSV_SIGNER_PLUGINS, the config file) and its version; discovered
 * executables that could not be loaded are listed with the reason.
 */
import { createContext } from './context.js';
import { ExitCodes } from './exit-codes.js';
import type { CliIo } from './io.js';
import { loadSignerPlugins, pluginsDirectory, type PluginLoadEntry, type PluginLoadReport } from './plugins.js';
import { errorJson } from './report.js';
import { CommandShell } from './shell.js';
import { VERSION } from './version.js';

export async function pluginsList(io: CliIo, a: { json: boolean; debug: boolean }): Promise<number> {
  const shell = new CommandShell(io, { prog: 'dsv', json: a.json, debug: a.debug });
  const report: PluginLoadReport = { entries: [] };
  try {
    const ctx = await createContext(shell.contextOptions({ transports: [], loadPlugins: false }));
    for (const type of ctx.signers.types()) report.entries.push({ type, kind: 'builtin', from: 'builtin', location: `@dsv/signer-${type}`, version: VERSION });
    await loadSignerPlugins(ctx.signers, { env: { ...ctx.env }, report });
  } catch (e) {
    return shell.fail(e, () => ({ command: 'plugins list', ok: false, error: errorJson(e) }));
  }
  if (a.json) {
    shell.writeJson({
      command: 'plugins list',
      ok: true,
      plugins: report.entries.map((e) => ({ type: e.type ?? null, kind: e.kind, from: e.from, location: e.location, version: e.version ?? null, error: e.error ?? null })),
    });
    return ExitCodes.Ok;
  }
  shell.out.out(formatPlugins(report.entries, pluginsDirectory(io.env)));
  return ExitCodes.Ok;
}

/** The table: TYPE, KIND, FROM, VERSION, LOCATION; a plugin that could not be loaded says why. */
export function formatPlugins(entries: readonly PluginLoadEntry[], dir: string): string {
  const rows = [['TYPE', 'KIND', 'FROM', 'VERSION', 'LOCATION'], ...entries.map((e) => [e.type ?? '?', e.kind, e.from, e.version ?? '-', e.location])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  for (const e of entries) if (e.error) lines.push(`not loaded: ${e.location}: ${e.error}`);
  lines.push(`Executables dsv-signer-NAME are found in ${dir} and on PATH; see PLUGINS.md.`);
  return `${lines.join('\n')}\n`;
}
