#!/usr/bin/env node
// docker-sign as a Docker CLI plugin (`docker sign`), installed by `dsv docker-plugin install`: runs the plugin
// job from this app's plugin bundle (apps/cli/bundle-plugin, made by `npm run build`).
import { dockerPluginMain } from '../bundle-plugin/plugin.js';

// Exit once stdout and stderr are flushed, so idle keep-alive sockets or agents never hold the process.
const exit = (code) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

dockerPluginMain('sign', process.argv.slice(2)).then(exit, (error) => {
  process.stderr.write(`docker sign: error: ${error instanceof Error ? error.message : String(error)}\n`);
  exit(3);
});
