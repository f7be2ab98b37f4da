import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './wait-for';

export const PROJECT_ROOT = join(__dirname, '..', '..');
export const SERVICE_MAIN = join(PROJECT_ROOT, 'dist', 'services', 'finance', 'src', 'main.js');
export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** `count` distinct free ports (each was free when picked). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export interface ServiceProcess {
  baseUrl: string;
  metricsUrl: string;
  port: number;
  metricsPort: number;
  process: ChildProcess;
  /** Everything the process wrote to stdout (pino JSON lines) and stderr so far. */
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

export interface StartOptions {
  /** Wait for /health/ready to be 200 (default) or only for the port to answer /health/live. */
  waitForReady?: boolean;
  timeoutMs?: number;
}

/**
 * Spawns the compiled service (dist) with the given environment and waits until it serves. Ports picked
 * here are free when picked, not reserved: a start that loses one to another process is retried on new ports.
 */
export async function startService(env: Record<string, string>, options: StartOptions = {}): Promise<ServiceProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServiceOnce(env, options);
    } catch (error) {
      const lostPort = /EADDRINUSE|must differ from PORT/.test((error as Error).message);
      if (!lostPort || env.PORT || env.METRICS_PORT || attempt >= 3) throw error;
    }
  }
}

async function startServiceOnce(env: Record<string, string>, options: StartOptions): Promise<ServiceProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  let metricsPort = env.METRICS_PORT ? Number(env.METRICS_PORT) : await freePort();
  while (metricsPort === port) metricsPort = await freePort();
  const child = spawn(process.execPath, [SERVICE_MAIN], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      JWT_SECRET: TEST_JWT_SECRET,
      MIGRATE_ON_START: 'true',
      ...env,
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const baseUrl = `http://127.0.0.1:${port}`;
  const path = options.waitForReady === false ? '/health/live' : '/health/ready';
  try {
    await waitFor(
      async () => {
        if (hasExited) throw new Error(`service exited early:\n${output}`);
        const response = await fetch(baseUrl + path);
        return response.status === 200;
      },
      options.timeoutMs ?? 30000,
      `service ${path}`,
      100,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n--- service output ---\n${output}`);
  }
  return {
    baseUrl,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    port,
    metricsPort,
    process: child,
    output: () => output,
    exited,
    async stop() {
      if (!hasExited) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (!hasExited) child.kill('SIGKILL');
      await exited;
    },
  };
}
