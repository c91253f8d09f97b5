/**
 * `npm run demo`: runs the product on embedded sample data with no credentials.
 * Converts the bundled sample events to CEF with the real CLI.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const sample = `${root}test/fixtures/sample-events.ndjson`;
process.stderr.write(`demo: converting ${sample} to CEF with dist/cli/main.js convert\n`);
const run = spawnSync(process.execPath, [`${root}dist/cli/main.js`, 'convert', '--format', 'cef', '--input', sample], { stdio: 'inherit' });
process.exitCode = run.status ?? 1;
