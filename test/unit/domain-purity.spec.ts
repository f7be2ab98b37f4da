import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DOMAIN_DIR = join(__dirname, '..', '..', 'services', 'finance', 'src', 'domain');
const APPLICATION_DIR = join(__dirname, '..', '..', 'services', 'finance', 'src', 'application');

function imports(dir: string): Array<{ file: string; from: string }> {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .flatMap((file) => [...readFileSync(join(dir, file), 'utf8').matchAll(/from\s+'([^']+)'/g)].map((m) => ({ file, from: m[1] })));
}

describe('layering', () => {
  it('the domain imports nothing but itself (no Nest, database or Node I/O)', () => {
    const outside = imports(DOMAIN_DIR).filter(({ from }) => !from.startsWith('./'));
    expect(outside).toEqual([]);
  });

  it('the application services import no framework or driver', () => {
    const forbidden = imports(APPLICATION_DIR).filter(({ from }) => /^(@nestjs|pg$|typeorm|fastify|@eventstore)/.test(from));
    expect(forbidden).toEqual([]);
  });
});
