import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../runtime';
import { isAdmin, Principal } from './principal';
import { bearerToken, InvalidTokenError, verifyToken } from './token';

type AuthenticatedRequest = { headers: Record<string, string | undefined>; principal?: Principal };

/** 401 unless the request carries a valid bearer JWT; the principal is attached to the request. */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new UnauthorizedException('missing bearer token (Authorization: Bearer <token>)');
    try {
      request.principal = verifyToken(token, this.config.jwtSecret);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new UnauthorizedException(error.message);
      throw error;
    }
    return true;
  }
}

/** 403 unless the authenticated principal has the admin role. Use after JwtAuthGuard. */
@Injectable()
export class AdminGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
    if (!principal) throw new UnauthorizedException('missing bearer token');
    if (!isAdmin(principal)) throw new ForbiddenException('admin role required');
    return true;
  }
}
