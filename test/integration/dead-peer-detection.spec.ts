/**
 * Every session the service opens tells PostgreSQL to drop it soon after its peer vanishes (a dead node
 * sends no FIN), so a lock held by a dead pod's session frees within seconds, not hours. The projection
 * leader's and a rollback's dedicated sessions copy the pool's configuration, as built here.
 */
import { Client, ClientConfig, Pool } from 'pg';
import { poolOf } from '../../services/finance/src/database/data-source.factory';
import { DEAD_PEER_DETECTION } from '../../services/finance/src/database/dead-peer-detection';
import { createTestDatabase, TestDatabase, withDataSource } from '../support/database';

const SETTINGS_SQL = `SELECT name, setting FROM pg_settings WHERE name = ANY($1) ORDER BY name`;
const expected = Object.entries(DEAD_PEER_DETECTION)
  .map(([name, value]) => ({ name, setting: String(value) }))
  .sort((a, b) => a.name.localeCompare(b.name));

describe('dead peer detection on PostgreSQL sessions', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('dead_peer');
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('the pool sessions, and a dedicated session built from the pool configuration, carry the keepalive settings', async () => {
    expect(db.host).not.toMatch(/^\//); // over TCP: on a Unix socket PostgreSQL reports these as 0
    await withDataSource(db, 'dead-peer-test', async (dataSource) => {
      const pool: Pool = poolOf(dataSource);
      const names = Object.keys(DEAD_PEER_DETECTION);
      expect((await pool.query(SETTINGS_SQL, [names])).rows).toEqual(expected);

      // As ProjectionManager.defaultSession and ProjectionRollbackService.connect build theirs.
      const options = (pool as unknown as { options: ClientConfig }).options;
      const dedicated = new Client({ ...options, password: options.password, application_name: 'dead-peer-dedicated' });
      await dedicated.connect();
      try {
        expect((await dedicated.query(SETTINGS_SQL, [names])).rows).toEqual(expected);
      } finally {
        await dedicated.end();
      }
    });
  });
});
