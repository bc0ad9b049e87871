// Start-up probe, a preload (`node --import ./startup-probe.mjs …`): records time and CPU at the first socket connect or image file open.
//
// The moment a command makes its first request — a socket connect (registry, dockerd, containerd) or the first
// open of a path under STARTUP_PROBE_PATH (an OCI layout, an archive) — or, for a command that makes none, the
// moment it exits, this writes one JSON line to STARTUP_PROBE_OUT:
//   { event: 'connect' | 'open' | 'exit', target, ms, cpuMs }
// `ms` is milliseconds since the process started (performance.timeOrigin), `cpuMs` user + system CPU of the
// whole process so far. With STARTUP_PROBE_EXIT=1 the process exits right there, before the request goes out,
// so no server is needed and nothing after the first request is measured.
//
// With STARTUP_PROBE_MODULES=1 it also registers a loader hook that appends `<epoch ms> <url>` for every module
// loaded to STARTUP_PROBE_OUT + '.modules' (the hook thread costs time itself: list modules with it, time without).
import fs from 'node:fs';
import { register } from 'node:module';
import net from 'node:net';

const out = process.env.STARTUP_PROBE_OUT;
const imagePath = process.env.STARTUP_PROBE_PATH;
const exitAtFirst = process.env.STARTUP_PROBE_EXIT === '1';

if (process.env.STARTUP_PROBE_MODULES === '1' && out) {
  const hook = `
    import { appendFileSync } from 'node:fs';
    export async function load(url, context, next) {
      const r = await next(url, context);
      appendFileSync(${JSON.stringify(`${out}.modules`)}, (performance.timeOrigin + performance.now()).toFixed(1) + ' ' + url + '\\n');
      return r;
    }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
  fs.appendFileSync(`${out}.modules`, `${(performance.timeOrigin).toFixed(1)} <process start>\n`);
}

let done = false;
function record(event, target) {
  if (done) return;
  done = true;
  const ms = performance.now();
  const { user, system } = process.cpuUsage();
  const line = JSON.stringify({ event, target, ms: +ms.toFixed(2), cpuMs: +((user + system) / 1000).toFixed(2) });
  if (out) fs.appendFileSync(out, `${line}\n`);
  else process.stderr.write(`startup-probe: ${line}\n`);
  if (exitAtFirst && event !== 'exit') process.exit(0);
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function probedConnect(...args) {
  const o = args[0];
  const target = Array.isArray(o) ? String(o[0]?.path ?? `${o[0]?.host}:${o[0]?.port}`)
    : typeof o === 'object' && o !== null ? String(o.path ?? `${o.host}:${o.port}`) : String(o);
  record('connect', target);
  return connect.apply(this, args);
};

if (imagePath) {
  const under = (p) => typeof p === 'string' && p.startsWith(imagePath);
  const wrap = (obj, name) => {
    const orig = obj[name];
    obj[name] = function probedOpen(p, ...rest) {
      const s = p instanceof URL ? p.pathname : typeof p === 'string' ? p : undefined;
      if (under(s)) record('open', `${name} ${s}`);
      return orig.call(this, p, ...rest);
    };
  };
  for (const name of ['open', 'openSync', 'createReadStream', 'readFile', 'readFileSync', 'stat', 'statSync', 'lstat', 'lstatSync', 'readdir', 'readdirSync', 'opendir']) wrap(fs, name);
  for (const name of ['open', 'readFile', 'stat', 'lstat', 'readdir', 'opendir']) wrap(fs.promises, name);
}

process.on('exit', () => record('exit', ''));
