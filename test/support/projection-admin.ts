/** The admin projection status as the e2e specs read it, and waiting for the projection to catch up. */
import { request } from './http';
import { waitFor } from './wait-for';

export interface ProjectionsView {
  state: string;
  checkpoint: string;
  head: string;
  holdPosition: string | null;
  [field: string]: unknown;
}

export async function projections(baseUrl: string, adminToken: string): Promise<ProjectionsView> {
  const answer = await request(baseUrl, 'GET', '/admin/finance/projections', { token: adminToken });
  expect(answer.status).toBe(200);
  return answer.body as ProjectionsView;
}

export async function caughtUp(baseUrl: string, adminToken: string): Promise<void> {
  await waitFor(async () => {
    const p = await projections(baseUrl, adminToken);
    return p.state === 'running' && p.checkpoint === p.head;
  }, 20000, 'the projection to reach the head');
}
