// `syncord serve`'s settings from three places with one precedence: a flag on the command line,
// else its environment variable, else the configuration file (--config, or $SYNCORD_CONFIG),
// else the default. Each resolved value keeps where it came from, so that an error names the
// flag, the variable or the file's key the user actually wrote.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import YAML from 'yaml';
import { CliError } from './format.js';

/** One setting: its key in the file (the flag's name without dashes) and its variable. */
export interface SettingSpec {
  /** The file's key and the long flag's name: "api-listen" is --api-listen. */
  key: string;
  /** The environment variable that stands for it. */
  env: string;
  /** False: no flag (a secret or an endpoint given only by the environment or the file). */
  flag?: boolean;
}

/** Where a value came from. */
export type Source = 'flag' | 'env' | 'file' | 'default';

export interface Resolved {
  value: string | undefined;
  source: Source;
  /** For messages: "--workers", "SYNCORD_WORKERS", "/etc/syncord/config.yaml: workers". */
  via: string;
}

/** The configuration file: its path and its keys, checked against the known settings. */
export interface ConfigFile {
  path: string;
  values: Map<string, string>;
}

/** The file's keys, each a scalar; an unknown key is an error that lists the known ones. */
export function readConfigFile(path: string, specs: readonly SettingSpec[]): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(
      `--config ${path}: cannot read it: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text, { uniqueKeys: true });
  } catch (err) {
    // The parser's message names the line; its snippet of the file is left out (it may hold a
    // secret, such as database-url).
    const message = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
    throw new CliError(`--config ${path}: not YAML: ${message}`);
  }
  const values = new Map<string, string>();
  if (doc === null || doc === undefined) return { path, values };
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new CliError(`--config ${path}: expected a mapping of settings (key: value)`);
  }
  const known = new Set(specs.map((s) => s.key));
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (!known.has(key)) {
      throw new CliError(
        `--config ${path}: ${key}: no such setting; the settings are ${[...known].sort().join(', ')}`,
      );
    }
    if (value === null || value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new CliError(
        `--config ${path}: ${key}: expected a single value (a string, number or boolean)`,
      );
    }
    values.set(key, String(value));
  }
  return { path, values };
}

/**
 * Each setting's value: the flag given on the command line, else its variable (when not
 * empty), else the file's key, else the flag's default.
 */
export function resolveSettings(
  command: Command,
  specs: readonly SettingSpec[],
  file: ConfigFile | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Map<string, Resolved> {
  const out = new Map<string, Resolved>();
  const opts = command.opts<Record<string, unknown>>();
  for (const spec of specs) {
    const name = camel(spec.key);
    const flagged = spec.flag !== false && command.getOptionValueSource(name) === 'cli';
    const fromEnv = env[spec.env];
    const fromFile = file?.values.get(spec.key);
    let r: Resolved;
    if (flagged) {
      r = { value: asText(opts[name]), source: 'flag', via: `--${spec.key}` };
    } else if (fromEnv !== undefined && fromEnv !== '') {
      r = { value: fromEnv, source: 'env', via: spec.env };
    } else if (fromFile !== undefined) {
      r = { value: fromFile, source: 'file', via: `${file?.path ?? ''}: ${spec.key}` };
    } else {
      r = {
        value: spec.flag === false ? undefined : asText(opts[name]),
        source: 'default',
        via: `--${spec.key}`,
      };
    }
    out.set(spec.key, r);
  }
  return out;
}

function asText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** "api-listen" → "apiListen", as commander names its option values. */
function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}
