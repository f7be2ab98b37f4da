import { createParamDecorator, ExecutionContext, UnauthorizedException } from '@nestjs/common';
import type { Principal } from './principal';

/** The principal JwtAuthGuard attached to the request. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<{ principal?: Principal }>().principal;
  if (!principal) throw new UnauthorizedException('missing bearer token');
  return principal;
});
