import { Worker, WorkerOptions } from 'node:worker_threads';
import { join } from 'node:path';

/**
 * Starts a worker thread on the module `name` in `dir` (the caller's __dirname). The build has its
 * `.js` there. Run from the TypeScript sources (jest, through @swc/jest) there is only the `.ts`: the
 * worker then compiles what it loads with @swc/core, a dev dependency that the build never reaches.
 */
export function startWorker(dir: string, name: string, options: WorkerOptions): Worker {
  if (!__filename.endsWith('.ts')) return new Worker(join(dir, `${name}.js`), options);
  const bootstrap = `
    const { readFileSync } = require('node:fs');
    const { transformSync } = require('@swc/core');
    require.extensions['.ts'] = (module, filename) => {
      const { code } = transformSync(readFileSync(filename, 'utf8'), {
        filename,
        jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true }, target: 'es2022' },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
      });
      module._compile(code, filename);
    };
    require(${JSON.stringify(join(dir, `${name}.ts`))});`;
  return new Worker(bootstrap, { ...options, eval: true });
}
