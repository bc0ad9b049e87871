/**
 * The `Examples:` section of every command's help (dsv and its commands, docker-sign, docker-verify, dsv-copy,
 * the Docker CLI plugins), and the reference syntax for the commands that take image references. Help is
 * decorated after yargs renders it, so a command added anywhere gets the same treatment: help.test.ts
 * checks that every command yargs knows has examples here.
 */
import { referencesHelp } from './transports.js';

/** [command line, what it does]; keyed by the command as typed (`dsv sign`, `docker-verify`, `docker sign`). */
export type Example = readonly [command: string, what: string];

const R = 'example.com';

export const EXAMPLES: Readonly<Record<string, readonly Example[]>> = {
  dsv: [
    [`dsv sign -k release@example.com docker://${R}/app:1.0 docker://${R}/app:1.0-signed`, 'Sign a registry image into a new tag'],
    [`dsv verify docker://${R}/app:1.0-signed`, 'Check every blob and signature (exit 0 only when trusted)'],
    ['dsv copy docker-archive:app.tar:app:1.0 oci:./layout:1.0', 'Copy an image with its signatures, verifying as it streams'],
    ['dsv completion bash > /etc/bash_completion.d/dsv', 'Install shell completion'],
  ],
  'dsv sign': [
    [`dsv sign -k release@example.com docker://${R}/app:1.0 docker://${R}/app:1.0-signed`, 'Sign into a new tag (the source tag does not move)'],
    ['dsv sign -t pki -k signer.key docker-archive:app.tar:app:1.0 docker-archive:app.tar:app:signed', 'Sign with a PKI key inside a docker save archive'],
    [`dsv sign --signature-type endorse -k qa@example.com docker://${R}/app:1.0-signed`, 'Countersign in place (moves the tag: the output says from which digest to which)'],
    ['dsv sign --dry-run -k release@example.com docker-daemon:app:1.0 docker-daemon:app:signed', 'Show what would be written, write nothing'],
    [`dsv sign --all-tags --creds ci -k release@example.com docker://${R}/app`, 'Every tag in place, as registry user ci (the password asked on a terminal)'],
  ],
  'dsv verify': [
    [`dsv verify --all-tags --trust release.asc docker://${R}/app`, 'Every tag of a repository, one line each and a summary'],
    [`dsv verify --all-tags --authfile ci-auth.json docker://${R}/app`, 'With the credentials of a containers auth.json / docker config.json'],
    [`dsv verify --policy policy.json docker://${R}/app:1.0`, 'Judge by a containers-policy.json over simple, cosign and embedded signatures'],
    [`dsv verify docker://${R}/app:1.0-signed`, 'Trust the GnuPG home and the PKI trust store'],
    [`dsv verify --trust release.asc --trust pki:ca.pem docker://${R}/app@sha256:<digest>`, 'Trust these key files only in addition, by digest'],
    ['dsv --no-check-signatures verify docker-archive:app.tar:app:1.0', 'Integrity only: every blob against its digest'],
    [`dsv verify --json docker://${R}/app:1.0 | jq .ok`, 'Machine-readable report (schemas/verify-report.schema.json)'],
    [`dsv verify --trust cosign:cosign.pub docker://${R}/app:1.0`, 'cosign signatures made with this key'],
    ['dsv verify --certificate-identity "$ID" --certificate-oidc-issuer "$ISSUER" --trusted-root root.json "$IMG"',
      'Keyless cosign, offline: the SAN and OIDC issuer the certificate names; CAs and Rekor keys'],
  ],
  'dsv inspect': [
    [`dsv inspect docker://${R}/app:1.0-signed`, 'Digests and who signed what, without judging trust'],
    ['dsv inspect --json oci:./layout:1.0', 'The same as JSON'],
  ],
  'dsv copy': [
    [`dsv copy docker://${R}/app:1.0 docker://mirror.example.com/app:1.0`, 'Verified copy: blobs and signatures checked before DEST changes'],
    [`dsv copy --sign-by release@example.com docker-daemon:app:1.0 docker://${R}/app:1.0`, 'Push from the local store, signing on the way'],
  ],
  'dsv bundle': [
    [`dsv bundle create --out release.tar --policy policy.json docker://${R}/app:1.0`, 'One air-gap file: the image, its signatures, the policy and its keys'],
    [`dsv bundle create --out app.tar --trust release.asc --trust cosign:cosign.pub docker://${R}/app:1`, 'Trust files instead of a policy'],
    ['dsv bundle verify release.tar', 'Offline: every digest, and the signatures judged by the bundled policy'],
    ['dsv bundle push release.tar docker://mirror.example.com/prod', 'Restore the images and their signatures on the other side'],
  ],
  'dsv completion': [
    ['dsv completion bash > ~/.local/share/bash-completion/completions/dsv', 'bash'],
    ['dsv completion zsh > "${fpath[1]}/_dsv"', 'zsh'],
    ['dsv completion fish > ~/.config/fish/completions/dsv.fish', 'fish'],
  ],
  'dsv plugins': [
    ['dsv plugins list', 'Signer plugins found (PATH, ~/.dsv/plugins, DSV_SIGNER_PLUGINS, config file)'],
    ['dsv plugins list --json', 'The same as JSON'],
  ],
  'dsv docker-plugin': [
    ['dsv docker-plugin install', 'Make `docker sign` and `docker verify` available'],
    ['dsv docker-plugin uninstall --dir /usr/local/lib/docker/cli-plugins', 'Remove a system-wide install'],
  ],
  'dsv list-tags': [[`dsv list-tags docker://${R}/app`, 'The tags of a repository']],
  'dsv login': [[`dsv login ${R} -u ci --password-stdin < token.txt`, 'Check the credentials, then store them where docker would']],
  'dsv logout': [[`dsv logout ${R}`, 'Remove them again']],
  'dsv sync': [
    [`dsv sync docker://${R}/team/app docker://mirror.example.com/prod`, 'Every tag of a repository to mirror.example.com/prod/app (what is there is not sent again)'],
    ['dsv sync --policy signed-only.json sync.yaml docker://mirror.example.com/prod', 'A skopeo-sync YAML file, only the images the policy accepts'],
    [`dsv sync docker://${R}/team/app oci:/media/usb`, 'To a directory of OCI layouts for an air gap (and back: dsv sync oci:/media/usb docker://…)'],
    [`dsv sync --src-creds ci --dest-authfile m.json docker://${R}/app docker://mirror.example.com/prod`, 'Each side its own credentials (--authfile FILE: both)'],
    ['JOB_COMPLETION_INDEX=1 DSV_SHARD_COUNT=4 dsv sync sync.yaml docker://mirror.example.com/prod', 'One shard of four (a Kubernetes Indexed Job sets the index)'],
  ],
  'dsv generate-key-pair': [
    ['dsv generate-key-pair --format cosign', 'Write cosign.key (encrypted) and cosign.pub here'],
    ['COSIGN_PASSWORD=… dsv generate-key-pair --format cosign --output-prefix keys/release', 'keys/release.key and keys/release.pub'],
  ],
  'dsv trust': [
    [`dsv trust inspect ${R}/app`, 'Docker Content Trust: signed tags, signers, keys, expiries (as docker trust inspect --pretty)'],
    [`dsv verify --dct ${R}/app:1.0`, 'Exit 0 only if DCT signs exactly the manifest the registry serves'],
    [`dsv trust migrate ${R}/app --to simple --key signer.sec.asc --dry-run`, 'What a move off DCT would sign (every tag checked first)'],
    [`dsv trust migrate ${R}/app --to embedded -t pki -k signer.key --dest-tag '{tag}-signed'`, 'Sign every DCT-verified tag into TAG-signed'],
  ],
  'dsv signatures': [
    [`dsv signatures prune docker://${R}/app --dry-run`, 'Which lookaside directories, .sig and referrers tags belong to images no longer in the repository'],
    [`dsv signatures prune docker://${R}/app --registries.d ./registries.d`, 'Remove them (the registry must allow DELETE)'],
    [`dsv signatures revoke --key old-release.pub.asc docker://${R}/app`, 'Remove every simple signature by that OpenPGP key'],
    [`dsv signatures revoke --key cosign.pub docker://${R}/app --dry-run`, 'The cosign signatures that key made, without removing them'],
  ],
  'docker-sign': [
    [`docker-sign registry -k release@example.com ${R}/app:1.0 ${R}/app:1.0-signed`, 'Sign a registry image into a new tag'],
    ['docker-sign repository -k release@example.com app:1.0 app:1.0-signed', "Sign in the local Docker engine's store"],
    ['docker-sign archive --archive app.tar -t pki -k signer.key app:1.0 app:signed', 'Sign inside a docker save archive'],
    [`docker-sign registry --authfile ci-auth.json -k release@example.com ${R}/app:1.0 ${R}/app:signed`, 'Registry credentials from this file (or --creds USER[:PASSWORD])'],
    ['docker-sign archive --archive app.tar -t shared-key -k team.secret --signer-opt algorithm=sha512 app:1 app:s', 'A setting for a signer plugin: [TYPE:]KEY=VALUE'],
  ],
  'docker-verify': [
    [`docker-verify registry ${R}/app:1.0-signed`, 'Verify a registry image'],
    ['docker-verify repository app:1.0-signed other:2', "Verify images in the local Docker engine's store"],
    ['docker-verify archive --archive app.tar app:1.0', 'Verify an image inside a docker save archive'],
    [`docker-verify registry --creds ci ${R}/app:1.0-signed`, 'As registry user ci, the password asked on a terminal'],
  ],
  'dsv-copy': [
    [`dsv-copy docker://${R}/app:1.0 oci:./layout:1.0`, 'Registry to an OCI layout, every byte hashed on the way'],
    [`dsv-copy --sign-by release@example.com docker-daemon:app:1.0 docker://${R}/app:1.0`, 'Push and sign on the way'],
    [`dsv-copy --platform linux/arm64 docker://${R}/app:1.0 docker-archive:app-arm64.tar:app:1.0`, 'One platform of a multi-platform image'],
    [`dsv-copy verify-same docker://${R}/app:1.0 oci:./layout:1.0`, 'Are both the same image?'],
  ],
  'dsv-copy verify-same': [[`dsv-copy verify-same docker://${R}/app:1.0 oci:./layout:1.0`, 'Same config digest per platform, whatever the manifests']],
  'docker sign': [
    ['docker sign -k release@example.com app:1.0 app:1.0-signed', "Sign in the daemon's image store, tagged DEST"],
    [`docker sign --remote -k release@example.com ${R}/app:1.0 ${R}/app:1.0-signed`, 'Sign in the registry'],
    ['docker sign -t shared-key -k team.secret --signer-opt algorithm=sha512 app:1.0 app:1.0-signed', 'A setting for a signer plugin: [TYPE:]KEY=VALUE'],
  ],
  'docker verify': [
    ['docker verify app:1.0-signed', "Verify an image in the daemon's store"],
    [`docker verify --remote --trust release.asc ${R}/app:1.0-signed`, 'Verify in the registry, trusting a key file'],
  ],
};

/** `dsv-copy`'s examples as `dsv copy` prints them. */
export function examplesFor(key: string): readonly Example[] | undefined {
  const own = EXAMPLES[key];
  if (own) return own;
  if (key.startsWith('dsv copy')) return EXAMPLES[key.replace(/^dsv copy/, 'dsv-copy')]?.map(([c, w]) => [c.replace(/^dsv-copy/, 'dsv copy'), w] as const);
  return undefined;
}

/** The `Examples:` section (empty when there are none for `key`). */
export function examplesSection(key: string): string {
  const list = examplesFor(key);
  if (!list?.length) return '';
  return `Examples:\n${list.map(([cmd, what]) => `  # ${what}\n  ${cmd}\n`).join('')}`;
}

/** Commands whose help shows the reference syntax (they take image references). */
const TAKES_REFERENCES = new Set(['dsv sign', 'dsv verify', 'dsv inspect', 'dsv list-tags']);

/**
 * A command's rendered help with its examples (and, for commands that take references, the reference
 * syntax) added at the end, unless already there.
 */
export function decorateHelp(text: string, key: string): string {
  let t = text.replace(/\s*$/, '\n');
  if (TAKES_REFERENCES.has(key) && !t.includes('References:')) t += `\n${wrap(referencesHelp(), 100)}\n`;
  const section = examplesSection(key);
  if (section && !/^Examples:/m.test(t)) t += `\n${section}`;
  return t;
}

/** Word-wrapped at `width` columns (at spaces). */
export function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/** The help key for parsed positionals: the script name and the command (`dsv sign`), when it is one. */
export function helpKey(prog: string, positionals: readonly unknown[], commands: readonly string[]): string {
  const first = positionals[0];
  return typeof first === 'string' && commands.includes(first) ? `${prog} ${first}` : prog;
}
