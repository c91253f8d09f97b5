#!/usr/bin/env -S node --max-old-space-size=256 --max-semi-space-size=8
/**
 * The `cf-access-shipper` command line. Exit codes: 0 ok, 1 runtime failure, 2 usage, 78 config.
 * The shebang bounds the V8 heap: a 1,000,000-event backfill stays near 100 MB of RSS instead of
 * letting the old generation grow lazily (see README, Performance).
 */
import { Command, CommanderError, Option } from 'commander';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, ShipperError, UsageError, errorMessage } from '../errors.js';
import { RECORD_FORMATS, MESSAGE_FORMATS } from '../format/index.js';
import { VERSION } from '../version.js';
import type { LoadedConfig } from '../config/load.js';

// Commands load what they need when they run: `convert` and `--help` start without zod, yaml,
// got, winston and prom-client (a third of a second less on every start).

async function loadConfig(flag: string | undefined): Promise<LoadedConfig> {
  const { loadConfigFile, resolveConfigPath } = await import('../config/load.js');
  return loadConfigFile(resolveConfigPath(flag));
}

async function loggerFor(loaded: LoadedConfig) {
  const { createLogger } = await import('../ops/logger.js');
  return createLogger({ ...loaded.config.log, secrets: loaded.secrets });
}

interface GlobalOptions {
  config?: string;
}

function configOption(): Option {
  return new Option(
    '-c, --config <path>',
    'configuration file (default: $CF_ACCESS_SHIPPER_CONFIG or ./config/cf-access-shipper.yaml)',
  );
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
    .action(async (opts: GlobalOptions) => {
      const loaded = await loadConfig(opts.config);
      const { validateSummary } = await import('./validate.js');
      for (const line of validateSummary(loaded)) process.stdout.write(`${line}\n`);
    });

  program
    .command('convert')
    .description(
      'convert Cloudflare Access events (NDJSON, JSON array or API response) from a file or stdin to one record per line on stdout',
    )
    .addOption(new Option('-f, --format <format>', 'output record format').choices(RECORD_FORMATS).default('cef'))
    .addOption(
      new Option('-m, --message <format>', 'MSG inside rfc5424/rfc3164 records')
        .choices(MESSAGE_FORMATS)
        .default('cef'),
    )
    .option('-i, --input <file>', 'read from this file instead of stdin ("-" is stdin)')
    .option('--facility <name|number>', 'syslog facility for rfc5424/rfc3164 (default local0)')
    .option('--app-name <name>', 'syslog APP-NAME / TAG (default cf-access)')
    .option('--hostname <name>', 'syslog HOSTNAME (default: this host)')
    .option('--structured-data', 'add [cfaccess@32473 ...] structured data to rfc5424 records')
    .option('--account-id <id>', 'Cloudflare account id to add to each record')
    .option('-c, --config <path>', 'take the format section (severities, ECS options) from this configuration file')
    .action(
      async (opts: {
        format: string;
        message: string;
        input?: string;
        facility?: string;
        appName?: string;
        hostname?: string;
        structuredData?: boolean;
        accountId?: string;
        config?: string;
      }) => {
        const formatConfig = opts.config === undefined ? undefined : (await loadConfig(opts.config)).config.format;
        const { convert } = await import('./convert.js');
        const result = await convert(
          { ...opts, formatConfig },
          { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
        );
        if (result.skipped > 0) {
          process.stderr.write(`converted ${result.events} event(s); skipped ${result.skipped} malformed record(s)\n`);
          setExitCode(EXIT_FAILURE);
        }
      },
    );

  program
    .command('run')
    .description(
      'the daemon: poll Cloudflare on poll.schedule and ship new events to every output until SIGTERM (--once: one poll, then exit)',
    )
    .addOption(configOption())
    .option('--once', 'poll every account once into every output, then exit (0 ok, 1 if any account or output failed)')
    .option('--recover-from-backup', 'replace an unusable state file by <state>.bak before starting')
    .action(async (opts: GlobalOptions & { once?: boolean; recoverFromBackup?: boolean }) => {
      const loaded = await loadConfig(opts.config);
      const logger = await loggerFor(loaded);
      if (opts.once === true) {
        const { runOnce } = await import('../pipeline/run-once.js');
        setExitCode(await runOnce(loaded.config, logger, { recoverFromBackup: opts.recoverFromBackup }));
        return;
      }
      const { runDaemon } = await import('../pipeline/daemon.js');
      const code = await runDaemon(loaded.config, logger, { recoverFromBackup: opts.recoverFromBackup });
      // Everything confirmed is saved; timers of abandoned batches (ack polls) must not keep us alive.
      await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
      process.exit(code);
    });

  program
    .command('backfill')
    .description(
      "ship a past time range to the chosen outputs without touching the daemon's checkpoints; re-running the same command resumes",
    )
    .addOption(configOption())
    .requiredOption('--since <time>', 'start: RFC 3339, or a duration ago (7d, 36h)')
    .option('--until <time>', 'end (exclusive): RFC 3339, "now" or a duration ago (default: now - poll.settle)')
    .option('--output <name...>', 'only these outputs (repeatable; default: all)')
    .option('--dry-run', 'fetch and count without shipping or saving progress')
    .option('--restart', 'ship the range again even if this job completed before')
    .option('--recover-from-backup', 'replace an unusable job state file by its .bak')
    .action(
      async (
        opts: GlobalOptions & {
          since: string;
          until?: string;
          output?: string[];
          dryRun?: boolean;
          restart?: boolean;
          recoverFromBackup?: boolean;
        },
      ) => {
        const loaded = await loadConfig(opts.config);
        const logger = await loggerFor(loaded);
        const { backfill } = await import('../pipeline/backfill.js');
        setExitCode(
          await backfill(
            loaded.config,
            {
              since: opts.since,
              until: opts.until,
              outputs: opts.output,
              dryRun: opts.dryRun,
              restart: opts.restart,
              recoverFromBackup: opts.recoverFromBackup,
            },
            { logger, stderr: process.stderr, stdout: process.stdout },
          ),
        );
      },
    );

  program
    .command('check')
    .description(
      'live-test the configuration: each account (one request) and each output (HEC health and token, syslog TLS handshake, file access); exit 0 only when all pass',
    )
    .addOption(configOption())
    .action(async (opts: GlobalOptions) => {
      const loaded = await loadConfig(opts.config);
      const { formatChecks, runChecks } = await import('./check.js');
      const lines = await runChecks(loaded.config);
      process.stdout.write(`${formatChecks(lines)}\n`);
      if (lines.some((l) => !l.ok)) setExitCode(EXIT_FAILURE);
    });

  program
    .command('setup')
    .description(
      'install what a destination needs once: `setup elasticsearch` puts the index template of the data streams',
    )
    .argument('<destination>', 'elasticsearch')
    .addOption(configOption())
    .option('--output <name...>', 'only these elasticsearch outputs')
    .action(async (destination: string, opts: GlobalOptions & { output?: string[] }) => {
      if (destination !== 'elasticsearch')
        throw new UsageError(`setup: unknown destination ${destination}; try: setup elasticsearch`);
      const loaded = await loadConfig(opts.config);
      const { setupElasticsearch } = await import('./setup.js');
      const lines = await setupElasticsearch(loaded.config, opts.output ?? []);
      for (const line of lines) process.stdout.write(`${line.ok ? 'ok  ' : 'FAIL'} ${line.text}\n`);
      if (lines.some((l) => !l.ok)) setExitCode(EXIT_FAILURE);
    });

  program
    .command('status')
    .description('show each account and output: checkpoint, lag, last success, last error, cooldown, backfill jobs')
    .addOption(configOption())
    .option('--json', 'machine-readable output')
    .action(async (opts: GlobalOptions & { json?: boolean }) => {
      const loaded = await loadConfig(opts.config);
      const { collectStatus, formatStatus } = await import('./status.js');
      const report = collectStatus(loaded.config);
      process.stdout.write(
        opts.json === true ? `${JSON.stringify(report, null, 2)}\n` : `${formatStatus(report).join('\n')}\n`,
      );
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
