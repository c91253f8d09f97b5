/**
 * Builds the Splunk add-on package: dist/TA-cf-access-shipper-<version>.tgz, the folder
 * integrations/splunk/TA-cf-access-shipper as Splunk installs it (Apps → Install app from file, or
 * `splunk install app`). No dot-files, files 0644 and folders 0755 owned by root, names sorted (the
 * same input gives the same archive). Refuses when app.conf's version is not package.json's.
 *   Run: npm run package:splunk   (prints the archive's path)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const APP = 'TA-cf-access-shipper';
const root = fileURLToPath(new URL('../', import.meta.url));
const source = join(root, 'integrations', 'splunk');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const appConf = readFileSync(join(source, APP, 'default', 'app.conf'), 'utf8');
const launcherVersion = /^\[launcher\][^[]*?^version\s*=\s*(\S+)/m.exec(appConf)?.[1];
if (launcherVersion !== version) {
  console.error(
    `default/app.conf [launcher] version is ${launcherVersion ?? 'missing'}, package.json says ${version}: set them equal`,
  );
  process.exit(1);
}
const outDir = join(root, 'dist');
mkdirSync(outDir, { recursive: true });
const archive = join(outDir, `${APP}-${version}.tgz`);
execFileSync(
  'tar',
  [
    '--create',
    '--gzip',
    '--file',
    archive,
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mode=u=rwX,go=rX',
    '--mtime=2024-01-01 00:00:00Z',
    '--exclude=.*',
    '--directory',
    source,
    APP,
  ],
  { stdio: 'inherit' },
);
console.log(archive);
