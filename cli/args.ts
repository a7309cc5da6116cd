/**
 * Argument parsing: positionals and flags (`--name value`, `--name=value`, `-x value`,
 * repeatable flags, booleans), checked against a command's spec so a mistake names itself.
 */
import { usage } from "./errors.ts";

/** One flag a command takes. */
export interface FlagSpec {
  /** Its long name, without the dashes. */
  readonly name: string;
  /** A one-letter alias (`-H`). */
  readonly short?: string;
  /** A boolean flag takes no value. */
  readonly boolean?: boolean;
  /** May be given more than once (all values are kept, in order). */
  readonly repeatable?: boolean;
}

/** What a command line says. */
export interface Parsed {
  readonly positionals: string[];
  /** Each flag's values, by long name (a boolean flag's value is "true"). */
  readonly flags: Map<string, string[]>;
  /** `--help` or `-h` was given. */
  readonly help: boolean;
}

/** Reads `argv` (after the command's name) against `specs`; a usage error (exit 2) names a mistake. */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[]): Parsed {
  const positionals: string[] = [];
  const flags = new Map<string, string[]>();
  let help = false;
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const byShort = new Map(specs.filter((spec) => spec.short !== undefined).map((spec) => [spec.short!, spec]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    // A lone "-" (stdin) and negative numbers are values, not flags.
    if (!arg.startsWith("-") || arg === "-" || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const [key, inline] = long ? splitOnce(arg.slice(2), "=") : [arg.slice(1), undefined];
    const spec = long ? byName.get(key) : byShort.get(key);
    if (spec === undefined) throw usage(`unknown option ${long ? "--" : "-"}${key}`);
    let value: string;
    if (spec.boolean) {
      if (inline !== undefined) throw usage(`--${spec.name} takes no value`);
      value = "true";
    } else if (inline !== undefined) {
      value = inline;
    } else {
      if (i + 1 >= argv.length) throw usage(`--${spec.name} needs a value`);
      value = argv[++i];
    }
    const values = flags.get(spec.name) ?? [];
    if (values.length > 0 && !spec.repeatable) throw usage(`--${spec.name} is given more than once`);
    values.push(value);
    flags.set(spec.name, values);
  }
  return { positionals, flags, help };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** A flag's one value, or undefined. */
export function flag(parsed: Parsed, name: string): string | undefined {
  return parsed.flags.get(name)?.[0];
}

/** A flag that must be a number within [min, max] (an integer when `integer`). */
export function numberFlag(
  parsed: Parsed,
  name: string,
  options: { min?: number; max?: number; integer?: boolean } = {},
): number | undefined {
  const text = flag(parsed, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  const { min = 0, max = Number.MAX_SAFE_INTEGER, integer = false } = options;
  if (text.trim() === "" || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw usage(`--${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

/** The positionals a command needs, by name; too few or too many is a usage error. */
export function positionals(parsed: Parsed, names: readonly string[], optional: readonly string[] = []): string[] {
  const got = parsed.positionals;
  if (got.length < names.length) throw usage(`missing ${names.slice(got.length).map((n) => `<${n}>`).join(" ")}`);
  if (got.length > names.length + optional.length) {
    throw usage(`unexpected argument "${got[names.length + optional.length]}"`);
  }
  return got;
}
