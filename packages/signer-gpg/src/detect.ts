/** Cheap checks that need neither openpgp.js nor gpg (loaded with the plugin object itself). */

/** True when `text` is an armoured detached OpenPGP signature (by its armour header line). */
export function isPgpSignature(text: string): boolean {
  return /^-----BEGIN PGP SIGNATURE-----[ \t]*\r?$/m.test(text.trimStart().split('\n', 1)[0] ?? '');
}
