/** What the command-line tools share for reading their arguments. */

/** A bad command line: the tool prints the message (and its usage) and exits 2. */
export class UsageError extends Error {}

export interface CliArg {
  /** The argument as given. */
  arg: string;
  /** The argument up to its first `=`, or all of it. */
  flag: string;
  /** The flag's value: the text after `=`, else the next argument (consumed); a UsageError when there is none. */
  value(): string;
}

export interface CliArgOptions {
  /** Appended to the "needs a value" message on a line of its own. */
  usage?: string;
  /** A following argument starting with `--` is not taken as the value. */
  rejectFlagValue?: boolean;
}

/** The arguments one by one, splitting `--flag=value` and taking `--flag value`. */
export function* cliArgs(argv: string[], options: CliArgOptions = {}): Generator<CliArg> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[++i];
      if (next === undefined || (options.rejectFlagValue && next.startsWith('--'))) {
        throw new UsageError(`${flag} needs a value${options.usage === undefined ? '' : `\n${options.usage}`}`);
      }
      return next;
    };
    yield { arg, flag, value };
  }
}
