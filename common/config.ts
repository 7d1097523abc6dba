/**
 * Typed, validated configuration. A component declares its options once (name, kind, default,
 * range); `parseConfig` reads `--flag value` / `--flag=value` arguments, falls back to
 * `SLUICE_<FLAG>` environment variables, then to the default, and raises INVALID_CONFIG naming the
 * property and its allowed range. Cross-field rules are checked by the component after parsing.
 */
import { InvalidConfigError } from "./errors.js";

interface OptionBase {
  help: string;
}
export interface IntOption extends OptionBase {
  kind: "int";
  default: number;
  min: number;
  max: number;
}
export interface StringOption extends OptionBase {
  kind: "string";
  default: string;
  pattern?: RegExp;
  patternHelp?: string;
}
export type OptionSpec = IntOption | StringOption;
export type OptionSpecs = Record<string, OptionSpec>;

export type ConfigOf<S extends OptionSpecs> = {
  [K in keyof S]: S[K] extends IntOption ? number : string;
};

export interface ParsedArgs<S extends OptionSpecs> {
  config: ConfigOf<S>;
  positionals: string[];
}

function envName(flag: string): string {
  return "SLUICE_" + flag.replace(/-/g, "_").toUpperCase();
}

function parseValue(flag: string, spec: OptionSpec, raw: string): number | string {
  switch (spec.kind) {
    case "int": {
      const n = Number(raw);
      if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < spec.min || n > spec.max) {
        throw new InvalidConfigError(`--${flag}: ${JSON.stringify(raw)} is not an integer in [${spec.min}, ${spec.max}]`);
      }
      return n;
    }
    case "string": {
      if (spec.pattern !== undefined && !spec.pattern.test(raw)) {
        throw new InvalidConfigError(`--${flag}: ${JSON.stringify(raw)} is not valid: ${spec.patternHelp ?? spec.pattern.source}`);
      }
      return raw;
    }
  }
}

/**
 * Parses `argv` against `specs`. Unknown flags and flags without values raise INVALID_CONFIG;
 * anything not starting with `--` is a positional argument.
 */
export function parseConfig<S extends OptionSpecs>(
  specs: S,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ParsedArgs<S> {
  const raw = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (!Object.hasOwn(specs, flag)) {
      const known = Object.keys(specs).map((k) => `--${k}`).join(", ");
      throw new InvalidConfigError(`unknown option --${flag}; known options: ${known || "(none)"}`);
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new InvalidConfigError(`--${flag} needs a value`);
    raw.set(flag, value);
  }
  const config: Record<string, number | string> = {};
  for (const [flag, spec] of Object.entries(specs)) {
    const value = raw.get(flag) ?? env[envName(flag)];
    config[flag] = value === undefined ? spec.default : parseValue(flag, spec, value);
  }
  return { config: config as ConfigOf<S>, positionals };
}

/** One line per option, for `--help`. */
export function describeOptions(specs: OptionSpecs): string {
  return Object.entries(specs)
    .map(([flag, s]) => `  --${flag.padEnd(20)} ${s.help} (default ${String(s.default)}; env ${envName(flag)})`)
    .join("\n");
}
