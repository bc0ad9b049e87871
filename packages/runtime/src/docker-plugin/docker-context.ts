import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DsvError } from '@dsv/core/formats';
import type { DockerEndpoint } from '@dsv/core/transport';

/**
 * The Docker CLI runs a plugin as `docker-<name> [global docker flags] <name> [plugin args]` and exports only
 * DOCKER_CONFIG (plus DOCKER_CLI_PLUGIN_*), so the plugin resolves the daemon endpoint itself, in the CLI's
 * order: -H/--host, then --context, then DOCKER_HOST, then DOCKER_CONTEXT, then the config's currentContext.
 */
export interface DockerGlobals {
  host?: string;
  context?: string;
  config?: string;
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  debug?: boolean;
  logLevel?: string;
}

const VALUE_FLAGS: Record<string, keyof DockerGlobals> = {
  '-H': 'host', '--host': 'host', '-c': 'context', '--context': 'context', '--config': 'config',
  '--tlscacert': 'tlscacert', '--tlscert': 'tlscert', '--tlskey': 'tlskey', '-l': 'logLevel', '--log-level': 'logLevel',
};
const BOOL_FLAGS: Record<string, keyof DockerGlobals> = { '--tls': 'tls', '--tlsverify': 'tlsverify', '-D': 'debug', '--debug': 'debug' };

/**
 * Splits `[globals] <pluginName> [args]` when the Docker CLI runs us (it sets DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND);
 * run directly, every argument is the plugin's.
 */
export function splitPluginArgs(argv: string[], pluginName: string, env: NodeJS.ProcessEnv = process.env): { globals: DockerGlobals; args: string[] } {
  if (!env.DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND) return { globals: {}, args: argv[0] === pluginName ? argv.slice(1) : argv };
  const globals: DockerGlobals = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === pluginName) return { globals, args: argv.slice(i + 1) };
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined;
    if (flag in VALUE_FLAGS) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new DsvError('Usage', `docker flag ${flag} needs a value`);
      (globals as Record<string, unknown>)[VALUE_FLAGS[flag]!] = value;
    } else if (flag in BOOL_FLAGS) {
      (globals as Record<string, unknown>)[BOOL_FLAGS[flag]!] = inline === undefined ? true : inline !== 'false';
    } else {
      throw new DsvError('Usage', `unexpected argument "${a}" before the plugin command "${pluginName}"`);
    }
  }
  throw new DsvError('Usage', `the Docker CLI did not pass the plugin command "${pluginName}"`);
}

/** The endpoint as the Docker CLI resolved it, with where it came from (for --debug). */
export interface DockerCliEndpoint {
  /** unix:///path or tcp://host:port. */
  host: string;
  /** Where it came from, for --debug. */
  source: string;
  contextName?: string;
  tlsVerify: boolean;
  /** Directory holding ca.pem, cert.pem, key.pem (DOCKER_CERT_PATH semantics), when TLS material exists. */
  certPath?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** The docker config directory (credentials, cli-plugins). */
  configDir: string;
}

export function dockerConfigDir(globals: DockerGlobals, env: NodeJS.ProcessEnv): string {
  return globals.config ?? env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker');
}

const DEFAULT_HOST = 'unix:///var/run/docker.sock';

export function resolveDockerEndpoint(globals: DockerGlobals, env: NodeJS.ProcessEnv): DockerCliEndpoint {
  const configDir = dockerConfigDir(globals, env);
  const certDir = env.DOCKER_CERT_PATH ?? configDir;
  const tlsFromFlags = () => {
    const verify = Boolean(globals.tlsverify ?? (env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== ''));
    const tls = verify || Boolean(globals.tls);
    return {
      tlsVerify: verify,
      ...(tls
        ? {
            certPath: certDir,
            caFile: globals.tlscacert ?? join(certDir, 'ca.pem'),
            certFile: globals.tlscert ?? join(certDir, 'cert.pem'),
            keyFile: globals.tlskey ?? join(certDir, 'key.pem'),
          }
        : {}),
    };
  };
  if (globals.host) return { host: globals.host, source: '-H/--host', configDir, ...tlsFromFlags() };
  const contextName = globals.context ?? (env.DOCKER_HOST ? undefined : env.DOCKER_CONTEXT) ?? (env.DOCKER_HOST ? undefined : currentContext(configDir));
  if (!globals.context && env.DOCKER_HOST) return { host: env.DOCKER_HOST, source: 'DOCKER_HOST', configDir, ...tlsFromFlags() };
  if (contextName && contextName !== 'default') return { ...readContext(configDir, contextName), configDir };
  return { host: DEFAULT_HOST, source: 'default', contextName: 'default', configDir, ...tlsFromFlags() };
}

function currentContext(configDir: string): string | undefined {
  const file = join(configDir, 'config.json');
  if (!existsSync(file)) return undefined;
  try {
    const cfg = JSON.parse(readFileSync(file, 'utf8')) as { currentContext?: string };
    return cfg.currentContext || undefined;
  } catch {
    throw new DsvError('Usage', `cannot parse docker config ${file}`);
  }
}

function readContext(configDir: string, name: string): Omit<DockerCliEndpoint, 'configDir'> {
  const id = createHash('sha256').update(name).digest('hex');
  const metaFile = join(configDir, 'contexts', 'meta', id, 'meta.json');
  if (!existsSync(metaFile)) throw new DsvError('Usage', `docker context "${name}" not found (no ${metaFile})`);
  let meta: { Endpoints?: { docker?: { Host?: string; SkipTLSVerify?: boolean } } };
  try {
    meta = JSON.parse(readFileSync(metaFile, 'utf8'));
  } catch {
    throw new DsvError('Usage', `cannot parse docker context metadata ${metaFile}`);
  }
  const ep = meta.Endpoints?.docker;
  if (!ep?.Host) throw new DsvError('Usage', `docker context "${name}" has no docker endpoint`);
  const tlsDir = join(configDir, 'contexts', 'tls', id, 'docker');
  const has = (f: string) => existsSync(join(tlsDir, f));
  const hasTls = has('ca.pem') || has('cert.pem');
  return {
    host: ep.Host,
    source: `context ${name}`,
    contextName: name,
    tlsVerify: hasTls && !ep.SkipTLSVerify,
    ...(hasTls
      ? {
          certPath: tlsDir,
          ...(has('ca.pem') ? { caFile: join(tlsDir, 'ca.pem') } : {}),
          ...(has('cert.pem') ? { certFile: join(tlsDir, 'cert.pem') } : {}),
          ...(has('key.pem') ? { keyFile: join(tlsDir, 'key.pem') } : {}),
        }
      : {}),
  };
}

/**
 * The typed endpoint the transports use (SystemContext.dockerEndpoint), straight from what the Docker CLI
 * resolved: its files are used where they are (no environment variables, no directory of links).
 */
export function engineEndpoint(ep: DockerCliEndpoint): DockerEndpoint {
  // Like the docker CLI, TLS files that do not exist are left out (verification then fails on its own).
  const file = (f: string | undefined) => (f !== undefined && existsSync(f) ? f : undefined);
  const [caFile, certFile, keyFile] = [file(ep.caFile), file(ep.certFile), file(ep.keyFile)];
  return {
    host: ep.host,
    tlsVerify: ep.tlsVerify,
    ...(caFile ? { caFile } : {}),
    ...(certFile ? { certFile } : {}),
    ...(keyFile ? { keyFile } : {}),
  };
}
