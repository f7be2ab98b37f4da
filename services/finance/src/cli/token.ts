/**
 * `npm run token -- --tenant T [--role admin]... [--user U] [--expires 12h]`
 * Prints a signed bearer token (HS256) for operators and scripts. The secret is read exactly as the
 * service reads it (loadConfig: JWT_SECRET, else the development default that `npm start` uses).
 */
import { ConfigError, loadConfig } from '../config/app-config';
import { signToken } from '../http/auth/token';
import { cliArgs, UsageError } from './cli-args';

const USAGE = `usage: npm run token -- --tenant <tenantId> [--role <role>]... [--user <userId>] [--expires <12h|30m|7d|seconds>]
  --tenant   tenant id the token is scoped to (required)
  --role     role; repeat or comma-separate (e.g. --role admin --role accountant, or --role admin,accountant)
  --user     user id (token subject); default user-<tenant>
  --expires  lifetime, default 12h
The secret is JWT_SECRET (when unset: the development default, with the embedded database or NODE_ENV development/test).`;

/** A lifetime signToken accepts: seconds or a duration string such as 12h. */
type Expiry = NonNullable<Parameters<typeof signToken>[2]>;

interface TokenOptions {
  tenant: string;
  roles: string[];
  user?: string;
  expires: Expiry;
}

function parseTokenArgs(argv: string[]): TokenOptions | 'help' {
  const roles: string[] = [];
  let tenant: string | undefined;
  let user: string | undefined;
  let expires: Expiry = '12h';
  for (const { arg, flag: name, value } of cliArgs(argv, { rejectFlagValue: true })) {
    if (arg === '--help' || arg === '-h') return 'help';
    switch (name) {
      case '--tenant':
        tenant = value().trim();
        break;
      case '--role':
      case '--roles':
        roles.push(...value().split(',').map((r) => r.trim()).filter((r) => r !== ''));
        break;
      case '--user':
        user = value().trim();
        break;
      case '--expires': {
        const raw = value().trim();
        if (/^\d+$/.test(raw)) expires = Number(raw);
        else if (/^\d+(\.\d+)?\s*(ms|s|m|h|d|w|y)$/i.test(raw)) expires = raw as Expiry; // the pattern is what signToken parses
        else throw new UsageError(`--expires must be a duration such as 12h, 30m, 7d or a number of seconds (got "${raw}")`);
        break;
      }
      default:
        throw new UsageError(`unknown argument "${arg}"`);
    }
  }
  if (!tenant) throw new UsageError('--tenant is required');
  if (user === '') throw new UsageError('--user must not be empty');
  return { tenant, roles: [...new Set(roles)], user, expires };
}

function main(): number {
  let options: TokenOptions | 'help';
  try {
    options = parseTokenArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`token: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let secret: string;
  try {
    secret = loadConfig().jwtSecret;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`token: invalid configuration: ${error.problems.join('; ')}\n`);
      return 1;
    }
    throw error;
  }
  const token = signToken({ tenantId: options.tenant, userId: options.user, roles: options.roles }, secret, options.expires);
  process.stdout.write(`${token}\n`);
  return 0;
}

if (require.main === module) process.exitCode = main();
