import jwt from 'jsonwebtoken';
import { hasUnstorableCharacters } from '../storable-text';
import type { Principal } from './principal';

const MAX_CLAIM_LENGTH = 200;

/** Pure token helpers (no Nest): shared by the guard, the `npm run token` CLI and tests. */
export interface TokenClaims {
  tenantId: string;
  userId?: string;
  roles?: string[];
}

export class InvalidTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTokenError';
  }
}

export function signToken(claims: TokenClaims, secret: string, expiresIn: jwt.SignOptions['expiresIn'] = '12h'): string {
  return jwt.sign({ tenantId: claims.tenantId, roles: claims.roles ?? [] }, secret, {
    algorithm: 'HS256',
    subject: claims.userId ?? `user-${claims.tenantId}`,
    expiresIn,
  });
}

/** Verifies an HS256 token and returns its principal; any defect is an InvalidTokenError. */
export function verifyToken(token: string, secret: string): Principal {
  let payload: jwt.JwtPayload | string;
  try {
    payload = jwt.verify(token, secret, { algorithms: ['HS256'] });
  } catch (error) {
    throw new InvalidTokenError(`invalid bearer token: ${(error as Error).message}`);
  }
  if (typeof payload === 'string') throw new InvalidTokenError('invalid bearer token: payload is not an object');
  // jsonwebtoken checks exp only when a token has one: a token without it would be valid for ever.
  if (typeof payload.exp !== 'number') throw new InvalidTokenError('invalid bearer token: exp claim missing (tokens must expire)');
  const tenantId = payload.tenantId;
  if (typeof tenantId !== 'string' || tenantId.trim() === '') throw new InvalidTokenError('invalid bearer token: tenantId claim missing');
  const userId = typeof payload.sub === 'string' ? payload.sub : 'unknown';
  // Both go into every query and event's metadata: text PostgreSQL cannot store would be a 500 on each request.
  for (const [claim, value] of [['tenantId', tenantId], ['sub', userId]] as const) {
    if (value.length > MAX_CLAIM_LENGTH || hasUnstorableCharacters(value)) {
      throw new InvalidTokenError(`invalid bearer token: ${claim} claim must be at most ${MAX_CLAIM_LENGTH} characters without NUL or unpaired surrogates`);
    }
  }
  const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
  return { tenantId, userId, roles };
}

/** The token from an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
