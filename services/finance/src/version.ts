import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function readVersion(): string {
  // package.json sits at the project root in both the source and the dist layouts' parent.
  for (const up of [['..', '..', '..'], ['..', '..', '..', '..']]) {
    try {
      return JSON.parse(readFileSync(join(__dirname, ...up, 'package.json'), 'utf8')).version as string;
    } catch {
      /* try the next layout */
    }
  }
  return 'unknown';
}

/** The service version, from package.json: the finance_app_info{version} label. */
export const SERVICE_VERSION = process.env.SERVICE_VERSION ?? readVersion();
