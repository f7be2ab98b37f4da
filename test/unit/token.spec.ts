import jwt from 'jsonwebtoken';
import { InvalidTokenError, signToken, verifyToken } from '../../services/finance/src/http/auth/token';

const SECRET = 'unit-test-secret-that-is-long-enough-0123456789';
const raw = (payload: Record<string, unknown>) => jwt.sign(payload, SECRET, { algorithm: 'HS256', expiresIn: '1h' });

describe('verifyToken', () => {
  it('returns the principal of a good token', () => {
    expect(verifyToken(signToken({ tenantId: 'tenant-a', userId: 'alice', roles: ['admin'] }, SECRET), SECRET)).toEqual({ tenantId: 'tenant-a', userId: 'alice', roles: ['admin'] });
  });

  // Both claims reach every query and event's metadata: PostgreSQL cannot store NUL or a lone surrogate (a 500 on each request).
  it.each([
    ['tenantId', { tenantId: 'a\u0000b', sub: 'u' }],
    ['tenantId', { tenantId: 'a\ud800', sub: 'u' }],
    ['tenantId', { tenantId: 't'.repeat(201), sub: 'u' }],
    ['sub', { tenantId: 't', sub: 'u\u0000' }],
    ['sub', { tenantId: 't', sub: '\udc00u' }],
  ])('refuses a signed token whose %s claim PostgreSQL could not store or is too long', (claim, payload) => {
    expect(() => verifyToken(raw(payload), SECRET)).toThrow(InvalidTokenError);
    expect(() => verifyToken(raw(payload), SECRET)).toThrow(new RegExp(`${claim} claim`));
  });

  it('refuses a signed token without an expiry (jsonwebtoken alone would accept it for ever)', () => {
    const forever = jwt.sign({ tenantId: 't', sub: 'u', roles: ['admin'] }, SECRET, { algorithm: 'HS256' });
    expect(() => verifyToken(forever, SECRET)).toThrow(/exp claim missing/);
  });

  it('accepts claims of exactly 200 characters, beyond ASCII', () => {
    const tenantId = 'ট'.repeat(200);
    expect(verifyToken(raw({ tenantId, sub: 'é'.repeat(200) }), SECRET)).toMatchObject({ tenantId, userId: 'é'.repeat(200) });
  });
});
