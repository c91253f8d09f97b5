#!/usr/bin/env node
/** The `cf-access-shipper` command line. Exit codes: 0 ok, 1 runtime failure, 2 usage, 78 config. */
import { Command, CommanderError, Option } from 'commander';
import { loadConfigFile, resolveConfigPath } from '../config/load.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, ShipperError, errorMessage } from '../errors.js';
import { RECORD_FORMATS, MESSAGE_FORMATS } from '../format/index.js';
import { VERSION } from '../version.js';
import { convert } from './convert.js';
import { validateSummary } from './validate.js';

interface GlobalOptions {
  config?: string;
}

function configOption(): Option {
  return new Option('-c, --config <path>', 'configuration file (default: $CF_ACCESS_SHIPPER_CONFIG or ./config/cf-access-shipper.yaml)');
}

export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('cf-access-shipper')
    .description('Ship Cloudflare Zero Trust Access authentication logs to Splunk HEC, syslog or files, exactly once.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('validate')
    .description('load and check the configuration offline; print a summary line per output')
    .addOption(configOption())
    .action((opts: GlobalOptions) => {
      const loaded = loadConfigFile(resolveConfigPath(opts.config));
      for (const line of validateSummary(loaded)) process.stdout.write(`${line}\n`);
    });

  program
    .command('convert')
    .description('convert Cloudflare Access events (NDJSON, JSON array or API response) from a file or stdin to one record per line on stdout')
    .addOption(new Option('-f, --format <format>', 'output record format').choices(RECORD_FORMATS).default('cef'))
    .addOption(new Option('-m, --message <format>', 'MSG inside rfc5424/rfc3164 records').choices(MESSAGE_FORMATS).default('cef'))
    .option('-i, --input <file>', 'read from this file instead of stdin ("-" is stdin)')
    .option('--facility <name|number>', 'syslog facility for rfc5424/rfc3164 (default local0)')
    .option('--app-name <name>', 'syslog APP-NAME / TAG (default cf-access)')
    .option('--hostname <name>', 'syslog HOSTNAME (default: this host)')
    .option('--structured-data', 'add [cfaccess@32473 ...] structured data to rfc5424 records')
    .option('--account-id <id>', 'Cloudflare account id to add to each record')
    .option('-c, --config <path>', 'take the format section (severities, ECS options) from this configuration file')
    .action(async (opts: { format: string; message: string; input?: string; facility?: string; appName?: string; hostname?: string; structuredData?: boolean; accountId?: string; config?: string }) => {
      const formatConfig = opts.config === undefined ? undefined : loadConfigFile(resolveConfigPath(opts.config)).config.format;
      const result = await convert({ ...opts, formatConfig }, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
      if (result.skipped > 0) {
        process.stderr.write(`converted ${result.events} event(s); skipped ${result.skipped} malformed record(s)\n`);
        setExitCode(EXIT_FAILURE);
      }
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version output end with exit 0; every other commander error is a usage error.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof ShipperError) {
      process.stderr.write(`cf-access-shipper: ${error.message}\n`);
      return error.exitCode;
    }
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') return exitCode;
    process.stderr.write(`cf-access-shipper: ${errorMessage(error)}\n`);
    return EXIT_FAILURE;
  }
}

process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  // A closed pipe (e.g. `| head`) is a normal end for a command-line filter.
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK);
});

const code = await main(process.argv);
process.exitCode = code;
