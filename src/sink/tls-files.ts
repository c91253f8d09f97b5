/** Reads the PEM files an output's `tls` section names, with errors that name the key. */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

export interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function readTlsFiles(
  output: string,
  tls: { ca_file?: string | undefined; cert_file?: string | undefined; key_file?: string | undefined },
): TlsFiles {
  const read = (key: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError(
        `output ${output}: tls.${key} ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check the path and that this user may read it`,
        { code: 'ERR_CONFIG_TLS' },
      );
    }
  };
  const files: TlsFiles = {};
  const ca = read('ca_file', tls.ca_file);
  const cert = read('cert_file', tls.cert_file);
  const key = read('key_file', tls.key_file);
  if (ca) files.ca = ca;
  if (cert) files.cert = cert;
  if (key) files.key = key;
  return files;
}
