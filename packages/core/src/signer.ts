/**
 * Signers and verifiers: signers sign bytes (for embedded signatures, the UTF-8 canonical digest
 * string "sha256:<hex>") and return signature text; verifiers recognise signature text by its armour
 * and check it. Core knows no concrete signer: GPG, PKI and third-party signers all arrive through
 * SignerPlugin.
 */
export interface KeyInfo {
  /** `gpg`, `pki`, or a plugin's type. */
  type: string;
  /** Short key id (GPG: 16 hex long id; PKI: SHA-256 fingerprint of the SPKI, abbreviated). */
  keyId: string;
  /** Full fingerprint (GPG primary key fingerprint; PKI: sha256 of the certificate or SPKI). */
  fingerprint?: string;
  /** User id / certificate subject. */
  identity?: string;
  algorithm?: string;
}

export interface Signer {
  readonly type: string;
  describeKey(): Promise<KeyInfo>;
  /** Signs `data`; returns the signature text (armoured, printable). */
  sign(data: Uint8Array): Promise<string>;
}

export type VerificationStatus = 'valid' | 'invalid' | 'unknown-key';

export interface VerificationResult {
  status: VerificationStatus;
  /** Which signature type checked it (`gpg`, `pki`, ...). */
  type: string;
  keyId?: string;
  fingerprint?: string;
  /** Who signed: user id / certificate subject. */
  signer?: string;
  /** When the signature says it was made. */
  createdAt?: Date;
  /** Why it is not valid, or extra detail (issuer, serial). */
  reason?: string;
  details?: Record<string, unknown>;
}

export interface Verifier {
  readonly type: string;
  /** True when this verifier understands the signature text (by armour / prefix). */
  recognizes(signature: string): boolean;
  /** Checks `signature` over `data` against this verifier's trusted keys. Never throws for a bad signature. */
  verify(data: Uint8Array, signature: string): Promise<VerificationResult>;
}

/** Options passed to a plugin when creating a signer. */
export interface SignerOptions {
  /** A key file path, key id, fingerprint, or plugin-specific key name (DSV_KEYID / --key). */
  key: string;
  /** Passphrase (DSV_KEYPASS / --keypass / --passphrase-file), already read. Never logged. */
  passphrase?: string;
  /** Extra, plugin-specific settings (e.g. gpgHome). */
  settings?: Record<string, unknown>;
}

export interface VerifierOptions {
  /** Trusted key / certificate files (--trust). */
  trust?: string[];
  settings?: Record<string, unknown>;
}

/**
 * What a signer plugin module exports as its default export (or as `plugin`):
 * a package named in DSV_SIGNER_PLUGINS or the config file is imported and must provide this.
 */
export interface SignerPlugin {
  /** Signature type it handles: `gpg`, `pki`, `kms`, ... (the value of --key-type / DSV_KEYTYPE). */
  readonly type: string;
  /** Text a verifier of this type recognises (for routing without creating a verifier). */
  recognizes(signature: string): boolean;
  createSigner(options: SignerOptions): Promise<Signer>;
  createVerifier(options: VerifierOptions): Promise<Verifier>;
}
