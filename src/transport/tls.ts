// TLS material shared by `pssl:` listeners and `ssl:` dialers. OVS has one
// SSL table for its manager and controller connections, so the OVSDB and
// OpenFlow planes take the same files.
import { readFileSync } from 'node:fs';

/** PEM files for `pssl:` and `ssl:`. */
export interface TlsFiles {
  cert: string;
  key: string;
  /** CA that signs the peers' certificates; peers without one are refused. */
  ca: string;
}

export function tlsContext(files: TlsFiles): { cert: Buffer; key: Buffer; ca: Buffer } {
  return { cert: readFileSync(files.cert), key: readFileSync(files.key), ca: readFileSync(files.ca) };
}

/** What a TLS target says is missing when no files were given; each plane names its own settings. */
export const TLS_FILES = 'a TLS certificate, key and CA';
