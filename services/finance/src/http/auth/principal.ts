/** Who is calling: taken from a verified bearer token. */
export interface Principal {
  userId: string;
  tenantId: string;
  roles: string[];
}

export const ADMIN_ROLE = 'admin';

export function isAdmin(principal: Principal): boolean {
  return principal.roles.includes(ADMIN_ROLE);
}
